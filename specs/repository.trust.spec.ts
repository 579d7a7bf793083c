/**
 * The repository with its trust policy and its per-source bound (SEC-8, DISC-14, DISC-15,
 * DISC-18), on a fake discovery socket and a SimulatedClock: what a forged, spoofed or replayed
 * advertisement changes (nothing), what the parent is told, and that a flood from one address
 * leaves room for the next provider. Proofs are made by hand (the adapters make real ones).
 */
import { describe, expect, it } from 'vitest';
import { trustDefaults, type TrustOptions } from '../machines/discovery/trust.js';
import type { ServiceAdvertisement } from '../machines/messages.js';
import { IGNORED_REPORTS_MAX, repositoryDefaults, type RepositoryInput } from '../machines/repository.js';
import type { DatagramEvent, DatagramProof, PeerAddress } from '../machines/transport.js';
import { sampleAdvertisement, startRepositoryWith } from './support/discoveryFixtures.js';

const KEY = 'K'.repeat(43);
const FORGER_KEY = 'F'.repeat(43);
const PROVIDER: PeerAddress = { host: '10.0.4.17', port: 41_000 };
const ATTACKER: PeerAddress = { host: '10.0.4.66', port: 41_666 };
const NOW = 1_751_456_705_000;
const HEARTBEAT_MS = 30_000;

const signed = (publicKey: string): DatagramProof => ({ kind: 'signed', publicKey });
const unsigned: DatagramProof = { kind: 'unsigned' };

let sequence = 0;
const ad = (overrides: Partial<ServiceAdvertisement> = {}): ServiceAdvertisement =>
  sampleAdvertisement({ timestamp: NOW, epoch: 1, sequence: ++sequence, heartbeatIntervalMs: HEARTBEAT_MS, ...overrides });

const heard = (advertisement: ServiceAdvertisement, proof: DatagramProof, from: PeerAddress = PROVIDER): DatagramEvent => ({
  type: 'datagram.received',
  message: advertisement,
  from,
  proof,
  receivedAtMs: NOW,
});

function start(trust: Partial<TrustOptions> = {}, options: Partial<Omit<RepositoryInput, 'parentRef' | 'trust'>> = {}) {
  const repository = startRepositoryWith({ trust: { ...trustDefaults, ...trust }, ...options });
  const told = (type: string) => repository.changes.filter((event) => event.type === type);
  const stats = () => repository.actor.getSnapshot().context.stats;
  return { ...repository, told, stats };
}

