/**
 * Events in a simulated run (EVT-4..EVT-13): simulated services declare events and their
 * providers publish the planned ones; clients hold the planned subscriptions through the public
 * API (`client.subscribe`). What is observed, and how:
 *
 * - each publication at the provider, with how many subscriptions the hub queued it for;
 * - each event the client's application is handed (the subscription's handler: seq, the gap
 *   before it, and the publication's id from its data), and how each subscription ended;
 * - Subscribed reaching a client's subscription (`resumed`, EVT-10), and the provider's
 *   subscriptions (created, events dropped by the overflow policy, ended with a reason) through
 *   the `inspect` observer, by machine id (`clientSubscription`, `providerSubscription`), never
 *   by actor internals.
 */
import type { InspectionEvent } from 'xstate';
import * as z from 'zod';
import type { Client } from '../client.js';
import type { Subscription } from '../events/clientEvents.js';
import type { Provider } from '../provider.js';
import type { EventDeclaration } from '../service.js';
import type { ParticipantEnv } from './participants.js';
import type { PlannedPublication, PlannedSubscription } from './plan.js';
import type { SimulatedEvent } from './scenario.js';

/** The data of every simulated event: its publication's id, its number in its stream, and the kind filters select on. */
const eventData = z.object({ id: z.string(), n: z.number().int(), kind: z.string() });

export function simulatedEvents(events: Readonly<Record<string, SimulatedEvent>> | undefined): Record<string, EventDeclaration> | undefined {
  if (events === undefined || Object.keys(events).length === 0) return undefined;
  return Object.fromEntries(Object.keys(events).map((name) => [name, { schema: eventData, description: 'a simulated event' }]));
}

/** A clientId no client has: what the injected bug `loseEventEvery` publishes to, so that no subscription queues the event. */
const NOBODY = '\u0000lost';

/**
 * Publishes one planned event on a running provider and records it. `lose` is the injected bug:
 * the event is recorded as published to its target but queued for nobody, so no seq is spent on
 * it and no drop is counted (a loss no client can see as a gap; only the checker's own
 * accounting finds it).
 */
export function publish(env: ParticipantEnv, provider: Provider, participant: string, incarnation: number, publication: PlannedPublication, lose = false): void {
  const { service, event, id, n, kind, target } = publication;
  const to = lose ? { clientId: NOBODY } : 'all' in target ? undefined : target;
  const queued = provider.publish(service, event, { id, n, kind }, to === undefined ? {} : { to });
  env.record({ t: env.now(), type: 'published', participant, incarnation, id, n, service, event, kind, target, queued });
}

interface InspectedSlot {
  readonly sessionId?: string;
  readonly logic?: { readonly id?: string };
  getSnapshot?(): { context?: Record<string, unknown> };
}

interface SubscriptionSnapshot {
  readonly status?: string;
  readonly machine?: { readonly id?: string };
  readonly context?: { readonly clientId?: string; readonly subscriptionId?: string; readonly buffer?: { readonly dropped?: number }; readonly endReason?: string };
  readonly output?: { readonly reason?: string };
}

/** A provider incarnation's subscriptions as the checker needs them: created, dropping (EVT-11), ended. */
export function providerSubscriptionObserver(env: ParticipantEnv, participant: string, incarnation: number): (inspection: InspectionEvent) => void {
  const seen = new Map<string, { dropped: number; ended: boolean }>();
  return (inspection) => {
    if (inspection.type !== '@xstate.snapshot') return;
    const snapshot = inspection.snapshot as SubscriptionSnapshot;
    const ref = inspection.actorRef as unknown as InspectedSlot;
    if ((ref.logic?.id ?? snapshot.machine?.id) !== 'providerSubscription') return;
    const clientId = snapshot.context?.clientId;
    const subscriptionId = snapshot.context?.subscriptionId;
    if (clientId === undefined || subscriptionId === undefined) return;
    const key = ref.sessionId ?? `${clientId}\u0000${subscriptionId}`;
    const dropped = snapshot.context?.buffer?.dropped ?? 0;
    const where = { t: env.now(), type: 'psub' as const, participant, incarnation, clientId, subscriptionId, dropped };
    let known = seen.get(key);
    if (known === undefined) {
      known = { dropped: 0, ended: false };
      seen.set(key, known);
      env.record({ ...where, change: 'created' });
    }
    if (known.ended) return;
    if (dropped > known.dropped) {
      known.dropped = dropped;
      env.record({ ...where, change: 'dropped' });
    }
    if (snapshot.status === 'done') {
      known.ended = true;
      seen.delete(key);
      env.record({ ...where, change: 'ended', reason: snapshot.output?.reason ?? snapshot.context?.endReason ?? '' });
    }
  };
}

/** A client incarnation's Subscribed answers (EVT-10: `resumed` false starts the numbering afresh). */
export function clientSubscriptionObserver(env: ParticipantEnv, participant: string, clientId: string, alive: () => boolean): (inspection: InspectionEvent) => void {
  return (inspection) => {
    if (inspection.type !== '@xstate.event' || inspection.event.type !== 'provider.subscribed') return;
    const ref = inspection.actorRef as unknown as InspectedSlot;
    const context = ref.getSnapshot?.().context;
    const subscriptionId = context?.subscriptionId;
    if (typeof subscriptionId !== 'string' || !alive()) return;
    env.record({ t: env.now(), type: 'sub.opened', participant, clientId, subscriptionId, resumed: (inspection.event as { resumed?: boolean }).resumed === true });
  };
}

/** A client incarnation's subscriptions: subscribe (once per incarnation) and unsubscribe, recording what its application is handed. */
export function clientSubscriptions(env: ParticipantEnv, client: Client, participant: string, clientId: string, alive: () => boolean) {
  const held = new Map<string, Subscription>();
  return {
    subscribe(planned: PlannedSubscription): void {
      if (!alive() || held.has(planned.subscriptionId)) return;
      const { spec, subscriptionId } = planned;
      env.record({ t: env.now(), type: 'subscribing', participant, clientId, subscriptionId });
      const subscription = client.subscribe(
        spec.service,
        spec.event,
        (data: unknown, delivered) => {
          if (!alive()) return;
          const id = typeof (data as { id?: unknown })?.id === 'string' ? (data as { id: string }).id : '';
          env.record({ t: env.now(), type: 'event', participant, clientId, subscriptionId, seq: delivered.seq, lost: delivered.lost, id });
        },
        {
          subscriptionId,
          ...(spec.delivery === undefined ? {} : { delivery: spec.delivery }),
          ...(spec.overflow === undefined ? {} : { overflow: spec.overflow }),
          ...(spec.kinds === undefined ? {} : { filter: { kind: [...spec.kinds] } }),
        },
      );
      held.set(subscriptionId, subscription);
      void subscription.ended.then((end) => {
        if (!alive()) return;
        const how = end.kind === 'unsubscribed' ? 'unsubscribed' : end.kind === 'ended' ? `ended:${end.reason}` : `failed:${end.code}`;
        env.record({ t: env.now(), type: 'sub.ended', participant, clientId, subscriptionId, how });
      });
    },
    unsubscribe(subscriptionId: string): void {
      if (alive()) void held.get(subscriptionId)?.unsubscribe();
    },
  };
}
