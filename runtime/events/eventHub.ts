/**
 * A provider's events (EVT-3..EVT-15): the events its services publish, the subscriptions its
 * clients hold, the groups a service puts clients in, and delivery.
 *
 * - `subscribe`, `unsubscribe`, `ack` take the client's messages (already screened by the
 *   session: bound clientId, CONN-9) and answer with drafts for that client.
 * - `publish` checks the data against the event's schema and size once (EVT-3), then hands it to
 *   every subscription of that event whose filter matches and whose client is in the target
 *   (EVT-6, EVT-7): all subscribers, one client, or a group.
 * - `sessionEnded`, `congested`, `writable` tell a client's subscriptions about its session.
 *
 * Each subscription is a providerSubscription statechart (machines/events/), run by a
 * `SubscriptionRunner` (by default as a snapshot on the compiled engine, `poolRunner`): its queue, window, replay and overflow live there. What it delivers
 * becomes Event drafts for `deliver`, which the provider routes to the client's session.
 * Lookups keyed by wire data use Maps, so `__proto__` is an ordinary subscriptionId (SEC-9).
 */
import { createActor, type AnyActorRef } from 'xstate';
import type * as z from 'zod';
import { defaultEventBufferLimits, type EventItem } from '../../machines/events/eventBuffer.js';
import { matchesFilter, type EventFilter } from '../../machines/events/filter.js';
import type { Subscribe } from '../../machines/events/messages.js';
import {
  providerSubscriptionMachine,
  type ProviderSubscriptionEvent,
  type ProviderSubscriptionInput,
  type ProviderSubscriptionToParentEvent,
} from '../../machines/events/providerSubscription.js';
import type { Clock } from '../provider.js';
import { createTaskPool } from '../../machines/host/taskPool.js';

export type InspectionObserver = NonNullable<Parameters<typeof createActor>[1]>['inspect'];

export interface EventDefinition {
  /** Schema of the event's data (EVT-3). */
  readonly data: z.ZodType;
  readonly description?: string | undefined;
}

export interface EventLimits {
  /** @default 65_536 */
  readonly eventBytesMax: number;
  /** @default 1024 */
  readonly eventQueueMax: number;
  /** @default 1_048_576 */
  readonly eventQueueBytesMax: number;
  /** @default 64 */
  readonly eventsInFlightMax: number;
  /** @default 60_000 */
  readonly subscriptionLingerMs: number;
  /** @default 64 */
  readonly subscriptionsPerClientMax: number;
  /** @default 16_384 */
  readonly subscriptionsMax: number;
}

export const defaultEventLimits: EventLimits = {
  eventBytesMax: 65_536,
  eventQueueMax: defaultEventBufferLimits.queueMax,
  eventQueueBytesMax: defaultEventBufferLimits.queueBytesMax,
  eventsInFlightMax: defaultEventBufferLimits.inFlightMax,
  subscriptionLingerMs: 60_000,
  subscriptionsPerClientMax: 64,
  subscriptionsMax: 16_384,
};

/** Who a publication is for (EVT-6). */
export type EventTarget = { readonly all: true } | { readonly clientId: string } | { readonly group: string };

/** What the hub sends a client: answers to its messages, and events. */
export type EventHubDraft =
  | { readonly type: 'Subscribed'; readonly payload: { acknowledgmentId: string; subscriptionId: string; resumed: boolean } }
  | { readonly type: 'Event'; readonly payload: { subscriptionId: string; serviceName: string; event: string; seq: number; data: unknown } }
  | { readonly type: 'SubscriptionEnded'; readonly payload: { subscriptionId: string; reason: 'unsubscribed' | 'overflow' | 'forbidden' | 'stopping'; message?: string } }
  | {
      readonly type: 'Error';
      readonly payload: { code: string; message: string; relatesTo?: string; subscriptionId: string };
    };

/** Runs subscription statecharts; the default (`poolRunner`) holds them as snapshots in one pool actor on the hub's clock. */
export interface SubscriptionRunner {
  start(key: string, input: Omit<ProviderSubscriptionInput, 'parentRef'>): void;
  send(key: string, event: ProviderSubscriptionEvent): void;
}

