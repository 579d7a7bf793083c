/**
 * A client's subscriptions (EVT-1, EVT-10, EVT-13): `client.subscribe(...)`.
 *
 * Each subscription is a clientSubscription statechart (machines/events/clientSubscription.ts),
 * run as its own small actor on the client's clock: it sends Subscribe (again after every
 * reconnect, resuming after the last seq it delivered when at-least-once), delivers each seq at
 * most once and in order, and acknowledges cumulatively. This file only connects it to the
 * client's actor: its drafts go out on the connection to the provider's endpoint
 * (`client.eventsSend`), and the provider's answers and events come back as `events.message`.
 *
 * A client that never subscribes pays nothing: no actor, no listener work beyond a Map lookup.
 */
import { createActor, type Actor, type AnyActorRef } from 'xstate';
import type { ServiceView } from '../../machines/repository.js';
import { ProtocolError } from '../../machines/errors.js';
import type { EventFilter } from '../../machines/events/filter.js';
import {
  clientSubscriptionMachine,
  defaultClientSubscriptionLimits,
  type ClientSubscriptionEnd,
  type ClientSubscriptionLimits,
  type ClientSubscriptionToParentEvent,
} from '../../machines/events/clientSubscription.js';
import type { composeClient } from '../compose.js';
import type { InspectionObserver } from './eventHub.js';
import type { Clock } from '../provider.js';
import type { Logger } from '../service.js';

/** One event as the application receives it. */
export interface DeliveredEvent<T = unknown> {
  readonly data: T;
  /** Its number in the subscription (EVT-6): 1, 2, 3, ...; restarts at 1 when the provider started the subscription afresh. */
  readonly seq: number;
  /** Events lost just before this one (the provider dropped them, EVT-11): a gap in seq. */
  readonly lost: number;
}

export type EventHandler<T = unknown> = (data: T, event: DeliveredEvent<T>) => void;

export interface SubscribeOptions {
  /** EVT-7: `{ "path.to.member": value | [values] }`; only matching events are sent. */
  readonly filter?: EventFilter;
  /** EVT-8, EVT-10. @default 'at-most-once' */
  readonly delivery?: 'at-most-once' | 'at-least-once';
  /** EVT-11: what the provider does when this subscription's queue is full. @default 'drop-oldest' */
  readonly overflow?: 'drop-oldest' | 'close';
  /** Chosen by the client, unique per client. @default a fresh id */
  readonly subscriptionId?: string;
  /** How long to wait for a provider of the service to be discovered. @default 10_000 */
  readonly timeoutMs?: number;
}

/** How a subscription ended (never rejects). */
export type SubscriptionEnd = ClientSubscriptionEnd;

export interface Subscription<T = unknown> extends AsyncIterable<DeliveredEvent<T>> {
  readonly subscriptionId: string;
  /** Resolves when the provider confirmed it (Subscribed); rejects with a ProtocolError when refused or unreachable. */
  readonly opened: Promise<{ readonly resumed: boolean }>;
  /** Resolves once, when it ended, with why. */
  readonly ended: Promise<SubscriptionEnd>;
  /** Events lost so far (gaps in seq, EVT-11). */
  readonly lost: number;
  /** EVT-12: ends it; resolves when the provider confirmed (or the wait gave up). */
  unsubscribe(): Promise<SubscriptionEnd>;
}

export interface ClientEventsOptions {
  readonly clientId: string;
  readonly clock?: Clock | undefined;
  readonly limits?: Partial<ClientSubscriptionLimits> | undefined;
  readonly newId: () => string;
  readonly log: Logger;
  /** Waits for a provider of the service (client.waitFor). */
  readonly waitFor: (serviceName: string, timeoutMs: number) => Promise<ServiceView>;
  /** The instances known now. */
  readonly services: () => readonly ServiceView[];
  /** The client's inspection observer: each subscription is shown to it too (machine id `clientSubscription`). */
  readonly inspect?: InspectionObserver | undefined;
}

type ClientActor = Actor<ReturnType<typeof composeClient>>;

