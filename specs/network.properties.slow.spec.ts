/**
 * The whole-network property, long run (slow tier, a new seed per run, printed at the start):
 * see specs/support/networkProperty.ts.
 */
import { describe } from 'vitest';
import { networkProperty } from './support/networkProperty.js';

describe('whole-network properties on the simulated network (long run)', () => {
  networkProperty(500, 600_000);
});
