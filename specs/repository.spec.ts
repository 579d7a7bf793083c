import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialTransition } from 'xstate';
import type { ClientServiceDiscoveryRequest, DiscoveryMessage, ServiceAdvertisement, ServiceStatus } from '../machines/messages.js';
import { serviceStatuses } from '../machines/messages.js';
import {
  ASK_AGAIN_GAP_MS,
  initialRepositoryStats,
  repositoryDefaults,
  repositoryMachine,
  type RepositoryInput,
  type RepositoryToParentEvent,
  type ServiceView,
} from '../machines/repository.js';
import type { DatagramCommand, DatagramEvent, PeerAddress } from '../machines/transport.js';
import { trustDefaults } from '../machines/discovery/trust.js';
import { reachableEndpoint } from '../machines/discovery/reachable.js';
import { anyDatagram, serviceAdvertisement } from './support/arbitraries.js';
import { recorder, sampleAdvertisement, startRepositoryWith } from './support/discoveryFixtures.js';

// ---- helpers ----------------------------------------------------------------------------------

const PROVIDER: PeerAddress = { host: '10.0.4.17', port: 50001 };

const advertisement = sampleAdvertisement;

const goodbye = (overrides: Partial<ServiceAdvertisement> = {}) => advertisement({ status: 'Offline', ...overrides });

function request(clientId: string): ClientServiceDiscoveryRequest {
  return { discoveryType: 'ClientServiceDiscoveryRequest', clientId, timestamp: 1_751_456_700_000 };
}

const received = (message: DiscoveryMessage): DatagramEvent => ({ type: 'datagram.received', message, from: PROVIDER });
const rejected: DatagramEvent = {
  type: 'datagram.rejected',
  error: { code: 'INVALID_MESSAGE', message: 'The input is not a well-formed switchboard message.' },
  from: PROVIDER,
};

const discoveryRequest = (clientId: string): DatagramCommand => ({
  type: 'datagram.send',
  to: 'broadcast',
  draft: { discoveryType: 'ClientServiceDiscoveryRequest', clientId },
});


/** The repository on a fake discovery socket (specs/support/discoveryFixtures.ts), unsigned advertisements allowed. */
function startRepository(options: Partial<Omit<RepositoryInput, 'parentRef'>> = {}) {
  // Unsigned advertisements are the point of these specs (the trust policy has its own,
  // specs/repository.trust.spec.ts): allowed explicitly, as a user with seed-only providers would.
  return startRepositoryWith({ trust: { ...trustDefaults, allowUnsigned: true }, ...options });
}

const view = (ad: ServiceAdvertisement, health: ServiceView['health'] = 'alive'): ServiceView => ({
  serviceId: ad.serviceId,
  serviceName: ad.serviceName,
  serviceVersion: ad.serviceVersion,
  // Heard from PROVIDER: a loopback or unspecified host stands for it (machines/discovery/reachable.ts).
  endpoint: reachableEndpoint(ad.endpoint, PROVIDER.host),
  capabilities: ad.capabilities,
  status: ad.status,
  load: ad.load,
  health,
  ...(ad.features === undefined ? {} : { features: ad.features }),
  ...(ad.events === undefined ? {} : { events: ad.events }),
});

// ---- (a) pure ---------------------------------------------------------------------------------

describe('repository (pure)', () => {
  it('DISC-2: at start invokes the discovery socket, broadcasts a request and schedules the next one', () => {
    const parent = recorder<RepositoryToParentEvent>();
    const [snapshot, actions] = initialTransition(repositoryMachine, {
      clientId: 'client-A',
      ...repositoryDefaults,
      parentRef: parent.ref,
    });
    expect(snapshot.value).toEqual({ discovering: 'justAsked' });
    const byType = (type: string) => actions.filter((action) => action.type === type).map((action) => action.params as Record<string, unknown>);
    expect(byType('xstate.spawnChild').map((params) => params['id'])).toEqual(['discovery']);
    expect(byType('xstate.sendTo').map((params) => params['event'])).toEqual([discoveryRequest('client-A')]);
    expect(byType('xstate.raise')).toEqual([
      {
        event: { type: 'xstate.after.discoveryPeriodMs.repository.discovering' },
        id: 'xstate.after.discoveryPeriodMs.repository.discovering',
        delay: 300_000,
      },
      // Entries turning suspect ask again only after this gap (ASK_AGAIN_GAP_MS).
      {
        event: { type: 'xstate.after.1000.repository.discovering.justAsked' },
        id: 'xstate.after.1000.repository.discovering.justAsked',
        delay: ASK_AGAIN_GAP_MS,
      },
    ]);
  });
});

