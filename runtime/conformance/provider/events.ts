/**
 * Events (EVT-1..EVT-15), level full. A provider that announces `"events"` in its advertisements
 * is judged on what a client can see without the provider's help: Subscribe answered Subscribed
 * (citing it) for an advertised event, UNKNOWN_EVENT for another, Unsubscribe answered
 * SubscriptionEnded (also for an unknown subscription), an EventAck never answered, another
 * clientId refused. A provider that does not announce it must never send an events message: a
 * Subscribe gets an Error and nothing else. (That each published event arrives in seq order needs
 * the provider to publish: the specs check it, the suite cannot.)
 */
import { v4 as uuid } from 'uuid';
import { fail, mismatch, notApplicable, pass, type Check } from '../types.js';
import { payloadField, typeOf, type Frame } from './connection.js';
import { relatesTo, repliesOf, type ProviderProbe } from './probe.js';
import { describe } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

const EVENTS_MESSAGES = new Set(['Subscribed', 'Event', 'SubscriptionEnded']);

interface Announced {
  readonly serviceName: string;
  /** The first event the service advertises, if it announces events. */
  readonly event: string | undefined;
  readonly announces: boolean;
}

/** What the provider's advertisements announce (EVT-1): the first service with events, else the first service. */
async function announced(probe: ProviderProbe): Promise<Announced | undefined> {
  const advertisements = repliesOf(await probe.discover()).map((reply) => reply.json as Record<string, unknown>);
  const withEvents = advertisements.find((advertisement) => Array.isArray(advertisement.features) && advertisement.features.includes('events'));
  const chosen = withEvents ?? advertisements[0];
  if (chosen === undefined) return undefined;
  const events = Array.isArray(chosen.events) ? (chosen.events as { key?: unknown }[]) : [];
  const event = events.map((entry) => entry.key).find((key): key is string => typeof key === 'string');
  return { serviceName: String(chosen.serviceName), event, announces: withEvents !== undefined };
}

const subscribe = (probe: ProviderProbe, serviceName: string, event: string, subscriptionId = `conformance-${uuid()}`, clientId = probe.clientId) => ({
  type: 'Subscribe' as const,
  payload: { subscriptionId, clientId, serviceName, event, delivery: 'atMostOnce' as const, overflow: 'dropOldest' as const },
});

const about = (subscriptionId: string) => (frame: Frame) => payloadField(frame, 'subscriptionId') === subscriptionId;

/** Runs `judge` when the provider announces events with at least one event; else not applicable. */
function whenAnnounced(judge: (probe: ProviderProbe, found: Announced & { event: string }) => Promise<ReturnType<typeof pass>>) {
  return async (probe: ProviderProbe) => {
    const found = await announced(probe);
    if (found === undefined) return notApplicable('no advertisement was received');
    if (!found.announces) return notApplicable('the provider does not announce "events" in its features');
    if (found.event === undefined) return fail(`${found.serviceName} announces "events" but its advertisement lists no event (EVT-1: each service's events in its events field)`);
    return judge(probe, { ...found, event: found.event });
  };
}

const subscribed: ProviderCheck = {
  name: 'provider.events.subscribe',
  requirements: ['EVT-1', 'EVT-4', 'EVT-12'],
  level: 'full',
  title: 'Subscribe to an advertised event is answered Subscribed citing it; Unsubscribe with SubscriptionEnded unsubscribed',
  timeoutMs: 15_000,
  run: whenAnnounced(async (probe, { serviceName, event }) => {
    const connection = await probe.connect();
    const sent = connection.send(subscribe(probe, serviceName, event));
    const { subscriptionId } = sent.payload as { subscriptionId: string };
    const answer = await connection.next(about(subscriptionId), probe.timing.answerMs);
    if (answer === undefined || typeOf(answer) !== 'Subscribed') {
      return fail(mismatch({ sent: `Subscribe ${serviceName}.${event}`, expected: 'Subscribed', observed: describe(answer) }));
    }
    if (payloadField(answer, 'acknowledgmentId') !== sent.messageId) return fail(`Subscribed cites ${JSON.stringify(payloadField(answer, 'acknowledgmentId'))}, not the Subscribe's messageId`);
    if (payloadField(answer, 'resumed') !== false) return fail(`a new subscription was answered resumed ${JSON.stringify(payloadField(answer, 'resumed'))} (EVT-10: false)`);
    const from = connection.frames.length;
    connection.send({ type: 'Unsubscribe', payload: { subscriptionId, clientId: probe.clientId } });
    const ended = await connection.next((frame) => about(subscriptionId)(frame) && typeOf(frame) === 'SubscriptionEnded', probe.timing.answerMs, from);
    if (ended === undefined) return fail(mismatch({ sent: 'Unsubscribe', expected: 'SubscriptionEnded unsubscribed', observed: describe(connection.frames[from]) }));
    if (payloadField(ended, 'reason') !== 'unsubscribed') return fail(`SubscriptionEnded reason ${JSON.stringify(payloadField(ended, 'reason'))}, expected unsubscribed`);
    return pass(`Subscribed, then SubscriptionEnded unsubscribed for ${serviceName}.${event}`);
  }),
};

