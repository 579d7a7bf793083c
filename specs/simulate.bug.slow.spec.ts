/**
 * The deliberately injected bug (injectBug.skipDuplicateCheck, docs/simulation.md) under random
 * faults (examples/scenarios/injected-bug.json): found among 20 runs, shrunk to at most three
 * faults, the printed replay command reproduces it through the CLI, and the same seed and
 * schedule pass without the bug. Slow tier: about 7 CPU seconds (20 runs, shrinking, replay).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { replayCommand } from '../runtime/simulate/report/replay.js';
import { runMany } from '../runtime/simulate/run.js';
import { parseScenarioText } from '../runtime/simulate/scenario.js';
import { cliInProcess } from './support/cliInProcess.js';

const EXAMPLES = fileURLToPath(new URL('../examples/scenarios', import.meta.url));
const cli = cliInProcess;

describe('simulate: the injected bug is found, shrunk and replayed', () => {
  it('finds the double run (TASK-4), shrinks the schedule to at most 3 faults, and the replay command reproduces it', async () => {
    const file = path.join(EXAMPLES, 'injected-bug.json');
    const scenario = parseScenarioText(await readFile(file, 'utf8'), 'injected-bug.json');
    const simulation = await runMany({ scenario, runs: 20 });
    const failure = simulation.failure;
    expect(failure, 'no run of 20 found the injected bug').toBeDefined();
    expect(Object.keys(failure!.verdict.counts)).toContain('runs-once');
    expect(failure!.verdict.violations.find((v) => v.invariant === 'runs-once')?.rule).toBe('TASK-4');
    expect(failure!.shrunk.length).toBeLessThanOrEqual(3);
    expect(failure!.shrunk.length).toBeLessThanOrEqual(failure!.faults.length);

    const command = replayCommand(file, failure!);
    expect(command).toContain(`--seed ${failure!.seed}`);
    // Run the printed command's arguments through the CLI (argv as a POSIX shell would split it).
    const args = [...command.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : (m[2] as string))).slice(1);
    const replayed = await cli([...args, '--json']);
    expect(replayed.code).toBe(1);
    const report = JSON.parse(replayed.stdout) as { failure: { seed: number; counts: Record<string, number> } };
    expect(report.failure.seed).toBe(failure!.seed);
    expect(Object.keys(report.failure.counts)).toContain('runs-once');

    // The control: the same seed and schedule without the bug switch pass.
    const fixed = { ...scenario, providers: scenario.providers.map((p) => ({ ...p, options: { ...p.options, injectBug: undefined } })) };
    const control = await runMany({ scenario: fixed, seed: failure!.seed, faults: failure!.shrunk });
    expect(control.ok).toBe(true);
  }, 120_000);
});
