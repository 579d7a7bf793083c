/**
 * Supervision of logic a host runs without an actor of its own (a task table's tasks and their
 * direct-callback children, machines/host/taskTable.ts).
 *
 * The runtime's supervisor (runtime/supervisor.ts, SEC-21) wraps an actor's logic so that a throw
 * becomes a logged fault with a fresh errorId: a machine then processes a recovery event instead
 * (a provider task: `task.fault`, failing INTERNAL_ERROR), an effect fails with a coded fault that
 * holds nothing but the errorId (SEC-11). A task table steps the machine's compiled form directly,
 * never through the wrapper's `transition`, so the supervisor also marks each wrapper with what it
 * does, and the table does the same around its own steps. Machines never import the runtime: this
 * file is the meeting point.
 */
import type { AnyActorLogic, EventObject } from 'xstate';

export interface Supervision {
  /** Logs `cause` (with a summary of `event`) under a fresh errorId and returns the id. */
  readonly fault: (cause: unknown, event: EventObject) => string;
  /** A machine: the event processed instead, from the snapshot before; undefined drops the event. */
  readonly recover?: ((errorId: string, event: EventObject) => EventObject | undefined) | undefined;
  /** An effect: what a throw becomes (the coded fault its parent sees in `xstate.error.actor.<id>`). */
  readonly contain?: ((cause: unknown, event: EventObject) => unknown) | undefined;
}

const SUPERVISION = Symbol.for('switchboard.supervision');

/** Marks `logic` (a supervisor's wrapper) with what its supervision does. */
export function markSupervised<T extends AnyActorLogic>(logic: T, supervision: Supervision): T {
  Object.defineProperty(logic, SUPERVISION, { value: supervision });
  return logic;
}

/** The supervision of `logic` (the outermost wrapper's), or undefined for unsupervised logic. */
export function supervisionOf(logic: AnyActorLogic | undefined): Supervision | undefined {
  return logic === undefined ? undefined : ((logic as unknown as Record<symbol, Supervision | undefined>)[SUPERVISION] ?? undefined);
}

/**
 * The state machine a logic was derived from: wrappers (the supervisor's, `hosted(...)`) inherit
 * from it with Object.create; the machine itself owns its `root`.
 */
export function definitionOf<T extends AnyActorLogic>(logic: T): T {
  let current: object | null = logic;
  while (current !== null && !Object.hasOwn(current, 'root')) current = Object.getPrototypeOf(current) as object | null;
  return (current ?? logic) as T;
}
