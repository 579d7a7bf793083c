/**
 * The task pool that holds task snapshots (machines/host/taskPool.ts, no actor per task) is a
 * drop-in for the actor pool (machines/actorPool.ts): with client tasks, on random pool commands
 * (spawn, messages from the provider, broadcasts of the connection's state, stops) and time
 * advancing on a SimulatedClock (ack re-sends, cancel timeouts, deadlines), the connection hears
 * the same events at the same simulated times from both (fast-check, the tier's seed). And inspection
 * still sees every task: created, each event, each snapshot, to its final state.
 */
import fc from 'fast-check';
import { createActor, setup, SimulatedClock, spawnChild, sendTo, type AnyActorLogic, type EventObject, type InspectionEvent } from 'xstate';
import { describe, expect, it } from 'vitest';
import { advanceClock } from '../adapters/simulated/advance.js';
import { createActorPool } from '../machines/actorPool.js';
import { clientTaskMachine } from '../machines/clientTask.js';
import { createTaskPool } from '../machines/host/taskPool.js';
import { providerTaskMachine } from '../machines/providerTask.js';
import { ackOf, errorOf, failedOf, resultOf, updateOf } from './support/clientTaskFixtures.js';

type PoolCommand =
  | { kind: 'spawn'; id: string; deadlineMs?: number }
  | { kind: 'send'; id: string; event: EventObject }
  | { kind: 'broadcast'; event: EventObject }
  | { kind: 'stop'; id: string }
  | { kind: 'advance'; ms: number };

const ids = fc.constantFrom('t1', 't2', 't3');
const message = fc.oneof(
  ids.map((id) => ackOf(`m-${id}`, { taskId: id })),
  fc.tuple(ids, fc.integer({ min: 0, max: 100 }), fc.constantFrom('Queued', 'Processing')).map(([id, p, s]) => updateOf(id, p, s as 'Queued')),
  ids.map((id) => resultOf(id, { ok: id })),
  ids.map((id) => failedOf(id, 'E1')),
  fc.tuple(fc.constantFrom('RATE_LIMITED', 'TASK_NOT_FOUND'), ids).map(([code, id]) => errorOf(code, { taskId: id })),
);
const command: fc.Arbitrary<PoolCommand> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('spawn' as const), id: ids, deadlineMs: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }) }) },
  { weight: 4, arbitrary: fc.tuple(ids, message).map(([id, m]): PoolCommand => ({ kind: 'send', id, event: { type: 'task.message', message: m } as EventObject })) },
  { weight: 1, arbitrary: ids.map((id): PoolCommand => ({ kind: 'send', id, event: { type: 'task.cancel' } })) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom<EventObject>({ type: 'connection.down' }, { type: 'connection.up', reconnected: true } as EventObject, { type: 'connection.lost' })
      .map((event): PoolCommand => ({ kind: 'broadcast', event })),
  },
  { weight: 1, arbitrary: ids.map((id): PoolCommand => ({ kind: 'stop', id })) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 200 }).map((ms): PoolCommand => ({ kind: 'advance', ms })) },
);

/** Runs the commands against a pool inside a recording parent; returns what the parent heard, with times. */
function run(pool: AnyActorLogic, commands: readonly PoolCommand[], inspect?: (event: InspectionEvent) => void) {
  const clock = new SimulatedClock();
  const heard: [number, EventObject][] = [];
  const parentMachine = setup({ actors: { tasks: pool } }).createMachine({
    entry: spawnChild('tasks', { id: 'tasks', input: { membersMax: 3 } }),
    on: {
      command: { actions: sendTo('tasks', ({ event }) => (event as unknown as { pool: EventObject }).pool) },
      '*': { actions: ({ event }) => void heard.push([clock.now(), event]) },
    },
  });
  const parent = createActor(parentMachine, { clock, ...(inspect ? { inspect } : {}) });
  parent.subscribe({ error: () => {} });
  parent.start();
  const toPool = (poolEvent: EventObject) => parent.send({ type: 'command', pool: poolEvent } as EventObject);
  // Ack timeouts differ per task so that no two timers of different tasks fall due together
  // (SimulatedClock orders equal due times arbitrarily).
  const ackTimeout: Record<string, number> = { t1: 101, t2: 157, t3: 211 };
  for (const c of commands) {
    if (c.kind === 'spawn') {
      toPool({
        type: 'pool.spawn',
        id: c.id,
        input: {
          clientId: 'c1', taskId: c.id, messageId: `m-${c.id}`, serviceName: 'Svc', operation: 'op', params: {},
          ...(c.deadlineMs === undefined ? {} : { deadlineMs: c.deadlineMs * 2 + 1 }),
          ackTimeoutMs: ackTimeout[c.id]!, assignAttemptsMax: 3, cancelTimeoutMs: ackTimeout[c.id]! + 40, parentRef: parent,
        },
      } as EventObject);
    } else if (c.kind === 'send') toPool({ type: 'pool.send', id: c.id, event: c.event } as EventObject);
    else if (c.kind === 'broadcast') toPool({ type: 'pool.broadcast', event: c.event } as EventObject);
    else if (c.kind === 'stop') toPool({ type: 'pool.stop', id: c.id } as EventObject);
    else advanceClock(clock, c.ms);
  }
  advanceClock(clock, 5_000);
  const byTime = new Map<number, string[]>();
  for (const [at, event] of heard) {
    const { parentRef: _ref, ...rest } = event as Record<string, unknown>;
    const list = byTime.get(at) ?? [];
    list.push(JSON.stringify(rest));
    byTime.set(at, list);
  }
  return [...byTime].map(([at, events]) => [at, events.sort()]);
}

