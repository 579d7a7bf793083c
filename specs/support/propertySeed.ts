/**
 * Setup file of both tiers: every fast-check property of the run uses the tier's seed (fixed in
 * the fast tier, new per run in the slow tier; see vitest.config.ts). A property that passes its
 * own `seed` keeps it. A failing property prints the seed and the shrunk counterexample.
 */
import fc from 'fast-check';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The fast-check seed of this run. */
    propertySeed: number;
  }
}

fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: inject('propertySeed') });
