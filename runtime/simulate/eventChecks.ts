/**
 * The checker's event invariants (EVT-6, EVT-7, EVT-10, EVT-11), from what the application of
 * each client was handed, what each provider published, and the lives of the providers'
 * subscriptions (created, dropping, ended: seen by inspection). The checker works out on its own
 * which publications a subscription had to get: those its provider incarnation made while the
 * subscription lived there, whose target includes the client (everyone, its clientId, or the
 * group of even clients) and whose kind its filter selects.
 *
 * - `event-once` (EVT-10): no publication reaches one subscription's application twice (a
 *   replay after a reconnect is dropped by seq).
 * - `event-order` (EVT-6): between two Subscribed answers that start the numbering afresh
 *   (`resumed` false), seq and publication order only go up.
 * - `event-matches` (EVT-6, EVT-7): nothing the filter or the target excludes.
 * - `event-not-lost` (EVT-10, EVT-11), at-least-once only: of the publications a provider
 *   subscription had to queue, those missing before the last one delivered must be counted as
 *   dropped by the overflow policy; those missing after it too, unless the subscription ended
 *   with a reason (expired linger, overflow close, unsubscribed, stopping), its provider or
 *   client went down, or the client's subscription ended (a coded failure, unsubscribed).
 */
import type { Context } from './checker.js';
import type { Observation } from './history.js';
import { EVEN_GROUP, evenClients, type PlannedSubscription } from './plan.js';

type Published = Extract<Observation, { type: 'published' }> & { readonly index: number };
type Delivered = Extract<Observation, { type: 'event' }> & { readonly index: number };

interface Life {
  readonly provider: string;
  readonly incarnation: number;
  readonly clientId: string;
  readonly subscriptionId: string;
  readonly createdAt: number;
  endedAt: number;
  reason: string | undefined;
  dropped: number;
}

const keyOf = (clientId: string, subscriptionId: string) => `${clientId}\u0000${subscriptionId}`;

