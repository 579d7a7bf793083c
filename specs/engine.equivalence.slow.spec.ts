/**
 * The long run of specs/engine.equivalence.spec.ts (slow tier): 10,000 random inputs and event
 * sequences per machine, under the slow tier's seed (new per run, printed; PROPERTY_SEED replays).
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { engineCases } from './support/engineCases.js';
import { equivalenceParameters, equivalenceProperty } from './support/engineEquivalence.js';

describe('engine: equivalent to XState on random event sequences (long run)', () => {
  for (const [name, testCase] of Object.entries(engineCases)) {
    it(`${name}: 10,000 runs`, { timeout: 300_000 }, () => {
      fc.assert(equivalenceProperty(testCase), equivalenceParameters(10_000));
    });
  }
});
