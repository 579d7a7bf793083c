/**
 * Attacks on discovery over NATS (SEC-8, DISC-14, NATS-8), against a real nats-server: anyone
 * allowed to publish on a deployment's discovery subjects can send advertisements, as anyone on a
 * LAN can send datagrams. NATS discovery seals and checks advertisements as UDP does
 * (adapters/udp/wire.ts), so:
 *
 * - a forged unsigned advertisement (on `P.disc.adv.<service>`, and as an answer on a client's
 *   discovery inbox) is ignored by a client with the default trust policy;
 * - a signed advertisement altered in flight (a captured one, its endpoint changed) is ignored;
 * - a provider relayed by the gateway is believed under the gateway's key (not the provider's),
 *   and the gateway does not relay (so does not re-sign) an advertisement that fails its check.
 *
 * Each attack runs side by side against a client without the defence (signatures not checked,
 * unsigned allowed), to show it works where the defence is missing.
 */
import { describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { natsHost, type NatsHostOptions } from '../adapters/nats.js';
import { Subjects } from '../adapters/nats/subjects.js';
import { createDatagramSigner } from '../adapters/udp/signature.js';
import type { Client } from '../runtime/client.js';
import { createGateway } from '../runtime/gateway/gateway.js';
import { ephemeralKey } from '../runtime/keys.js';
import { greeter, natsSuite, uniquePrefix } from './support/natsFixtures.js';
import { NATS_SERVER_MISSING } from './support/natsServer.js';
import { allocatePort } from './support/ports.js';
import { until } from './support/processes.js';

const describeNats = NATS_SERVER_MISSING === undefined ? describe : describe.skip;

const suite = natsSuite();

/** A client without the defence: advertisements' signatures not checked, unsigned ones believed. */
function undefendedClient(nats: NatsHostOptions): Client {
  const host = natsHost(nats);
  return suite.startClient({ network: { ...host, discovery: () => host.discovery({ verifySignatures: false }) }, trust: { allowUnsigned: true } });
}

/** Every endpoint `client` has listed for `serviceName` from now on. */
function endpointsSeen(client: Client, serviceName: string): Set<string> {
  const seen = new Set<string>();
  const off = client.on('services.changed', (event) => event.services.filter((s) => s.serviceName === serviceName).forEach((s) => seen.add(s.endpoint)));
  suite.defer(off);
  return seen;
}

/** Publishes `text` on `subject` every 50 ms until stopped (a NATS publish has no delivery guarantee to late subscribers). */
function keepPublishing(nc: NatsConnection, subject: string, text: () => string): () => void {
  const timer = setInterval(() => nc.publish(subject, text()), 50);
  suite.defer(() => clearInterval(timer));
  return () => clearInterval(timer);
}

const forgedAdvertisement = (prefix: string, fields: Record<string, unknown>) =>
  JSON.stringify({
    discoveryType: 'ServiceAdvertisement',
    serviceName: 'Greeter',
    serviceVersion: '1.0.0',
    endpoint: `nats://${prefix}/trap`,
    capabilities: [{ key: 'greet', settings: [{ string: 'name' }] }],
    status: 'Online',
    load: 0,
    heartbeatIntervalMs: 60_000,
    timestamp: new Date().toISOString(),
    ...fields,
  });

describeNats('discovery attacks over NATS (SEC-8, DISC-14, NATS-8)', () => {
  it('a forged unsigned advertisement, published or answered to a request, is ignored by a default client; it fools one without the defence', async () => {
    const prefix = uniquePrefix();
    const subjects = new Subjects(prefix);
    const attacker = await suite.rawConnection();
    // The attacker answers every discovery request with its forged instance, and also publishes it.
    attacker.subscribe(subjects.discoveryRequests, {
      callback: (_error, request) => {
        if (request.reply !== undefined) attacker.publish(request.reply, forgedAdvertisement(prefix, { serviceId: 'Greeter-forged' }));
      },
    });
    await attacker.flush();
    const provider = await suite.startProvider({ services: [greeter], lan: false, nats: suite.options(prefix) });
    const defended = suite.startClient({ lan: false, nats: suite.options(prefix) });
    const undefended = undefendedClient(suite.options(prefix));
    const real = await defended.waitFor('Greeter', { operation: 'greet', timeoutMs: 5_000 });
    expect(real.endpoint).toBe(provider.endpoint);
    keepPublishing(attacker, subjects.advertisement('Greeter'), () => forgedAdvertisement(prefix, { serviceId: 'Greeter-forged' }));

    await until(() => undefended.services().some((s) => s.serviceId === 'Greeter-forged'), 'the undefended client listing the forged instance', 5_000);
    await until(() => defended.discoveryStats().ignoredByReason.unsigned >= 2, 'the defended client judging the forged advertisements', 5_000);
    expect(defended.services().map((s) => [s.serviceId, s.endpoint])).toEqual([[real.serviceId, provider.endpoint]]);
    await expect(defended.assign('Greeter', 'greet', { name: 'real' }).result).resolves.toEqual({ hello: 'real' });
  });

  it('a captured signed advertisement with its endpoint changed is ignored (badSignature); without the check it redirects the instance', async () => {
    const prefix = uniquePrefix();
    const subjects = new Subjects(prefix);
    const attacker = await suite.rawConnection();
    let captured: Record<string, unknown> | undefined;
    attacker.subscribe(subjects.advertisementsAll, { callback: (_error, message) => void (captured ??= message.json<Record<string, unknown>>()) });
    await attacker.flush();
    const provider = await suite.startProvider({ services: [greeter], lan: false, heartbeatIntervalMs: 60_000, nats: suite.options(prefix) });
    const defended = suite.startClient({ lan: false, nats: suite.options(prefix) });
    const undefended = undefendedClient(suite.options(prefix));
    await defended.waitFor('Greeter', { timeoutMs: 5_000 });
    await undefended.waitFor('Greeter', { timeoutMs: 5_000 });
    const original = await until(() => captured, "the provider's signed advertisement", 5_000);
    expect(original).toMatchObject({ endpoint: provider.endpoint, publicKey: provider.publicKey, signature: expect.any(String) });
    const seenByUndefended = endpointsSeen(undefended, 'Greeter');

    // Altered in flight: the same signature, another endpoint, a later sequence (so not a replay).
    let sequence = Number(original.sequence) + 1;
    keepPublishing(attacker, subjects.advertisement('Greeter'), () => JSON.stringify({ ...original, endpoint: `nats://${prefix}/trap`, sequence: sequence++, timestamp: new Date().toISOString() }));

    await until(() => seenByUndefended.has(`nats://${prefix}/trap`), 'the undefended client redirected to the trap', 5_000);
    await until(() => defended.discoveryStats().ignoredByReason.badSignature >= 2, 'the defended client refusing the altered advertisements', 5_000);
    expect(defended.services().map((s) => s.endpoint)).toEqual([provider.endpoint]);
    await expect(defended.assign('Greeter', 'greet', { name: 'still real' }).result).resolves.toEqual({ hello: 'still real' });
  });

  it("a provider relayed by the gateway is believed under the gateway's key, not the provider's; the gateway relays no advertisement that fails its check", async () => {
    const prefix = uniquePrefix();
    const subjects = new Subjects(prefix);
    const discovery = { port: await allocatePort(), broadcastAddresses: ['127.255.255.255'] };
    const providerKey = ephemeralKey();
    const gatewayKey = ephemeralKey();
    await suite.startProvider({ services: [greeter], host: '127.0.0.1', discovery, heartbeatIntervalMs: 300, signing: { privateKey: providerKey.privateKey } });
    const gateway = createGateway({
      nats: suite.options(prefix),
      lan: { discovery, host: '127.0.0.1' },
      requestPeriodMs: 500,
      signing: { privateKey: gatewayKey.privateKey },
      log: () => {},
    });
    suite.defer(() => gateway.stop());
    await gateway.start();
    expect(gateway.publicKey).toBe(gatewayKey.publicKey);

    // Pinned to the gateway's key: the relayed provider is found and used.
    const pinnedToGateway = suite.startClient({ lan: false, nats: suite.options(prefix), trust: { pinned: [`Greeter=${gatewayKey.publicKey}`], trustOnFirstUse: false } });
    const relayed = await pinnedToGateway.waitFor('Greeter', { operation: 'greet', timeoutMs: 5_000 });
    expect(relayed.signedBy).toBe(gatewayKey.publicKey);
    await expect(pinnedToGateway.assign('Greeter', 'greet', { name: 'relayed' }).result).resolves.toEqual({ hello: 'relayed' });
    // Pinned to the provider's own key: the relayed advertisements are not its signature.
    const pinnedToProvider = suite.startClient({ lan: false, nats: suite.options(prefix), trust: { pinned: [`Greeter=${providerKey.publicKey}`], trustOnFirstUse: false } });
    await until(() => pinnedToProvider.discoveryStats().ignoredByReason.keyMismatch >= 1, 'the provider-pinned client refusing the relayed advertisement', 5_000);
    expect(pinnedToProvider.services()).toEqual([]);

    // A NATS-side advertisement that fails its check (signed, then altered) is not relayed to the
    // LAN: re-signed by the gateway, it would pass every LAN client's check.
    const attacker = await suite.rawConnection();
    const forger = createDatagramSigner({ privateKey: ephemeralKey().privateKey, epoch: Date.now() });
    const tampered = () => JSON.stringify({ ...forger.seal(JSON.parse(forgedAdvertisement(prefix, { serviceId: 'Greeter-tampered', serviceName: 'Tampered' }))), load: 0.5 });
    keepPublishing(attacker, subjects.advertisement('Tampered'), tampered);
    await until(() => gateway.stats.advertisementsInvalid >= 2, 'the gateway refusing the tampered advertisements', 5_000);
    expect(gateway.stats.lanToNats).toBe(1);
    expect(gateway.stats.natsToLan).toBe(0);
  });
});
