// Mutation testing (docs/testing.md#mutation-testing): `npm run test:mutation` mutates machines/
// and runtime/ and runs the in-process specs against each mutant (vitest.mutation.config.ts).
// Incremental: results are kept in reports/mutation/incremental.json, so a later run only tests
// mutants in code or specs that changed. CPU heavy: run it under `nice`; narrow it with
// `npm run test:mutation -- --mutate runtime/client.ts`.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'machines/**/*.ts',
    'runtime/**/*.ts',
    // The demo's image work and the CLI run in child processes in the specs (from dist/).
    '!runtime/demo/**',
    '!runtime/cli/**',
    '!runtime/cli.ts',
  ],
  // `// @ts-nocheck` goes atop the mutated folders only: the specs compare generated TypeScript
  // with committed fixtures (specs/types/fixtures), which must stay byte for byte as committed.
  disableTypeChecks: '{machines,runtime}/**/*.ts',
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 20_000,
  incremental: true,
  incrementalFile: 'reports/mutation/incremental.json',
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
