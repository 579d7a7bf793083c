/**
 * The gateway's relay statechart (runtime/gateway/relay.ts) with scripted transports on a
 * SimulatedClock: queueing until the provider side opens, passing messages both ways, WIRE-8 at
 * the gateway, liveness of the hop to the provider (CONN-3), and closes carried across.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, SimulatedClock, type AnyEventObject } from 'xstate';
import type { WireMessage } from '../machines/messages.js';
import type { StreamCommand, StreamEvent } from '../machines/transport.js';
import { tagged } from '../runtime/callbackMember.js';
import { relayMachine, type RelayInput } from '../runtime/gateway/relay.js';

interface Side {
  readonly commands: StreamCommand[];
  emit(event: StreamEvent): void;
}

function scripted(): { side: Side; logic: ReturnType<typeof fromCallback<StreamCommand, unknown>> } {
  let sendBack: ((event: AnyEventObject) => void) | undefined;
  const side: Side = { commands: [], emit: (event) => sendBack?.(event) };
  const logic = fromCallback<StreamCommand, unknown>(({ sendBack: back, receive }) => {
    sendBack = back;
    receive((command) => void side.commands.push(command));
  });
  return { side, logic };
}

const input: RelayInput = { connectionId: 'c1', endpoint: 'nats://p/x', queueMax: 2, pingIntervalMs: 1_000, pongTimeoutMs: 500, closeTimeoutMs: 300 };

function start() {
  const down = scripted();
  const up = scripted();
  const clock = new SimulatedClock();
  const relay = relayMachine.provide({ actors: { down: tagged(down.logic, 'down') as never, up: tagged(up.logic, 'up') as never } });
  const actor = createActor(relay, { clock, input }).start();
  return { down: down.side, up: up.side, clock, actor };
}

const message = (id: string): WireMessage =>
  ({ type: 'GetStatus', messageId: id, timestamp: 1_751_457_600_123, payload: { taskId: 't', originalClientId: 'c' } }) as WireMessage;
const sent = (side: Side) => side.commands.filter((c) => c.type === 'transport.send').map((c) => (c as { draft: { messageId?: string; type: string } }).draft);

describe('gateway relay statechart', () => {
  it('queues the client\'s messages until the provider side opens, then passes both ways, ids kept', () => {
    const { down, up } = start();
    down.emit({ type: 'transport.message', message: message('m1') });
    down.emit({ type: 'transport.message', message: message('m2') });
    expect(sent(up)).toEqual([]);
    up.emit({ type: 'transport.opened' });
    expect(sent(up).map((d) => d.messageId)).toEqual(['m1', 'm2']);
    up.emit({ type: 'transport.message', message: message('r1') });
    expect(sent(down).map((d) => d.messageId)).toEqual(['r1']);
    expect(sent(down)[0]).not.toHaveProperty('timestamp');
  });

  it('answers a message the codec refused from the client with the coded Error (WIRE-8), and the provider never sees it', () => {
    const { down, up } = start();
    up.emit({ type: 'transport.opened' });
    down.emit({ type: 'transport.rejected', error: { code: 'INVALID_MESSAGE', message: 'payload.taskId: expected string' }, messageId: 'bad-1' });
    expect(sent(down)).toEqual([{ type: 'Error', payload: { code: 'INVALID_MESSAGE', message: 'payload.taskId: expected string', relatesTo: 'bad-1' } }]);
    expect(sent(up)).toEqual([]);
  });

  it('more queued messages than queueMax close the client with 1013', () => {
    const { down } = start();
    for (const id of ['a', 'b', 'c']) down.emit({ type: 'transport.message', message: message(id) });
    expect(down.commands).toContainEqual({ type: 'transport.close', code: 1013, reason: 'the provider is unreachable through the gateway' });
  });

  it('pings the provider side; no pong in time ends both sides abruptly (CONN-3)', () => {
    const { down, up, clock, actor } = start();
    up.emit({ type: 'transport.opened' });
    clock.increment(1_000);
    expect(up.commands).toContainEqual({ type: 'transport.ping' });
    up.emit({ type: 'transport.pong' });
    clock.increment(1_000);
    expect(up.commands.filter((c) => c.type === 'transport.ping')).toHaveLength(2);
    clock.increment(500);
    expect(up.commands).toContainEqual({ type: 'transport.terminate' });
    expect(down.commands).toContainEqual({ type: 'transport.terminate' });
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('a close on one side closes the other with the same code, and ends when both are closed', () => {
    const { down, up, actor } = start();
    up.emit({ type: 'transport.opened' });
    up.emit({ type: 'transport.closed', graceful: true, code: 1001, reason: 'provider stopping' });
    expect(down.commands).toContainEqual({ type: 'transport.close', code: 1001, reason: 'provider stopping' });
    expect(actor.getSnapshot().status).toBe('active');
    down.emit({ type: 'transport.closed', graceful: true, code: 1001, reason: 'provider stopping' });
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('an abrupt end (1006) is carried as a terminate; a side that never answers is terminated after closeTimeoutMs', () => {
    const { down, up, clock, actor } = start();
    up.emit({ type: 'transport.opened' });
    down.emit({ type: 'transport.closed', graceful: false, code: 1006, reason: 'connection reset' });
    expect(up.commands).toContainEqual({ type: 'transport.terminate' });
    clock.increment(300);
    expect(actor.getSnapshot().status).toBe('done');
  });
});