// ---- (b) actor on SimulatedClock with a fake discovery socket --------------------------------

describe('repository (actor)', () => {
  it('DISC-2: broadcasts a ClientServiceDiscoveryRequest at start and every 5 minutes', () => {
    const { clock, discovery } = startRepository();
    expect(discovery.sent).toEqual([discoveryRequest('client-A')]);
    clock.increment(299_999);
    expect(discovery.sent).toHaveLength(1);
    clock.increment(1);
    expect(discovery.sent).toHaveLength(2);
    clock.increment(300_000);
    expect(discovery.sent).toEqual([discoveryRequest('client-A'), discoveryRequest('client-A'), discoveryRequest('client-A')]);
  });

  it('DISC-2: broadcasts on repository.refresh and restarts the period from there', () => {
    const { clock, actor, discovery } = startRepository({ discoveryPeriodMs: 10_000 });
    clock.increment(4_000);
    actor.send({ type: 'repository.refresh' });
    expect(discovery.sent).toHaveLength(2);
    clock.increment(9_999);
    expect(discovery.sent).toHaveLength(2);
    clock.increment(1);
    expect(discovery.sent).toHaveLength(3);
  });

  it('DISC-8: an advertisement for a new service creates an entry and reports repository.changed', () => {
    const { discovery, changes, services, entryIds, actor } = startRepository();
    const ad = advertisement();
    discovery.push(received(ad));
    expect(entryIds()).toEqual(['entry:svc-1']);
    expect(services()).toEqual([view(ad)]);
    expect(changes).toEqual([{ type: 'repository.changed', services: [view(ad)] }]);
    expect(actor.getSnapshot().context.stats.advertisementsHeard).toBe(1);
  });

  it('DISC-8: later advertisements refresh status, load, endpoint and capabilities of the same entry', () => {
    const { discovery, changes, services, entryIds } = startRepository();
    discovery.push(received(advertisement()));
    const refresh = advertisement({
      status: 'Busy',
      load: 1,
      endpoint: 'wss://10.0.4.17:8443',
      capabilities: [{ key: 'applyFilter', settings: [] }],
    });
    discovery.push(received(refresh));
    expect(entryIds()).toEqual(['entry:svc-1']);
    expect(services()).toEqual([view(refresh)]);
    expect(changes.at(-1)).toEqual({ type: 'repository.changed', services: [view(refresh)] });
  });

  it('DISC-8: a heartbeat that changes nothing in the view reports nothing; a change in it, or in health, does', () => {
    const { clock, discovery, changes } = startRepository();
    const ad = advertisement({ heartbeatIntervalMs: 1_000 });
    discovery.push(received(ad));
    // The same content, decoded afresh from a later datagram (new objects, a later timestamp).
    for (let beat = 1; beat <= 5; beat++) discovery.push(received(structuredClone({ ...ad, timestamp: ad.timestamp + beat * 1_000 })));
    expect(changes).toHaveLength(1);
    const busier = advertisement({ heartbeatIntervalMs: 1_000, load: 0.75 });
    discovery.push(received(busier));
    expect(changes).toHaveLength(2);
    expect(changes.at(-1)).toEqual({ type: 'repository.changed', services: [view(busier)] });
    clock.increment(1_500);
    expect(changes.at(-1)).toEqual({ type: 'repository.changed', services: [view(busier, 'suspect')] });
    discovery.push(received(busier));
    expect(changes.at(-1)).toEqual({ type: 'repository.changed', services: [view(busier)] });
    expect(changes).toHaveLength(4);
  });

  it('DISC-8: keeps one entry per serviceId and reports the full list', () => {
    const { discovery, changes } = startRepository();
    const first = advertisement({ serviceId: 'svc-1' });
    const second = advertisement({ serviceId: 'svc-2', load: 0.5 });
    discovery.push(received(first));
    discovery.push(received(second));
    discovery.push(received(first));
    expect(changes.at(-1)).toEqual({ type: 'repository.changed', services: [view(first), view(second)] });
  });

  it('DISC-10: a goodbye removes the entry at once', () => {
    const { discovery, changes, services, entryIds } = startRepository();
    discovery.push(received(advertisement()));
    discovery.push(received(goodbye()));
    expect(services()).toEqual([]);
    expect(entryIds()).toEqual([]);
    expect(changes.at(-1)).toEqual({ type: 'repository.changed', services: [] });
  });

  it('DISC-10: a goodbye for a service never heard of is ignored', () => {
    const { discovery, changes, entryIds, actor } = startRepository();
    discovery.push(received(goodbye({ serviceId: 'stranger' })));
    expect(entryIds()).toEqual([]);
    expect(changes).toEqual([]);
    expect(actor.getSnapshot().context.stats.advertisementsHeard).toBe(1);
  });

  it('DISC-9: reports suspect at 1.5x and removes the entry at exactly 3x heartbeat', () => {
    const { clock, discovery, changes, services, entryIds } = startRepository();
    const ad = advertisement({ heartbeatIntervalMs: 1_000 });
    discovery.push(received(ad));
    clock.increment(1_499);
    expect(services()).toEqual([view(ad, 'alive')]);
    clock.increment(1);
    expect(services()).toEqual([view(ad, 'suspect')]);
    expect(changes.at(-1)).toEqual({ type: 'repository.changed', services: [view(ad, 'suspect')] });
    clock.increment(1_499);
    expect(services()).toHaveLength(1);
    clock.increment(1);
    expect(services()).toEqual([]);
    expect(entryIds()).toEqual([]);
    expect(changes.at(-1)).toEqual({ type: 'repository.changed', services: [] });
  });

  it('DISC-9, DISC-20: an entry that turns suspect makes the repository ask again, at most once per ASK_AGAIN_GAP_MS', () => {
    const { clock, discovery, services } = startRepository();
    discovery.push(received(advertisement({ serviceId: 'svc-1', heartbeatIntervalMs: 1_000 })));
    discovery.push(received(advertisement({ serviceId: 'svc-2', heartbeatIntervalMs: 1_000 })));
    expect(discovery.sent).toHaveLength(1); // at start
    clock.increment(1_500);
    // Both turned suspect at once: one request for both.
    expect(services().map((service) => service.health)).toEqual(['suspect', 'suspect']);
    expect(discovery.sent).toEqual([discoveryRequest('client-A'), discoveryRequest('client-A')]);
    // The answer brings one back; the other stays silent and expires at 3x, unasked again.
    discovery.push(received(advertisement({ serviceId: 'svc-1', heartbeatIntervalMs: 1_000 })));
    clock.increment(1_500);
    expect(services().map((service) => service.serviceId)).toEqual(['svc-1']);
    expect(discovery.sent).toHaveLength(3); // svc-1 turned suspect again, 1.5 s after its answer
    // Within the gap after a request, a suspect entry does not ask again.
    discovery.push(received(advertisement({ serviceId: 'svc-1', heartbeatIntervalMs: 400 })));
    clock.increment(600);
    expect(services()[0]?.health).toBe('suspect');
    expect(discovery.sent).toHaveLength(3);
  });

  it('DISC-5: an unsigned advertisement of localhost or 0.0.0.0 heard from another host stands for that host', () => {
    const { discovery, services } = startRepository();
    discovery.push(received(advertisement({ serviceId: 'svc-local', endpoint: 'ws://localhost:8080' })));
    discovery.push(received(advertisement({ serviceId: 'svc-any', endpoint: 'ws://0.0.0.0:9000/tasks' })));
    discovery.push({ type: 'datagram.received', message: advertisement({ serviceId: 'svc-here', endpoint: 'ws://localhost:7000' }), from: { host: '127.0.0.1', port: 50001 } });
    expect(services().map((service) => service.endpoint)).toEqual(['ws://10.0.4.17:8080', 'ws://10.0.4.17:9000/tasks', 'ws://localhost:7000']);
  });

  it('DISC-9: uses the default heartbeat for an advertisement without heartbeatIntervalMs', () => {
    const { clock, discovery, services } = startRepository({ defaultHeartbeatIntervalMs: 2_000 });
    discovery.push(received(advertisement()));
    clock.increment(5_999);
    expect(services()).toHaveLength(1);
    clock.increment(1);
    expect(services()).toEqual([]);
  });

  it('DISC-9: a service heard again after expiry gets a fresh entry', () => {
    const { clock, discovery, services, entryIds } = startRepository();
    const ad = advertisement({ heartbeatIntervalMs: 1_000 });
    discovery.push(received(ad));
    clock.increment(3_000);
    discovery.push(received(ad));
    expect(services()).toEqual([view(ad)]);
    expect(entryIds()).toEqual(['entry:svc-1']);
  });

  it('DISC-12: rejected datagrams are counted and change nothing else', () => {
    const { discovery, changes, services, actor } = startRepository();
    discovery.push(received(advertisement()));
    const before = services();
    discovery.push(rejected);
    discovery.push(rejected);
    expect(actor.getSnapshot().context.stats).toEqual({ ...initialRepositoryStats(), advertisementsHeard: 1, datagramsRejected: 2 });
    expect(services()).toEqual(before);
    expect(changes).toHaveLength(1);
    expect(discovery.sent).toHaveLength(1);
  });

  it('DISC-3: a ClientServiceDiscoveryRequest from another client is ignored', () => {
    const { discovery, changes, services, actor } = startRepository();
    discovery.push(received(request('client-B')));
    expect(services()).toEqual([]);
    expect(changes).toEqual([]);
    expect(discovery.sent).toEqual([discoveryRequest('client-A')]);
    expect(actor.getSnapshot().context.stats).toEqual(initialRepositoryStats());
  });

  it('SEC-6: holds at most entriesMax entries, drops and counts the rest, still refreshes known ones', () => {
    const { discovery, services, entryIds, actor } = startRepository({ entriesMax: 2 });
    discovery.push(received(advertisement({ serviceId: 'svc-1' })));
    discovery.push(received(advertisement({ serviceId: 'svc-2' })));
    discovery.push(received(advertisement({ serviceId: 'svc-3' })));
    expect(entryIds()).toEqual(['entry:svc-1', 'entry:svc-2']);
    expect(actor.getSnapshot().context.stats.entriesDropped).toBe(1);
    discovery.push(received(advertisement({ serviceId: 'svc-2', status: 'Busy' })));
    expect(services().map((service) => service.status)).toEqual(['Online', 'Busy']);
    // A goodbye frees a slot.
    discovery.push(received(goodbye({ serviceId: 'svc-1' })));
    discovery.push(received(advertisement({ serviceId: 'svc-3' })));
    expect(entryIds()).toEqual(['entry:svc-2', 'entry:svc-3']);
  });

  it('DISC-12: serviceIds that name Object.prototype members are ordinary services', () => {
    const { discovery, services } = startRepository();
    for (const serviceId of ['__proto__', 'constructor', 'toString']) {
      discovery.push(received(goodbye({ serviceId }))); // unknown: ignored
      discovery.push(received(advertisement({ serviceId })));
    }
    expect(services().map((service) => service.serviceId)).toEqual(['__proto__', 'constructor', 'toString']);
    discovery.push(received(goodbye({ serviceId: '__proto__' })));
    expect(services().map((service) => service.serviceId)).toEqual(['constructor', 'toString']);
  });

  it('stops its entries when it stops: nothing is reported afterwards', () => {
    const { clock, discovery, changes, actor } = startRepository();
    discovery.push(received(advertisement({ heartbeatIntervalMs: 1_000 })));
    actor.stop();
    clock.increment(10_000);
    expect(changes).toHaveLength(1);
  });
});

