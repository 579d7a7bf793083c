import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { defaultEventBufferLimits } from '../machines/events/eventBuffer.js';
import {
  clientSubscriptionMachine,
  defaultClientSubscriptionLimits,
  type ClientSubscriptionInput,
  type ClientSubscriptionToParentEvent,
} from '../machines/events/clientSubscription.js';
import {
  providerSubscriptionMachine,
  type ProviderSubscriptionInput,
  type ProviderSubscriptionToParentEvent,
} from '../machines/events/providerSubscription.js';
import { createRecorder } from './support/recorder.js';

/** The subscription both ends are started with. */
const TERMS = { subscriptionId: 's1', clientId: 'c1', serviceName: 'Images', event: 'resized', delivery: 'atLeastOnce', overflow: 'dropOldest' } as const;

function startProvider(overrides: Partial<ProviderSubscriptionInput> = {}) {
  const clock = new SimulatedClock();
  const parent = createRecorder<ProviderSubscriptionToParentEvent>();
  const actor = createActor(providerSubscriptionMachine, {
    clock,
    input: {
      ...TERMS,
      limits: { ...defaultEventBufferLimits, queueMax: 3, inFlightMax: 2 },
      lingerMs: 60_000,
      parentRef: parent.ref,
      ...overrides,
    },
  }).start();
  const delivered = () => parent.ofType('subscription.deliver').flatMap((event) => event.items.map((item) => item.seq));
  const publish = (data: unknown) => actor.send({ type: 'subscription.publish', data, bytes: 8 });
  return { clock, parent, actor, delivered, publish };
}

describe('providerSubscription', () => {
  it('EVT-8: at-least-once sends at most the window, then one more per cumulative ack', () => {
    const { actor, delivered, publish } = startProvider();
    for (let i = 0; i < 4; i++) publish(i);
    expect(delivered()).toEqual([1, 2]);
    actor.send({ type: 'subscription.ack', seq: 1 });
    expect(delivered()).toEqual([1, 2, 3]);
    actor.send({ type: 'subscription.ack', seq: 3 });
    expect(delivered()).toEqual([1, 2, 3, 4]);
  });

  it('EVT-9: counts an ack of a seq never sent and changes nothing', () => {
    const { actor, delivered, publish } = startProvider();
    publish('a');
    actor.send({ type: 'subscription.ack', seq: 7 });
    expect(actor.getSnapshot().context.invalidAcks).toBe(1);
    expect(actor.getSnapshot().context.buffer.unconfirmed.map((item) => item.seq)).toEqual([1]);
    expect(delivered()).toEqual([1]);
  });

  it('queues while the socket is congested and flushes in order when it is writable (at-most-once)', () => {
    const { actor, delivered, publish } = startProvider({ delivery: 'atMostOnce' });
    publish('a');
    actor.send({ type: 'subscription.congested' });
    publish('b');
    publish('c');
    expect(actor.getSnapshot().value).toEqual({ active: 'congested' });
    expect(delivered()).toEqual([1]);
    actor.send({ type: 'subscription.writable' });
    expect(delivered()).toEqual([1, 2, 3]);
  });

  it('EVT-11: drops the oldest queued events while congested (dropOldest); a resumed subscriber sees the gap', () => {
    const { actor, delivered, publish } = startProvider({ delivery: 'atMostOnce' });
    actor.send({ type: 'subscription.congested' });
    for (let i = 0; i < 5; i++) publish(i);
    actor.send({ type: 'subscription.writable' });
    expect(delivered()).toEqual([3, 4, 5]);
    expect(actor.getSnapshot().context.buffer.dropped).toBe(2);
  });

  it('EVT-8: while congested an acknowledgment frees the window but sends nothing; writable sends', () => {
    const { actor, delivered, publish } = startProvider();
    for (let i = 0; i < 3; i++) publish(i);
    expect(delivered()).toEqual([1, 2]);
    actor.send({ type: 'subscription.congested' });
    actor.send({ type: 'subscription.ack', seq: 2 });
    expect(delivered()).toEqual([1, 2]);
    expect(actor.getSnapshot().context.buffer.unconfirmed).toEqual([]);
    actor.send({ type: 'subscription.writable' });
    expect(delivered()).toEqual([1, 2, 3]);
  });

  it('EVT-8, EVT-10: resumed on a congested session, it replays nothing until writable', () => {
    const { actor, delivered, publish } = startProvider();
    publish('a');
    publish('b');
    actor.send({ type: 'subscription.detached' });
    actor.send({ type: 'subscription.attached', resumeAfter: 1, congested: true });
    expect(actor.getSnapshot().value).toEqual({ active: 'congested' });
    expect(delivered()).toEqual([1, 2]);
    actor.send({ type: 'subscription.writable' });
    expect(delivered()).toEqual([1, 2, 2]);
    // Attached again on the same congested session, before its end was seen: still held.
    publish('c');
    actor.send({ type: 'subscription.congested' });
    actor.send({ type: 'subscription.attached', resumeAfter: 2, congested: true });
    expect(actor.getSnapshot().value).toEqual({ active: 'congested' });
    expect(delivered()).toEqual([1, 2, 2, 3]);
  });

  it('EVT-11: a delivery reports how many events the overflow policy dropped so far', () => {
    const { actor, parent, publish } = startProvider({ delivery: 'atMostOnce' });
    actor.send({ type: 'subscription.congested' });
    for (let i = 0; i < 5; i++) publish(i);
    actor.send({ type: 'subscription.writable' });
    expect(parent.ofType('subscription.deliver').map((event) => event.dropped)).toEqual([2]);
  });

  it('EVT-11: the close policy ends the subscription on overflow and reports it once', () => {
    const { actor, parent, publish } = startProvider({ overflow: 'close', delivery: 'atMostOnce' });
    actor.send({ type: 'subscription.congested' });
    for (let i = 0; i < 4; i++) publish(i);
    expect(actor.getSnapshot().status).toBe('done');
    expect(parent.ofType('subscription.ended')).toEqual([{ type: 'subscription.ended', subscriptionId: 's1', clientId: 'c1', reason: 'overflow', dropped: 0 }]);
    expect(actor.getSnapshot().output).toEqual({ subscriptionId: 's1', reason: 'overflow', dropped: 0 });
  });

  it('EVT-10: at-least-once waits for its client while suspended and replays what was not processed, in order', () => {
    const { actor, delivered, publish, clock } = startProvider();
    publish('a');
    publish('b');
    actor.send({ type: 'subscription.detached' });
    expect(actor.getSnapshot().value).toBe('suspended');
    publish('c');
    clock.increment(59_999);
    expect(delivered()).toEqual([1, 2]);
    actor.send({ type: 'subscription.attached', resumeAfter: 1 });
    expect(actor.getSnapshot().value).toEqual({ active: 'flowing' });
    expect(delivered()).toEqual([1, 2, 2, 3]);
  });

  it('EVT-10: a suspended subscription expires after lingerMs; an at-most-once one ends with its session', () => {
    const alo = startProvider();
    alo.actor.send({ type: 'subscription.detached' });
    alo.clock.increment(60_000);
    expect(alo.parent.ofType('subscription.ended').map((event) => event.reason)).toEqual(['expired']);
    const amo = startProvider({ delivery: 'atMostOnce' });
    amo.actor.send({ type: 'subscription.detached' });
    expect(amo.parent.ofType('subscription.ended').map((event) => event.reason)).toEqual(['sessionEnded']);
  });

  it('EVT-12, EVT-15: unsubscribe and stop end it from any state, reported exactly once', () => {
    for (const reason of ['unsubscribed', 'stopping', 'forbidden'] as const) {
      const { actor, parent } = startProvider();
      actor.send({ type: 'subscription.detached' });
      actor.send({ type: 'subscription.end', reason });
      // Final after the first end: a later end (the hub's stop racing an unsubscribe) cannot be
      // taken, so the end is reported exactly once.
      expect(actor.getSnapshot().status).toBe('done');
      expect(parent.ofType('subscription.ended').map((event) => event.reason)).toEqual([reason]);
    }
  });
});

