/**
 * Events and task files in whole simulated runs, with the faults that threaten them and with
 * deliberately broken participants (docs/simulation.md, "Events and task files"):
 *
 * - a link that flips bytes of file chunks: the receiver refuses every corrupted file with
 *   FILE_HASH_MISMATCH (FILE-2), every task with files settles (TASK-10), nothing breaks;
 * - the same run with a store that keeps bytes whatever they hash to (`acceptWrongHash`): the
 *   checker reports FILE-2 with the seed, the schedule shrinks to the corrupting link fault, and
 *   the replay fails alike, while the same seed and schedule pass without the bug;
 * - a provider that loses every third event without counting it (`loseEventEvery`): the client
 *   sees no gap in seq (the event never got one), and the checker still reports EVT-10 from its
 *   own accounting of what each at-least-once subscription was due.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { check } from '../runtime/simulate/checker.js';
import { ofType } from '../runtime/simulate/history.js';
import { planRun } from '../runtime/simulate/plan.js';
import { runMany } from '../runtime/simulate/run.js';
import { parseScenario, parseScenarioText, type ScenarioInput } from '../runtime/simulate/scenario.js';
import { runVirtual } from '../runtime/simulate/virtual.js';

const options = { heartbeatInterval: 1_000, pingInterval: 300, pongTimeout: 300 };
const clientOptions = { defaultHeartbeatInterval: 1_000, pingInterval: 300, pongTimeout: 300, backoff: { base: 50, max: 500, attemptsMax: 20 } };

const filesScenario = (bug: boolean): ScenarioInput => ({
  name: 'tasks with files over a corrupting link',
  seed: 11,
  duration: 4_000,
  liveness: 6_000,
  providers: [
    {
      name: 'p',
      count: 2,
      services: [{ name: 'Work', operations: { run: { duration: [10, 200] } } }],
      options: { ...options, ...(bug ? { injectBug: { acceptWrongHash: true } } : {}) },
    },
  ],
  clients: [{ name: 'c', options: clientOptions, workload: [{ service: 'Work', operation: 'run', every: [100, 300], files: { count: 2, size: [1, 20_000], distinct: 5 } }] }],
  faults: [
    { type: 'crash', at: 2_000, target: 'p-2', restartAfter: 500 },
    { type: 'link', at: 500, for: 2_000, from: 'c', to: '*', corrupt: 0.4 },
    { type: 'stall', at: 3_000, for: 300, target: 'p-1' },
  ],
});

describe('simulate: task files under corruption', () => {
  it('FILE-2: the receiver refuses every corrupted file; every task with files settles; no invariant breaks', async () => {
    const result = await runMany({ scenario: parseScenario(filesScenario(false)) });
    expect(result.ok, JSON.stringify(result.runs[0]?.verdict.violations)).toBe(true);
    const history = result.detailed?.history ?? [];
    const uploads = ofType(history, 'file.transfer');
    expect(uploads.filter((upload) => upload.code === 'FILE_HASH_MISMATCH').length).toBeGreaterThan(0);
    expect(uploads.filter((upload) => upload.status === 'done').length).toBeGreaterThan(0);
    expect(ofType(history, 'file.used').length).toBeGreaterThan(0);
    const settled = new Set(ofType(history, 'settled').map((s) => s.taskId));
    expect(ofType(history, 'submitted').every((s) => settled.has(s.taskId))).toBe(true);
  });

  it('FILE-2: a store that keeps wrong bytes is found with its seed, shrunk to the corrupting link, and replayed', async () => {
    const scenario = parseScenario(filesScenario(true));
    const result = await runMany({ scenario });
    expect(result.ok).toBe(false);
    const failure = result.failure!;
    expect(failure.seed).toBe(11);
    expect(failure.verdict.violations[0]).toMatchObject({ invariant: 'file-verified', rule: 'FILE-2' });
    expect(failure.shrunk).toHaveLength(1);
    expect(failure.shrunk[0]).toMatchObject({ type: 'link', corrupt: 0.4 });
    const replay = await runMany({ scenario, seed: failure.replay.seed, faults: failure.replay.faults, shrink: false });
    expect(Object.keys(replay.runs[0]?.verdict.counts ?? {})).toContain('file-verified');
    const fixed = await runMany({ scenario: parseScenario(filesScenario(false)), seed: failure.replay.seed, faults: failure.replay.faults });
    expect(fixed.ok).toBe(true);
  });
});

const eventsScenario = (bug: boolean): ScenarioInput => ({
  name: 'at-least-once events from a provider that loses some',
  seed: 5,
  duration: 4_000,
  liveness: 8_000,
  providers: [
    {
      name: 'p',
      services: [{ name: 'Work', operations: { run: {} }, events: { tick: { every: [50, 150] } } }],
      options: { ...options, ...(bug ? { injectBug: { loseEventEvery: 3 } } : {}) },
    },
  ],
  clients: [{ name: 'c', options: clientOptions, subscriptions: [{ service: 'Work', event: 'tick', delivery: 'at-least-once' }] }],
  faults: [{ type: 'partition', at: 1_500, for: 1_000, groups: [['p'], ['c']] }],
});

describe('simulate: events from a provider that loses some', () => {
  it('EVT-10: without the bug every at-least-once event arrives once, in order, through a partition', async () => {
    const result = await runMany({ scenario: parseScenario(eventsScenario(false)) });
    expect(result.ok, JSON.stringify(result.runs[0]?.verdict.violations)).toBe(true);
    const history = result.detailed?.history ?? [];
    // Every publication made once the provider held the subscription (the first ones came before it).
    const since = history.findIndex((o) => o.type === 'psub' && o.change === 'created');
    const due = history.filter((o, index) => o.type === 'published' && index > since);
    expect(due.length).toBeGreaterThan(20);
    expect(ofType(history, 'event').map((event) => event.id)).toEqual(due.map((o) => (o as { id: string }).id));
  });

  it('EVT-10: with it, the checker finds the lost events though the client saw no gap', async () => {
    const result = await runMany({ scenario: parseScenario(eventsScenario(true)), shrink: false });
    expect(result.ok).toBe(false);
    expect(result.failure?.seed).toBe(5);
    expect(result.failure?.verdict.violations[0]).toMatchObject({ invariant: 'event-not-lost', rule: 'EVT-10' });
    const history = result.detailed?.history ?? [];
    expect(ofType(history, 'event').every((event) => event.lost === 0)).toBe(true);
  });
});

describe('simulate: examples/scenarios/events-and-files.json', () => {
  it('passes every invariant, and the same seed gives the same history (file links, subscriptions and all)', async () => {
    const scenario = parseScenarioText(await readFile(new URL('../examples/scenarios/events-and-files.json', import.meta.url), 'utf8'));
    const run = async () => {
      const plan = planRun(scenario, { seed: 21, durationMs: 8_000 });
      const record = await runVirtual(plan);
      return { history: record.history, verdict: check(plan, record.history) };
    };
    const first = await run();
    expect(first.verdict.violations).toEqual([]);
    expect(first.verdict.events.delivered).toBeGreaterThan(0);
    expect(first.verdict.files.uploads.FILE_HASH_MISMATCH ?? 0).toBeGreaterThan(0);
    expect((await run()).history).toEqual(first.history);
  }, 30_000);
});
