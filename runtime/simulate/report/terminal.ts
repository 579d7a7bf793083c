/**
 * The terminal report: a progress bar over runs while they run (plain lines when stderr is not a
 * terminal), then a summary a person reads top to bottom: verdict, invariants with their rules,
 * tasks, throughput, and for a failure its seed, violations, minimal schedule and replay command.
 */
import { INVARIANTS } from '../checker.js';
import { formatDuration } from '../duration.js';
import type { RunSummary, Simulation } from '../run.js';
import { faultToInput } from '../shrink.js';

interface Stream {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

const BAR_WIDTH = 30;

/** Progress over runs: a redrawn bar on a terminal, a line per 10% (or per run, for few) otherwise. */
export function progressReporter(stream: Stream, label: string): { update(run: RunSummary, done: number, total: number): void; end(): void } {
  let failed = 0;
  let virtualMs = 0;
  let realMs = 0;
  let drawn = false;
  let lastLine = -1;
  return {
    update(run, done, total) {
      if (!run.ok) failed++;
      virtualMs += run.virtualMs;
      realMs += run.realMs;
      const rate = realMs === 0 ? 0 : virtualMs / realMs;
      const text = `${done}/${total} runs, ${failed} failed, ${Math.round(rate).toLocaleString('en-US')} virtual s per s`;
      if (stream.isTTY === true) {
        const filled = Math.round((BAR_WIDTH * done) / total);
        stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${text}\u001b[K`);
        drawn = true;
        return;
      }
      const step = Math.floor((10 * done) / total);
      if (total <= 20 || step !== lastLine || done === total) {
        lastLine = step;
        stream.write(`${label}: ${text}${run.ok ? '' : ` (seed ${run.seed} failed)`}\n`);
      }
    },
    end() {
      if (drawn) stream.write('\n');
    },
  };
}

const mark = (ok: boolean, color: boolean) => (ok ? (color ? '\u001b[32m✓\u001b[0m' : 'ok  ') : color ? '\u001b[31m✗\u001b[0m' : 'FAIL');

export function terminalSummary(simulation: Simulation, options: { readonly replay?: string | undefined; readonly color?: boolean }): string {
  const color = options.color ?? false;
  const lines: string[] = [];
  const { runs, failure, throughput } = simulation;
  const failedRuns = runs.filter((run) => !run.ok).length;
  const title = simulation.scenario.name ?? 'scenario';
  lines.push(`${title}: ${runs.length} run${runs.length === 1 ? '' : 's'} (seeds ${runs[0]?.seed ?? '-'}..${runs.at(-1)?.seed ?? '-'}), ${failedRuns === 0 ? 'no violation' : `${failedRuns} failed`}`);
  lines.push('');
  const counts: Record<string, number> = {};
  for (const run of runs) for (const [id, count] of Object.entries(run.verdict.counts)) counts[id] = (counts[id] ?? 0) + count;
  for (const invariant of INVARIANTS) {
    const count = counts[invariant.id] ?? 0;
    lines.push(`  ${mark(count === 0, color)} ${invariant.rule.padEnd(8)} ${invariant.title}${count === 0 ? '' : `: ${count} violation${count === 1 ? '' : 's'}`}`);
  }
  const tasks = runs.reduce(
    (sum, run) => ({
      submitted: sum.submitted + run.verdict.tasks.submitted,
      completed: sum.completed + run.verdict.tasks.completed,
      failed: sum.failed + run.verdict.tasks.failed,
      cancelled: sum.cancelled + run.verdict.tasks.cancelled,
      runs: sum.runs + run.verdict.tasks.runs,
    }),
    { submitted: 0, completed: 0, failed: 0, cancelled: 0, runs: 0 },
  );
  const codes: Record<string, number> = {};
  for (const run of runs) for (const [code, count] of Object.entries(run.verdict.tasks.codes)) codes[code] = (codes[code] ?? 0) + count;
  const codeText = Object.entries(codes)
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
  const faults = runs.reduce((sum, run) => sum + run.faults.length, 0);
  lines.push('');
  lines.push(`  tasks     ${tasks.submitted} submitted: ${tasks.completed} completed, ${tasks.failed} failed${codeText === '' ? '' : ` (${codeText})`}, ${tasks.cancelled} cancelled; ${tasks.runs} operation runs`);
  const published = runs.reduce((sum, run) => sum + run.verdict.events.published, 0);
  if (published > 0) {
    const delivered = runs.reduce((sum, run) => sum + run.verdict.events.delivered, 0);
    const dropped = runs.reduce((sum, run) => sum + run.verdict.events.dropped, 0);
    lines.push(`  events    ${published} published, ${delivered} handed to subscribers, ${dropped} dropped by overflow`);
  }
  const uploads: Record<string, number> = {};
  for (const run of runs) for (const [outcome, count] of Object.entries(run.verdict.files.uploads)) uploads[outcome] = (uploads[outcome] ?? 0) + count;
  if (Object.keys(uploads).length > 0) {
    const { done = 0, have = 0, ...failed } = uploads;
    const failedText = Object.entries(failed)
      .sort((a, b) => b[1] - a[1])
      .map(([code, count]) => `${code} ${count}`)
      .join(', ');
    const used = runs.reduce((sum, run) => sum + run.verdict.files.used, 0);
    const fetches: Record<string, number> = {};
    for (const run of runs) for (const [outcome, count] of Object.entries(run.verdict.files.fetches)) fetches[outcome] = (fetches[outcome] ?? 0) + count;
    const { done: fetched = 0, ...unfetched } = fetches;
    const fetchText = Object.keys(fetches).length === 0 ? '' : `; ${fetched} result files fetched, ${Object.values(unfetched).reduce((a, b) => a + b, 0)} not`;
    lines.push(
      `  files     ${done + have} uploads done (${have} without moving content), ${Object.values(failed).reduce((a, b) => a + b, 0)} failed${failedText === '' ? '' : ` (${failedText})`}; ${used} handed to operations${fetchText}`,
    );
  }
  lines.push(`  faults    ${faults} applied`);
  lines.push(
    `  speed     ${formatDuration(throughput.virtualMs)} virtual in ${formatDuration(throughput.realMs)}: ${Math.round(throughput.virtualSecondsPerSecond).toLocaleString('en-US')} virtual s per s${throughput.cpuMs > 0 ? ` (${Math.round(throughput.virtualSecondsPerCpuSecond).toLocaleString('en-US')} per CPU s)` : ''}, ${Math.round(throughput.networksPerMinute).toLocaleString('en-US')} networks per minute`,
  );
  if (failure !== undefined) {
    lines.push('');
    lines.push(`Seed ${failure.seed} failed:`);
    for (const violation of failure.verdict.violations.slice(0, 10)) {
      lines.push(`  ${violation.rule} ${violation.invariant} at ${formatDuration(violation.t)}: ${violation.message}`);
    }
    const more = Object.values(failure.verdict.counts).reduce((a, b) => a + b, 0) - Math.min(10, failure.verdict.violations.length);
    if (more > 0) lines.push(`  ... and ${more} more`);
    lines.push('');
    lines.push(`Minimal fault schedule (${failure.shrunk.length} of ${failure.faults.length} faults, ${failure.shrinkRuns} shrinking runs):`);
    if (failure.shrunk.length === 0) lines.push('  none: the failure needs no fault');
    for (const fault of failure.shrunk) lines.push(`  ${JSON.stringify(faultToInput(fault))}`);
    if (options.replay !== undefined) {
      lines.push('');
      lines.push('Replay:');
      lines.push(`  ${options.replay}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
