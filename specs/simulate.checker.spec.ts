/**
 * The checker of `switchboard simulate` on hand-written histories: each invariant passes a
 * history that keeps its rule and fails one that breaks it (a check that cannot fail would be
 * worthless), with the rule's requirement id.
 */
import { describe, expect, it } from 'vitest';
import { check, INVARIANTS } from '../runtime/simulate/checker.js';
import type { Observation, OutcomeSummary } from '../runtime/simulate/history.js';
import { planRun } from '../runtime/simulate/plan.js';
import { parseScenario } from '../runtime/simulate/scenario.js';

const scenario = (retry = false) =>
  parseScenario({
    duration: 10_000,
    liveness: 10_000,
    providers: [{ name: 'p', count: 2, services: [{ name: 'S', operations: { op: {} } }], options: { heartbeatInterval: 1_000, pingInterval: 300, pongTimeout: 300 } }],
    clients: [{ name: 'c', options: { defaultHeartbeatInterval: 1_000, ...(retry ? { retry: { codes: ['CONNECTION_LOST'], attempts: 1 } } : {}) } }],
  });
const plan = (retry = false) => planRun(scenario(retry), { seed: 1 });

const up: Observation[] = [
  { t: 0, type: 'up', participant: 'p-1', incarnation: 1, serviceIds: ['S-p-1#1'] },
  { t: 0, type: 'up', participant: 'p-2', incarnation: 1, serviceIds: ['S-p-2#1'] },
  { t: 0, type: 'up', participant: 'c', incarnation: 1, clientId: 'c' },
];
/** A task that ran on p-1 and completed at the client. */
const task = (taskId: string, t = 100): Observation[] => [
  { t, type: 'submitted', participant: 'c', clientId: 'c', taskId },
  { t: t + 5, type: 'ran', participant: 'p-1', incarnation: 1, clientId: 'c', taskId },
  { t: t + 50, type: 'finished', participant: 'p-1', incarnation: 1, clientId: 'c', taskId, outcome: { status: 'Completed' } },
  { t: t + 55, type: 'settled', participant: 'c', clientId: 'c', taskId, outcome: { status: 'Completed' } },
];
const byTime = (history: Observation[]) => history.map((o, i) => ({ o, i })).sort((a, b) => a.o.t - b.o.t || a.i - b.i).map(({ o }) => o);
const broken = (history: Observation[], retry = false) => Object.keys(check(plan(retry), byTime(history)).counts);

