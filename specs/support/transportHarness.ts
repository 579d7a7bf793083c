/**
 * A harness for one transport logic (machines/transport.ts's contract): a tiny machine invokes it
 * as `transport`, forwards `harness.command`s to it with `sendTo`, and records every event it
 * sends back. Used by the adapter specs (WebSocket, NATS, composite host).
 */
import { createActor, sendTo, setup, type AnyEventObject, type CallbackActorLogic, type EventObject } from 'xstate';

export interface Harness<TCommand extends EventObject> {
  readonly events: AnyEventObject[];
  of(type: string): AnyEventObject[];
  send(command: TCommand): void;
  stop(): void;
}

/** Built once, outside any action: XState warns when sendTo() is called inside a custom action. */
const forwardCommand = sendTo('transport', ({ event }: { event: AnyEventObject }) => event.command as AnyEventObject);

/** Invokes `logic` as `transport` under a machine that records every event it sends back (and hands each to `onEvent`). */
export function runTransport<TCommand extends EventObject, TInput>(
  logic: CallbackActorLogic<TCommand, TInput>,
  input: TInput,
  onEvent?: (event: AnyEventObject) => void,
): Harness<TCommand> {
  const events: AnyEventObject[] = [];
  const machine = setup({
    types: { events: {} as AnyEventObject },
    actors: { transport: logic as unknown as CallbackActorLogic<AnyEventObject, unknown> },
  }).createMachine({
    invoke: { id: 'transport', src: 'transport', input: () => input },
    on: {
      'harness.command': { actions: forwardCommand },
      '*': {
        actions: ({ event }) => {
          events.push(event);
          onEvent?.(event);
        },
      },
    },
  });
  const actor = createActor(machine).start();
  return {
    events,
    of: (type) => events.filter((event) => event.type === type),
    send: (command) => actor.send({ type: 'harness.command', command }),
    stop: () => actor.stop(),
  };
}
