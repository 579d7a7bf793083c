/**
 * Two tiers (docs/testing.md):
 * - `fast` and `fast-isolated` (`npm test`): every spec except `*.slow.spec.ts`; properties run with a fixed
 *   fast-check seed, so a red run reproduces as is (PROPERTY_SEED=<n> picks another).
 * - `slow` (`npm run test:slow`, and with the fast tier `npm run test:all`): the `*.slow.spec.ts`
 *   files (long properties, real-process suites); their properties run with a new seed per run,
 *   printed at the start (replay with PROPERTY_SEED=<n>).
 */
import { defineConfig } from 'vitest/config';

/**
 * Fast specs that run with a module graph of their own (vitest's default), apart from the shared
 * one of the others. inspect.spec.ts: its Stately relay test lost the task's events after some
 * other files had run in the same worker (found on clean clones, where vitest orders files by
 * size; 3 of 3 runs); run alone, or isolated, it passes. The state it shares was not found yet.
 */
const ISOLATED = ['specs/inspect.spec.ts'];

/** The fast tier's fast-check seed (a fixed one: `npm test` is deterministic). */
const FAST_TIER_SEED = 20_261_121;

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    setupFiles: ['specs/support/propertySeed.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          // One module graph per worker, not per file: loading xstate, zod, ws and our own modules
          // again for each of ~120 files cost about 30 s of the tier's CPU. Specs build their own
          // actors, sockets and clocks, restore what they spy on, and change no environment.
          isolate: false,
          include: ['specs/**/*.spec.ts'],
          exclude: ['specs/**/*.slow.spec.ts', ...ISOLATED],
          provide: { propertySeed: Number(process.env.PROPERTY_SEED ?? FAST_TIER_SEED) },
        },
      },
      {
        extends: true,
        test: {
          name: 'fast-isolated',
          include: ISOLATED,
          provide: { propertySeed: Number(process.env.PROPERTY_SEED ?? FAST_TIER_SEED) },
        },
      },
      {
        extends: true,
        test: {
          name: 'slow',
          include: ['specs/**/*.slow.spec.ts'],
          globalSetup: ['specs/support/slowTier.ts'],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
