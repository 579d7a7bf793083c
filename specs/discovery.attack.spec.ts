/**
 * Attacks on discovery, on real UDP sockets on loopback (SEC-8, DISC-14, DISC-15): while a real
 * signed provider runs, an attacker's socket (its own loopback address) broadcasts forged
 * advertisements of a new instance of the service, forged goodbyes and Busy/Draining statuses for
 * the real instance (unsigned, signed with its own key, and a real advertisement altered), and
 * replays of captured advertisements (the real provider's, and those of a provider that has said
 * goodbye). A client with a trust store must keep selecting and using the real provider and
 * nothing else; a client without the defences (signatures not checked, unsigned allowed) is
 * attacked side by side, to show each attack works where the defence is missing.
 *
 * And the TLS binding: the certificate fingerprint a signed advertisement carries is pinned when
 * the client connects over wss://, so an endpoint presenting another certificate is refused.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createDatagramSigner } from '../adapters/udp/signature.js';
import { ephemeralKey } from '../runtime/keys.js';
import type { ServiceView } from '../machines/repository.js';
import { closeAll, discoveryPort, LOOPBACK, rawSocket, sleep, startClient, startProvider, until } from './support/discoveryNet.js';

afterEach(closeAll);

const attackerKey = ephemeralKey();
const attackerSigner = createDatagramSigner({ privateKey: attackerKey.privateKey, epoch: Date.now() + 1_000_000 });

function forged(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    discoveryType: 'ServiceAdvertisement',
    serviceName: 'Greeter',
    serviceVersion: '1.0.0',
    capabilities: [{ key: 'greet', settings: [{ string: 'name' }] }],
    status: 'Online',
    load: 0,
    heartbeatIntervalMs: 500,
    timestamp: new Date().toISOString(),
    ...fields,
  };
}

/** A WebSocket server the attacker runs at its forged endpoint: it counts who connects. */
async function trap(): Promise<{ endpoint: string; connections: () => number }> {
  const server = new WebSocketServer({ host: LOOPBACK, port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  let connections = 0;
  server.on('connection', (socket) => {
    connections++;
    socket.close();
  });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  return { endpoint: `ws://${LOOPBACK}:${port}`, connections: () => connections };
}

describe('discovery attacks on real sockets (SEC-8, DISC-14, DISC-15)', () => {
  it('forged instances, goodbyes, statuses and replays change nothing for a client with a trust store; they do fool one without', async () => {
    const port = await discoveryPort();
    const listener = await rawSocket('0.0.0.0', { port, reuseAddr: true }); // the attacker hears every broadcast
    const attacker = await rawSocket('127.0.0.66');
    const { endpoint: trapEndpoint, connections } = await trap();

    // The provider's previous run (same key, earlier epoch, as after a restart with its key
    // file): the attacker kept its advertisements to replay them.
    const key = ephemeralKey();
    const old = await startProvider(port, { servedBy: 'old', signing: { privateKey: key.privateKey, epoch: 1_000 } });
    const oldAds = await until(() => {
      const ads = listener.received.filter((datagram) => datagram.text.includes('"epoch":1000'));
      return ads.length >= 2 && ads;
    }, "the old run's advertisements");
    await old.stop();

    const real = await startProvider(port, { servedBy: 'real', signing: { privateKey: key.privateKey, epoch: 2_000 } });
    const trustStore = { pinned: [`Greeter=${real.publicKey}`] };
    const protectedClient = startClient(port, { trust: trustStore });
    const unprotected = startClient(port, { trust: { allowUnsigned: true }, discovery: { verifySignatures: false } });
    const realService = await protectedClient.waitFor('Greeter', { operation: 'greet', timeoutMs: 5_000 });
    await unprotected.waitFor('Greeter', { operation: 'greet', timeoutMs: 5_000 });
    // Every view either client had from here on: the protected one must never list anything else.
    // (services.changed comes only when the view changes: the view at the start is the first one.)
    const protectedSaw = new Set<string>();
    const seeView = (services: readonly ServiceView[]) => {
      for (const service of services) protectedSaw.add(`${service.serviceId} ${service.status} ${service.endpoint}`);
      if (services.length === 0) protectedSaw.add('nothing');
    };
    seeView(protectedClient.services());
    protectedClient.on('services.changed', ({ services }) => seeView(services));
    const unprotectedSaw = new Set<string>();
    unprotected.on('services.changed', ({ services }) => {
      unprotectedSaw.add(services.find((service) => service.serviceId === realService.serviceId)?.status ?? 'gone');
    });
    const realAd = listener.received.find((datagram) => datagram.text.includes(realService.serviceId));
    if (realAd === undefined) throw new Error('no advertisement of the real provider was captured');
    const realWire = JSON.parse(realAd.text) as Record<string, unknown>;

    const attacks = (): string[] => [
      // A new instance of the service at the attacker's endpoint: unsigned, and signed with its own key.
      JSON.stringify(forged({ serviceId: 'Greeter-forged', endpoint: trapEndpoint })),
      JSON.stringify(attackerSigner.seal(forged({ serviceId: 'Greeter-forged-signed', endpoint: trapEndpoint }))),
      // Goodbye, Busy and Draining for the real instance: unsigned, signed with another key, and the real one altered.
      ...(['Offline', 'Busy', 'Draining'] as const).flatMap((status) => [
        JSON.stringify(forged({ serviceId: realService.serviceId, endpoint: realService.endpoint, status })),
        JSON.stringify(attackerSigner.seal(forged({ serviceId: realService.serviceId, endpoint: trapEndpoint, status }))),
        JSON.stringify({ ...realWire, status, endpoint: trapEndpoint }),
      ]),
      // Replays: the real provider's own advertisement, and the old provider's.
      realAd.text,
      ...oldAds.map((datagram) => datagram.text),
    ];
    let attacking = true;
    let sent = 0;
    const attack = (async () => {
      while (attacking) {
        for (const datagram of attacks()) {
          await attacker.send(datagram, port);
          sent++;
        }
        await sleep(20);
      }
    })();

    try {
      // Under attack, the protected client uses the real provider for every task.
      for (let round = 0; round < 10; round++) {
        const results = await Promise.all(
          Array.from({ length: 4 }, (_, i) => protectedClient.assign<{ servedBy: string }>('Greeter', 'greet', { name: `r${round}-${i}` }).result),
        );
        expect(results.map((result) => result.servedBy)).toEqual(['real', 'real', 'real', 'real']);
        await sleep(50);
      }
      expect(protectedClient.services()).toEqual([expect.objectContaining({ serviceId: realService.serviceId, status: 'Online', signedBy: real.publicKey })]);

      // The unprotected client, fed the same datagrams, lists the forged instance and the dead one.
      await until(() => {
        const ids = unprotected.services().map((service) => service.serviceId);
        return ids.includes('Greeter-forged') && ids.includes('Greeter-forged-signed') && ids.some((id) => oldAds.some((datagram) => datagram.text.includes(id)));
      }, 'the unprotected client to list the forged and the replayed instances');
      await until(() => ['gone', 'Busy', 'Draining'].every((status) => unprotectedSaw.has(status)), 'the forged goodbye and statuses to reach the unprotected client');
    } finally {
      attacking = false;
      await attack;
    }
    expect(sent).toBeGreaterThan(100);
    expect([...protectedSaw]).toEqual([`${realService.serviceId} Online ${realService.endpoint}`]);
    const stats = protectedClient.discoveryStats();
    expect(stats.ignoredByReason).toMatchObject({
      signatureRequired: expect.any(Number),
      keyMismatch: expect.any(Number),
      badSignature: expect.any(Number),
      replayed: expect.any(Number),
    });
    for (const reason of ['signatureRequired', 'keyMismatch', 'badSignature', 'replayed'] as const) expect(stats.ignoredByReason[reason]).toBeGreaterThan(0);
    // Nobody it protects ever connected to the attacker (the unprotected client did not assign).
    expect(connections()).toBe(0);
  }, 30_000);

  it('a goodbye for a pinned provider that really stops is honoured (the defence is not deafness)', async () => {
    const port = await discoveryPort();
    const real = await startProvider(port);
    const client = startClient(port, { trust: { pinned: [`Greeter=${real.publicKey}`], trustOnFirstUse: false } });
    await client.waitFor('Greeter', { timeoutMs: 5_000 });
    await real.stop();
    await until(() => client.services().length === 0, 'the goodbye to remove the provider', 2_000);
  });
});

const hasOpenssl = spawnSync('openssl', ['version'], { timeout: 5_000 }).status === 0;

describe(`the TLS certificate bound to the provider's key (SEC-8)${hasOpenssl ? '' : ' (SKIPPED: openssl not found on PATH)'}`, () => {
  let dir = '';
  const pair = (name: string) => {
    spawnSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-days', '1',
        '-subj', '/CN=switchboard-test', '-addext', 'subjectAltName=IP:127.0.0.1',
      ],
      { timeout: 20_000 },
    );
    return { key: readFileSync(join(dir, `${name}.key`), 'utf8'), cert: readFileSync(join(dir, `${name}.pem`), 'utf8') };
  };
  let genuine = { key: '', cert: '' };
  let impostor = { key: '', cert: '' };

  beforeAll(() => {
    if (!hasOpenssl) return;
    dir = mkdtempSync(join(tmpdir(), 'switchboard-tls-bind-'));
    genuine = pair('genuine');
    impostor = pair('impostor');
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!hasOpenssl)('the client pins the advertised fingerprint on wss://: the genuine certificate is used, no CA needed', async () => {
    const port = await discoveryPort();
    const provider = await startProvider(port, { server: { tls: genuine } });
    expect(provider.endpoint).toMatch(/^wss:\/\//);
    const client = startClient(port, { trust: { pinned: [`Greeter=${provider.publicKey}`] } });
    const service = await client.waitFor('Greeter', { timeoutMs: 5_000 });
    expect(service.tlsFingerprint256).toBe(new X509Certificate(genuine.cert).fingerprint256.replace(/:/g, ''));
    await expect(client.assign<{ servedBy: string }>('Greeter', 'greet', { name: 'tls' }).result).resolves.toMatchObject({ servedBy: 'real' });
  });

  it.skipIf(!hasOpenssl)('an endpoint presenting another certificate than the signed advertisement names is refused', async () => {
    const port = await discoveryPort();
    // The key signs the genuine fingerprint, but the endpoint serves the impostor's certificate
    // (as a machine in the middle of the TCP connection would).
    const provider = await startProvider(port, { server: { tls: impostor } });
    const signer = createDatagramSigner({ privateKey: attackerKey.privateKey, epoch: 1, tlsFingerprint256: new X509Certificate(genuine.cert).fingerprint256.replace(/:/g, '') });
    const attacker = await rawSocket('127.0.0.66');
    const client = startClient(port, { trust: { pinned: [`Greeter=${attackerKey.publicKey}`] } });
    await attacker.send(JSON.stringify(signer.seal(forged({ serviceId: 'Greeter-bound', endpoint: provider.endpoint }))), port);
    await until(() => client.services().find((service) => service.serviceId === 'Greeter-bound'), 'the advertisement');
    const outcome = await client.assign('Greeter', 'greet', { name: 'x' }).result.catch((error: unknown) => error);
    expect(outcome).toMatchObject({ code: 'CONNECTION_LOST' });
  });
});
