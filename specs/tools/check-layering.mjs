#!/usr/bin/env node
/**
 * `npm run layering`: fails (exit 1) when machines/ reaches for I/O, the clock, randomness or
 * timers, or imports anything but xstate, zod and itself; or when adapters/ imports runtime/.
 * The rules live in ./layering.mjs (unit-tested in specs/layering.spec.ts).
 */
import { fileURLToPath } from 'node:url';
import { checkTree, sourceFiles } from './layering.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const files = sourceFiles(root);
const violations = checkTree(root);

if (violations.length === 0) {
  console.log(`layering: ${files.length} files checked, no violations`);
} else {
  for (const { file, line, column, rule, message } of violations) {
    console.error(`${file}:${line}:${column}  ${rule}  ${message}`);
  }
  console.error(`layering: ${files.length} files checked, ${violations.length} violation${violations.length === 1 ? '' : 's'}`);
  process.exitCode = 1;
}
