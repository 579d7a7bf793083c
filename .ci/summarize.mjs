// Sums vitest JSON reports into the one line CI ends with: "N passed, N failed".
// Arguments: <report.json>:<exit status of the command that wrote it>, one per tier. A tier whose
// report is missing or unreadable (typecheck or layering failed before vitest ran, or vitest
// crashed), or that failed without a failed test (a file that did not load), counts one failure.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const argument of process.argv.slice(2)) {
  const separator = argument.lastIndexOf(':');
  const file = argument.slice(0, separator);
  const status = Number(argument.slice(separator + 1));
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    console.log(`${file}: no report (exit ${status})`);
    failed += 1;
    continue;
  }
  passed += report.numPassedTests;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  const failedTests = report.numFailedTests + (report.numFailedTestSuites > 0 && report.numFailedTests === 0 ? 1 : 0);
  failed += failedTests === 0 && status !== 0 ? 1 : failedTests;
}
if (skipped > 0) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
