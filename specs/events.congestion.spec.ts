/**
 * EVT-8 attack test, on real sockets: a subscriber that never reads while its provider publishes
 * far more events than SEC-13 lets a socket hold. The provider stops writing events to that
 * session once its socket is above its send mark: they wait in the subscription's bounded queue,
 * where dropOldest drops and counts them (EVT-11). So the socket's unsent bytes stay near the
 * mark (never at SEC-13's second bound, which would close the connection and end every task of
 * the client), every event is either delivered or counted as dropped, and once the subscriber
 * reads again its events flow again on the same connection. Another client, subscribed to the
 * same events and running a task on the same provider meanwhile, loses nothing.
 *
 * Without the wiring (the socket's mark reaching the subscriptions) the unsent events pile up in
 * the socket past `bytesMax` and the provider drops the connection (1008): this spec fails.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWsMetrics } from '../adapters/ws/options.js';
import type { Provider } from '../runtime/provider.js';
import { news, startLoopbackProvider, until } from './support/eventFixtures.js';
import { payloadOf, rawSession, type Json, type RawSession } from './support/rawSession.js';

const PAUSE_BYTES = 256 * 1024;
const BYTES_MAX = 2 * 1024 * 1024;
const QUEUE_BYTES_MAX = 512 * 1024;
const TITLE = 'x'.repeat(8_000);
const ROUNDS = 40;
const PER_ROUND = 50;
/** One round's events on the wire, with room for their envelopes. */
const ROUND_BYTES = PER_ROUND * (TITLE.length + 400);

let provider: Provider;
let endpoint: string;
const metrics = createWsMetrics();

beforeAll(async () => {
  ({ provider, endpoint } = await startLoopbackProvider({
    // A long stall and long pings: the subscriber's silence must not end it by SEC-13's stall or CONN-3 here.
    server: { metrics, sendBuffer: { pauseBytes: PAUSE_BYTES, bytesMax: BYTES_MAX, stallMs: 60_000 } },
    session: { pingIntervalMs: 60_000, pongTimeoutMs: 60_000 },
    events: { eventQueueMax: 128, eventQueueBytesMax: QUEUE_BYTES_MAX },
  }));
});
afterAll(() => provider.stop());

let sends = 0;
const message = (type: string, payload: Json): Json => ({ type, messageId: `m-${++sends}`, timestamp: new Date().toISOString(), payload });
const seqsOf = (session: RawSession) => session.frames.filter((frame) => frame.type === 'Event').map((frame) => payloadOf(frame).seq as number);

async function subscriber(clientId: string, terms: Json = {}): Promise<RawSession> {
  const session = await rawSession(endpoint);
  session.send(message('Subscribe', { subscriptionId: 'headlines', clientId, serviceName: 'News', event: 'headline', ...terms }));
  await session.expectFrame((f) => f.type === 'Subscribed', `${clientId}'s Subscribed`);
  return session;
}

describe('a subscriber that never reads (EVT-8, EVT-11, SEC-13)', () => {
  it('costs its own events, not its connection; another client loses nothing', async () => {
    const mallory = await subscriber('mallory');
    const alice = await subscriber('alice');
    const malloryTcp = (mallory.socket as unknown as { _socket: Socket })._socket;
    malloryTcp.pause();
    const total = ROUNDS * PER_ROUND;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < PER_ROUND; i++) provider.publish(news, 'headline', { title: TITLE, desk: `d${round * PER_ROUND + i + 1}` });
        if (round === ROUNDS / 2) alice.send(message('AssignTask', { taskId: 'alice-1', serviceName: 'News', operation: 'ping', taskParameters: {}, callbackClientId: 'alice' }));
        // Alice reads: she has every event so far before the next round.
        await until(() => seqsOf(alice).length === (round + 1) * PER_ROUND, `alice's events of round ${round}`, 10_000);
      }
      const published = total * TITLE.length;
      expect(published, 'far more than SEC-13 lets one socket hold').toBeGreaterThan(4 * BYTES_MAX);

      // Mallory's connection is open: never closed for the events alone.
      expect(metrics.sendOverflows, 'no connection was dropped for not reading').toBe(0);
      expect(mallory.closed()).toBeUndefined();
      expect(provider.events?.congested, 'the provider held back the events of a session above its mark').toBeGreaterThanOrEqual(1);
      // The socket held at most the mark plus one round's burst (written before the mark was seen).
      expect(metrics.sendBufferedMax).toBeLessThanOrEqual(PAUSE_BYTES + ROUND_BYTES);

      // Alice: every event, in order, no gap; her task was served meanwhile.
      expect(seqsOf(alice)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      await alice.expectFrame((f) => f.type === 'TaskResult' && payloadOf(f).taskId === 'alice-1', "alice's result");

      // Mallory reads again: what waited (socket, then queue) arrives on the same connection, and
      // every event is either delivered or counted as dropped by the overflow policy.
      malloryTcp.resume();
      await until(() => seqsOf(mallory).at(-1) === total, "mallory's last event", 10_000);
      const received = seqsOf(mallory);
      expect(received.length).toBeLessThan(total);
      expect(received, 'in seq order').toEqual([...received].sort((a, b) => a - b));
      expect(provider.events?.dropped, 'each event not delivered was dropped and counted').toBe(total - received.length);

      // Below the mark again: new events flow at once.
      provider.publish(news, 'headline', { title: 'after', desk: 'd' });
      await until(() => seqsOf(mallory).at(-1) === total + 1, "mallory's event after she read again");
      expect(mallory.closed()).toBeUndefined();
    } finally {
      mallory.close();
      alice.close();
    }
  }, 60_000);

  it("with overflow 'close', ends the subscription (SubscriptionEnded overflow), not the connection", async () => {
    const overflowsBefore = metrics.sendOverflows;
    const carol = await subscriber('carol', { overflow: 'close' });
    const carolTcp = (carol.socket as unknown as { _socket: Socket })._socket;
    carolTcp.pause();
    try {
      // Enough to fill the kernel's buffers, the socket up to its mark, then the queue.
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < PER_ROUND; i++) provider.publish(news, 'headline', { title: TITLE, desk: 'close' });
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(metrics.sendOverflows, 'no connection was dropped for not reading').toBe(overflowsBefore);
      carolTcp.resume();
      const ended = await carol.expectFrame((f) => f.type === 'SubscriptionEnded', 'SubscriptionEnded', 10_000);
      expect(payloadOf(ended)).toEqual({ subscriptionId: 'headlines', reason: 'overflow' });
      // The session lives on: a new subscription on it gets its events.
      carol.send(message('Subscribe', { subscriptionId: 'again', clientId: 'carol', serviceName: 'News', event: 'tick' }));
      await carol.expectFrame((f) => f.type === 'Subscribed' && payloadOf(f).subscriptionId === 'again', 'the new Subscribed');
      provider.publish(news, 'tick', { n: 1 });
      await carol.expectFrame((f) => f.type === 'Event' && payloadOf(f).subscriptionId === 'again', 'an event of the new subscription');
      expect(carol.closed()).toBeUndefined();
    } finally {
      carol.close();
    }
  }, 60_000);
});
