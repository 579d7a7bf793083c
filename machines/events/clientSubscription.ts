/**
 * One subscription at the client (EVT-10): `subscribing -> active -> reconnecting -> subscribing
 * ... -> closed`, with `unsubscribing` on the way out.
 *
 * - `subscribing`: Subscribe sent (again after every reconnect, with `resumeAfter` = the last seq
 *   processed when at-least-once); re-sent every `subscribeTimeoutMs` without an answer, at most
 *   `subscribeAttemptsMax` sends, then the subscription fails with TIMEOUT.
 * - `active`: each Event is delivered to the application at most once, in seq order: a seq at or
 *   below the last one is a duplicate (a replay after a reconnect) and is dropped; a jump in seq
 *   is reported as `lost` events (the provider dropped them, EVT-11). At-least-once events are
 *   acknowledged cumulatively: at once after `ackEveryEvents` unacknowledged events, else
 *   `ackDelayMs` after the first (the `acks` region).
 * - `reconnecting`: the connection is down; nothing is sent until it is up again.
 * - `closed` (final): unsubscribed, ended by the provider, refused, timed out or the connection
 *   gave up; its output says which.
 *
 * The machine speaks to its parent (the client's connection) only: drafts to send go out as
 * `subscription.send`, events for the application as `subscription.delivered`.
 */
import { assign, enqueueActions, setup, type ActorRef } from 'xstate';
import { termsOf, type SubscriptionTerms } from './terms.js';
import type { EventClientDraft, Subscribe, SubscriptionEndReason } from './messages.js';

export interface ClientSubscriptionLimits {
  /** @default 2000 */
  readonly subscribeTimeoutMs: number;
  /** Subscribe sends per (re)subscription before failing with TIMEOUT. @default 5 */
  readonly subscribeAttemptsMax: number;
  /** At-least-once: longest wait before acknowledging. @default 50 */
  readonly ackDelayMs: number;
  /** At-least-once: acknowledge at once after this many unacknowledged events. @default 32 (half the provider's default window) */
  readonly ackEveryEvents: number;
  /** @default 2000 */
  readonly unsubscribeTimeoutMs: number;
}

export const defaultClientSubscriptionLimits: ClientSubscriptionLimits = {
  subscribeTimeoutMs: 2000,
  subscribeAttemptsMax: 5,
  ackDelayMs: 50,
  ackEveryEvents: 32,
  unsubscribeTimeoutMs: 2000,
};

export interface ClientSubscriptionInput extends SubscriptionTerms {
  readonly limits: ClientSubscriptionLimits;
  /** Whether the connection is open when the subscription starts (else it waits in `reconnecting`). */
  readonly connected: boolean;
  readonly parentRef: ActorRef<any, ClientSubscriptionToParentEvent>;
}

/** How a subscription ended at the client. */
export type ClientSubscriptionEnd =
  | { readonly kind: 'unsubscribed' }
  | { readonly kind: 'ended'; readonly reason: SubscriptionEndReason; readonly message?: string | undefined }
  | { readonly kind: 'failed'; readonly code: string; readonly message: string };

export interface ClientSubscriptionContext extends Omit<ClientSubscriptionInput, 'connected'> {
  /** The last seq delivered to the application (0: none yet). */
  readonly lastSeq: number;
  /** The last seq acknowledged to the provider. */
  readonly ackedSeq: number;
  /** Whether the provider has ever confirmed this subscription (then a re-subscribe resumes). */
  readonly confirmed: boolean;
  /** Subscribe sends in the current subscribing phase. */
  readonly attempts: number;
  /** Sends so far: makes each draft's messageId unique (WIRE-10). */
  readonly sends: number;
  /** Events lost (gaps in seq) and duplicates dropped, over the subscription's life. */
  readonly lost: number;
  readonly duplicates: number;
  readonly end: ClientSubscriptionEnd | undefined;
  /** Whether the connection was open at the start (else the subscription waits in `reconnecting`). */
  readonly startedConnected: boolean;
}

export type ClientSubscriptionEvent =
  | { readonly type: 'provider.subscribed'; readonly resumed: boolean }
  | { readonly type: 'provider.event'; readonly seq: number; readonly data: unknown }
  | { readonly type: 'provider.ended'; readonly reason: SubscriptionEndReason; readonly message?: string | undefined }
  /** An Error about this subscription's Subscribe (UNKNOWN_EVENT, FORBIDDEN, UNSUPPORTED_MESSAGE, ...). */
  | { readonly type: 'provider.error'; readonly code: string; readonly message: string }
  | { readonly type: 'connection.up' }
  | { readonly type: 'connection.down' }
  /** The connection gave up or was closed: the subscription ends with CONNECTION_LOST. */
  | { readonly type: 'connection.closed' }
  | { readonly type: 'subscription.unsubscribe' };

