/**
 * The client's service repository (seed 4.4; DISC-2, DISC-8..DISC-12, DISC-14, DISC-15, DISC-18): what
 * this client has heard on the discovery port and trusts, one `repositoryEntry` child per
 * `serviceId`.
 *
 * - DISC-2: broadcasts a ClientServiceDiscoveryRequest at start, every `discoveryPeriodMs`, and on
 *   `repository.refresh` (which also restarts the period, so a refresh never doubles up with a
 *   periodic request right after it).
 * - Each advertisement is admitted once (machines/discovery/admission.ts): first the trust policy
 *   (machines/discovery/trust.ts: signature, pinned or learned key, replay, freshness), then
 *   DISC-8: one for a known `serviceId` goes to its entry (`entry:<serviceId>`); one for a new
 *   `serviceId` spawns an entry, unless it is a goodbye (nothing to remove), the repository holds
 *   `entriesMax` entries, or its source address holds `entriesPerSourceMax` (dropped, counted).
 * - An advertisement the trust policy refuses changes nothing; it is counted by reason and
 *   reported to the parent once per source address and reason (`repository.ignored`), so the
 *   application can say why a provider it expected is missing. A key learned on first use is
 *   reported (`repository.learned`) so the application may persist it.
 * - DISC-9, DISC-10: entries expire or say goodbye on their own and report `entry.ended`; the
 *   repository then stops the child and forgets its view (its trust record stays, so a replay of
 *   its advertisements is still refused). An entry that turns suspect makes the repository ask
 *   again (a discovery request, at most one per `ASK_AGAIN_GAP_MS`): a provider that sends no
 *   heartbeats, or whose heartbeats cannot reach this client's socket, still answers requests.
 * - An unsigned advertisement of a loopback or unspecified host (`localhost:8080`, `0.0.0.0`)
 *   heard from another host stands for that host (machines/discovery/reachable.ts).
 * - DISC-12: datagrams that failed decoding arrive as `datagram.rejected` and are only counted.
 *   Requests from other clients (`ClientServiceDiscoveryRequest`) are not ours to answer: ignored.
 *
 * Every change of the view is reported to the parent as `repository.changed` with the full list,
 * which is what selection (machines/selection.ts) works on; a heartbeat that changes nothing in
 * the view (same status, load, capabilities, ...) is not a change and is not reported.
 */
import { and, assign, enqueueActions, raise, sendTo, setup, stopChild, type ActorRef, type CallbackActorLogic } from 'xstate';
import type { Capability } from './capabilities.js';
import { jsonEqual } from './jsonEqual.js';
import { admissionOf, advertisementIn, countedSource } from './discovery/admission.js';
import {
  boundKeyOf,
  initialTrustState,
  supersededBy,
  trustDefaults,
  trustDropReasons,
  withRecord,
  type TrustDropReason,
  type TrustOptions,
  type TrustState,
} from './discovery/trust.js';
import type { AdvertisedEvent, ServiceAdvertisement, ServiceStatus } from './messages.js';
import { placeholder } from './placeholder.js';
import {
  repositoryEntryMachine,
  type EntryHealth,
  type RepositoryEntryInput,
  type RepositoryEntryToParentEvent,
} from './repositoryEntry.js';
import type { DatagramCommand, DatagramEvent, PeerAddress } from './transport.js';
import { reachableEndpoint } from './discovery/reachable.js';

/** What the repository knows about one service instance; what selection ranks. */
export interface ServiceView {
  readonly serviceId: string;
  readonly serviceName: string;
  readonly serviceVersion: string;
  readonly endpoint: string;
  readonly capabilities: Capability[];
  readonly status: ServiceStatus;
  readonly load: number;
  readonly health: EntryHealth;
  /** The public key the entry's advertisements are verified with (SEC-8); absent for an unsigned entry. */
  readonly signedBy?: string | undefined;
  /** The TLS certificate fingerprint a verified advertisement binds to its key; the client pins it on wss://. */
  readonly tlsFingerprint256?: string | undefined;
  /** The optional features its provider implements (`"events"`, `"files"`), as advertised. */
  readonly features?: readonly string[] | undefined;
  /** The events the service publishes (EVT-1), as advertised. */
  readonly events?: readonly AdvertisedEvent[] | undefined;
}

