/**
 * actorPool: many actors of one logic owned by one actor and kept out of every machine snapshot.
 * Members are real actors of the pool's system (same clock), whose parent is the pool.
 */
import { assign, createActor, fromCallback, sendTo, setup, SimulatedClock, type ActorRefFrom, type EventObject } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createActorPool, memberEnded, spawnDetached, type ActorPoolEvent } from '../machines/actorPool.js';

interface MemberInput {
  readonly name: string;
  /** Ends on its own after this long, when given. */
  readonly lifeMs?: number;
  readonly log: string[];
}

type MemberEvent = { type: 'ping'; from: string } | { type: 'finish' } | { type: 'explode' };

/** A member that logs what it receives, ends on `finish` or after `lifeMs`, and logs its cleanup. */
const memberLogic = setup({
  types: { input: {} as MemberInput, context: {} as MemberInput & { pings: number }, events: {} as MemberEvent },
  actors: {
    lifetime: fromCallback<EventObject, { name: string; log: string[] }>(({ input }) => {
      input.log.push(`${input.name}:started`);
      return () => input.log.push(`${input.name}:cleanup`);
    }),
  },
  delays: { lifeMs: ({ context }) => context.lifeMs ?? 0 },
  guards: { hasLife: ({ context }) => context.lifeMs !== undefined },
}).createMachine({
  context: ({ input }) => ({ ...input, pings: 0 }),
  invoke: { src: 'lifetime', input: ({ context }) => ({ name: context.name, log: context.log }) },
  initial: 'alive',
  states: {
    alive: {
      after: { lifeMs: { guard: 'hasLife', target: 'ended' } },
      on: {
        ping: {
          actions: [
            assign({ pings: ({ context }) => context.pings + 1 }),
            ({ context, event }) => context.log.push(`${context.name}:ping from ${event.from}`),
          ],
        },
        finish: 'ended',
        explode: {
          actions: () => {
            throw new Error('member exploded');
          },
        },
      },
    },
    ended: { type: 'final' },
  },
});

type Pool = ReturnType<typeof createActorPool<typeof memberLogic>>;
const poolLogic: Pool = createActorPool(memberLogic);

function startPool(membersMax = 100) {
  const clock = new SimulatedClock();
  const pool = createActor(poolLogic, { clock, input: { membersMax } });
  const errors: unknown[] = [];
  pool.subscribe({ error: (error) => errors.push(error) });
  pool.start();
  const log: string[] = [];
  const spawn = (name: string, extra: Partial<MemberInput> = {}) =>
    pool.send({ type: 'pool.spawn', id: name, input: { name, log, ...extra } });
  return { clock, pool, log, errors, spawn };
}

