#!/usr/bin/env node
/**
 * The end of `npm test`: the fast tier of vitest and, at the same time, the type check: `tsc -b`
 * (which builds dist/ and checks the library and the specs against it) and the web UI's check.
 *
 * Why side by side: the fast tier spends much of its time waiting on sockets, timers and child
 * processes, so on two cores the ~25 s of checking fits largely into its idle time instead of
 * coming before it. The fast specs run from the sources (vitest compiles them); the ones that
 * need the build in dist/ (the package's entry points, the CLI as a child process) are in the slow
 * tier, which runs `tsc -b` first. Nothing is skipped: a type error fails `npm test` as before.
 * The checkers' output is held back and printed after vitest's summary, so the two never
 * interleave.
 *
 * Arguments are passed to vitest (`npm test -- --reporter=json ...`).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const vitest = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');

/** Runs `node <script> ...args`; resolves to its exit code and, when `quiet`, its output. */
function run(script, args, { quiet }) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    let output = '';
    if (quiet) {
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
    }
    child.on('error', (error) => resolve({ code: 1, output: `${output}${error.message}\n` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

const checks = [
  { name: 'library and specs (tsc -b)', promise: run(tsc, ['-b'], { quiet: true }) },
  { name: 'web UI (tsc --noEmit -p runtime/ui/web)', promise: run(tsc, ['--noEmit', '-p', 'runtime/ui/web/tsconfig.json'], { quiet: true }) },
];
const tests = await run(vitest, ['run', '--project', 'fast', '--project', 'fast-isolated', '--maxWorkers=3', ...process.argv.slice(2)], { quiet: false });

let failed = tests.code !== 0;
for (const check of checks) {
  const { code, output } = await check.promise;
  if (code === 0) {
    console.log(`type check, ${check.name}: no errors`);
  } else {
    failed = true;
    process.stdout.write(output);
    console.error(`type check, ${check.name}: failed (exit ${code})`);
  }
}
process.exitCode = failed ? 1 : 0;
