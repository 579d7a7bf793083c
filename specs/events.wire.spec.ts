/**
 * Events over a real WebSocket, seen from a raw peer (EVT-1..EVT-15): what a provider sends and
 * refuses, byte for byte as a peer built from docs/protocol.md would see it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createProvider, type Provider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { payloadOf, rawSession, type Json, type RawSession } from './support/rawSession.js';
import { freeDiscoveryPort } from './support/udpPort.js';

const news = defineService({
  name: 'News',
  version: '1.0.0',
  operations: { ping: { params: z.object({}), run: () => ({ pong: true }) } },
  events: {
    headline: { schema: z.object({ title: z.string(), desk: z.string() }), description: 'A new headline.' },
  },
});

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
    provider = createProvider({
      services: [news],
      host: '127.0.0.1',
      discovery: { port: await freeDiscoveryPort(), broadcastAddresses: ['127.255.255.255'] },
      log: () => {},
    });
    ({ endpoint } = await provider.start());
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
});