export type ClientSubscriptionToParentEvent =
  | { readonly type: 'subscription.send'; readonly subscriptionId: string; readonly draft: EventClientDraft }
  | { readonly type: 'subscription.opened'; readonly subscriptionId: string; readonly resumed: boolean }
  | {
      readonly type: 'subscription.delivered';
      readonly subscriptionId: string;
      readonly seq: number;
      readonly data: unknown;
      /** Events the provider dropped just before this one (a gap in seq). */
      readonly lost: number;
    }
  | { readonly type: 'subscription.settled'; readonly subscriptionId: string; readonly end: ClientSubscriptionEnd };

export type ClientSubscriptionOutput = { readonly subscriptionId: string; readonly end: ClientSubscriptionEnd; readonly lastSeq: number; readonly lost: number };

type Context = ClientSubscriptionContext;
type Event = ClientSubscriptionEvent;

const send = (build: (context: Context) => EventClientDraft) =>
  enqueueActions<Context, Event, undefined, Event, never, never, never, never, never>(({ context, enqueue }) => {
    enqueue.assign({ sends: context.sends + 1 });
    enqueue.sendTo(context.parentRef, {
      type: 'subscription.send',
      subscriptionId: context.subscriptionId,
      draft: build(context),
    } satisfies ClientSubscriptionToParentEvent);
  });

const messageIdOf = (context: Context, kind: string) => `${kind}:${context.subscriptionId}:${context.sends + 1}`;

const endWith = (end: (event: Event) => ClientSubscriptionEnd) => assign<Context, Event, undefined, Event, never>({ end: ({ event }) => end(event) });

