/**
 * Events end to end over real sockets (EVT-1..EVT-15): `provider.publish` on one side,
 * `client.subscribe` on the other, discovery on loopback UDP, WebSocket sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from '../runtime/client.js';
import type { DeliveredEvent } from '../runtime/events/clientEvents.js';
import type { Provider } from '../runtime/provider.js';
import { news, startLoopbackProvider, until } from './support/eventFixtures.js';

const quiet = () => {};

describe('client.subscribe and provider.publish (EVT-1, EVT-6, EVT-7, EVT-10, EVT-12, EVT-13)', () => {
  let provider: Provider;
  let port: number;
  const clients: Client[] = [];
  const newClient = (clientId: string) => {
    const client = createClient({
      clientId,
      discovery: { port, broadcastAddresses: ['127.255.255.255'] },
      connection: { pingIntervalMs: 200, pongTimeoutMs: 400, backoff: { delayMsBase: 20, delayMsMax: 100 } },
      log: quiet,
    });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    ({ provider, port } = await startLoopbackProvider());
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    await provider.stop();
  });

  it('EVT-1: the advertisement lists "events" and each event with its JSON Schema', async () => {
    const client = newClient('adv-reader');
    const view = await client.waitFor('News', { timeoutMs: 4_000 });
    expect(view.features).toContain('events');
    expect(view.events?.map((event) => event.key)).toEqual(['headline', 'tick']);
    expect(view.events?.[0]).toMatchObject({ description: 'A new headline.', schema: { type: 'object', required: ['title', 'desk'] } });
  });

  it('EVT-6: typed subscription, every event in seq order, Unsubscribe ends it (EVT-12)', async () => {
    const client = newClient('typed-reader');
    const titles: string[] = [];
    const seqs: number[] = [];
    // Typed from the definition: `data.title` is a string; a wrong event name would not compile.
    const subscription = client.subscribe(news, 'headline', (data, event) => {
      titles.push(data.title);
      seqs.push(event.seq);
    });
    expect(await subscription.opened).toEqual({ resumed: false });
    for (const title of ['one', 'two', 'three']) provider.publish(news, 'headline', { title, desk: 'world' });
    await until(() => titles.length === 3, 'three headlines');
    expect(titles).toEqual(['one', 'two', 'three']);
    expect(seqs).toEqual([1, 2, 3]);
    expect(await subscription.unsubscribe()).toEqual({ kind: 'unsubscribed' });
    expect(provider.publish(news, 'headline', { title: 'after', desk: 'world' })).toBe(0);
  });

  it('EVT-6, EVT-7: targets (all, one client, a group) and filters', async () => {
    const alice = newClient('alice');
    const bob = newClient('bob');
    const got = { alice: [] as number[], bob: [] as number[], bobFiltered: [] as string[] };
    const subs = [
      alice.subscribe(news, 'tick', (data) => got.alice.push(data.n)),
      bob.subscribe(news, 'tick', (data) => got.bob.push(data.n)),
      bob.subscribe(news, 'headline', (data) => got.bobFiltered.push(data.title), { filter: { desk: ['sports', 'arts'] } }),
    ];
    await Promise.all(subs.map((subscription) => subscription.opened));
    expect(provider.publish(news, 'tick', { n: 1 })).toBe(2);
    expect(provider.publish(news, 'tick', { n: 2 }, { to: 'alice' })).toBe(1);
    provider.join('editors', 'bob');
    expect(provider.publish(news, 'tick', { n: 3 }, { to: { group: 'editors' } })).toBe(1);
    provider.leave('editors', 'bob');
    expect(provider.publish(news, 'tick', { n: 4 }, { to: { group: 'editors' } })).toBe(0);
    for (const desk of ['world', 'sports', 'arts']) provider.publish(news, 'headline', { title: desk, desk });
    await until(() => got.alice.length === 2 && got.bob.length === 2 && got.bobFiltered.length === 2, 'the targeted events');
    expect(got).toEqual({ alice: [1, 2], bob: [1, 3], bobFiltered: ['sports', 'arts'] });
    await Promise.all(subs.map((subscription) => subscription.unsubscribe()));
  });

  it('EVT-3: data that fails the schema is refused at publish and sent to nobody', () => {
    expect(() => provider.publish('News', 'tick', { n: 'one' })).toThrow(TypeError);
    expect(() => provider.publish('News', 'nope', {})).toThrow(/declares no event/);
  });

  it('EVT-1, EVT-4: an event nobody publishes fails UNKNOWN_EVENT', async () => {
    const client = newClient('curious');
    const subscription = client.subscribe('News', 'gossip', () => {});
    await expect(subscription.opened).rejects.toMatchObject({ code: 'UNKNOWN_EVENT' });
    expect(await subscription.ended).toMatchObject({ kind: 'failed', code: 'UNKNOWN_EVENT' });
  });

  it('async iterator: for await over a subscription, leaving the loop unsubscribes', async () => {
    const client = newClient('iterating');
    const subscription = client.subscribe(news, 'tick');
    await subscription.opened;
    for (let n = 1; n <= 3; n++) provider.publish(news, 'tick', { n }, { to: 'iterating' });
    const seen: DeliveredEvent<{ n: number }>[] = [];
    for await (const event of subscription) {
      seen.push(event);
      if (seen.length === 3) break;
    }
    expect(seen.map((event) => [event.seq, event.data.n])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(await subscription.ended).toEqual({ kind: 'unsubscribed' });
  });

  it('EVT-10: at-least-once across a brutal disconnect: nothing lost, nothing twice, in order', async () => {
    const client = newClient('durable');
    const received: number[] = [];
    const subscription = client.subscribe(news, 'tick', (data) => received.push(data.n), { delivery: 'at-least-once' });
    await subscription.opened;
    for (let n = 1; n <= 20; n++) provider.publish(news, 'tick', { n }, { to: 'durable' });
    await until(() => received.length === 20, 'the first 20');
    // Kill the client's socket from the provider's side (a TCP reset: no close frame), publish while it is away.
    const down = new Promise<boolean>((resolve) => client.on('connection.down', (event) => resolve(event.graceful)));
    const sessions = [...provider.actor.getSnapshot().context.sessions.entries()].filter(([, record]) => record.clientId === 'durable');
    expect(sessions).toHaveLength(1);
    const server = provider.actor.getSnapshot().children.server as { send(event: unknown): void };
    server.send({ type: 'server.drop', connectionId: sessions[0]![0] });
    expect(await down).toBe(false);
    for (let n = 21; n <= 40; n++) provider.publish(news, 'tick', { n }, { to: 'durable' });
    await until(() => received.length >= 40, 'all 40 after the reconnect', 8_000);
    expect(received).toEqual(Array.from({ length: 40 }, (_, index) => index + 1));
    expect(subscription.lost).toBe(0);
    await subscription.unsubscribe();
  });

  it('each subscription is visible to the client\'s inspect observer as a clientSubscription', async () => {
    const kinds = new Set<string>();
    const client = createClient({
      clientId: 'inspected',
      discovery: { port, broadcastAddresses: ['127.255.255.255'] },
      log: quiet,
      inspect: (event) => {
        const kind = (event.actorRef as { logic?: { id?: string } }).logic?.id;
        if (event.type === '@xstate.actor' && kind !== undefined) kinds.add(kind);
      },
    });
    clients.push(client);
    const subscription = client.subscribe(news, 'tick');
    await subscription.opened;
    expect(kinds.has('clientSubscription')).toBe(true);
    await subscription.unsubscribe();
  });
});
