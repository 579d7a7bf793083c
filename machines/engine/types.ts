/**
 * The engine's public shapes: what a step returns (a snapshot and an ordered list of effects) and
 * what the host gives a step (its scope). See machines/engine/index.ts for the why.
 */
import type { AnyActorLogic, EventObject } from 'xstate';

/** What a spawned child is to the engine: whatever the host made of it; it must carry its id. */
export interface ChildHandle {
  readonly id: string;
}

/** Everything the engine knows about a child to create (spawnChild, or an invoke on entry). */
export interface ChildSpec {
  readonly id: string;
  /** The name it was referenced by (`src`), or the logic itself. */
  readonly src: unknown;
  readonly logic: AnyActorLogic;
  readonly input: unknown;
  readonly systemId: string | undefined;
  readonly syncSnapshot: boolean;
}

/**
 * The host's side of a step. `self` and `system` are what actions see as `self` and `system`
 * (XState passes the hosting actor's); `createChild` turns a spawn into the host's child (a real
 * actor, created now and started by the `spawn` effect); without it the spec itself is the child.
 */
export interface EngineScope {
  readonly self: unknown;
  readonly system?: unknown;
  createChild?(spec: ChildSpec): ChildHandle;
}

/**
 * Effects, in the order XState would carry them out after the macrostep (its deferred queue).
 * `to` is the target actor ref, or a child handle for children.
 */
export type Effect =
  /** Relay an event now (sendTo without a delay). */
  | { readonly type: 'send'; to: unknown; readonly event: EventObject }
  /** Schedule an event (a delayed sendTo, or a delayed raise: `to` is the scope's self). */
  | { readonly type: 'schedule'; to: unknown; readonly event: EventObject; readonly delay: number; readonly id: string | undefined }
  /** Cancel a scheduled event of this machine by id. */
  | { readonly type: 'cancel'; readonly id: string }
  /** Emit to the machine's `on` listeners. */
  | { readonly type: 'emit'; readonly event: EventObject }
  /** Start a child created in this step; `skip` when it was stopped again before its start. */
  | { readonly type: 'spawn'; readonly child: ChildHandle; readonly spec: ChildSpec; skip: boolean }
  /** Stop a child. */
  | { readonly type: 'stop'; readonly child: ChildHandle }
  | { readonly type: 'log'; readonly label: string | undefined; readonly value: unknown }
  /** A custom (non-built-in) action, run in order before the built-in effects at initialisation. */
  | { readonly type: 'exec'; readonly run: () => void };

export type EngineStatus = 'active' | 'done' | 'error' | 'stopped';