export interface EventHubOptions {
  /** serviceName -> event name -> definition. */
  readonly services: ReadonlyMap<string, ReadonlyMap<string, EventDefinition>>;
  /** Sends a draft to the client's current session (dropped when it has none). */
  readonly deliver: (clientId: string, draft: EventHubDraft) => void;
  /** EVT-4: may this client subscribe to this event (the ACL's `event:<name>`)? @default allow */
  readonly authorize?: (clientId: string, serviceName: string, event: string) => boolean;
  readonly limits?: Partial<EventLimits>;
  readonly clock?: Clock;
  readonly runner?: (parentRef: AnyActorRef, clock: Clock | undefined) => SubscriptionRunner;
}

interface Subscription {
  readonly key: string;
  readonly clientId: string;
  readonly subscriptionId: string;
  readonly serviceName: string;
  readonly event: string;
  filter: EventFilter | undefined;
  /** Events of it the overflow policy dropped, as last reported (EVT-11). */
  dropped: number;
}

export interface EventHubCounters {
  published: number;
  /** Deliveries queued (one per matching subscription per publication). */
  queued: number;
  /** Events handed to sessions. */
  sent: number;
  /** Acks and unsubscribes for subscriptions the hub does not hold (EVT-9, EVT-14). */
  unknown: number;
  /** Times a client's session went above its send mark, its events held back meanwhile (EVT-8). */
  congested: number;
  /** Events the overflow policy dropped (EVT-11), as reported by their subscriptions' last delivery or end. */
  dropped: number;
}

const keyOf = (clientId: string, subscriptionId: string) => `${clientId}\u0000${subscriptionId}`;
const subjectOf = (serviceName: string, event: string) => `${serviceName}\u0000${event}`;

/**
 * Subscriptions as snapshots (the way tasks are hosted, machines/host/taskPool.ts): one pool
 * actor on the hub's clock holds every subscription's snapshot, stepped by the compiled
 * providerSubscription machine, no actor each; the pool falls back to an actor per subscription
 * where the engine cannot run the machine. `inspect` makes the pool's actor system (and its
 * synthesised subscription actors, machine id `providerSubscription`) visible to an observer.
 */
export function poolRunner(inspect?: InspectionObserver): (parentRef: AnyActorRef, clock: Clock | undefined) => SubscriptionRunner {
  return (parentRef, clock) => {
    const pool = createActor(createTaskPool(providerSubscriptionMachine), {
      ...(clock ? { clock } : {}),
      ...(inspect ? { inspect } : {}),
      input: { membersMax: Number.POSITIVE_INFINITY },
    });
    pool.start();
    return {
      start: (key, input) => pool.send({ type: 'pool.spawn', id: key, input: { ...input, parentRef } }),
      send: (key, event) => pool.send({ type: 'pool.send', id: key, event }),
    };
  };
}

export class EventHub {
  readonly #options: EventHubOptions;
  readonly #limits: EventLimits;
  readonly #runner: SubscriptionRunner;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #bySubject = new Map<string, Set<Subscription>>();
  readonly #byClient = new Map<string, Set<Subscription>>();
  readonly #groups = new Map<string, Set<string>>();
  /** Clients whose session is above its send mark (EVT-8): their subscriptions send nothing. */
  readonly #congested = new Set<string>();
  readonly counters: EventHubCounters = { published: 0, queued: 0, sent: 0, unknown: 0, congested: 0, dropped: 0 };

