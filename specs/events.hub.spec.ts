import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock, type AnyActorRef } from 'xstate';
import * as z from 'zod';
import {
  clientSubscriptionMachine,
  defaultClientSubscriptionLimits,
  type ClientSubscriptionToParentEvent,
} from '../machines/events/clientSubscription.js';
import type { Subscribe } from '../machines/events/messages.js';
import { EventHub, type EventHubDraft, type EventLimits } from '../runtime/events/eventHub.js';

const services = new Map([
  ['Images', new Map([['resized', { data: z.object({ id: z.number().int(), kind: z.string() }) }], ['other', { data: z.unknown() }]])],
]);

function subscribeMessage(subscriptionId: string, overrides: Partial<Subscribe['payload']> = {}, messageId = `m-${subscriptionId}`): Subscribe {
  return {
    type: 'Subscribe',
    messageId,
    timestamp: 0,
    payload: { subscriptionId, clientId: 'ignored', serviceName: 'Images', event: 'resized', delivery: 'atMostOnce', overflow: 'dropOldest', ...overrides },
  };
}

function hubWith(options: { limits?: Partial<EventLimits>; authorize?: (clientId: string, service: string, event: string) => boolean } = {}) {
  const sent: Array<{ clientId: string; draft: EventHubDraft }> = [];
  const clock = new SimulatedClock();
  const hub = new EventHub({ services, deliver: (clientId, draft) => sent.push({ clientId, draft }), clock, ...options });
  const eventsOf = (clientId: string) =>
    sent.filter((s) => s.clientId === clientId && s.draft.type === 'Event').map((s) => (s.draft.payload as { seq: number; data: { id: number } }).data.id);
  return { hub, sent, clock, eventsOf };
}

