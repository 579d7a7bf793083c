/** What a subscription is for, the same at both ends (EVT-4, EVT-6, EVT-7, EVT-10, EVT-11). */
import type { Delivery, OverflowPolicy } from './eventBuffer.js';
import type { EventFilter } from './filter.js';

export interface SubscriptionTerms {
  readonly subscriptionId: string;
  /** The client the subscription belongs to. */
  readonly clientId: string;
  readonly serviceName: string;
  readonly event: string;
  readonly filter?: EventFilter | undefined;
  readonly delivery: Delivery;
  readonly overflow: OverflowPolicy;
}

/** The terms out of a machine's input (one copy for both ends; explicit, not a spread of all the input). */
export function termsOf(input: SubscriptionTerms): SubscriptionTerms {
  return {
    subscriptionId: input.subscriptionId,
    clientId: input.clientId,
    serviceName: input.serviceName,
    event: input.event,
    filter: input.filter,
    delivery: input.delivery,
    overflow: input.overflow,
  };
}