// ---- (c) properties ---------------------------------------------------------------------------

describe('repository (properties)', () => {
  const DEFAULT_HEARTBEAT_MS = 1_000;
  const serviceIds = ['svc-0', 'svc-1', 'svc-2', '__proto__', 'constructor'] as const;

  type Step =
    | { readonly kind: 'advertise'; readonly advertisement: ServiceAdvertisement }
    | { readonly kind: 'advance'; readonly ms: number }
    /** Advance to (offsetMs from) one of the live entries' suspect or expiry times. */
    | { readonly kind: 'advanceToDeadline'; readonly pick: number; readonly offsetMs: number }
    | { readonly kind: 'reject' }
    | { readonly kind: 'noise'; readonly message: DiscoveryMessage }
    | { readonly kind: 'refresh' };

  const advertiseStep: fc.Arbitrary<Step> = fc
    .record({
      base: serviceAdvertisement,
      serviceId: fc.constantFrom(...serviceIds),
      status: fc.constantFrom<ServiceStatus>(...serviceStatuses),
      heartbeatIntervalMs: fc.option(fc.integer({ min: 1, max: 3_000 }), { nil: undefined }),
    })
    .map(({ base, serviceId, status, heartbeatIntervalMs }) => {
      const { heartbeatIntervalMs: _ignored, ...rest } = base;
      const ad: ServiceAdvertisement = heartbeatIntervalMs === undefined
        ? { ...rest, serviceId, status }
        : { ...rest, serviceId, status, heartbeatIntervalMs };
      return { kind: 'advertise' as const, advertisement: ad };
    });

  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 5, arbitrary: advertiseStep },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 5_000 }).map((ms) => ({ kind: 'advance' as const, ms })) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('advanceToDeadline' as const),
        pick: fc.nat(),
        offsetMs: fc.constantFrom(-1, 0, 0, 1),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'reject' as const }) },
    {
      weight: 1,
      // Other clients' requests, and advertisements for services outside the model's ids.
      arbitrary: anyDatagram
        .filter((message) => message.discoveryType === 'ClientServiceDiscoveryRequest')
        .map((message) => ({ kind: 'noise' as const, message })),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'refresh' as const }) },
  );

  /** What the repository must hold: per serviceId, the last advertisement and when it arrived. */
  interface ModelEntry {
    readonly advertisement: ServiceAdvertisement;
    readonly atMs: number;
  }

  it('DISC-8..DISC-12: under any interleaving the view is exactly the live entries, never an expired or Offline one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(step, { maxLength: 60 }), (entriesMax, steps) => {
        const { clock, actor, discovery, changes, services } = startRepository({
          defaultHeartbeatIntervalMs: DEFAULT_HEARTBEAT_MS,
          entriesMax,
        });
        const model = new Map<string, ModelEntry>();
        const stats = { ...initialRepositoryStats() };
        let nowMs = 0;
        const heartbeatOf = (ad: ServiceAdvertisement) => ad.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS;
        const isLive = (entry: ModelEntry) => nowMs - entry.atMs < 3 * heartbeatOf(entry.advertisement);
        const live = () => [...model.values()].filter(isLive);

        for (const current of steps) {
          switch (current.kind) {
            case 'advertise': {
              const ad = current.advertisement;
              stats.advertisementsHeard += 1;
              const known = model.get(ad.serviceId);
              if (known !== undefined && !isLive(known)) model.delete(ad.serviceId);
              if (model.has(ad.serviceId)) {
                if (ad.status === 'Offline') model.delete(ad.serviceId);
                else model.set(ad.serviceId, { advertisement: ad, atMs: nowMs });
              } else if (ad.status !== 'Offline') {
                if (live().length >= entriesMax) stats.entriesDropped += 1;
                else model.set(ad.serviceId, { advertisement: ad, atMs: nowMs });
              }
              discovery.push(received(ad));
              break;
            }
            case 'advance':
              clock.increment(current.ms);
              nowMs += current.ms;
              break;
            case 'advanceToDeadline': {
              const deadlines = live().flatMap((entry) => {
                const heartbeatMs = heartbeatOf(entry.advertisement);
                return [entry.atMs + Math.floor(1.5 * heartbeatMs), entry.atMs + 3 * heartbeatMs];
              });
              const target = deadlines.length === 0 ? nowMs : deadlines[current.pick % deadlines.length]! + current.offsetMs;
              const ms = Math.max(0, target - nowMs);
              clock.increment(ms);
              nowMs += ms;
              break;
            }
            case 'reject':
              stats.datagramsRejected += 1;
              discovery.push(rejected);
              break;
            case 'noise':
              discovery.push(received(current.message));
              break;
            case 'refresh':
              actor.send({ type: 'repository.refresh' });
              break;
          }

          const viewNow = services();
          // The brief's safety property, stated directly.
          for (const service of viewNow) {
            const entry = model.get(service.serviceId);
            expect(entry).toBeDefined();
            expect(nowMs - entry!.atMs).toBeLessThan(3 * heartbeatOf(entry!.advertisement));
            expect(entry!.advertisement.status).not.toBe('Offline');
          }
          // And the stronger one: the view is exactly the model, health included.
          const expected = live()
            .map((entry) => {
              const suspect = nowMs - entry.atMs >= Math.floor(1.5 * heartbeatOf(entry.advertisement));
              return view(entry.advertisement, suspect ? 'suspect' : 'alive');
            })
            .sort((a, b) => (a.serviceId < b.serviceId ? -1 : 1));
          expect([...viewNow].sort((a, b) => (a.serviceId < b.serviceId ? -1 : 1))).toEqual(expected);
          expect(actor.getSnapshot().context.stats).toEqual(stats);
          // What the parent was told last is what the repository holds.
          expect(changes.filter((change) => change.type === 'repository.changed').at(-1)?.services ?? []).toEqual(viewNow);
        }
        expect(actor.getSnapshot().status).toBe('active');
      }),
      { numRuns: 300 },
    );
  });
});
