/**
 * One subscription at the provider (EVT-4..EVT-15): `active` (a session of its client carries
 * it; `flowing` or `congested`), `suspended` (at-least-once only: the session is gone, events
 * still queue until the client resumes or `lingerMs` passes) and `closed` (final).
 *
 * The events themselves live in an EventBuffer (machines/events/eventBuffer.ts): this machine
 * decides when they are queued, sent, confirmed, dropped and replayed. It never touches a socket:
 * what to send goes to `parentRef` as `subscription.deliver` (a batch, in seq order), and its
 * end as `subscription.ended` exactly once. A provider holds thousands of these, so the host runs
 * them as snapshots of this definition (no actor each); they use only constructs the compiled
 * engine executes (plain states, `after` with a named delay, assign, sendTo, enqueueActions).
 *
 * Why `congested` is a state: at-most-once events must not pile up in a socket whose peer reads
 * slowly (SEC-13 would close the connection, and with it every task of the client). While the
 * session's socket is above its mark, events queue here, where the overflow policy bounds them
 * and a dropped event is counted (EVT-11).
 */
import { assign, enqueueActions, setup, type ActorRef } from 'xstate';
import {
  acknowledgeEvents,
  emptyEventBuffer,
  enqueueEvent,
  resumeEvents,
  takeSendable,
  type EventBuffer,
  type EventBufferLimits,
  type EventItem,
} from './eventBuffer.js';
import { termsOf, type SubscriptionTerms } from './terms.js';

/** How a subscription ended, at the provider. `sessionEnded`: an at-most-once subscription's session ended; `expired`: `lingerMs` passed while suspended. */
export type ProviderSubscriptionEnd = 'unsubscribed' | 'overflow' | 'forbidden' | 'stopping' | 'sessionEnded' | 'expired';

export interface ProviderSubscriptionInput extends SubscriptionTerms {
  readonly limits: EventBufferLimits;
  /** At-least-once: how long a subscription whose session ended waits for its client. @default 60_000 */
  readonly lingerMs: number;
  readonly parentRef: ActorRef<any, ProviderSubscriptionToParentEvent>;
}

export interface ProviderSubscriptionContext extends Omit<ProviderSubscriptionInput, 'parentRef'> {
  readonly buffer: EventBuffer;
  readonly endReason: ProviderSubscriptionEnd | undefined;
  /** Acknowledgments of a seq never sent (counted, otherwise ignored, EVT-9). */
  readonly invalidAcks: number;
  readonly parentRef: ActorRef<any, ProviderSubscriptionToParentEvent>;
}

export type ProviderSubscriptionEvent =
  /** One published event that matched this subscription's filter and target (EVT-6). */
  | { readonly type: 'subscription.publish'; readonly data: unknown; readonly bytes: number }
  | { readonly type: 'subscription.ack'; readonly seq: number }
  /** The session's socket is above / back below its mark. */
  | { readonly type: 'subscription.congested' }
  | { readonly type: 'subscription.writable' }
  /** The session carrying the subscription ended. */
  | { readonly type: 'subscription.detached' }
  /**
   * Its client subscribed again with the same subscriptionId (on a new or the same session);
   * `congested`: that session's socket is above its mark, so nothing is sent yet.
   */
  | { readonly type: 'subscription.attached'; readonly resumeAfter?: number | undefined; readonly congested?: boolean | undefined }
  | { readonly type: 'subscription.end'; readonly reason: 'unsubscribed' | 'forbidden' | 'stopping' };

export type ProviderSubscriptionToParentEvent =
  | {
      readonly type: 'subscription.deliver';
      readonly subscriptionId: string;
      readonly clientId: string;
      readonly items: readonly EventItem[];
      /** Events dropped by the overflow policy so far (EVT-11), for the provider's count. */
      readonly dropped: number;
    }
  | {
      readonly type: 'subscription.ended';
      readonly subscriptionId: string;
      readonly clientId: string;
      readonly reason: ProviderSubscriptionEnd;
      /** Events dropped by the overflow policy over the subscription's life. */
      readonly dropped: number;
    };

export interface ProviderSubscriptionOutput {
  readonly subscriptionId: string;
  readonly reason: ProviderSubscriptionEnd;
  readonly dropped: number;
}

type Context = ProviderSubscriptionContext;
type Event = ProviderSubscriptionEvent;

/** Moves what may be sent now out of the buffer and hands it to the parent. */
const flush = enqueueActions<Context, Event, undefined, Event, never, never, never, never, never>(({ context, enqueue }) => {
  const { buffer, send } = takeSendable(context.buffer, context.delivery, context.limits);
  if (send.length === 0) return;
  enqueue.assign({ buffer });
  enqueue.sendTo(context.parentRef, {
    type: 'subscription.deliver',
    subscriptionId: context.subscriptionId,
    clientId: context.clientId,
    items: send,
    dropped: buffer.dropped,
  } satisfies ProviderSubscriptionToParentEvent);
});

