/**
 * An actor pool: many actors of one logic, owned by one actor, kept OUT of any machine's
 * snapshot.
 *
 * Why: XState copies a parent's `children` map on every spawn, so a machine with thousands of
 * children pays more for each new one (about 80 us at 250 children, 600 us at 4,000 on the
 * reference machine). Tasks come in the thousands, so task actors live in a pool instead: each
 * member is a real actor of the same system (same clock, visible to the inspector, its `parent`
 * is the pool), but members sit in a Map, and spawning one is O(1) whatever the pool's size.
 *
 * Members report to whoever their input names (their `parentRef`, by convention); the pool only
 * creates, routes, stops, and forgets members once they reach a final state.
 */
import {
  createActor,
  type Actor,
  type ActorLogic,
  type AnyActorLogic,
  type AnyActorScope,
  type AnyActorRef,
  type EventFromLogic,
  type InputFrom,
  type Snapshot,
} from 'xstate';

export type ActorPoolEvent<TLogic extends AnyActorLogic> =
  | { readonly type: 'pool.spawn'; readonly id: string; readonly input: InputFrom<TLogic> }
  | { readonly type: 'pool.send'; readonly id: string; readonly event: EventFromLogic<TLogic> }
  | { readonly type: 'pool.broadcast'; readonly event: EventFromLogic<TLogic> }
  | { readonly type: 'pool.stop'; readonly id: string };

export type ActorPoolSnapshot<TLogic extends AnyActorLogic> = Snapshot<undefined> & {
  /** Live members by id. Mutated in place: the pool's own state, never shared. */
  readonly members: Map<string, Actor<TLogic>>;
  /** Members ever spawned (a counter for metrics and tests). */
  readonly spawnedTotal: number;
  readonly membersMax: number;
};

export interface ActorPoolInput {
  /** Upper bound on live members; a spawn beyond it is a programmer error and throws. */
  readonly membersMax: number;
}

export type ActorPoolLogic<TLogic extends AnyActorLogic> = ActorLogic<
  ActorPoolSnapshot<TLogic>,
  ActorPoolEvent<TLogic> | { type: string },
  ActorPoolInput
>;

/** Matches the events XState sends a parent when a child ends: `xstate.done.actor.<id>`. */
export const memberEnded = /^xstate\.(done|error)\.actor\.(.+)$/;

/**
 * Creates and (after the current transition) starts an actor whose parent is `scope.self` but
 * which no machine snapshot lists: the building block of pools. Stop it with `scope.stopChild`.
 */
export function spawnDetached<TLogic extends AnyActorLogic>(
  scope: AnyActorScope,
  logic: TLogic,
  id: string,
  input: InputFrom<TLogic>,
): Actor<TLogic> {
  const member = createActor(logic, { parent: scope.self as AnyActorRef, id, input } as never) as Actor<TLogic>;
  scope.defer(() => member.start());
  return member;
}

/** Creates the logic of a pool whose members all run `memberLogic`. */
export function createActorPool<TLogic extends AnyActorLogic>(memberLogic: TLogic): ActorPoolLogic<TLogic> {
  return {
    config: memberLogic,
    getInitialSnapshot: (_scope, input) => ({
      status: 'active',
      output: undefined,
      error: undefined,
      members: new Map(),
      spawnedTotal: 0,
      membersMax: input?.membersMax ?? Number.POSITIVE_INFINITY,
    }),
    transition: (snapshot, event, scope) => {
      const members = snapshot.members;
      switch (event.type) {
        case 'pool.spawn': {
          const { id, input } = event as Extract<ActorPoolEvent<TLogic>, { type: 'pool.spawn' }>;
          if (members.has(id)) return snapshot;
          if (members.size >= snapshot.membersMax) {
            // The throw ends the pool (status 'error'), and XState does not stop a failed actor's
            // children: stop the members here, or they would run on, unreachable.
            for (const member of members.values()) scope.stopChild(member);
            members.clear();
            throw new Error(`actor pool full (${snapshot.membersMax} members)`);
          }
          members.set(id, spawnDetached(scope, memberLogic, id, input));
          return { ...snapshot, spawnedTotal: snapshot.spawnedTotal + 1 };
        }
        case 'pool.send': {
          const { id, event: memberEvent } = event as Extract<ActorPoolEvent<TLogic>, { type: 'pool.send' }>;
          members.get(id)?.send(memberEvent);
          return snapshot;
        }
        case 'pool.broadcast': {
          const { event: memberEvent } = event as Extract<ActorPoolEvent<TLogic>, { type: 'pool.broadcast' }>;
          for (const member of members.values()) member.send(memberEvent);
          return snapshot;
        }
        case 'pool.stop': {
          const { id } = event as Extract<ActorPoolEvent<TLogic>, { type: 'pool.stop' }>;
          const member = members.get(id);
          if (member) {
            members.delete(id);
            scope.stopChild(member);
          }
          return snapshot;
        }
        case 'xstate.stop': {
          for (const member of members.values()) scope.stopChild(member);
          members.clear();
          return snapshot;
        }
        default: {
          const ended = memberEnded.exec(event.type);
          if (ended) members.delete(ended[2] as string);
          return snapshot;
        }
      }
    },
    getPersistedSnapshot: (snapshot) =>
      ({ status: snapshot.status, output: undefined, error: undefined, size: snapshot.members.size }) as never,
  };
}
