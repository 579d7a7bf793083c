/**
 * `note(text)`: records a figure a spec measured (a latency, a duration, a count) on the running
 * test as a vitest annotation instead of printing it. Annotations land in the JSON report and in
 * `--reporter=verbose`, and the default reporter shows them with a failure, so `npm test` stays
 * quiet while the figure stays with the test that measured it. Benchmarks proper live in bench/.
 */
import { TestRunner } from 'vitest';

export function note(text: string): void {
  const test = TestRunner.getCurrentTest();
  if (test === undefined) throw new Error(`note() called outside a running test: ${text}`);
  void test.context.annotate(text);
}
