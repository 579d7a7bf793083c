/**
 * The client's service repository (seed 4.4; DISC-2, DISC-8..DISC-12): what this client has heard
 * on the discovery port, one `repositoryEntry` child per `serviceId`.
 *
 * - DISC-2: broadcasts a ClientServiceDiscoveryRequest at start, every `discoveryPeriodMs`, and on
 *   `repository.refresh` (which also restarts the period, so a refresh never doubles up with a
 *   periodic request right after it).
 * - DISC-8: an advertisement for a known `serviceId` goes to its entry (`entry:<serviceId>`); one
 *   for a new `serviceId` spawns an entry, unless it is a goodbye (nothing to remove) or the
 *   repository already holds `entriesMax` entries (dropped and counted).
 * - DISC-9, DISC-10: entries expire or say goodbye on their own and report `entry.ended`; the
 *   repository then stops the child and forgets its view.
 * - DISC-12: datagrams that failed decoding arrive as `datagram.rejected` and are only counted.
 *   Requests from other clients (`ClientServiceDiscoveryRequest`) are not ours to answer: ignored.
 *
 * Every change of the view is reported to the parent as `repository.changed` with the full list,
 * which is what selection (machines/selection.ts) works on.
 */
import { assign, sendTo, setup, spawnChild, stopChild, type ActorRef, type CallbackActorLogic } from 'xstate';
import type { Capability } from './capabilities.js';
import type { ServiceAdvertisement, ServiceStatus } from './messages.js';
import { placeholder } from './placeholder.js';
import {
  repositoryEntryMachine,
  type EntryHealth,
  type RepositoryEntryInput,
  type RepositoryEntryToParentEvent,
} from './repositoryEntry.js';
import type { DatagramCommand, DatagramEvent } from './transport.js';

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
  readonly parentRef: ActorRef<any, RepositoryToParentEvent>;
}

export const repositoryDefaults = {
  discoveryPeriodMs: 300_000,
  defaultHeartbeatIntervalMs: 30_000,
  entriesMax: 4096,
} as const satisfies Pick<RepositoryInput, 'discoveryPeriodMs' | 'defaultHeartbeatIntervalMs' | 'entriesMax'>;

export type RepositoryEvent = DatagramEvent | { readonly type: 'repository.refresh' } | RepositoryEntryToParentEvent;

export type RepositoryToParentEvent = { readonly type: 'repository.changed'; readonly services: readonly ServiceView[] };

/** The discovery socket: a datagram transport (machines/transport.ts), provided by the runtime. */
export type DiscoveryTransportLogic = CallbackActorLogic<DatagramCommand>;

export interface RepositoryStats {
  /** ServiceAdvertisements received (including goodbyes and those dropped for `entriesMax`). */
  readonly advertisementsHeard: number;
  /** Datagrams the transport could not decode (DISC-12). */
  readonly datagramsRejected: number;
  /** Advertisements for new serviceIds dropped because `entriesMax` entries were held. */
  readonly entriesDropped: number;
}

export interface RepositoryContext {
  readonly clientId: string;
  readonly discoveryPeriodMs: number;
  readonly defaultHeartbeatIntervalMs: number;
  readonly entriesMax: number;
  readonly parentRef: ActorRef<any, RepositoryToParentEvent>;
  /**
   * One view per live entry, by serviceId (own keys only: read with Object.hasOwn, since a
   * serviceId is any string, `__proto__` and `constructor` included). Holds at most `entriesMax`.
   */
  readonly services: Readonly<Record<string, ServiceView>>;
  readonly stats: RepositoryStats;
}

// ---- pure helpers -----------------------------------------------------------------------------

/** The child id of the entry for `serviceId`. */
export const entryIdOf = (serviceId: string): string => `entry:${serviceId}`;

export function viewOf(advertisement: ServiceAdvertisement, health: EntryHealth): ServiceView {
  return {
    serviceId: advertisement.serviceId,
    serviceName: advertisement.serviceName,
    serviceVersion: advertisement.serviceVersion,
    endpoint: advertisement.endpoint,
    capabilities: advertisement.capabilities,
    status: advertisement.status,
    load: advertisement.load,
    health,
  };
}

/** The repository's view as a list (insertion order of the entries): the input of selection. */
export function servicesOf(context: Pick<RepositoryContext, 'services'>): readonly ServiceView[] {
  return Object.values(context.services);
}

export function hasService(context: Pick<RepositoryContext, 'services'>, serviceId: string): boolean {
  return Object.hasOwn(context.services, serviceId);
}

function withView(services: Readonly<Record<string, ServiceView>>, view: ServiceView): Record<string, ServiceView> {
  // A computed key defines an own property even for `__proto__`.
  return { ...services, [view.serviceId]: view };
}

function withoutView(services: Readonly<Record<string, ServiceView>>, serviceId: string): Record<string, ServiceView> {
  const copy = { ...services };
  delete copy[serviceId];
  return copy;
}

