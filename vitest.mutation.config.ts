/**
 * The specs StrykerJS runs against each mutant (stryker.config.mjs): the fast tier's in-process
 * specs. Specs that start other processes are left out, because those processes run the compiled
 * dist/, which the mutants never reach, so they would only cost time.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['specs/**/*.spec.ts'],
    exclude: [
      'specs/**/*.slow.spec.ts',
      'specs/ports.spec.ts',
      'specs/network.real.malformed.spec.ts',
      'specs/adapters.udp.netns.spec.ts',
      'specs/layering.spec.ts',
      'specs/package.spec.ts',
      'specs/docs.spec.ts',
    ],
    setupFiles: ['specs/support/propertySeed.ts'],
    provide: { propertySeed: 20_261_121 },
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
