/**
 * `switchboard simulate` end to end in virtual time: the documented example scenarios pass; a run
 * is a pure function of its seed; signed and unsigned discovery (SEC-8); the library API returns
 * the checked history. The injected bug found among 20 random runs, shrunk and replayed is
 * specs/simulate.bug.slow.spec.ts (slow tier); specs/simulate.cli.spec.ts finds and shrinks a
 * smaller one in this tier.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineService } from '../runtime/service.js';
import { check } from '../runtime/simulate/checker.js';
import { simulate } from '../runtime/simulate/index.js';
import { planRun } from '../runtime/simulate/plan.js';
import { parseScenario, parseScenarioText, type Scenario } from '../runtime/simulate/scenario.js';
import { runVirtual } from '../runtime/simulate/virtual.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = path.join(ROOT, 'examples', 'scenarios');
const load = async (name: string): Promise<Scenario> => parseScenarioText(await readFile(path.join(EXAMPLES, name), 'utf8'), name);

describe('simulate: the documented examples', () => {
  for (const file of ['partition-during-long-task.json', 'provider-crash-retry.json', 'flapping-link.json', 'split-brain.json']) {
    it(`${file}: no violation, and the faults really happened`, async () => {
      const scenario = await load(file);
      const plan = planRun(scenario, { seed: scenario.seed ?? 1 });
      const record = await runVirtual(plan);
      const verdict = check(plan, record.history);
      expect(verdict.violations).toEqual([]);
      expect(verdict.tasks.submitted).toBeGreaterThan(0);
      expect(record.history.filter((o) => o.type === 'fault').length).toBeGreaterThanOrEqual(plan.faults.length);
      expect(record.network.partitioned + record.network.lost + record.network.dropped).toBeGreaterThan(0);
    }, 30_000);
  }

  it('every scenario in examples/scenarios validates', async () => {
    const files = (await readdir(EXAMPLES)).filter((name) => name.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const text = await readFile(path.join(EXAMPLES, file), 'utf8');
      expect(() => parseScenarioText(text, file)).not.toThrow();
    }
  });
});

describe('simulate: determinism', () => {
  it('the same seed gives the same history, observation for observation; another seed another one', async () => {
    const scenario = await load('flapping-link.json');
    const run = async (seed: number) => (await runVirtual(planRun(scenario, { seed, durationMs: 8_000 }), { detail: true })).history;
    const first = await run(11);
    expect(await run(11)).toEqual(first);
    expect(await run(12)).not.toEqual(first);
    expect(first.some((o) => o.type === 'state')).toBe(true);
    expect(first.some((o) => o.type === 'message')).toBe(true);
  }, 30_000);
});

describe('simulate: signed discovery (SEC-8)', () => {
  const small = { pingInterval: '300ms', pongTimeout: '300ms' };
  const run = async (provider: { signed?: boolean }, client: { allowUnsigned?: boolean }) => {
    const scenario = parseScenario({
      seed: 3,
      duration: '5s',
      providers: [{ name: 'p', services: [{ name: 'Work', operations: { run: { duration: '50ms' } } }], options: { ...small, heartbeatInterval: '1s', ...provider } }],
      clients: [{ name: 'c', options: { ...small, ackTimeout: '200ms', ...client }, workload: [{ service: 'Work', operation: 'run', every: '500ms', start: '1s' }] }],
      faults: [{ type: 'crash', at: '2s', target: 'p', restartAfter: '1s' }],
    });
    const plan = planRun(scenario, { seed: 3 });
    const record = await runVirtual(plan);
    const settled = record.history.filter((o) => o.type === 'settled').map((o) => (o.outcome.status === 'Failed' ? o.outcome.code : o.outcome.status));
    const completedAfterRestart = record.history.filter((o) => o.type === 'settled' && o.outcome.status === 'Completed' && o.t > 3_000).length;
    return { verdict: check(plan, record.history), adverts: record.history.filter((o) => o.type === 'advert').length, settled, completedAfterRestart };
  };

  it('providers sign by default and clients trust them on first use, also after a restart (same key, new epoch)', async () => {
    const { verdict, adverts, settled, completedAfterRestart } = await run({}, {});
    expect(verdict.violations).toEqual([]);
    expect(adverts).toBeGreaterThan(0);
    expect(settled.filter((status) => status === 'Completed').length).toBeGreaterThan(5);
    expect(completedAfterRestart).toBeGreaterThan(0);
  }, 30_000);

  it('an unsigned provider is ignored by a client that does not allow it (coded failures, no violation), believed by one that does', async () => {
    const strict = await run({ signed: false }, {});
    expect(strict.verdict.violations).toEqual([]);
    expect(strict.adverts).toBe(0);
    expect(strict.settled.length).toBeGreaterThan(0);
    expect(new Set(strict.settled)).toEqual(new Set(['SERVICE_UNAVAILABLE']));
    const lenient = await run({ signed: false }, { allowUnsigned: true });
    expect(lenient.verdict.violations).toEqual([]);
    expect(lenient.adverts).toBeGreaterThan(0);
    expect(lenient.settled.filter((status) => status === 'Completed').length).toBeGreaterThan(5);
  }, 30_000);
});

describe('simulate: the library API', () => {
  it('runs your own service definitions under faults and returns the checked history', async () => {
    const ran: string[] = [];
    const greeter = defineService({
      name: 'Greeter',
      version: '1.0.0',
      operations: {
        greet: {
          params: z.object({ name: z.string() }),
          run: async ({ name }, ctx) => {
            ran.push(ctx.taskId);
            ctx.progress(50);
            return { greeting: `Hello, ${name}` };
          },
        },
      },
    });
    const result = await simulate({
      scenario: {
        duration: '20s',
        providers: [{ name: 'greeter', count: 2, options: { heartbeatInterval: '2s' } }],
        clients: [{ name: 'app', workload: [{ service: 'Greeter', operation: 'greet', params: { name: 'Ada' }, every: '500ms', start: '1s' }] }],
        faults: [{ type: 'crash', at: '5s', target: 'greeter-1', restartAfter: '5s' }],
      },
      services: [greeter],
      runs: 3,
    });
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.runs).toHaveLength(3);
    expect(ran.length).toBeGreaterThan(0);
    expect(result.history.some((o) => o.type === 'settled' && o.outcome.status === 'Completed')).toBe(true);

    await expect(simulate({ scenario: { providers: [{ name: 'empty' }], clients: [{ name: 'c' }] } })).rejects.toThrow(/hosts nothing/);
  }, 60_000);
});