describe('actorPool', () => {
  it('spawns members with their input, started, in the pool’s system and with the pool as parent', () => {
    const { pool, log, spawn } = startPool();
    spawn('m1');
    spawn('m2');
    const { members, spawnedTotal } = pool.getSnapshot();
    expect([...members.keys()]).toEqual(['m1', 'm2']);
    expect(spawnedTotal).toBe(2);
    expect(log).toEqual(['m1:started', 'm2:started']);
    const m1 = members.get('m1');
    expect(m1?.getSnapshot().status).toBe('active');
    expect(m1?.getSnapshot().context.name).toBe('m1');
    expect(m1?.system).toBe(pool.system);
    expect(m1?._parent).toBe(pool);
  });

  it('ignores a spawn for an id that is already a member', () => {
    const { pool, log, spawn } = startPool();
    spawn('m1');
    spawn('m1');
    expect(pool.getSnapshot().members.size).toBe(1);
    expect(pool.getSnapshot().spawnedTotal).toBe(1);
    expect(log).toEqual(['m1:started']);
  });

  it('routes pool.send to one member and ignores unknown ids', () => {
    const { pool, log, spawn } = startPool();
    spawn('m1');
    spawn('m2');
    pool.send({ type: 'pool.send', id: 'm2', event: { type: 'ping', from: 'test' } });
    pool.send({ type: 'pool.send', id: 'nobody', event: { type: 'ping', from: 'test' } });
    expect(log.filter((line) => line.includes('ping'))).toEqual(['m2:ping from test']);
    expect(pool.getSnapshot().status).toBe('active');
  });

  it('broadcasts to every member', () => {
    const { pool, log, spawn } = startPool();
    for (const name of ['a', 'b', 'c']) spawn(name);
    pool.send({ type: 'pool.broadcast', event: { type: 'ping', from: 'all' } });
    expect(log.filter((line) => line.includes('ping'))).toEqual(['a:ping from all', 'b:ping from all', 'c:ping from all']);
  });

  it('pool.stop stops one member (its cleanup runs) and forgets it', () => {
    const { pool, log, spawn } = startPool();
    spawn('m1');
    spawn('m2');
    const m1 = pool.getSnapshot().members.get('m1');
    pool.send({ type: 'pool.stop', id: 'm1' });
    expect([...pool.getSnapshot().members.keys()]).toEqual(['m2']);
    expect(m1?.getSnapshot().status).toBe('stopped');
    expect(log).toContain('m1:cleanup');
    expect(log).not.toContain('m2:cleanup');
  });

  it('forgets members that reach a final state, by event or by their own timer on the shared clock', () => {
    const { clock, pool, log, spawn } = startPool();
    spawn('finisher');
    spawn('timed', { lifeMs: 1_000 });
    spawn('stayer');
    pool.send({ type: 'pool.send', id: 'finisher', event: { type: 'finish' } });
    expect([...pool.getSnapshot().members.keys()]).toEqual(['timed', 'stayer']);
    clock.increment(999);
    expect(pool.getSnapshot().members.has('timed')).toBe(true);
    clock.increment(1);
    expect([...pool.getSnapshot().members.keys()]).toEqual(['stayer']);
    expect(log).toContain('timed:cleanup');
  });

  it('forgets a member that fails, and stays active itself', () => {
    const { pool, spawn } = startPool();
    spawn('bomb');
    spawn('other');
    const bomb = pool.getSnapshot().members.get('bomb');
    pool.send({ type: 'pool.send', id: 'bomb', event: { type: 'explode' } });
    expect(bomb?.getSnapshot().status).toBe('error');
    expect([...pool.getSnapshot().members.keys()]).toEqual(['other']);
    expect(pool.getSnapshot().status).toBe('active');
  });

  it('stopping the pool stops every member (their cleanup runs)', () => {
    const { clock, pool, log, spawn } = startPool();
    spawn('a', { lifeMs: 500 });
    spawn('b');
    const members = [...pool.getSnapshot().members.values()];
    pool.stop();
    expect(members.map((member) => member.getSnapshot().status)).toEqual(['stopped', 'stopped']);
    expect(log.filter((line) => line.endsWith('cleanup')).sort()).toEqual(['a:cleanup', 'b:cleanup']);
    clock.increment(1_000); // a's timer was cancelled with it: nothing fires, nothing throws
    expect(members[0]?.getSnapshot().status).toBe('stopped');
  });

  it('a spawn beyond membersMax is a programmer error: the pool fails, and its members are stopped', () => {
    const { pool, log, errors, spawn } = startPool(2);
    spawn('a');
    spawn('b');
    const members = [...pool.getSnapshot().members.values()];
    spawn('c');
    expect(pool.getSnapshot().status).toBe('error');
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toMatch(/actor pool full \(2 members\)/);
    expect(members.map((member) => member.getSnapshot().status)).toEqual(['stopped', 'stopped']);
    expect(log).not.toContain('c:started');
    expect(log.filter((line) => line.endsWith('cleanup')).sort()).toEqual(['a:cleanup', 'b:cleanup']);
  });

  it('keeps members out of the hosting machine’s snapshot: its children list only the pool', () => {
    const host = setup({
      types: { events: {} as { type: 'add'; name: string } },
      actors: { pool: poolLogic },
    }).createMachine({
      invoke: { id: 'pool', src: 'pool', input: { membersMax: 1_000 } },
      on: {
        add: {
          actions: sendTo('pool', ({ event }): ActorPoolEvent<typeof memberLogic> => ({
            type: 'pool.spawn',
            id: event.name,
            input: { name: event.name, log: [] },
          })),
        },
      },
    });
    const actor = createActor(host, { clock: new SimulatedClock() }).start();
    for (let i = 0; i < 300; i++) actor.send({ type: 'add', name: `m${i}` });
    const pool = actor.getSnapshot().children.pool as ActorRefFrom<Pool>;
    expect(Object.keys(actor.getSnapshot().children)).toEqual(['pool']);
    expect(pool.getSnapshot().members.size).toBe(300);
    // The persisted form carries a count, not 300 member snapshots.
    const persisted = actor.getPersistedSnapshot() as unknown as { children: Record<string, { snapshot: unknown }> };
    expect(Object.keys(persisted.children)).toEqual(['pool']);
    expect(persisted.children.pool?.snapshot).toEqual({ status: 'active', output: undefined, error: undefined, size: 300 });
    // Stopping the host stops the pool, which stops its members.
    const members = [...pool.getSnapshot().members.values()];
    actor.stop();
    expect(members.every((member) => member.getSnapshot().status === 'stopped')).toBe(true);
  });

  it('memberEnded matches done and error events and captures the member id (ids may contain dots)', () => {
    expect(memberEnded.exec('xstate.done.actor.task:17')?.slice(1)).toEqual(['done', 'task:17']);
    expect(memberEnded.exec('xstate.error.actor.a.b')?.slice(1)).toEqual(['error', 'a.b']);
    expect(memberEnded.exec('xstate.snapshot.task:1')).toBeNull();
    expect(memberEnded.exec('pool.stop')).toBeNull();
  });

  it('spawnDetached starts the actor only after the current transition', () => {
    const order: string[] = [];
    const child = fromCallback<EventObject, { name: string }>(({ input }) => {
      order.push(`start ${input.name}`);
    });
    const host = createActor({
      config: undefined,
      getInitialSnapshot: () => ({ status: 'active', output: undefined, error: undefined }),
      transition: (snapshot, event, scope) => {
        if (event.type === 'go') {
          spawnDetached(scope, child, 'kid', { name: 'kid' });
          order.push('transition done');
        }
        return snapshot;
      },
      getPersistedSnapshot: (snapshot) => snapshot,
    } as Parameters<typeof createActor>[0]);
    host.start();
    host.send({ type: 'go' });
    expect(order).toEqual(['transition done', 'start kid']);
  });
});
