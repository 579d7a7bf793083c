/**
 * One relayed task connection of the gateway: a client's connection accepted on one side
 * (`down`: a WebSocket from a LAN peer, or a NATS connection) joined to a connection the gateway
 * opens to the provider on the other side (`up`). Messages pass through unchanged (each side's
 * adapter decodes and encodes them with machines/codec.ts); the message ids stay, so Acks and
 * Errors still cite what they answer.
 *
 *   connecting (up not open yet: the client's messages wait, bounded) -> open -> ending -> done
 *
 * - A message the codec refused from the client is answered as the provider would have (an Error
 *   with its code, WIRE-8), without troubling the provider.
 * - Liveness of the hop the gateway owns (CONN-3): `up` is pinged every pingIntervalMs; no pong
 *   (nor any message) within pongTimeoutMs ends both sides abruptly, so the client notices the
 *   provider's loss instead of waiting on a gateway that still answers its pings.
 * - One side closing closes the other with the same code (a terminate when the code cannot be
 *   sent, 1005/1006); `ending` waits for the other side's close, bounded by closeTimeoutMs.
 */
import { assign, enqueueActions, sendTo, setup, type CallbackActorLogic } from 'xstate';
import { errorShape } from '../../machines/errors.js';
import type { WireDraft, WireMessage } from '../../machines/messages.js';
import { placeholder } from '../../machines/placeholder.js';
import type { StreamCommand, StreamEvent } from '../../machines/transport.js';

export type RelaySide = 'down' | 'up';
export type RelayEvent = StreamEvent & { readonly source: RelaySide };

export interface RelayInput {
  readonly connectionId: string;
  readonly endpoint: string;
  /** Client messages kept while `up` opens; one more closes the client with 1013. @default 256 */
  readonly queueMax: number;
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly closeTimeoutMs: number;
}

export const relayDefaults = { queueMax: 256, pingIntervalMs: 15_000, pongTimeoutMs: 10_000, closeTimeoutMs: 2_000 } as const;

interface RelayContext extends RelayInput {
  readonly queue: readonly WireDraft[];
  /** The side that closed first (the other one is being closed). */
  readonly closedSide: RelaySide | undefined;
}

/** A received message as a draft to send on: the same id, a new timestamp at the other side. */
function draftOf(message: WireMessage): WireDraft {
  const { timestamp: _timestamp, ...draft } = message;
  return draft as WireDraft;
}

/** The command that ends a side the way the other one ended. */
function closeLike(event: Extract<StreamEvent, { type: 'transport.closed' }>): StreamCommand {
  const sendable = event.code >= 1000 && event.code <= 4999 && event.code !== 1005 && event.code !== 1006;
  return sendable ? { type: 'transport.close', code: event.code, reason: event.reason } : { type: 'transport.terminate' };
}

const other = (side: RelaySide): RelaySide => (side === 'down' ? 'up' : 'down');