const unknownEvent: ProviderCheck = {
  name: 'provider.events.unknownEvent',
  requirements: ['EVT-4', 'EVT-14'],
  level: 'full',
  title: 'Subscribe to an event the service does not publish gets Error UNKNOWN_EVENT citing it and naming the subscription',
  timeoutMs: 15_000,
  run: whenAnnounced(async (probe, { serviceName }) => {
    const connection = await probe.connect();
    const sent = connection.send(subscribe(probe, serviceName, `noSuchEvent${uuid().slice(0, 8)}`));
    const { subscriptionId } = sent.payload as { subscriptionId: string };
    const answer = await connection.next((frame) => about(subscriptionId)(frame) || relatesTo(frame, sent.messageId), probe.timing.answerMs);
    const problems: string[] = [];
    if (answer === undefined || typeOf(answer) !== 'Error' || payloadField(answer, 'code') !== 'UNKNOWN_EVENT') {
      problems.push(mismatch({ sent: 'Subscribe to an event nobody publishes', expected: 'Error UNKNOWN_EVENT', observed: describe(answer) }));
    } else {
      if (!relatesTo(answer, sent.messageId)) problems.push('the Error does not cite the Subscribe (relatesTo)');
      if (payloadField(answer, 'subscriptionId') !== subscriptionId) problems.push('the Error does not name the subscription (subscriptionId)');
    }
    await connection.quiet(probe.timing.settleMs);
    if (connection.closeInfo !== undefined) problems.push(`the connection was closed (${connection.closeInfo.code}); EVT-14: it must stay open`);
    return problems.length === 0 ? pass(describe(answer)) : fail(problems.join('; '));
  }),
};

const idempotent: ProviderCheck = {
  name: 'provider.events.unknownSubscription',
  requirements: ['EVT-9', 'EVT-12', 'EVT-14'],
  level: 'full',
  title: 'Unsubscribe of an unknown subscription is answered SubscriptionEnded; an EventAck for one is never answered',
  timeoutMs: 15_000,
  run: whenAnnounced(async (probe) => {
    const connection = await probe.connect();
    const acked = `conformance-${uuid()}`;
    connection.send({ type: 'EventAck', payload: { subscriptionId: acked, clientId: probe.clientId, seq: 3 } });
    const unknown = `conformance-${uuid()}`;
    connection.send({ type: 'Unsubscribe', payload: { subscriptionId: unknown, clientId: probe.clientId } });
    const ended = await connection.next(about(unknown), probe.timing.answerMs);
    await connection.quiet(probe.timing.settleMs);
    const problems: string[] = [];
    if (ended === undefined || typeOf(ended) !== 'SubscriptionEnded' || payloadField(ended, 'reason') !== 'unsubscribed') {
      problems.push(mismatch({ sent: 'Unsubscribe of a subscription never made', expected: 'SubscriptionEnded unsubscribed (EVT-12: idempotent)', observed: describe(ended) }));
    }
    const answeredAck = connection.frames.find(about(acked));
    if (answeredAck !== undefined) problems.push(`an EventAck was answered: ${describe(answeredAck)} (EVT-9: never answered)`);
    if (connection.closeInfo !== undefined) problems.push(`the connection was closed (${connection.closeInfo.code})`);
    return problems.length === 0 ? pass(`${describe(ended)}; the EventAck went unanswered`) : fail(problems.join('; '));
  }),
};

const foreign: ProviderCheck = {
  name: 'provider.events.otherClient',
  requirements: ['EVT-2', 'CONN-9'],
  level: 'full',
  title: 'a Subscribe naming another clientId than the session is bound to is refused FORBIDDEN, and nothing is subscribed',
  timeoutMs: 15_000,
  run: whenAnnounced(async (probe, { serviceName, event }) => {
    const connection = await probe.connect();
    const own = connection.send(subscribe(probe, serviceName, event));
    const bound = await connection.next(about((own.payload as { subscriptionId: string }).subscriptionId), probe.timing.answerMs);
    if (bound === undefined || typeOf(bound) !== 'Subscribed') return fail(`the session could not subscribe for its own clientId first: ${describe(bound)}`);
    const other = connection.send(subscribe(probe, serviceName, event, undefined, `conformance-other-${uuid()}`));
    const { subscriptionId } = other.payload as { subscriptionId: string };
    const answer = await connection.next((frame) => about(subscriptionId)(frame) || relatesTo(frame, other.messageId), probe.timing.answerMs);
    if (answer === undefined || typeOf(answer) !== 'Error' || payloadField(answer, 'code') !== 'FORBIDDEN') {
      return fail(mismatch({ sent: 'Subscribe for another clientId on a bound session', expected: 'Error FORBIDDEN', observed: describe(answer) }));
    }
    return pass(describe(answer));
  }),
};

const unannounced: ProviderCheck = {
  name: 'provider.events.unannounced',
  requirements: ['EVT-1', 'EVT-2'],
  level: 'full',
  title: 'a provider that does not announce "events" answers Subscribe with an Error and never sends an events message',
  timeoutMs: 15_000,
  run: async (probe) => {
    const found = await announced(probe);
    if (found === undefined) return notApplicable('no advertisement was received');
    if (found.announces) return notApplicable('the provider announces "events" (see provider.events.*)');
    const connection = await probe.connect();
    const sent = connection.send(subscribe(probe, found.serviceName, 'anything'));
    const answer = await connection.next((frame) => relatesTo(frame, sent.messageId) || EVENTS_MESSAGES.has(String(typeOf(frame))), probe.timing.answerMs);
    await connection.quiet(probe.timing.settleMs);
    const eventsMessages = connection.frames.filter((frame) => EVENTS_MESSAGES.has(String(typeOf(frame))));
    if (eventsMessages.length > 0) return fail(`sent ${eventsMessages.map(describe).join(', ')} without announcing "events"`);
    if (answer === undefined || typeOf(answer) !== 'Error') return fail(mismatch({ sent: 'Subscribe', expected: 'Error (UNSUPPORTED_MESSAGE)', observed: describe(answer) }));
    return pass(`${describe(answer)}; no events message`);
  },
};

export const eventChecks: readonly ProviderCheck[] = [subscribed, unknownEvent, idempotent, foreign, unannounced];
