/**
 * Wire schemas of the events extension (docs/protocol.md, "Events"): Subscribe, Unsubscribe and
 * EventAck from client to provider; Subscribed, Event and SubscriptionEnded from provider to
 * client. Same envelope, same codec rules as every other WebSocket message (WIRE-2, WIRE-7).
 * A provider sends none of the provider-to-client messages to a client that never subscribed
 * (EVT-2), so a seed-only peer never sees them.
 */
import * as z from 'zod';
import { IdSchema, TimestampCodec } from '../wire/scalars.js';
import { EventFilterSchema } from './filter.js';

function envelope<const T extends string, P extends z.ZodType>(type: T, payload: P) {
  return z.object({ type: z.literal(type), messageId: IdSchema, timestamp: TimestampCodec, payload });
}

/** Names of services and events: the same alphabet as operations. */
export const EventNameSchema = z.string().min(1).max(256);

export const deliveries = ['atMostOnce', 'atLeastOnce'] as const;
export const overflowPolicies = ['dropOldest', 'close'] as const;
/** Why a subscription ended, as the provider tells it (EVT-12, EVT-11, EVT-15, EVT-4). */
export const subscriptionEndReasons = ['unsubscribed', 'overflow', 'forbidden', 'stopping'] as const;
export type SubscriptionEndReason = (typeof subscriptionEndReasons)[number];

/** A sequence number: 1, 2, 3, ... per subscription (EVT-6); 0 means "nothing yet". */
const SeqSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const SubscribeSchema = envelope(
  'Subscribe',
  z.object({
    subscriptionId: IdSchema,
    /** The client the subscription belongs to (binds the session, CONN-9). */
    clientId: IdSchema,
    serviceName: EventNameSchema,
    event: EventNameSchema,
    filter: EventFilterSchema.optional(),
    delivery: z.enum(deliveries).default('atMostOnce'),
    overflow: z.enum(overflowPolicies).default('dropOldest'),
    /** Re-subscribing after a reconnect: the last seq the client processed (EVT-10). */
    resumeAfter: SeqSchema.optional(),
  }),
);

export const UnsubscribeSchema = envelope('Unsubscribe', z.object({ subscriptionId: IdSchema, clientId: IdSchema }));

export const EventAckSchema = envelope('EventAck', z.object({ subscriptionId: IdSchema, clientId: IdSchema, seq: SeqSchema }));

export const SubscribedSchema = envelope(
  'Subscribed',
  z.object({
    /** The Subscribe's messageId. */
    acknowledgmentId: IdSchema,
    subscriptionId: IdSchema,
    /** True when an existing subscription was resumed: events after `resumeAfter` follow (EVT-10). */
    resumed: z.boolean(),
  }),
);

export const EventSchema = envelope(
  'Event',
  z.object({
    subscriptionId: IdSchema,
    serviceName: EventNameSchema,
    event: EventNameSchema,
    seq: SeqSchema.min(1),
    data: z.unknown(),
  }),
);

export const SubscriptionEndedSchema = envelope(
  'SubscriptionEnded',
  z.object({
    subscriptionId: IdSchema,
    reason: z.enum(subscriptionEndReasons),
    message: z.string().max(4096).optional(),
  }),
);

export const eventClientMessageSchemas = { Subscribe: SubscribeSchema, Unsubscribe: UnsubscribeSchema, EventAck: EventAckSchema } as const;
export const eventProviderMessageSchemas = { Subscribed: SubscribedSchema, Event: EventSchema, SubscriptionEnded: SubscriptionEndedSchema } as const;

export type Subscribe = z.output<typeof SubscribeSchema>;
export type Unsubscribe = z.output<typeof UnsubscribeSchema>;
export type EventAck = z.output<typeof EventAckSchema>;
export type Subscribed = z.output<typeof SubscribedSchema>;
export type EventMessage = z.output<typeof EventSchema>;
export type SubscriptionEnded = z.output<typeof SubscriptionEndedSchema>;

/** A client's events message without the fields the boundary stamps (timestamp; messageId unless chosen). */
export type EventClientDraft =
  | (Omit<Subscribe, 'timestamp' | 'messageId'> & { messageId?: string })
  | (Omit<Unsubscribe, 'timestamp' | 'messageId'> & { messageId?: string })
  | (Omit<EventAck, 'timestamp' | 'messageId'> & { messageId?: string });