export const clientSubscriptionMachine = setup({
  types: {
    input: {} as ClientSubscriptionInput,
    context: {} as Context,
    events: {} as Event,
    output: {} as ClientSubscriptionOutput,
  },
  delays: {
    subscribeTimeoutMs: ({ context }) => context.limits.subscribeTimeoutMs,
    ackDelayMs: ({ context }) => context.limits.ackDelayMs,
    unsubscribeTimeoutMs: ({ context }) => context.limits.unsubscribeTimeoutMs,
  },
  guards: {
    startedConnected: ({ context }) => context.startedConnected,
    attemptsLeft: ({ context }) => context.attempts < context.limits.subscribeAttemptsMax,
    isDuplicate: ({ context, event }) => event.type === 'provider.event' && event.seq <= context.lastSeq,
    ackDue: ({ context }) => context.delivery === 'atLeastOnce' && context.lastSeq - context.ackedSeq >= context.limits.ackEveryEvents,
    ackPending: ({ context }) => context.delivery === 'atLeastOnce' && context.lastSeq > context.ackedSeq,
  },
  actions: {
    sendSubscribe: send((context) => ({
      type: 'Subscribe',
      messageId: messageIdOf(context, 'subscribe'),
      payload: {
        subscriptionId: context.subscriptionId,
        clientId: context.clientId,
        serviceName: context.serviceName,
        event: context.event,
        ...(context.filter === undefined ? {} : { filter: context.filter as Subscribe['payload']['filter'] }),
        delivery: context.delivery,
        overflow: context.overflow,
        // EVT-10: an at-least-once subscription the provider confirmed before resumes after what was processed.
        ...(context.delivery === 'atLeastOnce' && context.confirmed ? { resumeAfter: context.lastSeq } : {}),
      },
    })),
    sendAck: send((context) => ({
      type: 'EventAck',
      messageId: messageIdOf(context, 'ack'),
      payload: { subscriptionId: context.subscriptionId, clientId: context.clientId, seq: context.lastSeq },
    })),
    markAcked: assign({ ackedSeq: ({ context }) => context.lastSeq }),
    sendUnsubscribe: send((context) => ({
      type: 'Unsubscribe',
      messageId: messageIdOf(context, 'unsubscribe'),
      payload: { subscriptionId: context.subscriptionId, clientId: context.clientId },
    })),
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1 }),
    resetAttempts: assign({ attempts: 0 }),
    confirm: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'provider.subscribed') return;
      // A provider that no longer knew the subscription starts its seq afresh (EVT-10).
      const restarted = context.confirmed && !event.resumed;
      enqueue.assign({ confirmed: true, ...(restarted ? { lastSeq: 0, ackedSeq: 0 } : {}) });
      enqueue.sendTo(context.parentRef, {
        type: 'subscription.opened',
        subscriptionId: context.subscriptionId,
        resumed: event.resumed,
      } satisfies ClientSubscriptionToParentEvent);
    }),
    deliver: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'provider.event') return;
      const lost = event.seq - context.lastSeq - 1;
      enqueue.assign({ lastSeq: event.seq, lost: context.lost + lost });
      enqueue.sendTo(context.parentRef, {
        type: 'subscription.delivered',
        subscriptionId: context.subscriptionId,
        seq: event.seq,
        data: event.data,
        lost,
      } satisfies ClientSubscriptionToParentEvent);
    }),
    countDuplicate: assign({ duplicates: ({ context }) => context.duplicates + 1 }),
    endUnsubscribed: endWith(() => ({ kind: 'unsubscribed' })),
    endByProvider: endWith((event) =>
      event.type === 'provider.ended' ? { kind: 'ended', reason: event.reason, message: event.message } : { kind: 'ended', reason: 'stopping' },
    ),
    endRefused: endWith((event) =>
      event.type === 'provider.error' ? { kind: 'failed', code: event.code, message: event.message } : { kind: 'failed', code: 'INTERNAL_ERROR', message: '' },
    ),
    endTimedOut: endWith(() => ({ kind: 'failed', code: 'TIMEOUT', message: 'the provider did not confirm the subscription' })),
    endConnectionLost: endWith(() => ({ kind: 'failed', code: 'CONNECTION_LOST', message: 'the connection to the provider was lost' })),
    reportSettled: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo(context.parentRef, {
        type: 'subscription.settled',
        subscriptionId: context.subscriptionId,
        end: context.end ?? { kind: 'unsubscribed' },
      } satisfies ClientSubscriptionToParentEvent);
    }),
  },
}).createMachine({
  id: 'clientSubscription',
  context: ({ input }) => ({
    ...termsOf(input),
    limits: input.limits,
    parentRef: input.parentRef,
    lastSeq: 0,
    ackedSeq: 0,
    confirmed: false,
    attempts: 0,
    sends: 0,
    lost: 0,
    duplicates: 0,
    end: undefined,
    startedConnected: input.connected,
  }),
  initial: 'starting',
  on: {
    'connection.closed': { target: '.closed', actions: 'endConnectionLost' },
  },
  states: {
    starting: {
      always: [{ guard: 'startedConnected', target: 'subscribing' }, { target: 'reconnecting' }],
    },
    subscribing: {
      entry: ['countAttempt', 'sendSubscribe'],
      after: {
        subscribeTimeoutMs: [
          { guard: 'attemptsLeft', target: 'subscribing', reenter: true },
          { target: 'closed', actions: 'endTimedOut' },
        ],
      },
      on: {
        'provider.subscribed': { target: 'active', actions: ['resetAttempts', 'confirm'] },
        'provider.error': { target: 'closed', actions: 'endRefused' },
        'provider.ended': { target: 'closed', actions: 'endByProvider' },
        // A replayed event can overtake nothing: the provider answers Subscribe before replaying.
        'provider.event': [{ guard: 'isDuplicate', actions: 'countDuplicate' }, { actions: 'deliver' }],
        'connection.down': { target: 'reconnecting', actions: 'resetAttempts' },
        'subscription.unsubscribe': 'unsubscribing',
      },
    },
    active: {
      type: 'parallel',
      on: {
        'provider.ended': { target: 'closed', actions: 'endByProvider' },
        'connection.down': 'reconnecting',
        'subscription.unsubscribe': 'unsubscribing',
      },
      states: {
        receiving: {
          on: {
            'provider.event': [
              // A replay of what was already processed (EVT-10): dropped, counted.
              { guard: 'isDuplicate', actions: 'countDuplicate' },
              { actions: 'deliver' },
            ],
          },
        },
        acks: {
          initial: 'idle',
          states: {
            idle: {
              always: [
                { guard: 'ackDue', actions: ['sendAck', 'markAcked'] },
                { guard: 'ackPending', target: 'pending' },
              ],
            },
            pending: {
              always: { guard: 'ackDue', target: 'idle', actions: ['sendAck', 'markAcked'] },
              after: { ackDelayMs: { target: 'idle', actions: ['sendAck', 'markAcked'] } },
            },
          },
        },
      },
    },
    reconnecting: {
      on: {
        'connection.up': 'subscribing',
        'subscription.unsubscribe': { target: 'closed', actions: 'endUnsubscribed' },
      },
    },
    unsubscribing: {
      entry: 'sendUnsubscribe',
      after: { unsubscribeTimeoutMs: { target: 'closed', actions: 'endUnsubscribed' } },
      on: {
        'provider.ended': { target: 'closed', actions: 'endUnsubscribed' },
        'provider.event': {},
        'connection.down': { target: 'closed', actions: 'endUnsubscribed' },
      },
    },
    closed: {
      type: 'final',
      entry: 'reportSettled',
    },
  },
  output: ({ context }) => ({
    subscriptionId: context.subscriptionId,
    end: context.end ?? { kind: 'unsubscribed' },
    lastSeq: context.lastSeq,
    lost: context.lost,
  }),
});
