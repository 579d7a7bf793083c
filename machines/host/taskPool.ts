/**
 * A drop-in for machines/actorPool.ts's pool whose members are task snapshots in a TaskTable
 * (machines/host/taskTable.ts) instead of actors: the same events (`pool.spawn`, `pool.send`,
 * `pool.broadcast`, `pool.stop`), the same bound on members, the members' sends still reaching
 * whoever their input names, and the members still visible to inspection. The pool is the one
 * actor; its tasks are not.
 */
import type { ActorLogic, AnyStateMachine, EventObject, Snapshot } from 'xstate';
import { createActorPool, type ActorPoolEvent, type ActorPoolInput } from '../actorPool.js';
import { compileMachine } from '../engine/index.js';
import { definitionOf, supervisionOf } from './supervision.js';
import { tableHostOf, TaskTable } from './taskTable.js';

export type TaskPoolSnapshot = Snapshot<undefined> & {
  /** Created on the pool's first event (it needs the actor's scope). Mutated in place. */
  table: TaskTable | undefined;
  /** The live members by id, as the actor pool's snapshot shows them. */
  readonly members: ReadonlyMap<string, unknown>;
  readonly membersMax: number;
};

const noMembers: ReadonlyMap<string, unknown> = new Map();

export type TaskPoolLogic = ActorLogic<TaskPoolSnapshot, ActorPoolEvent<AnyStateMachine> | { type: string }, ActorPoolInput>;

/**
 * A pool of `memberLogic` tasks held as snapshots; falls back to an actor pool (one actor per
 * member, as before) when `useEngine` is false, the engine does not support the machine, or a
 * child it invokes cannot run without an actor. `memberLogic` is the task machine, possibly
 * wrapped by the runtime's supervisor (whose supervision the table then applies itself).
 */
export function createTaskPool(memberLogic: AnyStateMachine, useEngine = true): TaskPoolLogic {
  const memberMachine = definitionOf(memberLogic);
  const compiled = compileMachine(memberMachine);
  if (!useEngine || !compiled.ok || !TaskTable.canHost(memberMachine)) return createActorPool(memberLogic) as never;
  const engine = compiled.engine;
  const supervision = supervisionOf(memberLogic);
  return {
    config: memberMachine,
    getInitialSnapshot: (_scope, input) => ({
      status: 'active',
      output: undefined,
      error: undefined,
      table: undefined,
      get members() {
        return this.table?.members ?? noMembers;
      },
      membersMax: input?.membersMax ?? Number.POSITIVE_INFINITY,
    }),
    transition: (snapshot, event, scope) => {
      const table = (snapshot.table ??= new TaskTable(memberMachine, engine, tableHostOf(scope), supervision));
      const sender = (scope.self as unknown as { _parent?: unknown })._parent;
      switch (event.type) {
        case 'pool.spawn': {
          const { id, input } = event as Extract<ActorPoolEvent<AnyStateMachine>, { type: 'pool.spawn' }>;
          if (table.get(id)) return snapshot;
          if (table.size >= snapshot.membersMax) {
            table.stopAll();
            throw new Error(`actor pool full (${snapshot.membersMax} members)`);
          }
          table.create(id, input);
          return snapshot;
        }
        case 'pool.send': {
          const { id, event: memberEvent } = event as Extract<ActorPoolEvent<AnyStateMachine>, { type: 'pool.send' }>;
          const slot = table.get(id);
          if (slot) table.deliver(slot, memberEvent as EventObject, sender);
          return snapshot;
        }
        case 'pool.broadcast': {
          const { event: memberEvent } = event as Extract<ActorPoolEvent<AnyStateMachine>, { type: 'pool.broadcast' }>;
          for (const slot of [...table.values()]) table.deliver(slot, memberEvent as EventObject, sender);
          return snapshot;
        }
        case 'pool.stop':
          table.stop((event as Extract<ActorPoolEvent<AnyStateMachine>, { type: 'pool.stop' }>).id);
          return snapshot;
        case 'xstate.stop':
          table.stopAll();
          return snapshot;
        default:
          // A member's end (the table already forgot it), or anything else: nothing to do.
          return snapshot;
      }
    },
    getPersistedSnapshot: (snapshot) =>
      ({ status: snapshot.status, output: undefined, error: undefined, size: snapshot.table?.size ?? 0 }) as never,
  };
}
