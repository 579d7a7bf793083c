/**
 * The gateway against a real nats-server and real LAN sockets (UDP on loopback broadcast,
 * WebSocket on 127.0.0.1): a LAN-only provider reached by a NATS-only client, and a NATS-only
 * provider reached by a LAN-only client that speaks nothing but the seed protocol.
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createClient } from '../runtime/client.js';
import { createGateway, type Gateway } from '../runtime/gateway/gateway.js';
import { createProvider } from '../runtime/provider.js';
import { greeter, natsSuite, uniquePrefix } from './support/natsFixtures.js';
import { allocatePort } from './support/ports.js';
import { NATS_SERVER_MISSING } from './support/natsServer.js';

const describeNats = NATS_SERVER_MISSING === undefined ? describe : describe.skip;
if (NATS_SERVER_MISSING !== undefined) console.warn(`gateway.nats.spec.ts skipped: ${NATS_SERVER_MISSING}`);

const suite = natsSuite();

async function lanDiscovery() {
  return { port: await allocatePort(), broadcastAddresses: ['127.255.255.255'] };
}

async function gateway(prefix: string, discovery: Awaited<ReturnType<typeof lanDiscovery>>, requestPeriodMs = 500): Promise<Gateway> {
  const g = createGateway({ nats: { servers: suite.node().url, subjectPrefix: prefix }, lan: { discovery, host: '127.0.0.1' }, requestPeriodMs, log: () => {} });
  suite.defer(() => g.stop());
  await g.start();
  return g;
}

describeNats('gateway: one LAN bridged to NATS, both ways', () => {
  it('a LAN-only provider serves a NATS-only client through the gateway', async () => {
    const prefix = uniquePrefix();
    const discovery = await lanDiscovery();
    const provider = createProvider({ services: [greeter], host: '127.0.0.1', discovery, heartbeatIntervalMs: 500, log: () => {} });
    suite.defer(() => provider.stop());
    await provider.start();
    const g = await gateway(prefix, discovery);
    const client = createClient({ lan: false, log: () => {}, nats: { servers: suite.node().url, subjectPrefix: prefix } });
    suite.defer(() => client.stop());
    const view = await client.waitFor('Greeter', { operation: 'greet', timeoutMs: 5_000 });
    expect(view.endpoint).toMatch(new RegExp(`^nats://${prefix.replaceAll('.', '\\.')}/gw-[0-9a-f]{16}$`));
    const progress: number[] = [];
    const task = client.assign('Greeter', 'greet', { name: 'over the bridge' });
    task.onProgress((p) => progress.push(p.progressPercentage));
    await expect(task.result).resolves.toEqual({ hello: 'over the bridge' });
    expect(progress).toContain(50);
    await expect(client.assign('Greeter', 'fail', {}).result).rejects.toMatchObject({ code: 'ASKED_TO_FAIL' });
    expect(g.stats.lanToNats).toBe(1);
    expect(g.stats.connectionsRelayed).toBeGreaterThanOrEqual(1);
  });

  it('a NATS-only provider serves a LAN-only client through the gateway; garbage from the LAN is answered with a coded Error', async () => {
    const prefix = uniquePrefix();
    const discovery = await lanDiscovery();
    const provider = createProvider({ services: [greeter], lan: false, heartbeatIntervalMs: 500, log: () => {}, nats: { servers: suite.node().url, subjectPrefix: prefix } });
    suite.defer(() => provider.stop());
    await provider.start();
    const g = await gateway(prefix, discovery);
    const client = createClient({ discovery, log: () => {} });
    suite.defer(() => client.stop());
    const view = await client.waitFor('Greeter', { operation: 'greet', timeoutMs: 5_000 });
    expect(view.endpoint).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    await expect(client.assign('Greeter', 'greet', { name: 'from the LAN' }).result).resolves.toEqual({ hello: 'from the LAN' });
    expect(g.stats.natsToLan).toBe(1);

    // A seed-protocol peer sending something malformed through the relayed endpoint.
    const socket = new WebSocket(view.endpoint);
    suite.defer(() => socket.terminate());
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const answer = new Promise<Record<string, unknown>>((resolve) => socket.once('message', (data) => resolve(JSON.parse(String(data)))));
    socket.send(JSON.stringify({ type: 'AssignTask', messageId: 'm-1', timestamp: new Date().toISOString(), payload: { taskId: 7 } }));
    expect(await answer).toMatchObject({ type: 'Error', payload: { code: 'INVALID_MESSAGE', relatesTo: 'm-1' } });
  });

  it('does not relay a provider that already serves on both sides (one endpoint per serviceId on each side)', async () => {
    const prefix = uniquePrefix();
    const discovery = await lanDiscovery();
    const provider = createProvider({
      services: [greeter],
      host: '127.0.0.1',
      discovery,
      heartbeatIntervalMs: 300,
      log: () => {},
      nats: { servers: suite.node().url, subjectPrefix: prefix, name: 'both-sides' },
    });
    suite.defer(() => provider.stop());
    await provider.start();
    const g = await gateway(prefix, discovery);
    const client = createClient({ lan: false, log: () => {}, nats: { servers: suite.node().url, subjectPrefix: prefix } });
    suite.defer(() => client.stop());
    await client.waitFor('Greeter', { timeoutMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 700)); // both sides heard by the gateway
    // services.changed comes only when the view changes: the view at the start is the first one.
    const seen = new Set<string>(client.services().map((s) => s.endpoint));
    const off = client.on('services.changed', (event) => event.services.forEach((s) => seen.add(s.endpoint)));
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // three heartbeats more
    off();
    // A view that stays the same emits nothing: what the client holds at the end counts too.
    for (const service of client.services()) seen.add(service.endpoint);
    expect([...seen]).toEqual([`nats://${prefix}/both-sides`]);
    expect(g.stats.nativeOnBothSides).toBeGreaterThan(0);
  });

  it('passes discovery requests on to the other side at most once a second, however many come', async () => {
    const prefix = uniquePrefix();
    const discovery = await lanDiscovery();
    const nc = await suite.rawConnection();
    const forwarded: string[] = [];
    nc.subscribe(`${prefix}.disc.req`, { callback: (_error, msg) => void forwarded.push(msg.string()) });
    await nc.flush();
    await gateway(prefix, discovery, 60_000); // its own periodic requests: only the one at start
    const udp = createSocket('udp4');
    suite.defer(() => new Promise<void>((resolve) => udp.close(() => resolve())));
    const ask = () => new Promise<void>((resolve, reject) =>
      udp.send(JSON.stringify({ discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'lan-asker', serviceName: 'Probe', timestamp: new Date().toISOString() }), discovery.port, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
    );
    const probes = () => forwarded.filter((text) => text.includes('Probe')).length;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // A burst of ten requests within 200 ms: the first goes on to NATS, the rest are answered only.
    for (let i = 0; i < 10; i++) {
      await ask();
      await sleep(20);
    }
    await sleep(300);
    await nc.flush();
    expect(probes()).toBe(1);
    // A second later the next one goes on again.
    await sleep(800);
    await ask();
    await sleep(300);
    await nc.flush();
    expect(probes()).toBe(2);
  });

  it('stop() closes what it opened: the relayed WebSocket server, the discovery socket, its periodic NATS requests; once', async () => {
    const prefix = uniquePrefix();
    const discovery = await lanDiscovery();
    const provider = createProvider({ services: [greeter], lan: false, heartbeatIntervalMs: 500, log: () => {}, nats: { servers: suite.node().url, subjectPrefix: prefix } });
    suite.defer(() => provider.stop());
    await provider.start();
    const g = await gateway(prefix, discovery, 200);
    const client = createClient({ discovery, log: () => {} });
    const view = await client.waitFor('Greeter', { timeoutMs: 5_000 });
    await client.stop(); // the gateway is left alone on the discovery port
    const nc = await suite.rawConnection();
    let requests = 0;
    nc.subscribe(`${prefix}.disc.req`, { callback: () => void requests++ });
    await nc.flush();
    const bindExclusively = () => new Promise<string>((resolve) => {
      const socket = createSocket({ type: 'udp4', reuseAddr: false });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      socket.bind(discovery.port, () => socket.close(() => resolve('bound')));
    });
    const connect = () => new Promise<string>((resolve) => {
      const socket = new WebSocket(view.endpoint);
      socket.once('open', () => {
        socket.terminate();
        resolve('open');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    // While it runs: the port is held, the relayed endpoint answers, requests go out every 200 ms.
    expect(await bindExclusively()).toBe('EADDRINUSE');
    expect(await connect()).toBe('open');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await nc.flush();
    expect(requests).toBeGreaterThan(0);
    await g.stop();
    // Requests the gateway published before it stopped may still be on their way to `nc`: one
    // round trip to the server delivers them before the count starts again.
    await nc.flush();
    requests = 0;
    // A socket's close completes on a later turn of the event loop: allow it a moment.
    let bound = await bindExclusively();
    for (let tries = 0; bound !== 'bound' && tries < 20; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      bound = await bindExclusively();
    }
    expect(bound).toBe('bound');
    expect(await connect()).toBe('ECONNREFUSED');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await nc.flush();
    expect(requests).toBe(0);
    // Stopping again (as the cleanup does) is quiet: nothing is told to the stopped hub.
    const warn = vi.spyOn(console, 'warn');
    try {
      await g.stop();
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });
});
