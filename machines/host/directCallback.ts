/**
 * Callback logic that can also run without an actor of its own.
 *
 * `directCallback(fn)` is `fromCallback(fn)` (so XState's interpreter runs it as usual) marked
 * with the callback itself, so that a host holding task snapshots (machines/host/taskTable.ts)
 * can run a task's invoked child (the provider task's handler) as a plain function call with the
 * same arguments (`input`, `self`, `system`, `sendBack`, `receive`, `emit`) and the same
 * lifecycle: started when the engine says so, disposed when it stops it, its `sendBack` going to
 * the task, a throw at start reported to the task as `xstate.error.actor.<id>`.
 */
import { fromCallback, type AnyActorLogic, type CallbackActorLogic, type EventObject, type NonReducibleUnknown } from 'xstate';

type CallbackFn<TEvent extends EventObject = EventObject, TInput = NonReducibleUnknown> = Parameters<typeof fromCallback<TEvent, TInput>>[0];

const DIRECT = Symbol.for('switchboard.directCallback');

export function directCallback<TEvent extends EventObject = EventObject, TInput = NonReducibleUnknown>(
  callback: CallbackFn<TEvent, TInput>,
): CallbackActorLogic<TEvent, TInput> {
  const logic = fromCallback<TEvent, TInput>(callback);
  Object.defineProperty(logic, DIRECT, { value: callback });
  return logic;
}

/** The callback of logic made by directCallback, or undefined for any other logic. */
export function directCallbackOf(logic: AnyActorLogic | undefined): CallbackFn | undefined {
  return logic === undefined ? undefined : ((logic as unknown as Record<symbol, CallbackFn | undefined>)[DIRECT] ?? undefined);
}