/** Events the async iterator of a subscription holds for a slow reader; beyond, the oldest are dropped and counted as lost. */
const ITERATOR_BUFFER_MAX = 1_024;

interface Running {
  readonly endpoint: string;
  readonly actor: AnyActorRef;
}

/** EVT-1: the instance to subscribe at: one that announces events and this one, else why not. */
function instanceFor(services: readonly ServiceView[], serviceName: string, event: string): ServiceView | ProtocolError {
  const instances = services.filter((service) => service.serviceName === serviceName);
  const speaking = instances.filter((service) => service.features?.includes('events') === true);
  const publishing = speaking.find((service) => service.events?.some((advertised) => advertised.key === event) === true);
  if (publishing !== undefined) return publishing;
  if (speaking.length === 0) return new ProtocolError('UNKNOWN_EVENT', `no provider of ${serviceName} here announces events`);
  return new ProtocolError('UNKNOWN_EVENT', `${serviceName} publishes no event "${event}" (it publishes: ${[...new Set(speaking.flatMap((service) => service.events?.map((e) => e.key) ?? []))].join(', ')})`);
}

/** The client's subscriptions, wired to its actor. */
export function clientEvents(actor: ClientActor, options: ClientEventsOptions) {
  const limits: ClientSubscriptionLimits = { ...defaultClientSubscriptionLimits, ...options.limits };
  const running = new Map<string, Running>();
  const openEndpoints = new Set<string>();
  const each = (endpoint: string, event: { type: 'connection.up' } | { type: 'connection.down' } | { type: 'connection.closed' }) => {
    for (const subscription of running.values()) if (subscription.endpoint === endpoint) subscription.actor.send(event);
  };
  actor.on('connection.opened', ({ endpoint }) => {
    openEndpoints.add(endpoint);
    each(endpoint, { type: 'connection.up' });
  });
  actor.on('connection.down', ({ endpoint }) => {
    openEndpoints.delete(endpoint);
    each(endpoint, { type: 'connection.down' });
  });
  actor.on('connection.closed', ({ endpoint }) => {
    openEndpoints.delete(endpoint);
    each(endpoint, { type: 'connection.closed' });
  });
  actor.on('events.message', ({ endpoint, message }) => {
    const subscription = running.get(message.payload.subscriptionId ?? '');
    // EVT-2: only what the subscription's own provider says about it.
    if (subscription === undefined || subscription.endpoint !== endpoint) return;
    switch (message.type) {
      case 'Subscribed':
        subscription.actor.send({ type: 'provider.subscribed', resumed: message.payload.resumed });
        return;
      case 'Event':
        subscription.actor.send({ type: 'provider.event', seq: message.payload.seq, data: message.payload.data });
        return;
      case 'SubscriptionEnded':
        subscription.actor.send({ type: 'provider.ended', reason: message.payload.reason, message: message.payload.message });
        return;
      case 'Error':
        subscription.actor.send({ type: 'provider.error', code: message.payload.code, message: message.payload.message });
    }
  });

  function subscribe<T>(serviceName: string, event: string, handler: EventHandler<T> | undefined, subscribeOptions: SubscribeOptions = {}): Subscription<T> {
    const subscriptionId = subscribeOptions.subscriptionId ?? `sub-${options.newId()}`;
    let lost = 0;
    let settle: (end: SubscriptionEnd) => void = () => {};
    const ended = new Promise<SubscriptionEnd>((resolve) => (settle = resolve));
    let confirm: (value: { resumed: boolean }) => void = () => {};
    let refuse: (error: ProtocolError) => void = () => {};
    const opened = new Promise<{ resumed: boolean }>((resolve, reject) => {
      confirm = resolve;
      refuse = reject;
    });
    opened.catch(() => {});
    // The async iterator's side: events waiting for the reader, and the reader waiting for events.
    const waiting: DeliveredEvent<T>[] = [];
    let reader: ((result: IteratorResult<DeliveredEvent<T>>) => void) | undefined;
    let done = false;
    const deliver = (delivered: DeliveredEvent<T>) => {
      if (handler !== undefined) {
        try {
          handler(delivered.data, delivered);
        } catch (error) {
          options.log('warn', `the handler of subscription ${subscriptionId} (${serviceName}.${event}) threw`, { error });
        }
        return;
      }
      if (reader !== undefined) {
        const read = reader;
        reader = undefined;
        read({ value: delivered, done: false });
        return;
      }
      waiting.push(delivered);
      if (waiting.length > ITERATOR_BUFFER_MAX) {
        waiting.shift();
        lost++;
      }
    };
    const finish = (end: SubscriptionEnd) => {
      running.delete(subscriptionId);
      done = true;
      if (end.kind === 'failed') refuse(new ProtocolError(end.code as never, end.message));
      reader?.({ value: undefined, done: true });
      reader = undefined;
      settle(end);
    };
    const onMachine = (message: ClientSubscriptionToParentEvent) => {
      switch (message.type) {
        case 'subscription.send': {
          const target = running.get(subscriptionId);
          if (target !== undefined) actor.send({ type: 'client.eventsSend', endpoint: target.endpoint, draft: message.draft });
          return;
        }
        case 'subscription.opened':
          confirm({ resumed: message.resumed });
          return;
        case 'subscription.delivered':
          lost += message.lost;
          deliver({ data: message.data as T, seq: message.seq, lost: message.lost });
          return;
        case 'subscription.settled':
          finish(message.end);
      }
    };
    const parentRef = { id: `events:${subscriptionId}`, send: onMachine, _send: onMachine } as unknown as AnyActorRef;

    const start = (service: ServiceView) => {
      if (done) return;
      const connected = openEndpoints.has(service.endpoint);
      const machine = createActor(clientSubscriptionMachine, {
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
        input: {
          subscriptionId,
          clientId: options.clientId,
          serviceName,
          event,
          filter: subscribeOptions.filter,
          delivery: subscribeOptions.delivery === 'at-least-once' ? 'atLeastOnce' : 'atMostOnce',
          overflow: subscribeOptions.overflow === 'close' ? 'close' : 'dropOldest',
          limits,
          connected,
          parentRef,
        },
      });
      running.set(subscriptionId, { endpoint: service.endpoint, actor: machine });
      machine.start();
      if (!connected) actor.send({ type: 'client.eventsConnect', service });
    };
    const fail = (error: ProtocolError) => finish({ kind: 'failed', code: error.code, message: error.message });
    if (running.has(subscriptionId)) {
      fail(new ProtocolError('INVALID_MESSAGE', `subscription ${subscriptionId} already exists on this client`));
    } else {
      void options.waitFor(serviceName, subscribeOptions.timeoutMs ?? 10_000).then(
        () => {
          const found = instanceFor(options.services(), serviceName, event);
          if (found instanceof ProtocolError) fail(found);
          else start(found);
        },
        (error: unknown) => fail(error instanceof ProtocolError ? error : new ProtocolError('SERVICE_UNAVAILABLE', String(error))),
      );
    }

    const unsubscribe = () => {
      const target = running.get(subscriptionId);
      if (target !== undefined) target.actor.send({ type: 'subscription.unsubscribe' });
      else if (!done) finish({ kind: 'unsubscribed' });
      return ended;
    };

    return {
      subscriptionId,
      opened,
      ended,
      get lost() {
        return lost;
      },
      unsubscribe,
      [Symbol.asyncIterator]: () => ({
        next: () => {
          const next = waiting.shift();
          if (next !== undefined) return Promise.resolve({ value: next, done: false });
          if (done) return Promise.resolve({ value: undefined, done: true });
          return new Promise<IteratorResult<DeliveredEvent<T>>>((resolve) => (reader = resolve));
        },
        // Leaving a for-await loop ends the subscription.
        return: () => {
          void unsubscribe();
          return Promise.resolve({ value: undefined, done: true });
        },
      }),
    };
  }

  return {
    subscribe,
    /** How many subscriptions are running. */
    get count() {
      return running.size;
    },
  };
}