function startClient(overrides: Partial<ClientSubscriptionInput> = {}) {
  const clock = new SimulatedClock();
  const parent = createRecorder<ClientSubscriptionToParentEvent>();
  const actor = createActor(clientSubscriptionMachine, {
    clock,
    input: {
      ...TERMS,
      limits: { ...defaultClientSubscriptionLimits, ackEveryEvents: 3 },
      connected: true,
      parentRef: parent.ref,
      ...overrides,
    },
  }).start();
  const drafts = () => parent.ofType('subscription.send').map((event) => event.draft);
  const delivered = () => parent.ofType('subscription.delivered').map((event) => [event.seq, event.lost]);
  const event = (seq: number) => actor.send({ type: 'provider.event', seq, data: { seq } });
  return { clock, parent, actor, drafts, delivered, event };
}

describe('clientSubscription', () => {
  it('subscribes at once, with the delivery, filter and overflow asked for, and a unique messageId per send', () => {
    const { drafts, clock } = startClient({ filter: { kind: 'png' } });
    expect(drafts()).toEqual([
      {
        type: 'Subscribe',
        messageId: 'subscribe:s1:1',
        payload: { subscriptionId: 's1', clientId: 'c1', serviceName: 'Images', event: 'resized', filter: { kind: 'png' }, delivery: 'atLeastOnce', overflow: 'dropOldest' },
      },
    ]);
    clock.increment(2000);
    expect(drafts().map((draft) => draft.messageId)).toEqual(['subscribe:s1:1', 'subscribe:s1:2']);
  });

  it('fails with TIMEOUT after subscribeAttemptsMax unanswered sends', () => {
    const { actor, parent, clock } = startClient();
    for (let i = 0; i < 5; i++) clock.increment(2000);
    expect(parent.ofType('subscription.send')).toHaveLength(5);
    expect(actor.getSnapshot().output?.end).toMatchObject({ kind: 'failed', code: 'TIMEOUT' });
  });

  it('EVT-4: an Error for the Subscribe (UNKNOWN_EVENT, a seed provider\'s UNSUPPORTED_MESSAGE) ends it failed with that code', () => {
    const { actor, parent } = startClient();
    actor.send({ type: 'provider.error', code: 'UNSUPPORTED_MESSAGE', message: 'unknown type "Subscribe"' });
    expect(parent.ofType('subscription.settled')).toEqual([
      { type: 'subscription.settled', subscriptionId: 's1', end: { kind: 'failed', code: 'UNSUPPORTED_MESSAGE', message: 'unknown type "Subscribe"' } },
    ]);
  });

  it('EVT-10: delivers each seq once in order, reports gaps as lost, drops replays', () => {
    const { actor, delivered, event } = startClient({ delivery: 'atMostOnce' });
    actor.send({ type: 'provider.subscribed', resumed: false });
    event(1);
    event(2);
    event(2);
    event(5);
    event(4);
    expect(delivered()).toEqual([
      [1, 0],
      [2, 0],
      [5, 2],
    ]);
    expect(actor.getSnapshot().context.duplicates).toBe(2);
  });

  it('EVT-9: at-least-once acknowledges cumulatively, after ackEveryEvents or ackDelayMs', () => {
    const { actor, drafts, event, clock } = startClient();
    actor.send({ type: 'provider.subscribed', resumed: false });
    event(1);
    event(2);
    event(3);
    const acks = () => drafts().filter((draft) => draft.type === 'EventAck').map((draft) => (draft.payload as { seq: number }).seq);
    expect(acks()).toEqual([3]);
    event(4);
    expect(acks()).toEqual([3]);
    clock.increment(49);
    expect(acks()).toEqual([3]);
    clock.increment(1);
    expect(acks()).toEqual([3, 4]);
    clock.increment(1000);
    expect(acks()).toEqual([3, 4]);
  });

  it('at-most-once never acknowledges', () => {
    const { actor, drafts, event, clock } = startClient({ delivery: 'atMostOnce' });
    actor.send({ type: 'provider.subscribed', resumed: false });
    for (let seq = 1; seq <= 10; seq++) event(seq);
    clock.increment(10_000);
    expect(drafts().filter((draft) => draft.type === 'EventAck')).toEqual([]);
  });

  it('EVT-10: after a reconnect, re-subscribes with resumeAfter = the last seq processed (at-least-once only)', () => {
    const { actor, drafts, event } = startClient();
    actor.send({ type: 'provider.subscribed', resumed: false });
    event(1);
    event(2);
    actor.send({ type: 'connection.down' });
    expect(actor.getSnapshot().value).toBe('reconnecting');
    actor.send({ type: 'connection.up' });
    expect(drafts().at(-1)).toMatchObject({ type: 'Subscribe', payload: { resumeAfter: 2 } });
    // A provider that forgot the subscription restarts the numbering.
    actor.send({ type: 'provider.subscribed', resumed: false });
    expect(actor.getSnapshot().context.lastSeq).toBe(0);
    event(1);
    expect(actor.getSnapshot().context.lastSeq).toBe(1);
  });

  it('waits in reconnecting when it starts on a connection that is down', () => {
    const { actor, drafts } = startClient({ connected: false });
    expect(actor.getSnapshot().value).toBe('reconnecting');
    expect(drafts()).toEqual([]);
    actor.send({ type: 'connection.up' });
    expect(drafts().map((draft) => draft.type)).toEqual(['Subscribe']);
  });

  it('EVT-12: unsubscribes, ending on SubscriptionEnded or after unsubscribeTimeoutMs', () => {
    const a = startClient();
    a.actor.send({ type: 'provider.subscribed', resumed: false });
    a.actor.send({ type: 'subscription.unsubscribe' });
    expect(a.drafts().at(-1)).toMatchObject({ type: 'Unsubscribe', payload: { subscriptionId: 's1', clientId: 'c1' } });
    a.actor.send({ type: 'provider.ended', reason: 'unsubscribed' });
    expect(a.actor.getSnapshot().output?.end).toEqual({ kind: 'unsubscribed' });
    const b = startClient();
    b.actor.send({ type: 'provider.subscribed', resumed: false });
    b.actor.send({ type: 'subscription.unsubscribe' });
    b.clock.increment(2000);
    expect(b.actor.getSnapshot().output?.end).toEqual({ kind: 'unsubscribed' });
  });

  it('ends with the provider\'s reason, or CONNECTION_LOST when the connection gives up', () => {
    const a = startClient();
    a.actor.send({ type: 'provider.subscribed', resumed: false });
    a.actor.send({ type: 'provider.ended', reason: 'overflow', message: 'queue full' });
    expect(a.actor.getSnapshot().output?.end).toEqual({ kind: 'ended', reason: 'overflow', message: 'queue full' });
    const b = startClient();
    b.actor.send({ type: 'connection.down' });
    b.actor.send({ type: 'connection.closed' });
    expect(b.actor.getSnapshot().output?.end).toMatchObject({ kind: 'failed', code: 'CONNECTION_LOST' });
  });
});