describe('repository: a verified provider (SEC-8, DISC-14)', () => {
  it('is listed with the key that signed it, and its TLS fingerprint; a first-use binding is reported once', () => {
    const repository = start();
    repository.discovery.push(heard(ad({ tlsFingerprint256: 'AB'.repeat(32) }), signed(KEY)));
    repository.discovery.push(heard(ad(), signed(KEY)));
    expect(repository.services()).toMatchObject([{ serviceId: 'svc-1', signedBy: KEY }]);
    expect(repository.told('repository.learned')).toEqual([
      { type: 'repository.learned', serviceId: 'svc-1', serviceName: 'ImageProcessingService', publicKey: KEY },
    ]);
    // An unsigned entry has neither: a fingerprint anybody could have written means nothing.
    const open = start({ allowUnsigned: true });
    open.discovery.push(heard(ad({ tlsFingerprint256: 'AB'.repeat(32) }), unsigned));
    expect(open.services()[0]).not.toHaveProperty('signedBy');
    expect(open.services()[0]).not.toHaveProperty('tlsFingerprint256');
  });

  it('a signed advertisement of localhost keeps its endpoint: only unsigned ones take the source address (a source can be forged)', () => {
    const repository = start({ allowUnsigned: true });
    repository.discovery.push(heard(ad({ serviceId: 'svc-signed', endpoint: 'ws://localhost:8080' }), signed(KEY)));
    repository.discovery.push(heard(ad({ serviceId: 'svc-open', endpoint: 'ws://localhost:8080' }), unsigned));
    expect(repository.services().map((service) => [service.serviceId, service.endpoint])).toEqual([
      ['svc-signed', 'ws://localhost:8080'],
      ['svc-open', 'ws://10.0.4.17:8080'],
    ]);
  });

  it('a spoofed goodbye, Busy or Draining (unsigned, or signed by another key) changes nothing; each is counted', () => {
    const repository = start({ allowUnsigned: true });
    repository.discovery.push(heard(ad({ status: 'Online', load: 0 }), signed(KEY)));
    const before = repository.services();
    for (const status of ['Offline', 'Busy', 'Draining'] as const) {
      repository.discovery.push(heard(ad({ status, load: 5 }), unsigned, ATTACKER));
      repository.discovery.push(heard(ad({ status, load: 5, endpoint: 'ws://10.0.4.66:8080' }), signed(FORGER_KEY), ATTACKER));
      repository.discovery.push(heard(ad({ status, load: 5 }), { kind: 'invalid', reason: 'the signature does not verify' }, ATTACKER));
    }
    expect(repository.services()).toEqual(before);
    expect(repository.entryIds()).toEqual(['entry:svc-1']);
    expect(repository.stats()).toMatchObject({
      advertisementsIgnored: 9,
      ignoredByReason: { signatureRequired: 3, keyMismatch: 3, badSignature: 3 },
    });
  });

  it('a replayed advertisement neither refreshes the entry nor brings back a provider that said goodbye', () => {
    const repository = start();
    const old = ad({ status: 'Online' });
    repository.discovery.push(heard(old, signed(KEY)));
    // 2.9 x heartbeat later, the attacker replays the old advertisement: the entry still expires at 3 x.
    repository.clock.increment(2.9 * HEARTBEAT_MS);
    repository.discovery.push(heard(old, signed(KEY), ATTACKER));
    repository.clock.increment(0.1 * HEARTBEAT_MS);
    expect(repository.services()).toEqual([]);
    // A provider that said goodbye stays gone, whatever copies of its advertisements come back.
    const goodbye = start();
    const alive = ad();
    goodbye.discovery.push(heard(alive, signed(KEY)));
    goodbye.discovery.push(heard(ad({ status: 'Offline' }), signed(KEY)));
    goodbye.discovery.push(heard(alive, signed(KEY), ATTACKER));
    expect(goodbye.services()).toEqual([]);
    expect(goodbye.stats().ignoredByReason.replayed).toBe(1);
  });

  it('a restarted provider (same key, greater epoch) ends the entries of its earlier run, even ones only replayed to this client', () => {
    const repository = start({ pinned: [{ publicKey: KEY, serviceName: 'ImageProcessingService' }] });
    // A copy of the earlier run's advertisement reaches the client first: nothing yet tells it apart.
    repository.discovery.push(heard(ad({ serviceId: 'run-1', epoch: 1 }), signed(KEY), ATTACKER));
    expect(repository.services().map((service) => service.serviceId)).toEqual(['run-1']);
    repository.discovery.push(heard(ad({ serviceId: 'run-2', epoch: 2, sequence: 0 }), signed(KEY)));
    expect(repository.services().map((service) => service.serviceId)).toEqual(['run-2']);
    expect(repository.entryIds()).toEqual(['entry:run-2']);
    repository.discovery.push(heard(ad({ serviceId: 'run-1', epoch: 1 }), signed(KEY), ATTACKER));
    expect(repository.services().map((service) => service.serviceId)).toEqual(['run-2']);
    expect(repository.told('repository.changed').at(-1)).toMatchObject({ services: [{ serviceId: 'run-2' }] });
  });

  it('with a pin for the service, a forged instance (new serviceId, other key) is never listed', () => {
    const repository = start({ pinned: [{ publicKey: KEY, serviceName: 'ImageProcessingService' }] });
    repository.discovery.push(heard(ad({ serviceId: 'forged', endpoint: 'ws://10.0.4.66:8080' }), signed(FORGER_KEY), ATTACKER));
    repository.discovery.push(heard(ad({ serviceId: 'forged-unsigned' }), unsigned, ATTACKER));
    repository.discovery.push(heard(ad({ serviceId: 'real' }), signed(KEY)));
    expect(repository.services().map((service) => service.serviceId)).toEqual(['real']);
  });
});