  constructor(options: EventHubOptions) {
    this.#options = options;
    this.#limits = { ...defaultEventLimits, ...options.limits };
    if (this.#limits.eventBytesMax > this.#limits.eventQueueBytesMax) throw new RangeError('events: eventBytesMax must not exceed eventQueueBytesMax');
    const parentRef = { id: 'events', send: (event: ProviderSubscriptionToParentEvent) => this.#onSubscription(event) };
    const ref = { ...parentRef, _send: parentRef.send } as unknown as AnyActorRef;
    this.#runner = (options.runner ?? poolRunner())(ref, options.clock);
  }

  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** EVT-4, EVT-5, EVT-10: a client's Subscribe. Returns the answer (also delivered). */
  subscribe(clientId: string, message: Subscribe): EventHubDraft {
    const { subscriptionId, serviceName, event, filter, delivery, overflow, resumeAfter } = message.payload;
    const refuse = (code: string, text: string): EventHubDraft => this.#answer(clientId, { type: 'Error', payload: { code, message: text, relatesTo: message.messageId, subscriptionId } });
    const key = keyOf(clientId, subscriptionId);
    const existing = this.#subscriptions.get(key);
    if (existing !== undefined) {
      if (existing.serviceName !== serviceName || existing.event !== event) {
        return refuse('INVALID_MESSAGE', `subscription ${subscriptionId} is for ${existing.serviceName}.${existing.event}`);
      }
      existing.filter = filter;
      const answer = this.#answer(clientId, { type: 'Subscribed', payload: { acknowledgmentId: message.messageId, subscriptionId, resumed: true } });
      this.#runner.send(key, { type: 'subscription.attached', resumeAfter, congested: this.#congested.has(clientId) });
      return answer;
    }
    if (this.#options.services.get(serviceName)?.get(event) === undefined) return refuse('UNKNOWN_EVENT', `no event ${event} of service ${serviceName} here`);
    if (!(this.#options.authorize?.(clientId, serviceName, event) ?? true)) return refuse('FORBIDDEN', `no permission to subscribe to ${serviceName}.${event}`);
    if ((this.#byClient.get(clientId)?.size ?? 0) >= this.#limits.subscriptionsPerClientMax) {
      return refuse('OVERLOADED', `at most ${this.#limits.subscriptionsPerClientMax} subscriptions per client`);
    }
    if (this.#subscriptions.size >= this.#limits.subscriptionsMax) return refuse('OVERLOADED', 'the provider holds as many subscriptions as it can');
    const subscription: Subscription = { key, clientId, subscriptionId, serviceName, event, filter, dropped: 0 };
    this.#subscriptions.set(key, subscription);
    addTo(this.#bySubject, subjectOf(serviceName, event), subscription);
    addTo(this.#byClient, clientId, subscription);
    // Subscribed goes out before any Event of the subscription (EVT-4).
    const answer = this.#answer(clientId, { type: 'Subscribed', payload: { acknowledgmentId: message.messageId, subscriptionId, resumed: false } });
    this.#runner.start(key, {
      subscriptionId,
      clientId,
      serviceName,
      event,
      filter,
      delivery,
      overflow,
      limits: { queueMax: this.#limits.eventQueueMax, queueBytesMax: this.#limits.eventQueueBytesMax, inFlightMax: this.#limits.eventsInFlightMax },
      lingerMs: this.#limits.subscriptionLingerMs,
    });
    if (this.#congested.has(clientId)) this.#runner.send(key, { type: 'subscription.congested' });
    return answer;
  }

  /** EVT-12: idempotent; always answered SubscriptionEnded unsubscribed. */
  unsubscribe(clientId: string, subscriptionId: string): void {
    const key = keyOf(clientId, subscriptionId);
    if (this.#subscriptions.has(key)) this.#runner.send(key, { type: 'subscription.end', reason: 'unsubscribed' });
    else {
      this.counters.unknown++;
      this.#answer(clientId, { type: 'SubscriptionEnded', payload: { subscriptionId, reason: 'unsubscribed' } });
    }
  }

  /** EVT-9. */
  ack(clientId: string, subscriptionId: string, seq: number): void {
    const key = keyOf(clientId, subscriptionId);
    if (this.#subscriptions.has(key)) this.#runner.send(key, { type: 'subscription.ack', seq });
    else this.counters.unknown++;
  }

  /** The client's session ended (EVT-10: at-least-once subscriptions linger). */
  sessionEnded(clientId: string): void {
    this.#each(clientId, { type: 'subscription.detached' });
  }

  /**
   * EVT-8: the socket of the client's session is above its send mark: its subscriptions queue
   * (bounded, EVT-11) and send nothing until `writable`. Also holds for subscriptions the client
   * makes or resumes meanwhile.
   */
  congested(clientId: string): void {
    if (this.#congested.has(clientId)) return;
    this.#congested.add(clientId);
    this.counters.congested++;
    this.#each(clientId, { type: 'subscription.congested' });
  }

  /** EVT-8: back below the mark (or the client's events go to another session now): what waited is sent. */
  writable(clientId: string): void {
    if (!this.#congested.delete(clientId)) return;
    this.#each(clientId, { type: 'subscription.writable' });
  }

  /** Whether the client's events are held back (EVT-8). */
  isCongested(clientId: string): boolean {
    return this.#congested.has(clientId);
  }

  /** Groups are the provider's (EVT-6): a service puts clients in and takes them out. */
  join(group: string, clientId: string): void {
    addTo(this.#groups, group, clientId);
  }

  leave(group: string, clientId: string): void {
    const members = this.#groups.get(group);
    members?.delete(clientId);
    if (members?.size === 0) this.#groups.delete(group);
  }

  /**
   * EVT-3, EVT-6: publishes one event. Throws (a programmer error) for an event the service does
   * not declare, data that fails its schema, or data larger than `eventBytesMax`. Returns the
   * number of subscriptions it was queued for.
   */
  publish(serviceName: string, event: string, data: unknown, target: EventTarget = { all: true }): number {
    const definition = this.#options.services.get(serviceName)?.get(event);
    if (definition === undefined) throw new TypeError(`publish: ${serviceName} declares no event "${event}"`);
    const parsed = definition.data.safeParse(data);
    if (!parsed.success) throw new TypeError(`publish ${serviceName}.${event}: the data does not match the event's schema: ${parsed.error.issues[0]?.message ?? ''}`);
    const value = parsed.data;
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? 'null');
    if (bytes > this.#limits.eventBytesMax) throw new RangeError(`publish ${serviceName}.${event}: ${bytes} bytes of data; at most ${this.#limits.eventBytesMax}`);
    this.counters.published++;
    const subscribers = this.#bySubject.get(subjectOf(serviceName, event));
    if (subscribers === undefined) return 0;
    const members = 'group' in target ? this.#groups.get(target.group) : undefined;
    const only = 'clientId' in target ? target.clientId : undefined;
    if ('group' in target && members === undefined) return 0;
    let queued = 0;
    for (const subscription of subscribers) {
      if (only !== undefined && subscription.clientId !== only) continue;
      if (members !== undefined && !members.has(subscription.clientId)) continue;
      if (!matchesFilter(subscription.filter, value)) continue;
      queued++;
      this.#runner.send(subscription.key, { type: 'subscription.publish', data: value, bytes });
    }
    this.counters.queued += queued;
    return queued;
  }

  /** EVT-15: the provider stops; every subscription ends with reason stopping. */
  stop(): void {
    for (const key of [...this.#subscriptions.keys()]) this.#runner.send(key, { type: 'subscription.end', reason: 'stopping' });
  }

  #each(clientId: string, event: ProviderSubscriptionEvent): void {
    for (const subscription of this.#byClient.get(clientId) ?? []) this.#runner.send(subscription.key, event);
  }

  #answer(clientId: string, draft: EventHubDraft): EventHubDraft {
    this.#options.deliver(clientId, draft);
    return draft;
  }

  #onSubscription(event: ProviderSubscriptionToParentEvent): void {
    const subscription = this.#subscriptions.get(keyOf(event.clientId, event.subscriptionId));
    if (subscription === undefined) return;
    this.#noteDropped(subscription, event.dropped);
    if (event.type === 'subscription.deliver') {
      this.#sendEvents(subscription, event.items);
      return;
    }
    this.#subscriptions.delete(subscription.key);
    removeFrom(this.#bySubject, subjectOf(subscription.serviceName, subscription.event), subscription);
    removeFrom(this.#byClient, subscription.clientId, subscription);
    const { reason } = event;
    // A subscription that ended with its session, or expired, has nobody to tell.
    if (reason === 'sessionEnded' || reason === 'expired') return;
    this.#answer(subscription.clientId, { type: 'SubscriptionEnded', payload: { subscriptionId: subscription.subscriptionId, reason } });
  }

  #noteDropped(subscription: Subscription, dropped: number): void {
    if (dropped <= subscription.dropped) return;
    this.counters.dropped += dropped - subscription.dropped;
    subscription.dropped = dropped;
  }

  #sendEvents(subscription: Subscription, items: readonly EventItem[]): void {
    for (const item of items) {
      this.counters.sent++;
      this.#options.deliver(subscription.clientId, {
        type: 'Event',
        payload: { subscriptionId: subscription.subscriptionId, serviceName: subscription.serviceName, event: subscription.event, seq: item.seq, data: item.data },
      });
    }
  }
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  set?.delete(value);
  if (set?.size === 0) map.delete(key);
}
