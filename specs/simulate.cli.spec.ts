/**
 * The scenario format and the `switchboard simulate` command: validation with every problem
 * listed by path (and never anything but a ScenarioError, whatever the input), the committed
 * JSON Schema up to date, durations, and the command's outputs (summary, --json, --html,
 * --schema) and exit codes.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliInProcess } from './support/cliInProcess.js';
import { formatDuration, parseDuration } from '../runtime/simulate/duration.js';
import { parseScenario, scenarioJsonSchema, ScenarioError } from '../runtime/simulate/scenario.js';

const cli = cliInProcess;

const small = {
  name: 'small',
  duration: '5s',
  liveness: '10s',
  providers: [{ name: 'p', services: [{ name: 'S', operations: { op: { duration: ['10ms', '200ms'] } } }], options: { heartbeatInterval: '1s' } }],
  clients: [{ name: 'c', workload: [{ service: 'S', operation: 'op', every: '300ms', start: '500ms' }] }],
  faults: [{ type: 'partition', at: '1s', for: '2s', groups: [['p'], ['c']] }],
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sb-simulate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('scenario format', () => {
  it('durations: numbers of ms or 250ms / 2s / 10m / 1h / 1m30s; anything else is not one', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration(42)).toBe(42);
    for (const bad of ['', 's', '10 parsecs', '-1s', '1x', '1s2']) expect(parseDuration(bad), bad).toBeUndefined();
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(1_500)).toBe('1.5s');
  });

  it('lists every problem with its path: unknown keys, bad values, faults naming nobody, duplicate names', () => {
    let error: unknown;
    try {
      parseScenario({
        ...small,
        providers: [...small.providers, { name: 'p', services: [] }],
        clients: [{ name: 'c', colour: 'blue' }],
        faults: [{ type: 'crash', at: '1s', target: 'ghost' }, { type: 'link', at: 'later', from: 'c', to: 'p', loss: 2 }],
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ScenarioError);
    const issues = (error as ScenarioError).issues.join('\n');
    expect(issues).toContain('clients.0');
    expect(issues).toContain('colour');
    expect(issues).toContain('faults.1.at');
    expect(issues).toContain('faults.1.loss');
    expect((error as ScenarioError).name).toBe('ScenarioError');
    expect(() => parseScenario({ ...small, faults: [{ type: 'crash', at: 1, target: 'ghost' }] })).toThrow(/no participant named ghost/);
    expect(() => parseScenario({ ...small, clients: [{ name: 'p' }] })).toThrow(/two participants have this name/);
  });

  it('garbage of any shape gets a ScenarioError, never another exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.record({ providers: fc.anything(), clients: fc.anything(), faults: fc.anything() })), (value) => {
        try {
          parseScenario(value);
        } catch (error) {
          expect(error).toBeInstanceOf(ScenarioError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('docs/scenario.schema.json is the generated JSON Schema (switchboard simulate --schema)', async () => {
    const committed = JSON.parse(await readFile(new URL('../docs/scenario.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(scenarioJsonSchema());
    const printed = await cli(['simulate', '--schema']);
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual(committed);
  });
});

describe('switchboard simulate', () => {
  it('prints the summary with every invariant and its rule, and exits 0 when nothing is violated', async () => {
    const file = path.join(dir, 'small.json');
    await writeFile(file, JSON.stringify(small));
    const { code, stdout, stderr } = await cli(['simulate', file, '--runs', '3']);
    expect(code).toBe(0);
    expect(stdout).toContain('small: 3 runs (seeds 1..3), no violation');
    for (const rule of ['TASK-16', 'TASK-10', 'TASK-4', 'TASK-9', 'DISC-9', 'DISC-4', 'CONN-3', 'CONN-4']) expect(stdout).toContain(rule);
    expect(stdout).toMatch(/virtual s per s/);
    expect(stderr).toContain('3/3 runs, 0 failed'); // progress, plain lines when not a terminal
  }, 30_000);

  it('--json: one JSON document; --html: a self-contained report with the timeline and state history', async () => {
    const file = path.join(dir, 'small.json');
    const html = path.join(dir, 'report.html');
    await writeFile(file, JSON.stringify(small));
    const { code, stdout } = await cli(['simulate', file, '--seed', '4', '--json', '--html', html]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { ok: boolean; runs: { seed: number }[]; throughput: { virtualSecondsPerSecond: number } };
    expect(report.ok).toBe(true);
    expect(report.runs[0]?.seed).toBe(4);
    expect(report.throughput.virtualSecondsPerSecond).toBeGreaterThan(0);
    const page = await readFile(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).not.toMatch(/<script|src="http|href="http/); // nothing fetched, nothing run
    expect(page).toContain('<svg');
    expect(page).toContain('State history of every statechart');
    expect(page).toContain('connection:ws://p:8080');
    expect(page).toContain('partition');
  }, 30_000);

  it('a violation exits 1 with the seed, the minimal schedule and the replay command', async () => {
    const file = path.join(dir, 'buggy.json');
    await writeFile(
      file,
      JSON.stringify({
        ...small,
        providers: [{ ...small.providers[0], options: { heartbeatInterval: '1s', injectBug: { skipDuplicateCheck: true } } }],
        clients: [{ name: 'c', options: { ackTimeout: '100ms' }, workload: [{ service: 'S', operation: 'op', every: '300ms' }] }],
        faults: [
          { type: 'link', at: '500ms', for: '3s', from: 'p', to: 'c', delay: ['150ms', '300ms'] },
          { type: 'partition', at: '4s', for: '500ms', groups: [['p'], ['c']] },
        ],
      }),
    );
    const { code, stdout } = await cli(['simulate', file]);
    expect(code).toBe(1);
    expect(stdout).toContain('TASK-4 runs-once');
    expect(stdout).toContain('Minimal fault schedule (1 of 2 faults');
    expect(stdout).toContain(`switchboard simulate ${file} --seed 1 --faults '[{"type":"link"`);
  }, 60_000);

  it('usage errors exit 2: no file, unreadable, invalid scenario, bad --faults, bad --until, --real with --runs', async () => {
    const file = path.join(dir, 'small.json');
    await writeFile(file, JSON.stringify(small));
    expect((await cli(['simulate'])).code).toBe(2);
    expect((await cli(['simulate', path.join(dir, 'missing.json')])).stderr).toContain('ENOENT');
    await writeFile(path.join(dir, 'bad.json'), '{"providers": [');
    expect((await cli(['simulate', path.join(dir, 'bad.json')])).stderr).toContain('is not JSON');
    expect((await cli(['simulate', file, '--faults', '[{"type":"nap"}]'])).code).toBe(2);
    expect((await cli(['simulate', file, '--until', 'forever'])).code).toBe(2);
    expect((await cli(['simulate', file, '--real', '--runs', '2'])).code).toBe(2);
  });
});