describe('task pool without actors per task', () => {
  it('the connection hears the same from it as from the actor pool, at the same simulated times', () => {
    const snapshots = createTaskPool(clientTaskMachine);
    const actors = createActorPool(clientTaskMachine);
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        expect(run(snapshots, commands)).toEqual(run(actors, commands));
      }),
      { numRuns: 300 },
    );
  });

  it('falls back to an actor pool when asked to (SWITCHBOARD_INTERPRETER=xstate) or when a child needs an actor', () => {
    const pool = createTaskPool(clientTaskMachine, false) as { getInitialSnapshot: (s: unknown, i: unknown) => Record<string, unknown> };
    expect(pool.getInitialSnapshot(undefined, { membersMax: 1 })).toHaveProperty('members');
    const engined = createTaskPool(clientTaskMachine) as { getInitialSnapshot: (s: unknown, i: unknown) => Record<string, unknown> };
    expect(engined.getInitialSnapshot(undefined, { membersMax: 1 })).toHaveProperty('table');
    // The provider task's placeholder handler is not a direct callback: such tasks stay actors.
    const withPlaceholder = createTaskPool(providerTaskMachine) as { getInitialSnapshot: (s: unknown, i: unknown) => Record<string, unknown> };
    expect(withPlaceholder.getInitialSnapshot(undefined, { membersMax: 1 })).toHaveProperty('members');
  });

  it('inspection sees a task as XState would: @xstate.actor, its events, its snapshots to the final state', () => {
    const seen: InspectionEvent[] = [];
    run(createTaskPool(clientTaskMachine), [
      { kind: 'spawn', id: 't1' },
      { kind: 'send', id: 't1', event: { type: 'task.message', message: ackOf('m-t1', { taskId: 't1' }) } as EventObject },
      { kind: 'send', id: 't1', event: { type: 'task.message', message: resultOf('t1', 42) } as EventObject },
    ], (event) => seen.push(event));
    const ofTask = seen.filter((e) => (e.actorRef as { id?: string }).id === 't1');
    const actorRef = ofTask[0]!.actorRef as unknown as { sessionId: string; logic: { id: string; root: unknown }; _parent: { id: string }; getSnapshot(): { status: string; value: unknown; output: unknown } };
    expect(ofTask[0]!.type).toBe('@xstate.actor');
    expect(actorRef.logic.id).toBe('clientTask');
    expect(actorRef.logic.root).toBeDefined();
    expect(actorRef._parent.id).toBe('tasks');
    expect(actorRef.sessionId).toMatch(/\.task:t1$/);
    expect(ofTask.filter((e) => e.type === '@xstate.event').map((e) => (e as { event: EventObject }).event.type)).toEqual([
      'xstate.init',
      'task.message',
      'task.message',
    ]);
    const snapshots = ofTask.filter((e) => e.type === '@xstate.snapshot').map((e) => (e as unknown as { snapshot: { status: string; value: unknown } }).snapshot);
    expect(snapshots.map((s) => s.status)).toEqual(['active', 'active', 'done']);
    expect(snapshots.at(-1)!.value).toBe('completed');
    expect(actorRef.getSnapshot().output).toEqual({ status: 'Completed', resultData: 42 });
    // The task's sends to its connection are events too, with the task as their source.
    const fromTask = seen.filter((e) => e.type === '@xstate.event' && (e as { sourceRef?: unknown }).sourceRef === actorRef);
    expect(fromTask.map((e) => (e as { event: EventObject }).event.type)).toEqual(['task.send', 'task.acknowledged', 'task.progress', 'task.settled', 'xstate.done.actor.t1']);
  });
});
