/**
 * A connection machine (machines/connection.ts) on a SimulatedClock with a fake transport: one
 * fake socket per transport actor it invokes (a new one on every reconnect), driven by the spec.
 */
import { createActor, fromCallback, SimulatedClock } from 'xstate';
import { connectionDefaults, connectionMachine, type ConnectionInput, type ConnectionSubmission, type ConnectionToParentEvent } from '../../machines/connection.js';
import type { ProviderMessage } from '../../machines/messages.js';
import type { ConnectInput, StreamCommand, StreamEvent } from '../../machines/transport.js';
import { recorder } from './clientTaskFixtures.js';

export const ENDPOINT = 'ws://192.168.1.20:8080';
export const CLIENT = 'client-1';

/** One fake socket per transport actor the connection invokes (a new one on every reconnect). */
export interface FakeSocket {
  readonly endpoint: string;
  readonly createdAtMs: number;
  readonly commands: StreamCommand[];
  stopped: boolean;
  emit(event: StreamEvent): void;
}

export function fakeTransport(clock: SimulatedClock) {
  const sockets: FakeSocket[] = [];
  const logic = fromCallback<StreamCommand, ConnectInput>(({ input, receive, sendBack }) => {
    const socket: FakeSocket = {
      endpoint: input.endpoint,
      createdAtMs: clock.now(),
      commands: [],
      stopped: false,
      emit: (event) => sendBack(event),
    };
    sockets.push(socket);
    receive((command) => socket.commands.push(command));
    return () => {
      socket.stopped = true;
    };
  });
  return { logic, sockets };
}

export function startConnection(overrides: Partial<Omit<ConnectionInput, 'parentRef'>> = {}) {
  const clock = new SimulatedClock();
  const transport = fakeTransport(clock);
  const parent = recorder<ConnectionToParentEvent>();
  const actor = createActor(connectionMachine.provide({ actors: { transport: transport.logic } }), {
    clock,
    input: { ...connectionDefaults, endpoint: ENDPOINT, clientId: CLIENT, seed: 42, ...overrides, parentRef: parent.ref },
  }).start();
  const socket = () => transport.sockets.at(-1) as FakeSocket;
  return {
    clock,
    actor,
    sockets: transport.sockets,
    socket,
    parentEvents: () => parent.events(),
    open: () => socket().emit({ type: 'transport.opened' }),
    drop: (code = 1006) => socket().emit({ type: 'transport.closed', graceful: false, code, reason: '' }),
    /** The attempt is refused: nothing listens at the endpoint (ECONNREFUSED). */
    refuse: () => socket().emit({ type: 'transport.closed', graceful: false, code: 1006, reason: 'connection refused', refused: true }),
    deliver: (message: ProviderMessage) => socket().emit({ type: 'transport.message', message }),
    submit: (taskId: string, extra: Partial<ConnectionSubmission> = {}) =>
      actor.send({
        type: 'connection.submit',
        task: { clientId: CLIENT, taskId, messageId: `assign-${taskId}`, serviceName: 'Svc', operation: 'op', params: {}, ...extra },
      }),
    settled: () => parent.events().flatMap((event) => (event.type === 'task.settled' ? [event] : [])),
    pool: () => actor.getSnapshot().children.tasks?.getSnapshot() as unknown as { members: ReadonlyMap<string, unknown> },
  };
}

export type Connection = ReturnType<typeof startConnection>;
