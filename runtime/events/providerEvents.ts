/**
 * A provider's events, wired (EVT-1..EVT-15): the event hub (runtime/events/eventHub.ts) between
 * the provider's actor and its services.
 *
 * - In: the provider machine emits `events.request` for each Subscribe, Unsubscribe and EventAck
 *   of a session that may act for its clientId (machines/provider.ts, CONN-9, SEC-10).
 * - Out: what the hub answers or delivers goes back as `provider.deliverEvents`, which the
 *   provider routes to the client's current session, through that session's normal write path.
 * - Sessions: when the last session of a client ends, its subscriptions hear it (EVT-10: the
 *   at-least-once ones linger, the others end).
 * - Congestion (EVT-8): the provider emits `session.sendMark` when a session's socket rises above
 *   its send mark (SEC-13's first bound) and when it falls back below. A client whose current
 *   session (the one its events go to) is above has its subscriptions held back (`congested`):
 *   events wait in their bounded queues, where the overflow policy counts what it drops, instead
 *   of in the socket, where SEC-13 would end the connection and every task of the client.
 *
 * A provider whose services declare no events gets no hub at all: its sessions pay nothing, and
 * an events message gets UNKNOWN_EVENT (the provider does not announce "events", EVT-1).
 */
import type { Actor } from 'xstate';
import type { ProviderEmitted } from '../../machines/provider.js';
import { replyTargetOf } from '../../machines/providerClients.js';
import type { composeProvider } from '../compose.js';
import type { ProviderDraft } from '../../machines/messages.js';
import { authorize, type Acl } from '../acl.js';
import type { Clock } from '../provider.js';
import { eventsOf, type Logger, type ServiceDefinition } from '../service.js';
import { EventHub, poolRunner, type InspectionObserver, type EventDefinition, type EventHubDraft, type EventLimits, type EventTarget } from './eventHub.js';

/** The ServiceDescriptor's `events` field for a service (EVT-1): absent when it publishes none. */
export function eventsField(service: ServiceDefinition): { events?: NonNullable<ReturnType<typeof eventsOf>> } {
  const events = eventsOf(service);
  return events === undefined ? {} : { events };
}

/** Who a publication is for (EVT-6): every subscriber (default), one client, or a group. */
export type PublishTarget = string | { readonly clientId: string } | { readonly group: string };

export interface PublishOptions {
  readonly to?: PublishTarget;
}

export interface ProviderEventsOptions {
  readonly clock?: Clock | undefined;
  readonly limits?: Partial<EventLimits> | undefined;
  readonly acl?: Acl | undefined;
  readonly log: Logger;
  /** The provider's inspection observer: subscriptions are shown to it too (machine id `providerSubscription`). */
  readonly inspect?: InspectionObserver | undefined;
}

/** The provider's side of events, as the provider's API uses it. */
export interface ProviderEvents {
  readonly hub: EventHub;
  publish(serviceName: string, event: string, data: unknown, options?: PublishOptions): number;
  /** EVT-15: every subscription ends with SubscriptionEnded `stopping`, before the sessions close. */
  stop(): void;
}

/** The provider's root actor. */
type ActorLike = Actor<ReturnType<typeof composeProvider>>;

function definitionsOf(services: readonly ServiceDefinition[]): Map<string, Map<string, EventDefinition>> {
  const map = new Map<string, Map<string, EventDefinition>>();
  for (const service of services) {
    const events = Object.entries(service.events ?? {});
    if (events.length === 0) continue;
    map.set(service.name, new Map(events.map(([name, event]) => [name, { data: event.schema, description: event.description }])));
  }
  return map;
}

const targetOf = (to: PublishTarget | undefined): EventTarget =>
  to === undefined ? { all: true } : typeof to === 'string' ? { clientId: to } : to;