export function checkEvents(context: Context): void {
  const { history, plan } = context;
  if (plan.subscriptions.length === 0) return;
  const specs = new Map<string, PlannedSubscription>(plan.subscriptions.map((s) => [`${s.client}\u0000${s.subscriptionId}`, s]));
  const even = evenClients(plan);
  const published = new Map<string, Published>();
  const byIncarnation = new Map<string, Published[]>();
  const delivered = new Map<string, Delivered[]>();
  const lives: Life[] = [];
  const open = new Map<string, Life>();
  /** When each provider or client incarnation went down (history index). */
  const downAt = new Map<string, number>();
  const clientEnded = new Map<string, number>();
  const epochStarts = new Map<string, number[]>();
  const participantOf = new Map<string, string>();
  history.forEach((observation, index) => {
    switch (observation.type) {
      case 'published': {
        const entry = { ...observation, index };
        published.set(observation.id, entry);
        const incarnation = `${observation.participant}#${observation.incarnation}`;
        byIncarnation.set(incarnation, [...(byIncarnation.get(incarnation) ?? []), entry]);
        return;
      }
      case 'event': {
        const key = keyOf(observation.clientId, observation.subscriptionId);
        delivered.set(key, [...(delivered.get(key) ?? []), { ...observation, index }]);
        participantOf.set(observation.clientId, observation.participant);
        return;
      }
      case 'subscribing':
        participantOf.set(observation.clientId, observation.participant);
        return;
      case 'sub.opened':
        if (!observation.resumed) {
          const key = keyOf(observation.clientId, observation.subscriptionId);
          epochStarts.set(key, [...(epochStarts.get(key) ?? []), index]);
        }
        return;
      case 'sub.ended':
        clientEnded.set(keyOf(observation.clientId, observation.subscriptionId), index);
        return;
      case 'down':
        downAt.set(`${observation.participant}#${observation.incarnation}`, index);
        return;
      case 'psub': {
        const lifeKey = `${observation.participant}#${observation.incarnation}\u0000${keyOf(observation.clientId, observation.subscriptionId)}`;
        if (observation.change === 'created') {
          const life: Life = {
            provider: observation.participant,
            incarnation: observation.incarnation,
            clientId: observation.clientId,
            subscriptionId: observation.subscriptionId,
            createdAt: index,
            endedAt: Number.POSITIVE_INFINITY,
            reason: undefined,
            dropped: 0,
          };
          lives.push(life);
          open.set(lifeKey, life);
          return;
        }
        const life = open.get(lifeKey);
        if (life === undefined) return;
        life.dropped = observation.dropped;
        if (observation.change === 'ended') {
          life.endedAt = index;
          life.reason = observation.reason ?? '';
          open.delete(lifeKey);
        }
        return;
      }
      default:
    }
  });

  const specOf = (clientId: string, subscriptionId: string): PlannedSubscription | undefined => {
    const participant = participantOf.get(clientId);
    return participant === undefined ? undefined : specs.get(`${participant}\u0000${subscriptionId}`);
  };
  const selects = (spec: PlannedSubscription, clientId: string, publication: Published): boolean => {
    if (publication.service !== spec.spec.service || publication.event !== spec.spec.event) return false;
    const { target } = publication;
    if ('clientId' in target && target.clientId !== clientId) return false;
    if ('group' in target && !(target.group === EVEN_GROUP && even.has(spec.client))) return false;
    return spec.spec.kinds === undefined || (spec.spec.kinds as readonly string[]).includes(publication.kind);
  };

  // ---- event-once, event-order, event-matches -------------------------------------------------
  for (const [key, events] of delivered) {
    const [clientId, subscriptionId] = key.split('\u0000') as [string, string];
    const spec = specOf(clientId, subscriptionId);
    const where = { participant: events[0]?.participant ?? clientId };
    const seen = new Set<string>();
    const starts = epochStarts.get(key) ?? [];
    let previous: { delivered: Delivered; publication: Published | undefined } | undefined;
    for (const event of events) {
      const publication = published.get(event.id);
      if (seen.has(event.id)) {
        context.add({ invariant: 'event-once', t: event.t, message: `${clientId}'s subscription ${subscriptionId} was handed ${event.id} twice (seq ${event.seq})`, ...where });
      }
      seen.add(event.id);
      if (publication === undefined || spec === undefined || !selects(spec, clientId, publication)) {
        context.add({
          invariant: 'event-matches',
          t: event.t,
          message: `${clientId}'s subscription ${subscriptionId} was handed ${event.id || '(no id)'}, which ${publication === undefined ? 'nobody published' : `its filter or target excludes (kind ${publication.kind}, to ${JSON.stringify(publication.target)})`}`,
          ...where,
        });
      }
      const afresh = previous !== undefined && starts.some((start) => start > previous!.delivered.index && start < event.index);
      if (previous !== undefined && !afresh) {
        const before = previous.publication;
        if (event.seq <= previous.delivered.seq || (before !== undefined && publication !== undefined && publication.index < before.index)) {
          context.add({
            invariant: 'event-order',
            t: event.t,
            message: `${clientId}'s subscription ${subscriptionId} was handed ${event.id} (seq ${event.seq}) after ${previous.delivered.id} (seq ${previous.delivered.seq})`,
            ...where,
          });
        }
      }
      previous = { delivered: event, publication };
    }
  }

  // ---- event-not-lost -------------------------------------------------------------------------
  for (const life of lives) {
    const spec = specOf(life.clientId, life.subscriptionId);
    if (spec === undefined || spec.spec.delivery !== 'at-least-once') continue;
    const providerDown = downAt.get(`${life.provider}#${life.incarnation}`) ?? Number.POSITIVE_INFINITY;
    const end = Math.min(life.endedAt, providerDown);
    const due = (byIncarnation.get(`${life.provider}#${life.incarnation}`) ?? []).filter(
      (publication) => publication.index > life.createdAt && publication.index < end && selects(spec, life.clientId, publication),
    );
    if (due.length === 0) continue;
    const got = new Set((delivered.get(keyOf(life.clientId, life.subscriptionId)) ?? []).map((event) => event.id));
    let last = -1;
    due.forEach((publication, position) => {
      if (got.has(publication.id)) last = position;
    });
    const missingBefore = due.slice(0, last + 1).filter((publication) => !got.has(publication.id));
    const missingAfter = due.slice(last + 1);
    const where = { participant: spec.client };
    const name = `${life.clientId}'s at-least-once subscription ${life.subscriptionId} on ${life.provider}#${life.incarnation}`;
    if (missingBefore.length > life.dropped) {
      context.add({
        invariant: 'event-not-lost',
        t: context.plan.endMs,
        message: `${name} never got ${missingBefore.length} event(s) before its last one (${ids(missingBefore)}); the overflow policy dropped ${life.dropped}`,
        ...where,
      });
      continue;
    }
    const clientDown = downAt.get(`${spec.client}#${incarnationOf(life.clientId)}`) ?? Number.POSITIVE_INFINITY;
    const ended = life.endedAt !== Number.POSITIVE_INFINITY || providerDown !== Number.POSITIVE_INFINITY || clientDown !== Number.POSITIVE_INFINITY || clientEnded.has(keyOf(life.clientId, life.subscriptionId));
    const unexplained = missingAfter.length - (life.dropped - missingBefore.length);
    if (!ended && unexplained > 0) {
      context.add({
        invariant: 'event-not-lost',
        t: context.plan.endMs,
        message: `${name} never got its last ${missingAfter.length} event(s) (${ids(missingAfter)}), though it lived to the end; the overflow policy dropped ${life.dropped}`,
        ...where,
      });
    }
  }
}

/** A clientId's incarnation: `name` is the first, `name#n` the n-th. */
function incarnationOf(clientId: string): number {
  const at = clientId.lastIndexOf('#');
  return at < 0 ? 1 : Number(clientId.slice(at + 1));
}

function ids(publications: readonly Published[]): string {
  const shown = publications.slice(0, 5).map((publication) => publication.id);
  return publications.length > 5 ? `${shown.join(', ')}, ...` : shown.join(', ');
}

/** What events did in a run: publications, events handed to applications, events the overflow policy dropped (EVT-11), provider subscriptions ended by reason. */
export interface EventTally {
  readonly published: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly ended: Readonly<Record<string, number>>;
}

export function eventTally(history: readonly Observation[]): EventTally {
  let published = 0;
  let delivered = 0;
  let dropped = 0;
  const ended: Record<string, number> = {};
  for (const observation of history) {
    if (observation.type === 'published') published++;
    else if (observation.type === 'event') delivered++;
    else if (observation.type === 'psub' && observation.change === 'ended') {
      const reason = observation.reason ?? '';
      ended[reason] = (ended[reason] ?? 0) + 1;
      dropped += observation.dropped;
    }
  }
  return { published, delivered, dropped, ended };
}