const endAs = (reason: ProviderSubscriptionEnd) => assign<Context, Event, undefined, Event, never>({ endReason: reason });

export const providerSubscriptionMachine = setup({
  types: {
    input: {} as ProviderSubscriptionInput,
    context: {} as Context,
    events: {} as Event,
    output: {} as ProviderSubscriptionOutput,
  },
  delays: {
    lingerMs: ({ context }) => context.lingerMs,
  },
  guards: {
    overflowCloses: ({ context, event }) =>
      event.type === 'subscription.publish' &&
      context.overflow === 'close' &&
      enqueueEvent(context.buffer, event.data, event.bytes, context.limits, 'close').overflow,
    lingers: ({ context }) => context.delivery === 'atLeastOnce',
    attachedCongested: ({ event }) => event.type === 'subscription.attached' && event.congested === true,
  },
  actions: {
    enqueue: assign({
      buffer: ({ context, event }) =>
        event.type === 'subscription.publish'
          ? enqueueEvent(context.buffer, event.data, event.bytes, context.limits, context.overflow).buffer
          : context.buffer,
    }),
    acknowledge: assign(({ context, event }) => {
      if (event.type !== 'subscription.ack') return {};
      const { buffer, valid } = acknowledgeEvents(context.buffer, event.seq);
      return valid ? { buffer } : { invalidAcks: context.invalidAcks + 1 };
    }),
    resume: assign({
      buffer: ({ context, event }) =>
        event.type === 'subscription.attached' ? resumeEvents(context.buffer, event.resumeAfter) : context.buffer,
    }),
    flush,
    endFromEvent: assign({ endReason: ({ event }) => (event.type === 'subscription.end' ? event.reason : 'stopping') }),
    endOverflow: endAs('overflow'),
    endSessionEnded: endAs('sessionEnded'),
    endExpired: endAs('expired'),
    reportEnded: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo(context.parentRef, {
        type: 'subscription.ended',
        subscriptionId: context.subscriptionId,
        clientId: context.clientId,
        reason: context.endReason ?? 'stopping',
        dropped: context.buffer.dropped,
      } satisfies ProviderSubscriptionToParentEvent);
    }),
  },
}).createMachine({
  id: 'providerSubscription',
  context: ({ input }) => ({
    ...termsOf(input),
    limits: input.limits,
    lingerMs: input.lingerMs,
    parentRef: input.parentRef,
    buffer: emptyEventBuffer,
    endReason: undefined,
    invalidAcks: 0,
  }),
  initial: 'active',
  on: {
    'subscription.end': { target: '.closed', actions: 'endFromEvent' },
  },
  states: {
    active: {
      initial: 'flowing',
      on: {
        // EVT-10: the client subscribed again before this provider saw its old session end.
        'subscription.attached': [
          { guard: 'attachedCongested', target: '.congested', actions: 'resume' },
          { target: '.flowing', actions: ['resume', 'flush'] },
        ],
        'subscription.detached': [
          { guard: 'lingers', target: 'suspended' },
          { target: 'closed', actions: 'endSessionEnded' },
        ],
      },
      states: {
        flowing: {
          on: {
            'subscription.publish': [
              { guard: 'overflowCloses', target: '#providerSubscription.closed', actions: 'endOverflow' },
              { actions: ['enqueue', 'flush'] },
            ],
            'subscription.ack': { actions: ['acknowledge', 'flush'] },
            'subscription.congested': 'congested',
          },
        },
        congested: {
          on: {
            'subscription.publish': [
              { guard: 'overflowCloses', target: '#providerSubscription.closed', actions: 'endOverflow' },
              { actions: 'enqueue' },
            ],
            // EVT-8: an acknowledgment frees room, but nothing is written above the mark.
            'subscription.ack': { actions: 'acknowledge' },
            'subscription.writable': { target: 'flowing', actions: 'flush' },
          },
        },
      },
    },
    suspended: {
      // EVT-10: events keep queueing (bounded, EVT-11) for a client that comes back in time.
      after: { lingerMs: { target: 'closed', actions: 'endExpired' } },
      on: {
        'subscription.publish': [
          { guard: 'overflowCloses', target: 'closed', actions: 'endOverflow' },
          { actions: 'enqueue' },
        ],
        'subscription.attached': [
          { guard: 'attachedCongested', target: 'active.congested', actions: 'resume' },
          { target: 'active', actions: ['resume', 'flush'] },
        ],
      },
    },
    closed: {
      type: 'final',
      entry: 'reportEnded',
    },
  },
  output: ({ context }) => ({
    subscriptionId: context.subscriptionId,
    reason: context.endReason ?? 'stopping',
    dropped: context.buffer.dropped,
  }),
});