/** Wires events into a provider's actor; undefined when no service declares any. */
export function attachProviderEvents(actor: ActorLike, services: readonly ServiceDefinition[], options: ProviderEventsOptions): ProviderEvents | undefined {
  const definitions = definitionsOf(services);
  if (definitions.size === 0) return undefined;
  const { acl } = options;
  // What the hub delivers during one call (a publication reaches many clients) goes to the
  // provider as one event; what it delivers on its own (a timer, an ack) goes at once.
  let batch: { clientId: string; draft: ProviderDraft }[] | undefined;
  const deliver = (clientId: string, draft: EventHubDraft) => {
    if (batch !== undefined) batch.push({ clientId, draft: draft as ProviderDraft });
    else actor.send({ type: 'provider.deliverEvents', deliveries: [{ clientId, draft: draft as ProviderDraft }] });
  };
  const batched = <T>(run: () => T): T => {
    if (batch !== undefined) return run();
    batch = [];
    try {
      return run();
    } finally {
      const deliveries = batch;
      batch = undefined;
      if (deliveries.length > 0) actor.send({ type: 'provider.deliverEvents', deliveries });
    }
  };
  // Identity of the session a Subscribe came on, read by `authorize` (set for the call only).
  let asking: Extract<ProviderEmitted, { type: 'events.request' }>['identity'];
  const hub = new EventHub({
    services: definitions,
    deliver,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    runner: poolRunner(options.inspect),
    ...(acl === undefined
      ? {}
      : {
          // EVT-4: a Subscribe is authorised as (identity, serviceName, "event:" + event) by the ACL.
          authorize: (clientId: string, serviceName: string, event: string) =>
            authorize(acl, { principal: asking?.principal, groups: asking?.groups, clientId, serviceName, operation: `event:${event}` }).allowed,
        }),
  });
  actor.on('events.request', (request) => {
    const { clientId, message } = request;
    switch (message.type) {
      case 'Subscribe':
        asking = request.identity;
        try {
          hub.subscribe(clientId, message);
        } finally {
          asking = undefined;
        }
        return;
      case 'Unsubscribe':
        hub.unsubscribe(clientId, message.payload.subscriptionId);
        return;
      case 'EventAck':
        hub.ack(clientId, message.payload.subscriptionId, message.payload.seq);
    }
  });
  // EVT-8: the sessions above their send mark; a client's events are held while its current one is.
  const aboveMark = new Set<string>();
  // The session a client's events go to (the provider's reply target, EVT-2).
  const currentSessionOf = (clientId: string) => replyTargetOf(actor.getSnapshot().context, clientId);
  const clientOf = (connectionId: string) => actor.getSnapshot().context.sessions.get(connectionId)?.clientId;
  const reviewCongestion = (clientId: string) => {
    const current = currentSessionOf(clientId);
    if (current !== undefined && aboveMark.has(current)) hub.congested(clientId);
    else hub.writable(clientId);
  };
  actor.on('session.sendMark', ({ connectionId, above }) => {
    if (above) aboveMark.add(connectionId);
    else aboveMark.delete(connectionId);
    const clientId = clientOf(connectionId);
    if (clientId !== undefined) reviewCongestion(clientId);
  });
  // A newly bound session becomes its client's current one.
  actor.on('session.bound', ({ clientId }) => reviewCongestion(clientId));
  actor.on('session.ended', (ended) => {
    aboveMark.delete(ended.connectionId);
    if (ended.clientId === undefined) return;
    // A client that reconnected before its old session was seen to end keeps its subscriptions flowing.
    if ((actor.getSnapshot().context.clients.get(ended.clientId)?.length ?? 0) === 0) hub.sessionEnded(ended.clientId);
    reviewCongestion(ended.clientId);
  });
  return {
    hub,
    publish: (serviceName, event, data, publishOptions = {}) => batched(() => hub.publish(serviceName, event, data, targetOf(publishOptions.to))),
    stop: () => batched(() => hub.stop()),
  };
}