export const relayMachine = setup({
  types: { input: {} as RelayInput, context: {} as RelayContext, events: {} as RelayEvent },
  actors: {
    down: placeholder<CallbackActorLogic<StreamCommand, { connectionId: string }>>('down'),
    up: placeholder<CallbackActorLogic<StreamCommand, { endpoint: string }>>('up'),
  },
  delays: {
    pingIntervalMs: ({ context }) => context.pingIntervalMs,
    pongTimeoutMs: ({ context }) => context.pongTimeoutMs,
    closeTimeoutMs: ({ context }) => context.closeTimeoutMs,
  },
  guards: {
    fromDown: ({ event }) => event.source === 'down',
    fromUp: ({ event }) => event.source === 'up',
    queueFull: ({ context }) => context.queue.length >= context.queueMax,
    otherSideClosed: ({ context, event }) => context.closedSide !== undefined && event.source !== context.closedSide,
  },
  actions: {
    enqueue: assign({
      queue: ({ context, event }) => (event.type === 'transport.message' ? [...context.queue, draftOf(event.message)] : context.queue),
    }),
    flush: enqueueActions(({ context, enqueue }) => {
      for (const draft of context.queue) enqueue.sendTo('up', { type: 'transport.send', draft } satisfies StreamCommand);
      enqueue.assign({ queue: [] });
    }),
    pass: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'transport.message') return;
      enqueue.sendTo(other(event.source), { type: 'transport.send', draft: draftOf(event.message) } satisfies StreamCommand);
    }),
    /** WIRE-8 at the gateway: the client hears what was wrong with its message. */
    answerRejected: sendTo('down', ({ event }): StreamCommand => {
      const error = event.type === 'transport.rejected' ? event.error : errorShape('INVALID_MESSAGE');
      const relatesTo = event.type === 'transport.rejected' ? event.messageId : undefined;
      return {
        type: 'transport.send',
        draft: { type: 'Error', payload: { code: error.code, message: error.message, ...(relatesTo === undefined ? {} : { relatesTo }) } },
      };
    }),
    ping: sendTo('up', { type: 'transport.ping' } satisfies StreamCommand),
    closeOther: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'transport.closed') return;
      enqueue.assign({ closedSide: event.source });
      enqueue.sendTo(other(event.source), closeLike(event));
    }),
    refuseClient: sendTo('down', { type: 'transport.close', code: 1013, reason: 'the provider is unreachable through the gateway' } satisfies StreamCommand),
    terminateBoth: enqueueActions(({ enqueue }) => {
      enqueue.sendTo('down', { type: 'transport.terminate' } satisfies StreamCommand);
      enqueue.sendTo('up', { type: 'transport.terminate' } satisfies StreamCommand);
    }),
  },
}).createMachine({
  id: 'gatewayRelay',
  context: ({ input }) => ({ ...input, queue: [], closedSide: undefined }),
  invoke: [
    { id: 'down', src: 'down', input: ({ context }) => ({ connectionId: context.connectionId }) },
    { id: 'up', src: 'up', input: ({ context }) => ({ endpoint: context.endpoint }) },
  ],
  initial: 'connecting',
  states: {
    connecting: {
      on: {
        'transport.opened': { guard: 'fromUp', target: 'open', actions: 'flush' },
        'transport.message': [
          { guard: 'fromUp' },
          { guard: 'queueFull', target: 'ending', actions: ['refuseClient', assign({ closedSide: 'up' as const })] },
          { actions: 'enqueue' },
        ],
        'transport.rejected': { guard: 'fromDown', actions: 'answerRejected' },
        'transport.closed': [
          { guard: 'fromUp', target: 'ending', actions: ['refuseClient', assign({ closedSide: 'up' as const })] },
          { target: 'ending', actions: 'closeOther' },
        ],
      },
    },
    open: {
      on: {
        'transport.message': { actions: 'pass' },
        'transport.rejected': { guard: 'fromDown', actions: 'answerRejected' },
        'transport.closed': { target: 'ending', actions: 'closeOther' },
      },
      initial: 'waiting',
      states: {
        waiting: {
          after: { pingIntervalMs: 'awaitingPong' },
          on: { 'transport.message': { guard: 'fromUp', target: 'waiting', reenter: true, actions: 'pass' } },
        },
        awaitingPong: {
          entry: 'ping',
          on: {
            'transport.pong': { guard: 'fromUp', target: 'waiting' },
            'transport.message': { guard: 'fromUp', target: 'waiting', actions: 'pass' },
          },
          after: { pongTimeoutMs: { target: '#gatewayRelay.done', actions: 'terminateBoth' } },
        },
      },
    },
    ending: {
      on: { 'transport.closed': { guard: 'otherSideClosed', target: 'done' } },
      after: { closeTimeoutMs: { target: 'done', actions: 'terminateBoth' } },
    },
    done: { type: 'final' },
  },
});
