/**
 * The whole-network property, short run (fast tier, fixed seed): see
 * specs/support/networkProperty.ts. The slow tier runs it over 500 networks with a new seed per run.
 */
import { describe } from 'vitest';
import { networkProperty } from './support/networkProperty.js';

describe('whole-network properties on the simulated network', () => {
  networkProperty(40, 60_000);
});