export interface RepositoryInput {
  /** This client's id, sent in every ClientServiceDiscoveryRequest. */
  readonly clientId: string;
  /** Period of the ClientServiceDiscoveryRequest broadcast (DISC-2). @default 300_000 */
  readonly discoveryPeriodMs: number;
  /** Heartbeat assumed for an advertisement without `heartbeatIntervalMs` (DISC-9). @default 30_000 */
  readonly defaultHeartbeatIntervalMs: number;
  /** Upper bound on entries; advertisements for new serviceIds beyond it are dropped and counted. @default 4096 */
  readonly entriesMax: number;
  /** Entries one source address may hold; beyond it its new serviceIds are dropped and counted (DISC-18). @default 256 */
  readonly entriesPerSourceMax: number;
  /** Which advertisements to believe (SEC-8, DISC-14). @default trustDefaults: signed ones, trusted on first use */
  readonly trust: TrustOptions;
  readonly parentRef: ActorRef<any, RepositoryToParentEvent>;
}

export const repositoryDefaults = {
  discoveryPeriodMs: 300_000,
  defaultHeartbeatIntervalMs: 30_000,
  entriesMax: 4096,
  entriesPerSourceMax: 256,
  trust: trustDefaults,
} as const satisfies Omit<RepositoryInput, 'clientId' | 'parentRef'>;

export type RepositoryEvent =
  | DatagramEvent
  | { readonly type: 'repository.refresh' }
  /** Raised when an entry turns suspect. */
  | { readonly type: 'repository.askAgain' }
  | RepositoryEntryToParentEvent;

export type RepositoryToParentEvent =
  | { readonly type: 'repository.changed'; readonly services: readonly ServiceView[] }
  /** The first advertisement from `from` (a source host) refused for `reason`; later ones are only counted. */
  | {
      readonly type: 'repository.ignored';
      readonly from: PeerAddress;
      readonly reason: TrustDropReason;
      readonly detail: string;
      readonly serviceId: string;
      readonly serviceName: string;
    }
  /** Trust on first use bound `serviceId` to `publicKey`. */
  | { readonly type: 'repository.learned'; readonly serviceId: string; readonly serviceName: string; readonly publicKey: string };

/** The discovery socket: a datagram transport (machines/transport.ts), provided by the runtime. */
export type DiscoveryTransportLogic = CallbackActorLogic<DatagramCommand>;

export interface RepositoryStats {
  /** ServiceAdvertisements received (including goodbyes and those dropped for any reason). */
  readonly advertisementsHeard: number;
  /** Datagrams the transport could not decode (DISC-12). */
  readonly datagramsRejected: number;
  /** Advertisements for new serviceIds dropped because `entriesMax` entries were held. */
  readonly entriesDropped: number;
  /** Advertisements for new serviceIds dropped because their source held `entriesPerSourceMax` entries (DISC-18). */
  readonly entriesDroppedPerSource: number;
  /** Advertisements the trust policy refused (SEC-8, DISC-14), and by reason. */
  readonly advertisementsIgnored: number;
  readonly ignoredByReason: Readonly<Record<TrustDropReason, number>>;
}

export interface RepositoryContext {
  readonly clientId: string;
  readonly discoveryPeriodMs: number;
  readonly defaultHeartbeatIntervalMs: number;
  readonly entriesMax: number;
  readonly entriesPerSourceMax: number;
  readonly parentRef: ActorRef<any, RepositoryToParentEvent>;
  /** One view per live entry, by serviceId (a Map: a serviceId is any string, `__proto__` included). */
  readonly services: ReadonlyMap<string, ServiceView>;
  /** The source host of each live entry, and the live entries per source host (DISC-18). */
  readonly origins: ReadonlyMap<string, string>;
  readonly entriesBySource: ReadonlyMap<string, number>;
  readonly trust: TrustState;
  /** `host|reason` pairs already reported as `repository.ignored` (at most `IGNORED_REPORTS_MAX`). */
  readonly reported: ReadonlySet<string>;
  readonly stats: RepositoryStats;
}

