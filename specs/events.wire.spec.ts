/**
 * Events over a real WebSocket, seen from a raw peer (EVT-1..EVT-15): what a provider sends and
 * refuses, byte for byte as a peer built from docs/protocol.md would see it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { CLIENT_PROOF_HEADER, clientProofFor } from '../adapters/ws/options.js';
import { parseAcl } from '../runtime/acl.js';
import type { Provider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { payloadOf, rawSession, type Json, type RawSession } from './support/rawSession.js';
import { news, startLoopbackProvider } from './support/eventFixtures.js';

let sends = 0;
const message = (type: string, payload: Json): Json => ({ type, messageId: `m-${++sends}`, timestamp: new Date().toISOString(), payload });
const subscribe = (clientId: string, subscriptionId: string, extra: Json = {}): Json =>
  message('Subscribe', { subscriptionId, clientId, serviceName: 'News', event: 'headline', ...extra });
const eventsOf = (session: RawSession, subscriptionId: string) =>
  session.frames.filter((frame) => frame.type === 'Event' && payloadOf(frame).subscriptionId === subscriptionId).map((frame) => payloadOf(frame));

describe('events on the wire (EVT-2, EVT-4, EVT-6, EVT-9, EVT-12, EVT-14)', () => {
  let provider: Provider;
  let endpoint: string;
  beforeAll(async () => {
    ({ provider, endpoint } = await startLoopbackProvider());
  });
  afterAll(() => provider.stop());

  it('EVT-4, EVT-6: Subscribed before any Event, seq from 1 in order', async () => {
    const session = await rawSession(endpoint);
    try {
      session.send(subscribe('reader-1', 's1'));
      await session.expectFrame((f) => f.type === 'Subscribed', 'Subscribed');
      for (const title of ['a', 'b', 'c']) provider.publish(news, 'headline', { title, desk: 'world' });
      await session.expectFrame(() => eventsOf(session, 's1').length === 3, 'three events');
      expect(eventsOf(session, 's1').map((event) => [event.seq, (event.data as Json).title])).toEqual([
        [1, 'a'],
        [2, 'b'],
        [3, 'c'],
      ]);
      expect(session.frames.findIndex((f) => f.type === 'Subscribed')).toBeLessThan(session.frames.findIndex((f) => f.type === 'Event'));
    } finally {
      session.close();
    }
  });

  it('EVT-12: Unsubscribe ends it, answered SubscriptionEnded; also for an unknown subscription (idempotent)', async () => {
    const session = await rawSession(endpoint);
    try {
      session.send(subscribe('reader-2', 's2'));
      await session.expectFrame((f) => f.type === 'Subscribed', 'Subscribed');
      session.send(message('Unsubscribe', { subscriptionId: 's2', clientId: 'reader-2' }));
      session.send(message('Unsubscribe', { subscriptionId: 'never-made', clientId: 'reader-2' }));
      await session.expectFrame(() => session.frames.filter((f) => f.type === 'SubscriptionEnded').length === 2, 'two SubscriptionEnded');
      expect(session.frames.filter((f) => f.type === 'SubscriptionEnded').map((f) => payloadOf(f))).toEqual([
        { subscriptionId: 's2', reason: 'unsubscribed' },
        { subscriptionId: 'never-made', reason: 'unsubscribed' },
      ]);
      expect(provider.publish(news, 'headline', { title: 'x', desk: 'y' })).toBe(0);
    } finally {
      session.close();
    }
  });

  it('EVT-4, EVT-14: bad input is answered with its code naming the subscription, and the session lives on', async () => {
    const session = await rawSession(endpoint);
    try {
      session.send(subscribe('reader-3', 'bad-1', { event: 'gossip' }));
      const unknown = await session.expectFrame((f) => f.type === 'Error' && payloadOf(f).subscriptionId === 'bad-1', 'UNKNOWN_EVENT');
      expect(payloadOf(unknown)).toMatchObject({ code: 'UNKNOWN_EVENT', relatesTo: unknown.payload && (payloadOf(unknown).relatesTo as string) });
      // A malformed filter (a five-level path), a wrong delivery word: INVALID_MESSAGE (WIRE-8).
      session.send(subscribe('reader-3', 'bad-2', { filter: { 'a.b.c.d.e': 1 } }));
      session.send(subscribe('reader-3', 'bad-3', { delivery: 'sometimes' }));
      await session.expectFrame(() => session.frames.filter((f) => f.type === 'Error' && payloadOf(f).code === 'INVALID_MESSAGE').length === 2, 'two INVALID_MESSAGE');
      // EVT-9: acks of unknown subscriptions are counted and never answered.
      const before = session.frames.length;
      const unknownBefore = provider.events!.unknown;
      for (let seq = 0; seq < 50; seq++) session.send(message('EventAck', { subscriptionId: 'nobody', clientId: 'reader-3', seq }));
      // EVT-5: the same subscriptionId for another event is refused.
      session.send(subscribe('reader-3', 'good'));
      await session.expectFrame((f) => f.type === 'Subscribed' && payloadOf(f).subscriptionId === 'good', 'Subscribed good');
      session.send(subscribe('reader-3', 'good', { event: 'gossip' }));
      const clash = await session.expectFrame((f) => f.type === 'Error' && payloadOf(f).subscriptionId === 'good', 'the clash');
      expect(payloadOf(clash).code).toBe('INVALID_MESSAGE');
      expect(session.frames.slice(before).filter((f) => f.type !== 'Subscribed' && f.type !== 'Error')).toEqual([]);
      // EVT-9, EVT-14: the 50 acks were ignored, and counted.
      expect(provider.events!.unknown - unknownBefore).toBe(50);
      // The session still works: an event reaches the good subscription.
      provider.publish(news, 'headline', { title: 'still here', desk: 'world' });
      await session.expectFrame((f) => f.type === 'Event' && payloadOf(f).subscriptionId === 'good', 'an event after the bad input');
      expect(session.closed()).toBeUndefined();
    } finally {
      session.close();
    }
  });

  it('EVT-14: fast-check garbage in events messages never crashes the provider or ends the session', async () => {
    const session = await rawSession(endpoint);
    try {
      const garbage = fc.record({
        type: fc.constantFrom('Subscribe', 'Unsubscribe', 'EventAck'),
        messageId: fc.oneof(fc.string({ maxLength: 300 }), fc.integer(), fc.constant(undefined)),
        timestamp: fc.oneof(fc.constant(new Date().toISOString()), fc.string({ maxLength: 20 })),
        payload: fc.oneof(
          fc.dictionary(fc.constantFrom('subscriptionId', 'clientId', 'serviceName', 'event', 'filter', 'delivery', 'overflow', 'resumeAfter', 'seq', '__proto__'), fc.jsonValue({ maxDepth: 3 })),
          fc.jsonValue({ maxDepth: 2 }),
        ),
      });
      fc.assert(
        fc.property(garbage, (frame) => {
          session.send(frame);
        }),
        { numRuns: 300, seed: 15 },
      );
      session.send(subscribe('fuzz-check', 'after-fuzz'));
      await session.expectFrame((f) => f.type === 'Subscribed' && payloadOf(f).subscriptionId === 'after-fuzz', 'Subscribed after the garbage');
      expect(session.closed()).toBeUndefined();
    } finally {
      session.close();
    }
  });

  it("SEC-10, EVT-2 attack: a client cannot subscribe as another clientId, nor receive another client's targeted events", async () => {
    // The victim proves its clientId with its secret (SEC-10), as every switchboard client does.
    const victim = await rawSession(endpoint, { headers: { [CLIENT_PROOF_HEADER]: clientProofFor('victim-secret', endpoint) } });
    const attacker = await rawSession(endpoint, { headers: { [CLIENT_PROOF_HEADER]: clientProofFor('attacker-secret', endpoint) } });
    try {
      victim.send(subscribe('victim', 'v1'));
      await victim.expectFrame((f) => f.type === 'Subscribed', 'the victim subscribed');
      // The attacker's session binds to its own clientId first, then names the victim's.
      attacker.send(subscribe('attacker', 'a1'));
      await attacker.expectFrame((f) => f.type === 'Subscribed', 'the attacker subscribed');
      attacker.send(subscribe('victim', 'v1'));
      attacker.send(message('Unsubscribe', { subscriptionId: 'v1', clientId: 'victim' }));
      attacker.send(message('EventAck', { subscriptionId: 'v1', clientId: 'victim', seq: 5 }));
      await attacker.expectFrame(() => attacker.frames.filter((f) => f.type === 'Error' && payloadOf(f).code === 'FORBIDDEN').length === 3, 'three FORBIDDEN');
      // A fresh session naming the victim's clientId from the start: another client's clientId (SEC-10) is refused too.
      const impostor = await rawSession(endpoint, { headers: { [CLIENT_PROOF_HEADER]: clientProofFor('guessed-secret', endpoint) } });
      try {
        impostor.send(subscribe('victim', 'v9'));
        const refused = await impostor.expectFrame((f) => f.type === 'Error', 'the impostor refused');
        expect(payloadOf(refused)).toMatchObject({ code: 'FORBIDDEN', subscriptionId: 'v9' });
      } finally {
        impostor.close();
      }
      provider.publish(news, 'headline', { title: 'for the victim only', desk: 'x' }, { to: 'victim' });
      await victim.expectFrame((f) => f.type === 'Event', "the victim's event");
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(attacker.frames.filter((f) => f.type === 'Event')).toEqual([]);
      // The victim's subscription was not ended by the attacker's Unsubscribe.
      expect(victim.frames.filter((f) => f.type === 'SubscriptionEnded')).toEqual([]);
    } finally {
      victim.close();
      attacker.close();
    }
  });
});

describe('bounds and overflow (EVT-8, EVT-11) and stopping (EVT-15)', () => {
  let provider: Provider;
  let endpoint: string;
  beforeAll(async () => {
    ({ provider, endpoint } = await startLoopbackProvider({ events: { eventsInFlightMax: 2, eventQueueMax: 3 } }));
  });

  it('EVT-8, EVT-11 dropOldest: at most eventsInFlightMax unacknowledged; the oldest waiting are dropped, seen as a gap', async () => {
    const session = await rawSession(endpoint);
    try {
      session.send(subscribe('slow', 'q1', { delivery: 'atLeastOnce' }));
      await session.expectFrame((f) => f.type === 'Subscribed', 'Subscribed');
      for (let n = 1; n <= 10; n++) provider.publish(news, 'headline', { title: `t${n}`, desk: 'd' }, { to: 'slow' });
      await session.expectFrame(() => eventsOf(session, 'q1').length === 2, 'the window');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(eventsOf(session, 'q1').map((event) => event.seq)).toEqual([1, 2]);
      session.send(message('EventAck', { subscriptionId: 'q1', clientId: 'slow', seq: 2 }));
      await session.expectFrame(() => eventsOf(session, 'q1').length === 4, 'two more after the ack');
      session.send(message('EventAck', { subscriptionId: 'q1', clientId: 'slow', seq: 9 }));
      await session.expectFrame(() => eventsOf(session, 'q1').length === 5, 'the last one');
      // 3..7 were dropped (the queue holds 3): the subscriber sees 8, 9, 10 after 2.
      expect(eventsOf(session, 'q1').map((event) => event.seq)).toEqual([1, 2, 8, 9, 10]);
      expect(session.closed()).toBeUndefined();
    } finally {
      session.close();
    }
  });

  it('EVT-11 close: the overflowing subscription ends with reason overflow; the session and other subscriptions go on', async () => {
    const session = await rawSession(endpoint);
    try {
      session.send(subscribe('strict', 'c1', { delivery: 'atLeastOnce', overflow: 'close' }));
      session.send(subscribe('strict', 'c2', { event: 'headline' }));
      await session.expectFrame(() => session.frames.filter((f) => f.type === 'Subscribed').length === 2, 'both Subscribed');
      for (let n = 1; n <= 6; n++) provider.publish(news, 'headline', { title: `t${n}`, desk: 'd' }, { to: 'strict' });
      const ended = await session.expectFrame((f) => f.type === 'SubscriptionEnded', 'SubscriptionEnded');
      expect(payloadOf(ended)).toEqual({ subscriptionId: 'c1', reason: 'overflow' });
      await session.expectFrame(() => eventsOf(session, 'c2').length === 6, 'all six on the at-most-once one');
      expect(session.closed()).toBeUndefined();
    } finally {
      session.close();
    }
  });

  it('EVT-15: a stopping provider ends every subscription with reason stopping, then closes 1001 "provider stopping" (HOOK-5)', async () => {
    const session = await rawSession(endpoint);
    session.send(subscribe('leaver', 'l1'));
    await session.expectFrame((f) => f.type === 'Subscribed', 'Subscribed');
    await provider.stop();
    const ended = await session.expectFrame((f) => f.type === 'SubscriptionEnded', 'SubscriptionEnded');
    expect(payloadOf(ended)).toEqual({ subscriptionId: 'l1', reason: 'stopping' });
    await session.expectFrame(() => session.closed() !== undefined, 'the close');
    expect(session.closed()).toEqual({ code: 1001, reason: 'provider stopping' });
  });
});

describe('a provider without events (EVT-1)', () => {
  it('answers Subscribe with UNSUPPORTED_MESSAGE naming the subscription, and never sends an events message', async () => {
    const plain = defineService({ name: 'Plain', version: '1', operations: { ping: { params: z.object({}), run: () => ({}) } } });
    const { provider, endpoint } = await startLoopbackProvider({ services: [plain] });
    const session = await rawSession(endpoint);
    try {
      session.send(message('Subscribe', { subscriptionId: 'p1', clientId: 'c', serviceName: 'Plain', event: 'x' }));
      const error = await session.expectFrame((f) => f.type === 'Error', 'the Error');
      expect(payloadOf(error)).toMatchObject({ code: 'UNSUPPORTED_MESSAGE', subscriptionId: 'p1' });
      expect(() => provider.publish('Plain', 'x', {})).toThrow(/declares no event/);
    } finally {
      session.close();
      await provider.stop();
    }
  });
});

describe('inspection (subscriptions are statecharts, hosted as snapshots)', () => {
  it('every subscription is visible to the inspect observer as a providerSubscription, its transitions included', async () => {
    const kinds: string[] = [];
    const snapshots: string[] = [];
    const { provider, endpoint } = await startLoopbackProvider({
      inspect: (event) => {
        const kind = (event.actorRef as { logic?: { id?: string } }).logic?.id;
        if (event.type === '@xstate.actor' && kind !== undefined) kinds.push(kind);
        if (event.type === '@xstate.snapshot' && kind === 'providerSubscription') snapshots.push(JSON.stringify((event.snapshot as { value?: unknown }).value));
      },
    });
    const session = await rawSession(endpoint);
    try {
      session.send(subscribe('watched', 'w1'));
      await session.expectFrame((f) => f.type === 'Subscribed', 'Subscribed');
      provider.publish(news, 'headline', { title: 't', desk: 'd' });
      await session.expectFrame((f) => f.type === 'Event', 'the event');
      expect(kinds).toContain('providerSubscription');
      expect(snapshots).toContain(JSON.stringify({ active: 'flowing' }));
    } finally {
      session.close();
      await provider.stop();
    }
  });
});

describe('authorisation (EVT-4, SEC-4)', () => {
  it('a Subscribe is asked of the ACL as operation "event:<name>": refused, Error FORBIDDEN naming the subscription', async () => {
    const { provider, endpoint } = await startLoopbackProvider({
      acl: parseAcl({ default: 'allow', rules: [{ effect: 'deny', who: ['anonymous'], services: ['News'], operations: ['event:headline'] }] }),
    });
    const session = await rawSession(endpoint);
    try {
      session.send(subscribe('nosy', 'n1'));
      const refused = await session.expectFrame((f) => f.type === 'Error', 'the refusal');
      expect(payloadOf(refused)).toMatchObject({ code: 'FORBIDDEN', subscriptionId: 'n1' });
      session.send(subscribe('nosy', 'n2', { event: 'headline', serviceName: 'News', filter: { desk: 'x' } }));
      await session.expectFrame(() => session.frames.filter((f) => f.type === 'Error').length === 2, 'the second refusal');
      expect(provider.publish(news, 'headline', { title: 't', desk: 'x' })).toBe(0);
    } finally {
      session.close();
      await provider.stop();
    }
  });
});
