/**
 * The NATS adapter against a real nats-server (one node, free loopback port): the same provider
 * and client machines as on the LAN, discovery by request/reply on subjects, task connections,
 * NATS micro interoperability, mixed LAN + NATS deployments, and the attacks each defence answers.
 * Skipped, saying why, when no nats-server binary exists.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { connect as connectV2, RequestStrategy } from 'nats';
import { createNatsMetrics, natsHost } from '../adapters/nats.js';
import type { StreamCommand } from '../machines/transport.js';
import { createProvider } from '../runtime/provider.js';
import { greeter, natsSuite, runTransport, uniquePrefix, type Harness } from './support/natsFixtures.js';
import { allocatePort } from './support/ports.js';
import { NATS_SERVER_MISSING } from './support/natsServer.js';
import { sleep, until } from './support/processes.js';

const describeNats = NATS_SERVER_MISSING === undefined ? describe : describe.skip;
if (NATS_SERVER_MISSING !== undefined) console.warn(`adapters.nats.spec.ts skipped: ${NATS_SERVER_MISSING}`);

const suite = natsSuite();
const { startProvider, startClient, rawConnection } = suite;
const nats = suite.options;

describeNats('NATS adapter: provider and client machines over a real nats-server', () => {
  it('NATS-2, NATS-4: discovers by request/reply and runs a task with progress and a result, NATS only', async () => {
    const prefix = uniquePrefix();
    const provider = await startProvider({ services: [greeter], lan: false, nats: nats(prefix, { name: 'greeter-1' }) });
    expect(provider.endpoint).toBe(`nats://${prefix}/greeter-1`);
    const client = startClient({ lan: false, nats: nats(prefix) });
    const view = await client.waitFor('Greeter', { operation: 'greet', timeoutMs: 5_000 });
    expect(view.endpoint).toBe(`nats://${prefix}/greeter-1`);
    const progress: number[] = [];
    const task = client.assign('Greeter', 'greet', { name: 'Ada' });
    task.onProgress((p) => progress.push(p.progressPercentage));
    await expect(task.result).resolves.toEqual({ hello: 'Ada' });
    expect(progress).toContain(50);
    const failed = client.assign('Greeter', 'fail', {});
    await expect(failed.result).rejects.toMatchObject({ code: 'ASKED_TO_FAIL' });
  });

  it('NATS-1: keeps deployments apart by subject prefix', async () => {
    const prefix = uniquePrefix();
    await startProvider({ services: [greeter], lan: false, nats: nats(prefix) });
    const stranger = startClient({ lan: false, nats: nats(uniquePrefix()) });
    await expect(stranger.waitFor('Greeter', { timeoutMs: 600 })).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it('the goodbye reaches clients: a stopped provider leaves their repository at once (DISC-7)', async () => {
    const prefix = uniquePrefix();
    const provider = createProvider({ services: [greeter], lan: false, heartbeatIntervalMs: 60_000, log: () => {}, nats: nats(prefix) });
    await provider.start();
    const client = startClient({ lan: false, nats: nats(prefix) });
    await client.waitFor('Greeter', { timeoutMs: 5_000 });
    await provider.stop();
    await until(() => client.services().length === 0, 'the goodbye', 3_000);
  });

  it('NATS-4: a listener name already taken fails the second provider (server.failed)', async () => {
    const prefix = uniquePrefix();
    await startProvider({ services: [greeter], lan: false, nats: nats(prefix, { name: 'same' }) });
    const second = createProvider({ services: [greeter], lan: false, log: () => {}, nats: nats(prefix, { name: 'same' }) });
    await expect(second.start()).rejects.toThrow(/in use/);
  });

  it('NATS-4: a connect to a name nobody listens under is refused at once (no responders), not after a timeout', async () => {
    const prefix = uniquePrefix();
    const host = natsHost(nats(prefix));
    const started = performance.now();
    const harness = runTransport(host.connect(), { endpoint: `nats://${prefix}/nobody` });
    suite.defer(() => harness.stop());
    await until(() => harness.of('transport.closed').length > 0, 'transport.closed', 3_000);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(harness.of('transport.opened')).toHaveLength(0);
    expect(harness.of('transport.closed')[0]).toMatchObject({ graceful: false, code: 1006, reason: expect.stringMatching(/refused/), refused: true });
    const foreign = runTransport(host.connect(), { endpoint: `nats://other.space/x` });
    suite.defer(() => foreign.stop());
    await until(() => foreign.of('transport.closed').length > 0, 'transport.closed', 1_000);
    expect(foreign.of('transport.closed')[0]).toMatchObject({ reason: expect.stringMatching(/subject space/) });
  });

  it('passes a token through to admission (SEC-2): the provider with API keys refuses a wrong one', async () => {
    const prefix = uniquePrefix();
    await startProvider({ services: [greeter], lan: false, nats: nats(prefix), auth: { tokens: ['k-right'] } });
    const good = startClient({ lan: false, nats: nats(prefix), connect: { token: 'k-right' } });
    await good.waitFor('Greeter', { timeoutMs: 5_000 });
    await expect(good.assign('Greeter', 'greet', { name: 'ok' }).result).resolves.toEqual({ hello: 'ok' });
    const bad = startClient({ lan: false, nats: nats(prefix), connect: { token: 'k-wrong' } });
    const downs: string[] = [];
    bad.on('connection.down', (event) => downs.push(event.reason));
    await bad.waitFor('Greeter', { timeoutMs: 5_000 });
    // Refused by the provider's admission with 1008, as a WebSocket upgrade with a wrong token is;
    // the task ends with a code (its deadline), never silently.
    await expect(bad.assign('Greeter', 'greet', { name: 'no' }, { timeoutMs: 800 }).result).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(downs[0]).toMatch(/1008/);
  });
});

describeNats('NATS adapter: NATS micro interoperability ($SRV.PING / INFO / STATS)', () => {
  it('NATS-7: a micro client (nats.js v2 services API) lists, describes and counts switchboard services', async () => {
    const prefix = uniquePrefix();
    await startProvider({ services: [greeter], lan: false, nats: nats(prefix, { name: 'micro-1' }) });
    const client = startClient({ lan: false, nats: nats(prefix) });
    await client.waitFor('Greeter', { timeoutMs: 5_000 });
    await client.assign('Greeter', 'greet', { name: 'a' }).result;
    await client.assign('Greeter', 'greet', { name: 'b' }).result;
    await client.assign('Greeter', 'fail', {}).result.catch(() => undefined);

    const nc = await connectV2({ servers: suite.node().url });
    suite.defer(() => nc.close());
    const micro = nc.services.client({ maxWait: 250, strategy: RequestStrategy.Timer });
    const collect = async <T>(source: Promise<AsyncIterable<T>>): Promise<T[]> => {
      const all: T[] = [];
      for await (const item of await source) all.push(item);
      return all;
    };
    const pings = (await collect(micro.ping('Greeter'))).filter((p) => p.metadata?.['switchboard.endpoint'] === `nats://${prefix}/micro-1`);
    expect(pings).toHaveLength(1);
    expect(pings[0]).toMatchObject({ type: 'io.nats.micro.v1.ping_response', name: 'Greeter', version: '1.0.0' });
    const id = pings[0]!.id;
    const [info] = await collect(micro.info('Greeter', id));
    expect(info).toMatchObject({ type: 'io.nats.micro.v1.info_response', name: 'Greeter', id });
    expect(info!.endpoints.map((e) => e.name).sort()).toEqual(['fail', 'greet']);
    expect(info!.endpoints[0]!.subject).toBe(`${prefix}.srv.micro-1`);
    const [stats] = await collect(micro.stats('Greeter', id));
    const greet = stats!.endpoints!.find((e) => e.name === 'greet')!;
    const fail = stats!.endpoints!.find((e) => e.name === 'fail')!;
    expect(greet).toMatchObject({ num_requests: 2, num_errors: 0 });
    expect(greet.processing_time).toBeGreaterThan(0);
    expect(fail).toMatchObject({ num_requests: 1, num_errors: 1 });
    expect(fail.last_error).toMatch(/ASKED_TO_FAIL/);
  });
});

describeNats('NATS adapter: mixed deployments (LAN + NATS)', () => {
  it('a provider serves on both; a NATS-only client and a LAN client both use it; a client on both sees one instance', async () => {
    const prefix = uniquePrefix();
    const discoveryPort = await allocatePort();
    const lan = { port: discoveryPort, broadcastAddresses: ['127.255.255.255'], bindAddress: '0.0.0.0' };
    const provider = await startProvider({ services: [greeter], host: '127.0.0.1', discovery: lan, nats: nats(prefix, { name: 'mixed' }) });
    expect(provider.endpoint).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);

    const natsOnly = startClient({ lan: false, nats: nats(prefix) });
    const viaNats = await natsOnly.waitFor('Greeter', { timeoutMs: 5_000 });
    expect(viaNats.endpoint).toBe(`nats://${prefix}/mixed`);
    await expect(natsOnly.assign('Greeter', 'greet', { name: 'n' }).result).resolves.toEqual({ hello: 'n' });

    const lanOnly = startClient({ discovery: lan });
    const viaLan = await lanOnly.waitFor('Greeter', { timeoutMs: 5_000 });
    expect(viaLan.endpoint).toBe(provider.endpoint);
    await expect(lanOnly.assign('Greeter', 'greet', { name: 'l' }).result).resolves.toEqual({ hello: 'l' });

    const both = startClient({ discovery: lan, nats: nats(prefix) });
    await both.waitFor('Greeter', { timeoutMs: 5_000 });
    await sleep(1_500); // a heartbeat on each path
    const instances = both.services().filter((s) => s.serviceName === 'Greeter');
    expect(instances).toHaveLength(1);
    expect(instances[0]!.endpoint).toBe(provider.endpoint); // the LAN, listed first, wins
    await expect(both.assign('Greeter', 'greet', { name: 'b' }).result).resolves.toEqual({ hello: 'b' });
  });
});

describeNats('NATS adapter: hostile input is coded, counted, and harms nobody', () => {
  it('NATS-3, WIRE-9: garbage on every switchboard subject: counted, and another client\'s tasks still complete', async () => {
    const prefix = uniquePrefix();
    const metrics = createNatsMetrics();
    await startProvider({ services: [greeter], lan: false, nats: nats(prefix, { name: 'target', metrics }) });
    const client = startClient({ lan: false, nats: nats(prefix) });
    await client.waitFor('Greeter', { timeoutMs: 5_000 });
    const slow = client.assign('Greeter', 'greet', { name: 'survivor', delayMs: 300 });
    const nc = await rawConnection();
    const subjects = [`${prefix}.disc.req`, `${prefix}.srv.target`, `${prefix}.srv.target.someconn`, `${prefix}.disc.adv.Greeter`];
    const seed = Number(process.env.NATS_FUZZ_SEED ?? 20261203);
    fc.assert(
      fc.property(fc.constantFrom(...subjects), fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.json().map((j) => new TextEncoder().encode(j))), (subject, bytes) => {
        nc.publish(subject, bytes, { reply: `${prefix}.disc.inbox.fuzz` });
      }),
      { seed, numRuns: 300 },
    );
    nc.publish(`${prefix}.disc.req`, new Uint8Array(70_000)); // over datagramBytesMax
    await nc.flush();
    await expect(slow.result).resolves.toEqual({ hello: 'survivor' });
    await expect(client.assign('Greeter', 'greet', { name: 'after' }).result).resolves.toEqual({ hello: 'after' });
    const rejected = Object.values(metrics.rejected).reduce((a, b) => a + (b ?? 0), 0);
    expect(rejected).toBeGreaterThan(50);
    expect(metrics.rejected.MESSAGE_TOO_LARGE).toBeGreaterThanOrEqual(1);
    expect(metrics.unknownConnection).toBeGreaterThan(0);
  });

  it('NATS-2: a forged reply subject does not make the provider publish outside the discovery inboxes (no reflection)', async () => {
    const prefix = uniquePrefix();
    const metrics = createNatsMetrics();
    await startProvider({ services: [greeter], lan: false, nats: nats(prefix, { metrics }) });
    const nc = await rawConnection();
    const victim: string[] = [];
    nc.subscribe(`${prefix}.victim`, { callback: (_e, m) => void victim.push(m.subject) });
    const inbox: string[] = [];
    nc.subscribe(`${prefix}.disc.inbox.honest`, { callback: (_e, m) => void inbox.push(m.string()) });
    const request = (clientId: string) => JSON.stringify({ discoveryType: 'ClientServiceDiscoveryRequest', clientId, timestamp: new Date().toISOString() });
    nc.publish(`${prefix}.disc.req`, request('forger'), { reply: `${prefix}.victim` });
    nc.publish(`${prefix}.disc.req`, request('honest'), { reply: `${prefix}.disc.inbox.honest` });
    await until(() => inbox.length > 0, 'the honest answer', 3_000);
    await sleep(100);
    expect(victim).toEqual([]);
    expect(metrics.discoveryRefused).toBe(1);
    expect(JSON.parse(inbox[0]!)).toMatchObject({ discoveryType: 'ServiceAdvertisement', respondsToClientId: 'honest' });
  });

  it('NATS-5: a frame that goes missing ends the connection (1006, frames lost) instead of leaving a gap', async () => {
    const prefix = uniquePrefix();
    const host = natsHost(nats(prefix, { name: 'gap' }));
    const server = runTransport(host.server(), undefined);
    suite.defer(() => server.stop());
    await until(() => server.of('server.listening').length > 0, 'listening', 3_000);
    const client = natsHost(nats(prefix));
    const end: Harness<StreamCommand> = runTransport(client.connect(), { endpoint: host.endpoint });
    suite.defer(() => end.stop());
    await until(() => end.of('transport.opened').length > 0, 'opened', 3_000);
    const accepted = server.of('server.accepted')[0] as unknown as { connectionId: string };
    const session = runTransport(host.accepted(), { connectionId: accepted.connectionId });
    suite.defer(() => session.stop());
    end.send({ type: 'transport.send', draft: { type: 'GetStatus', payload: { taskId: 't1', originalClientId: 'c1' } } });
    await until(() => session.of('transport.message').length === 1, 'first frame', 3_000);
    // Someone (a test standing in for a lost message) sends frame 5 when 2 is due.
    const nc = await rawConnection();
    nc.publish(`${prefix}.srv.gap.${accepted.connectionId}`, 'msg 5\n{}');
    await until(() => session.of('transport.closed').length > 0, 'closed', 3_000);
    expect(session.of('transport.closed')[0]).toMatchObject({ graceful: false, code: 1006, reason: expect.stringMatching(/frames lost/) });
    // The peer is told (reset): it does not go on talking into the void.
    await until(() => end.of('transport.closed').length > 0, 'peer closed', 3_000);
    expect(end.of('transport.closed')[0]).toMatchObject({ graceful: false, code: 1006 });
    expect(host.metrics.framesLost).toBe(1);
  });

  it('NATS-6: close handshake: both ends see a graceful close with the code sent', async () => {
    const prefix = uniquePrefix();
    const host = natsHost(nats(prefix, { name: 'closing' }));
    const server = runTransport(host.server(), undefined);
    suite.defer(() => server.stop());
    await until(() => server.of('server.listening').length > 0, 'listening', 3_000);
    const end = runTransport(natsHost(nats(prefix)).connect(), { endpoint: host.endpoint });
    suite.defer(() => end.stop());
    await until(() => end.of('transport.opened').length > 0, 'opened', 3_000);
    const session = runTransport(host.accepted(), { connectionId: (server.of('server.accepted')[0] as unknown as { connectionId: string }).connectionId });
    suite.defer(() => session.stop());
    end.send({ type: 'transport.ping' });
    await until(() => end.of('transport.pong').length === 1, 'pong', 3_000);
    session.send({ type: 'transport.close', code: 1001, reason: 'provider stopping' });
    await until(() => end.of('transport.closed').length > 0 && session.of('transport.closed').length > 0, 'both closed', 3_000);
    expect(end.of('transport.closed')).toEqual([{ type: 'transport.closed', graceful: true, code: 1001, reason: 'provider stopping' }]);
    expect(session.of('transport.closed')).toEqual([{ type: 'transport.closed', graceful: true, code: 1001, reason: 'provider stopping' }]);
  });
});