describe('simulate checker', () => {
  it('names every invariant with a requirement id of docs/protocol.md', async () => {
    const { readFile } = await import('node:fs/promises');
    const protocol = await readFile(new URL('../docs/protocol.md', import.meta.url), 'utf8');
    for (const invariant of INVARIANTS) expect(protocol, invariant.rule).toContain(`**${invariant.rule}**`);
  });

  it('passes a clean history', () => {
    expect(broken([...up, ...task('t1')])).toEqual([]);
  });

  it('TASK-16: a task settled twice', () => {
    expect(broken([...up, ...task('t1'), { t: 300, type: 'settled', participant: 'c', clientId: 'c', taskId: 't1', outcome: { status: 'Cancelled' } }])).toEqual(['settles-once']);
  });

  it('TASK-10: a task never settled, or failed without a code; but not when its client crashed', () => {
    expect(broken([...up, { t: 100, type: 'submitted', participant: 'c', clientId: 'c', taskId: 't1' }])).toEqual(['no-lost-task']);
    expect(broken([...up, { t: 100, type: 'submitted', participant: 'c', clientId: 'c', taskId: 't1' }, { t: 200, type: 'settled', participant: 'c', clientId: 'c', taskId: 't1', outcome: { status: 'Failed', code: '' } }])).toEqual(['no-lost-task']);
    expect(broken([...up, { t: 100, type: 'submitted', participant: 'c', clientId: 'c', taskId: 't1' }, { t: 200, type: 'down', participant: 'c', incarnation: 1 }])).toEqual([]);
  });

  it('TASK-10: a completed result nobody computed', () => {
    const history = task('t1').filter((o) => o.type !== 'finished');
    expect(broken([...up, ...history])).toEqual(['result-has-origin']);
  });

  it('TASK-4: twice on one instance always fails; on two instances only without retry and while the first lives', () => {
    const twice: Observation = { t: 120, type: 'ran', participant: 'p-1', incarnation: 1, clientId: 'c', taskId: 't1' };
    expect(broken([...up, ...task('t1'), twice])).toEqual(['runs-once']);
    const elsewhere: Observation = { t: 120, type: 'ran', participant: 'p-2', incarnation: 1, clientId: 'c', taskId: 't1' };
    expect(broken([...up, ...task('t1'), elsewhere])).toEqual(['runs-once']);
    expect(broken([...up, ...task('t1'), elsewhere], true)).toEqual([]);
    expect(broken([...up, ...task('t1'), { t: 110, type: 'down', participant: 'p-1', incarnation: 1 }, elsewhere])).toEqual([]);
  });

  it('TASK-9: progress that goes down', () => {
    const progress = (t: number, percent: number): Observation => ({ t, type: 'progress', participant: 'c', taskId: 't1', percent });
    expect(broken([...up, ...task('t1'), progress(110, 20), progress(120, 60)])).toEqual([]);
    expect(broken([...up, ...task('t1'), progress(110, 60), progress(120, 20)])).toEqual(['progress-monotonic']);
  });

  it('DISC-9: an entry kept past 3x heartbeat, or listed without being heard; skew and freeze measured on the client clock', () => {
    const heard = (t: number): Observation => ({ t, type: 'advert', participant: 'c', serviceId: 'S-p-1#1', heartbeatMs: 1_000 });
    const listed = (t: number, ids: string[]): Observation => ({ t, type: 'services', participant: 'c', serviceIds: ids });
    expect(broken([...up, heard(10), listed(10, ['S-p-1#1']), listed(3_010, [])])).toEqual([]);
    expect(broken([...up, heard(10), listed(10, ['S-p-1#1']), listed(3_500, [])])).toEqual(['forgotten']);
    expect(broken([...up, listed(10, ['S-p-1#1']), listed(100, [])])).toEqual(['forgotten']);
    const frozen = { type: 'freeze', at: 1_000, target: 'c' } as const;
    expect(
      broken([...up, heard(10), listed(10, ['S-p-1#1']), { t: 1_000, type: 'fault', fault: frozen }, { t: 2_000, type: 'fault', fault: frozen, undo: true }, listed(3_500, [])]),
    ).toEqual([]);
    const slow = { type: 'skew', at: 0, target: 'c', rate: 0.5 } as const;
    expect(broken([{ t: 0, type: 'fault', fault: slow }, ...up, heard(10), listed(10, ['S-p-1#1']), listed(6_000, [])])).toEqual([]);
  });

  it('DISC-4: a provider not known again one heartbeat after the heal', () => {
    const listed = (t: number, ids: string[]): Observation => ({ t, type: 'services', participant: 'c', serviceIds: ids });
    const heard = (t: number, id: string): Observation => ({ t, type: 'advert', participant: 'c', serviceId: id, heartbeatMs: 1_000 });
    const after = [heard(10_100, 'S-p-1#1'), heard(10_100, 'S-p-2#1'), listed(10_100, ['S-p-1#1', 'S-p-2#1']), listed(13_100, [])];
    expect(broken([...up, { t: 10_000, type: 'heal' }, ...after])).toEqual([]);
    expect(broken([...up, { t: 10_000, type: 'heal' }, heard(10_100, 'S-p-1#1'), listed(10_100, ['S-p-1#1']), listed(13_100, [])])).toEqual(['rediscovered']);
  });

  it('CONN-3: a session open past ping + pong timeout without hearing its client', () => {
    const opened: Observation = { t: 100, type: 'session.opened', participant: 'p-1', incarnation: 1, connectionId: 'x' };
    const heardAt = (t: number): Observation => ({ t, type: 'session.heard', participant: 'p-1', connectionId: 'x' });
    const ended = (t: number): Observation => ({ t, type: 'session.ended', participant: 'p-1', connectionId: 'x', graceful: false });
    expect(broken([...up, opened, heardAt(300), heardAt(700), ended(1_300)])).toEqual([]);
    expect(broken([...up, opened, heardAt(300), ended(1_300)])).toEqual(['no-half-open']);
    expect(broken([...up, opened, heardAt(300)])).toEqual(['no-half-open']); // never ended
    // A freeze that hit a participant while it was down changed nothing, so it excuses nothing.
    const freeze = { type: 'freeze', at: 400, for: 2_000, target: 'p-1' } as const;
    expect(broken([...up, opened, heardAt(300), { t: 400, type: 'fault', fault: freeze, skipped: true }, ended(2_300)])).toEqual(['no-half-open']);
    expect(broken([...up, opened, heardAt(300), { t: 400, type: 'fault', fault: freeze }, { t: 2_400, type: 'fault', fault: freeze, undo: true }, ended(2_400)])).toEqual([]);
  });

  it('CONN-4: a probe after the heal that reaches no provider', () => {
    const probe = (outcome: OutcomeSummary): Observation[] => [
      { t: 12_000, type: 'submitted', participant: 'c', clientId: 'c', taskId: 'c.probe', probe: true },
      { t: 12_100, type: 'settled', participant: 'c', clientId: 'c', taskId: 'c.probe', outcome },
    ];
    expect(broken([...up, ...probe({ status: 'Failed', code: 'OPERATION_FAILED' })])).toEqual([]);
    expect(broken([...up, ...probe({ status: 'Failed', code: 'SERVICE_UNAVAILABLE' })])).toEqual(['reconnects']);
  });
});