describe('repository: telling the parent why (DISC-14)', () => {
  it('reports the first refusal per source address and reason, and counts the rest', () => {
    const repository = start();
    for (let i = 0; i < 5; i++) repository.discovery.push(heard(ad({ serviceId: `seed-${i}` }), unsigned));
    repository.discovery.push(heard(ad({ serviceId: 'other-host' }), unsigned, ATTACKER));
    const ignored = repository.told('repository.ignored');
    expect(ignored).toEqual([
      expect.objectContaining({ type: 'repository.ignored', from: PROVIDER, reason: 'unsigned', serviceId: 'seed-0', serviceName: 'ImageProcessingService' }),
      expect.objectContaining({ from: ATTACKER, reason: 'unsigned', serviceId: 'other-host' }),
    ]);
    expect(repository.stats().ignoredByReason.unsigned).toBe(6);
    expect(repository.services()).toEqual([]);
  });

  it(`remembers at most ${IGNORED_REPORTS_MAX} source and reason pairs (a spoofed-source flood cannot grow it)`, () => {
    const repository = start();
    for (let i = 0; i < IGNORED_REPORTS_MAX + 50; i++) {
      repository.discovery.push(heard(ad({ serviceId: `s${i}` }), unsigned, { host: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, port: 1 }));
    }
    expect(repository.told('repository.ignored')).toHaveLength(IGNORED_REPORTS_MAX);
    expect(repository.actor.getSnapshot().context.reported.size).toBe(IGNORED_REPORTS_MAX);
    expect(repository.stats().advertisementsIgnored).toBe(IGNORED_REPORTS_MAX + 50);
  });
});

describe('repository: bounded per source (DISC-18)', () => {
  const flood = (repository: ReturnType<typeof start>, count: number) => {
    for (let i = 0; i < count; i++) repository.discovery.push(heard(ad({ serviceId: `forged-${i}` }), signed(FORGER_KEY), ATTACKER));
  };

  it('a flood of new serviceIds from one address fills its share only; the next provider from another address is listed', () => {
    const repository = start({}, { entriesMax: 20, entriesPerSourceMax: 5 });
    flood(repository, 1_000);
    repository.discovery.push(heard(ad({ serviceId: 'legit' }), signed(KEY)));
    expect(repository.services().map((service) => service.serviceId)).toEqual(['forged-0', 'forged-1', 'forged-2', 'forged-3', 'forged-4', 'legit']);
    expect(repository.stats()).toMatchObject({ entriesDroppedPerSource: 995, entriesDropped: 0 });
  });

  it('without the per-source bound the same flood hides the new provider (the attack this bound stops)', () => {
    const repository = start({}, { entriesMax: 20, entriesPerSourceMax: 20 });
    flood(repository, 1_000);
    repository.discovery.push(heard(ad({ serviceId: 'legit' }), signed(KEY)));
    expect(repository.services().map((service) => service.serviceId)).not.toContain('legit');
    expect(repository.stats().entriesDropped).toBe(981);
  });

  it('a source gets its share back as its entries end, and an entry that moves is counted at its new source', () => {
    const repository = start({ allowUnsigned: true }, { entriesPerSourceMax: 2 });
    repository.discovery.push(heard(ad({ serviceId: 'a' }), unsigned, ATTACKER));
    repository.discovery.push(heard(ad({ serviceId: 'b' }), unsigned, ATTACKER));
    repository.discovery.push(heard(ad({ serviceId: 'c' }), unsigned, ATTACKER));
    expect(repository.services().map((service) => service.serviceId)).toEqual(['a', 'b']);
    repository.discovery.push(heard(ad({ serviceId: 'a', status: 'Offline' }), unsigned, ATTACKER));
    repository.discovery.push(heard(ad({ serviceId: 'b' }), unsigned, PROVIDER)); // b now comes from elsewhere
    repository.discovery.push(heard(ad({ serviceId: 'c' }), unsigned, ATTACKER));
    repository.discovery.push(heard(ad({ serviceId: 'd' }), unsigned, ATTACKER));
    expect(repository.services().map((service) => service.serviceId)).toEqual(['b', 'c', 'd']);
    expect(Object.fromEntries(repository.actor.getSnapshot().context.entriesBySource)).toEqual({ [ATTACKER.host]: 2, [PROVIDER.host]: 1 });
  });

  it('has sane defaults: 256 entries per source address, 4096 in all', () => {
    expect(repositoryDefaults).toMatchObject({ entriesPerSourceMax: 256, entriesMax: 4096 });
  });
});