/** Bound on the distinct (source, reason) pairs reported; later ones are counted only. */
export const IGNORED_REPORTS_MAX = 1_024;

/** After a discovery request, entries turning suspect wait this long before they make another. */
export const ASK_AGAIN_GAP_MS = 1_000;

// ---- pure helpers -----------------------------------------------------------------------------

/** The child id of the entry for `serviceId`. */
export const entryIdOf = (serviceId: string): string => `entry:${serviceId}`;

export function viewOf(advertisement: ServiceAdvertisement, health: EntryHealth, signedBy?: string): ServiceView {
  return {
    serviceId: advertisement.serviceId,
    serviceName: advertisement.serviceName,
    serviceVersion: advertisement.serviceVersion,
    endpoint: advertisement.endpoint,
    capabilities: advertisement.capabilities,
    status: advertisement.status,
    load: advertisement.load,
    health,
    ...(advertisement.features === undefined ? {} : { features: advertisement.features }),
    ...(advertisement.events === undefined ? {} : { events: advertisement.events }),
    // Only a verified advertisement's fingerprint means anything: anyone can write one.
    ...(signedBy === undefined
      ? {}
      : { signedBy, ...(advertisement.tlsFingerprint256 === undefined ? {} : { tlsFingerprint256: advertisement.tlsFingerprint256 }) }),
  };
}

/** An unsigned advertisement as the client reaches it: its endpoint's host from `source` when only local (see reachable.ts). */
function withReachableEndpoint(advertisement: ServiceAdvertisement, source: string): ServiceAdvertisement {
  const endpoint = reachableEndpoint(advertisement.endpoint, source);
  return endpoint === advertisement.endpoint ? advertisement : { ...advertisement, endpoint };
}

/** The repository's view as a list (insertion order of the entries): the input of selection. */
export function servicesOf(context: Pick<RepositoryContext, 'services'>): readonly ServiceView[] {
  return [...context.services.values()];
}

export function hasService(context: Pick<RepositoryContext, 'services'>, serviceId: string): boolean {
  return context.services.has(serviceId);
}

/** The view an entry's `entry.changed` makes: its advertisement, health and trusted key. */
function changedViewOf(context: Pick<RepositoryContext, 'trust'>, event: Extract<RepositoryEvent, { type: 'entry.changed' }>): ServiceView {
  return viewOf(event.advertisement, event.health, boundKeyOf(context.trust, event.serviceId));
}

function withView(services: ReadonlyMap<string, ServiceView>, view: ServiceView): ReadonlyMap<string, ServiceView> {
  const next = new Map(services);
  next.set(view.serviceId, view);
  return next;
}

/** The live entries: their views, their source hosts, and the count per source (DISC-18). */
type EntryBook = Pick<RepositoryContext, 'services' | 'origins' | 'entriesBySource'>;

function withService(book: EntryBook, view: ServiceView, source: string): EntryBook {
  return {
    services: withView(book.services, view),
    origins: new Map([...book.origins, [view.serviceId, source]]),
    entriesBySource: countedSource(book.entriesBySource, source, 1),
  };
}

function withoutService(book: EntryBook, serviceId: string): EntryBook {
  const services = new Map(book.services);
  services.delete(serviceId);
  const origins = new Map(book.origins);
  origins.delete(serviceId);
  const origin = book.origins.get(serviceId);
  return { services, origins, entriesBySource: origin === undefined ? book.entriesBySource : countedSource(book.entriesBySource, origin, -1) };
}

/** The counters of a repository that has heard nothing yet. */
export const initialRepositoryStats = (): RepositoryStats => ({
  advertisementsHeard: 0,
  datagramsRejected: 0,
  entriesDropped: 0,
  entriesDroppedPerSource: 0,
  advertisementsIgnored: 0,
  ignoredByReason: Object.fromEntries(trustDropReasons.map((reason) => [reason, 0])) as Record<TrustDropReason, number>,
});

