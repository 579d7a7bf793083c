import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['specs/**/*.spec.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The JSON report is what .ci/run reads its closing "N passed, N failed" line from.
    reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
  },
});