describe('EventHub', () => {
  it('EVT-4: answers Subscribed, or UNKNOWN_EVENT, FORBIDDEN, OVERLOADED with relatesTo and subscriptionId', () => {
    const { hub } = hubWith({ limits: { subscriptionsPerClientMax: 1 }, authorize: (clientId) => clientId !== 'mallory' });
    expect(hub.subscribe('alice', subscribeMessage('s1'))).toEqual({ type: 'Subscribed', payload: { acknowledgmentId: 'm-s1', subscriptionId: 's1', resumed: false } });
    expect(hub.subscribe('alice', subscribeMessage('s2', { event: 'nope' }))).toMatchObject({ type: 'Error', payload: { code: 'UNKNOWN_EVENT', relatesTo: 'm-s2', subscriptionId: 's2' } });
    expect(hub.subscribe('mallory', subscribeMessage('s1'))).toMatchObject({ payload: { code: 'FORBIDDEN' } });
    expect(hub.subscribe('alice', subscribeMessage('s3', { event: 'other' }))).toMatchObject({ payload: { code: 'OVERLOADED' } });
    expect(hub.subscriptionCount).toBe(1);
  });

  it('EVT-5, SEC-9: the same subscriptionId resumes instead of duplicating; __proto__ is an ordinary id', () => {
    const { hub } = hubWith();
    hub.subscribe('alice', subscribeMessage('__proto__'));
    expect(hub.subscribe('alice', subscribeMessage('__proto__'))).toMatchObject({ type: 'Subscribed', payload: { resumed: true } });
    expect(hub.subscribe('alice', subscribeMessage('__proto__', { event: 'other' }))).toMatchObject({ payload: { code: 'INVALID_MESSAGE' } });
    expect(hub.subscriptionCount).toBe(1);
  });

  it('EVT-6, EVT-7: delivers to all subscribers, one client, or a group, filtered, each with its own seq', () => {
    const { hub, sent, eventsOf } = hubWith();
    hub.subscribe('alice', subscribeMessage('a'));
    hub.subscribe('bob', subscribeMessage('b', { filter: { kind: 'png' } }));
    hub.subscribe('carol', subscribeMessage('c'));
    hub.join('editors', 'carol');
    expect(hub.publish('Images', 'resized', { id: 1, kind: 'png' })).toBe(3);
    expect(hub.publish('Images', 'resized', { id: 2, kind: 'jpg' })).toBe(2);
    expect(hub.publish('Images', 'resized', { id: 3, kind: 'png' }, { clientId: 'bob' })).toBe(1);
    expect(hub.publish('Images', 'resized', { id: 4, kind: 'png' }, { group: 'editors' })).toBe(1);
    hub.leave('editors', 'carol');
    expect(hub.publish('Images', 'resized', { id: 5, kind: 'png' }, { group: 'editors' })).toBe(0);
    expect([eventsOf('alice'), eventsOf('bob'), eventsOf('carol')]).toEqual([[1, 2], [1, 3], [1, 2, 4]]);
    const bobSeqs = sent.filter((s) => s.clientId === 'bob' && s.draft.type === 'Event').map((s) => (s.draft.payload as { seq: number }).seq);
    expect(bobSeqs).toEqual([1, 2]);
  });

  it('EVT-8: a congested client is sent nothing, its new and resumed subscriptions included, until writable', () => {
    const { hub, eventsOf } = hubWith({ limits: { eventQueueMax: 2 } });
    hub.subscribe('alice', subscribeMessage('a'));
    hub.subscribe('bob', subscribeMessage('b'));
    hub.congested('alice');
    hub.congested('alice');
    expect(hub.counters.congested).toBe(1);
    hub.subscribe('alice', subscribeMessage('a2', { event: 'other' }));
    hub.subscribe('alice', subscribeMessage('a'));
    for (let id = 1; id <= 4; id++) hub.publish('Images', 'resized', { id, kind: 'png' });
    hub.publish('Images', 'other', { id: 9, kind: 'x' });
    expect(eventsOf('alice')).toEqual([]);
    expect(eventsOf('bob')).toEqual([1, 2, 3, 4]);
    expect(hub.isCongested('alice')).toBe(true);
    hub.writable('alice');
    // dropOldest kept the two newest (EVT-11), counted.
    expect(eventsOf('alice')).toEqual([3, 4, 9]);
    expect(hub.counters.dropped).toBe(2);
    hub.publish('Images', 'resized', { id: 5, kind: 'png' });
    expect(eventsOf('alice')).toEqual([3, 4, 9, 5]);
  });

  it('EVT-3: refuses to publish data that fails the schema or is too large, to nobody', () => {
    const { hub, sent } = hubWith({ limits: { eventBytesMax: 40 } });
    hub.subscribe('alice', subscribeMessage('a'));
    expect(() => hub.publish('Images', 'resized', { id: 'x', kind: 'png' })).toThrow(TypeError);
    expect(() => hub.publish('Images', 'resized', { id: 1, kind: 'x'.repeat(100) })).toThrow(RangeError);
    expect(() => hub.publish('Images', 'nope', {})).toThrow(TypeError);
    expect(sent.filter((s) => s.draft.type === 'Event')).toEqual([]);
  });

  it('EVT-12, EVT-15: unsubscribe is idempotent; stop ends every subscription with stopping', () => {
    const { hub, sent } = hubWith();
    hub.subscribe('alice', subscribeMessage('a'));
    hub.subscribe('bob', subscribeMessage('b'));
    hub.unsubscribe('alice', 'a');
    hub.unsubscribe('alice', 'a');
    hub.stop();
    expect(sent.filter((s) => s.draft.type === 'SubscriptionEnded').map((s) => [s.clientId, (s.draft.payload as { reason: string }).reason])).toEqual([
      ['alice', 'unsubscribed'],
      ['alice', 'unsubscribed'],
      ['bob', 'stopping'],
    ]);
    expect(hub.subscriptionCount).toBe(0);
    expect(hub.publish('Images', 'resized', { id: 1, kind: 'png' })).toBe(0);
  });

  /**
   * The at-least-once promise across reconnects, with the real client statechart: a client that
   * loses its connection at random moments (losing what was in flight both ways) and comes back
   * within the linger delivers every published event to the application exactly once, in order,
   * as long as the queue bound is not exceeded.
   */
  it('EVT-8..EVT-13: at-least-once survives disconnects: every event once, in order', () => {
    type Step = { kind: 'publish'; count: number } | { kind: 'flush' } | { kind: 'drop' } | { kind: 'time'; ms: number };
    const step = fc.oneof(
      fc.integer({ min: 1, max: 5 }).map<Step>((count) => ({ kind: 'publish', count })),
      fc.constant<Step>({ kind: 'flush' }),
      fc.constant<Step>({ kind: 'drop' }),
      fc.integer({ min: 1, max: 3000 }).map<Step>((ms) => ({ kind: 'time', ms })),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const clock = new SimulatedClock();
        let connected = true;
        const toProvider: Array<{ type: string; payload: Record<string, unknown>; messageId?: string }> = [];
        const toClient: EventHubDraft[] = [];
        const hub = new EventHub({ services, deliver: (_clientId, draft) => connected && toClient.push(draft), clock, limits: { eventsInFlightMax: 4 } });
        const delivered: number[] = [];
        const parent = {
          id: 'connection',
          send: (event: ClientSubscriptionToParentEvent) => {
            if (event.type === 'subscription.send' && connected) toProvider.push(event.draft as never);
            if (event.type === 'subscription.delivered') delivered.push((event.data as { id: number }).id);
          },
        };
        const ref = { ...parent, _send: parent.send } as unknown as AnyActorRef;
        const client = createActor(clientSubscriptionMachine, {
          clock,
          input: {
            subscriptionId: 's',
            clientId: 'alice',
            serviceName: 'Images',
            event: 'resized',
            delivery: 'atLeastOnce',
            overflow: 'dropOldest',
            limits: { ...defaultClientSubscriptionLimits, subscribeAttemptsMax: 1000 },
            connected: true,
            parentRef: ref,
          },
        }).start();
        const flush = () => {
          for (let round = 0; round < 1000 && (toProvider.length > 0 || toClient.length > 0); round++) {
            for (const draft of toProvider.splice(0)) {
              const message = { ...draft, messageId: draft.messageId ?? 'x', timestamp: 0 } as never as Subscribe;
              if (draft.type === 'Subscribe') hub.subscribe('alice', message);
              if (draft.type === 'EventAck') hub.ack('alice', 's', (draft.payload as { seq: number }).seq);
            }
            for (const draft of toClient.splice(0)) {
              if (draft.type === 'Subscribed') client.send({ type: 'provider.subscribed', resumed: draft.payload.resumed });
              if (draft.type === 'Event') client.send({ type: 'provider.event', seq: draft.payload.seq, data: draft.payload.data });
            }
          }
        };
        let published = 0;
        flush();
        for (const s of steps) {
          if (s.kind === 'publish') for (let i = 0; i < s.count; i++) hub.publish('Images', 'resized', { id: ++published, kind: 'png' });
          else if (s.kind === 'flush') flush();
          else if (s.kind === 'time') {
            clock.increment(s.ms);
            flush();
          } else {
            // The connection drops: what was in flight is lost both ways; then it comes back.
            connected = false;
            toProvider.length = 0;
            toClient.length = 0;
            hub.sessionEnded('alice');
            client.send({ type: 'connection.down' });
            connected = true;
            client.send({ type: 'connection.up' });
            flush();
          }
        }
        for (let i = 0; i < 50; i++) {
          clock.increment(2000);
          flush();
        }
        expect(delivered).toEqual(Array.from({ length: published }, (_, i) => i + 1));
      }),
    );
  });
});