const counted = (stats: RepositoryStats, key: Exclude<keyof RepositoryStats, 'ignoredByReason'>): RepositoryStats => ({
  ...stats,
  [key]: stats[key] + 1,
});

// ---- machine ----------------------------------------------------------------------------------

export const repositoryMachine = setup({
  types: {
    input: {} as RepositoryInput,
    context: {} as RepositoryContext,
    events: {} as RepositoryEvent,
  },
  actors: {
    discovery: placeholder<DiscoveryTransportLogic>('discovery'),
    repositoryEntry: repositoryEntryMachine,
  },
  delays: {
    discoveryPeriodMs: ({ context }) => context.discoveryPeriodMs,
  },
  guards: {
    isKnownEntry: ({ context, event }) =>
      (event.type === 'entry.changed' || event.type === 'entry.ended') && hasService(context, event.serviceId),
    isSuspectEntry: ({ context, event }) => event.type === 'entry.changed' && event.health === 'suspect' && hasService(context, event.serviceId),
    /** The entry's new view differs from the one held (most heartbeats change nothing). */
    isViewChanged: ({ context, event }) =>
      event.type === 'entry.changed' && !jsonEqual(context.services.get(event.serviceId), changedViewOf(context, event)),
  },
  actions: {
    sendDiscoveryRequest: sendTo('discovery', ({ context }): DatagramCommand => ({
      type: 'datagram.send',
      to: 'broadcast',
      draft: { discoveryType: 'ClientServiceDiscoveryRequest', clientId: context.clientId },
    })),
    countRejected: assign({ stats: ({ context }) => counted(context.stats, 'datagramsRejected') }),
    /** One decision per advertisement (machines/discovery/admission.ts), then its effects. */
    admit: enqueueActions(({ context, event, enqueue, self }) => {
      const advertisement = advertisementIn(event);
      if (advertisement === undefined || event.type !== 'datagram.received') return; // another client's request
      const admission = admissionOf(context, event, advertisement);
      const stats = counted(context.stats, 'advertisementsHeard');
      switch (admission.kind) {
        case 'untrusted': {
          const key = `${event.from.host}|${admission.reason}`;
          const report = !context.reported.has(key) && context.reported.size < IGNORED_REPORTS_MAX;
          enqueue.assign({
            stats: {
              ...stats,
              advertisementsIgnored: stats.advertisementsIgnored + 1,
              ignoredByReason: { ...stats.ignoredByReason, [admission.reason]: stats.ignoredByReason[admission.reason] + 1 },
            },
            ...(report ? { reported: new Set([...context.reported, key]) } : {}),
          });
          if (report) {
            enqueue.sendTo(context.parentRef, {
              type: 'repository.ignored',
              from: event.from,
              reason: admission.reason,
              detail: admission.detail,
              serviceId: advertisement.serviceId,
              serviceName: advertisement.serviceName,
            });
          }
          return;
        }
        case 'unknownGoodbye':
          enqueue.assign({ stats });
          return;
        case 'full':
        case 'sourceFull':
          enqueue.assign({ stats: counted(stats, admission.kind === 'full' ? 'entriesDropped' : 'entriesDroppedPerSource') });
          return;
      }
      const { verdict } = admission;
      const serviceId = advertisement.serviceId;
      const heard = verdict.signedBy === undefined ? withReachableEndpoint(advertisement, event.from.host) : advertisement;
      let entries: EntryBook = context;
      let trust = context.trust;
      let ended: string[] = [];
      if (verdict.signedBy !== undefined) {
        // DISC-15: the key's epoch grew, so its provider restarted: the entries of its earlier run are over.
        ended = supersededBy(trust, verdict.record, (id) => id !== serviceId && entries.services.has(id));
        for (const id of ended) {
          enqueue.stopChild(entryIdOf(id));
          entries = withoutService(entries, id);
        }
        trust = withRecord(trust, serviceId, verdict.record, (id) => id === serviceId || entries.services.has(id));
      }
      if (admission.kind === 'refresh') {
        const origin = entries.origins.get(serviceId);
        if (origin !== undefined && origin !== event.from.host) entries = withService(withoutService(entries, serviceId), entries.services.get(serviceId) as ServiceView, event.from.host);
        enqueue.sendTo(entryIdOf(serviceId), { type: 'entry.advertised', advertisement: heard });
      } else {
        enqueue.spawnChild('repositoryEntry', {
          id: entryIdOf(serviceId),
          input: { advertisement: heard, defaultHeartbeatIntervalMs: context.defaultHeartbeatIntervalMs, parentRef: self } satisfies RepositoryEntryInput,
        });
        // The entry reports only later changes: the view of a new entry is made here.
        entries = withService(entries, viewOf(heard, 'alive', verdict.signedBy), event.from.host);
      }
      enqueue.assign({ stats, trust, services: entries.services, origins: entries.origins, entriesBySource: entries.entriesBySource });
      if (admission.kind === 'new' || ended.length > 0) {
        enqueue.sendTo(context.parentRef, { type: 'repository.changed', services: [...entries.services.values()] });
      }
      if (verdict.signedBy !== undefined && verdict.basis === 'firstUse') {
        enqueue.sendTo(context.parentRef, {
          type: 'repository.learned',
          serviceId,
          serviceName: advertisement.serviceName,
          publicKey: verdict.signedBy,
        });
      }
    }),
    updateView: assign({
      services: ({ context, event }) =>
        event.type === 'entry.changed' ? withView(context.services, changedViewOf(context, event)) : context.services,
    }),
    stopEntry: stopChild(({ event }) => entryIdOf(event.type === 'entry.ended' ? event.serviceId : '')),
    removeView: assign(({ context, event }) => (event.type === 'entry.ended' ? withoutService(context, event.serviceId) : {})),
    reportChanged: sendTo(
      ({ context }) => context.parentRef,
      ({ context }) => ({ type: 'repository.changed' as const, services: servicesOf(context) }),
    ),
  },
}).createMachine({
  id: 'repository',
  context: ({ input }) => ({
    clientId: input.clientId,
    discoveryPeriodMs: input.discoveryPeriodMs,
    defaultHeartbeatIntervalMs: input.defaultHeartbeatIntervalMs,
    entriesMax: input.entriesMax,
    entriesPerSourceMax: input.entriesPerSourceMax,
    parentRef: input.parentRef,
    services: new Map(),
    origins: new Map(),
    entriesBySource: new Map(),
    trust: initialTrustState(input.trust),
    reported: new Set(),
    stats: initialRepositoryStats(),
  }),
  // On the root, so that re-entering `discovering` never restarts the socket.
  invoke: { id: 'discovery', src: 'discovery' },
  initial: 'discovering',
  on: {
    'datagram.received': { actions: 'admit' },
    'datagram.rejected': { actions: 'countRejected' },
    'entry.changed': [
      { guard: and(['isSuspectEntry', 'isViewChanged']), actions: ['updateView', 'reportChanged', raise({ type: 'repository.askAgain' })] },
      { guard: and(['isKnownEntry', 'isViewChanged']), actions: ['updateView', 'reportChanged'] },
    ],
    'entry.ended': { guard: 'isKnownEntry', actions: ['stopEntry', 'removeView', 'reportChanged'] },
  },
  states: {
    discovering: {
      // DISC-2: at start, and again every time this state is (re-)entered.
      entry: 'sendDiscoveryRequest',
      after: { discoveryPeriodMs: { target: 'discovering', reenter: true } },
      on: { 'repository.refresh': { target: 'discovering', reenter: true } },
      // An entry turned suspect: ask again, unless a request has just gone out.
      initial: 'justAsked',
      states: {
        justAsked: { after: { [ASK_AGAIN_GAP_MS]: 'quiet' } },
        quiet: { on: { 'repository.askAgain': { target: '#repository.discovering', reenter: true } } },
      },
    },
  },
});

/** The view of a running repository, for selection: `servicesOfSnapshot(actor.getSnapshot())`. */
export const servicesOfSnapshot = (snapshot: { readonly context: Pick<RepositoryContext, 'services'> }): readonly ServiceView[] =>
  servicesOf(snapshot.context);
