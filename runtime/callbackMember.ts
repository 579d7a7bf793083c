/**
 * Running a transport's callback logic inside another callback actor (compositeHost's members),
 * or under a tag (the gateway's relays, whose two transports send the same event types).
 *
 * Every transport logic of adapters/ is made with xstate's `fromCallback`, which keeps the callback
 * function as the logic's `config`; these helpers call it with the host actor's scope, so a
 * member behaves exactly as it would invoked on its own (synchronous delivery, same cleanup).
 */
import { fromCallback, type AnyActorLogic, type CallbackActorLogic, type CallbackLogicFunction, type EventObject } from 'xstate';

/** The composite actor's own scope, handed to its members (typed loosely: members take other commands). */
interface MemberScope {
  readonly system: unknown;
  readonly self: unknown;
  readonly emit: unknown;
}

/**
 * Runs a member's transport inside the composite's own callback actor: its callback function is
 * called with the composite's scope, its `sendBack` goes to `onEvent` (which knows the member) and
 * its `receive` listeners get what `send` routes to it. Synchronous, like the member on its own;
 * a member that throws fails the composite actor as it would have failed alone.
 */
export function runMember(logic: AnyActorLogic, input: unknown, scope: MemberScope, onEvent: (event: EventObject) => void) {
  const callback = (logic as { config?: unknown }).config;
  if (typeof callback !== 'function') throw new TypeError('switchboard: compositeHost: a member transport is not a fromCallback logic');
  const listeners: ((event: EventObject) => void)[] = [];
  let stopped = false;
  const dispose = (callback as CallbackLogicFunction<EventObject, EventObject, unknown>)({
    ...(scope as Pick<Parameters<CallbackLogicFunction>[0], 'system' | 'self' | 'emit'>),
    input,
    sendBack: (event) => {
      if (!stopped) onEvent(event);
    },
    receive: (listener) => void listeners.push(listener),
  });
  return {
    send: (event: EventObject) => {
      if (!stopped) for (const listener of listeners) listener(event);
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      if (typeof dispose === 'function') dispose();
    },
  };
}


/** `logic` with every event it sends back carrying `source` (to tell two transports apart). */
export function tagged<TCommand extends EventObject, TInput>(
  logic: CallbackActorLogic<TCommand, TInput>,
  source: string,
): CallbackActorLogic<TCommand, TInput> {
  return fromCallback<TCommand, TInput>(({ input, self, system, emit, sendBack, receive }) => {
    const member = runMember(logic, input, { self, system, emit }, (event) => sendBack({ ...event, source }));
    receive((command) => member.send(command));
    return () => member.stop();
  });
}