function advertisementOf(event: RepositoryEvent): ServiceAdvertisement | undefined {
  return event.type === 'datagram.received' && event.message.discoveryType === 'ServiceAdvertisement' ? event.message : undefined;
}

const counted = (stats: RepositoryStats, key: keyof RepositoryStats): RepositoryStats => ({ ...stats, [key]: stats[key] + 1 });

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
    isKnownService: ({ context, event }) => {
      const advertisement = advertisementOf(event);
      return advertisement !== undefined && hasService(context, advertisement.serviceId);
    },
    /** DISC-10: a goodbye for a service we never heard of removes nothing. */
    isUnknownGoodbye: ({ event }) => advertisementOf(event)?.status === 'Offline',
    isFull: ({ context, event }) =>
      advertisementOf(event) !== undefined && Object.keys(context.services).length >= context.entriesMax,
    isAdvertisement: ({ event }) => advertisementOf(event) !== undefined,
    isKnownEntry: ({ context, event }) =>
      (event.type === 'entry.changed' || event.type === 'entry.ended') && hasService(context, event.serviceId),
  },
  actions: {
    sendDiscoveryRequest: sendTo('discovery', ({ context }): DatagramCommand => ({
      type: 'datagram.send',
      to: 'broadcast',
      draft: { discoveryType: 'ClientServiceDiscoveryRequest', clientId: context.clientId },
    })),
    countHeard: assign({ stats: ({ context }) => counted(context.stats, 'advertisementsHeard') }),
    countDropped: assign({ stats: ({ context }) => counted(context.stats, 'entriesDropped') }),
    countRejected: assign({ stats: ({ context }) => counted(context.stats, 'datagramsRejected') }),
    forwardToEntry: sendTo(
      ({ event }) => entryIdOf((advertisementOf(event) as ServiceAdvertisement).serviceId),
      ({ event }) => ({ type: 'entry.advertised' as const, advertisement: advertisementOf(event) as ServiceAdvertisement }),
    ),
    spawnEntry: spawnChild('repositoryEntry', {
      id: ({ event }) => entryIdOf((advertisementOf(event) as ServiceAdvertisement).serviceId),
      input: ({ context, event, self }): RepositoryEntryInput => ({
        advertisement: advertisementOf(event) as ServiceAdvertisement,
        defaultHeartbeatIntervalMs: context.defaultHeartbeatIntervalMs,
        parentRef: self,
      }),
    }),
    /** The entry reports only later changes: the view of a new entry is made here. */
    addView: assign({
      services: ({ context, event }) => withView(context.services, viewOf(advertisementOf(event) as ServiceAdvertisement, 'alive')),
    }),
    updateView: assign({
      services: ({ context, event }) =>
        event.type === 'entry.changed' ? withView(context.services, viewOf(event.advertisement, event.health)) : context.services,
    }),
    stopEntry: stopChild(({ event }) => entryIdOf(event.type === 'entry.ended' ? event.serviceId : '')),
    removeView: assign({
      services: ({ context, event }) => (event.type === 'entry.ended' ? withoutView(context.services, event.serviceId) : context.services),
    }),
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
    parentRef: input.parentRef,
    services: {},
    stats: { advertisementsHeard: 0, datagramsRejected: 0, entriesDropped: 0 },
  }),
  // On the root, so that re-entering `discovering` never restarts the socket.
  invoke: { id: 'discovery', src: 'discovery' },
  initial: 'discovering',
  on: {
    'datagram.received': [
      { guard: 'isKnownService', actions: ['countHeard', 'forwardToEntry'] },
      { guard: 'isUnknownGoodbye', actions: 'countHeard' },
      { guard: 'isFull', actions: ['countHeard', 'countDropped'] },
      { guard: 'isAdvertisement', actions: ['countHeard', 'spawnEntry', 'addView', 'reportChanged'] },
      // Anything else is another client's ClientServiceDiscoveryRequest: providers answer those.
    ],
    'datagram.rejected': { actions: 'countRejected' },
    'entry.changed': { guard: 'isKnownEntry', actions: ['updateView', 'reportChanged'] },
    'entry.ended': { guard: 'isKnownEntry', actions: ['stopEntry', 'removeView', 'reportChanged'] },
  },
  states: {
    discovering: {
      // DISC-2: at start, and again every time this state is (re-)entered.
      entry: 'sendDiscoveryRequest',
      after: { discoveryPeriodMs: { target: 'discovering', reenter: true } },
      on: { 'repository.refresh': { target: 'discovering', reenter: true } },
    },
  },
});

/** The view of a running repository, for selection: `servicesOfSnapshot(actor.getSnapshot())`. */
export const servicesOfSnapshot = (snapshot: { readonly context: Pick<RepositoryContext, 'services'> }): readonly ServiceView[] =>
  servicesOf(snapshot.context);
