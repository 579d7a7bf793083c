/**
 * One entry of the client's service repository, per `serviceId` (DISC-8..DISC-10):
 * `alive -> suspect -> expired` (final), and `gone` (final) on a goodbye.
 *
 * - Every advertisement (a broadcast heartbeat or a reply, DISC-3 note) re-enters `alive`, which
 *   restarts both timers, stores the advertisement and reports `entry.changed` (DISC-8).
 * - Hearing nothing for `suspectAfterMs` (1.5 x heartbeat, rounded down to a whole ms) moves to
 *   `suspect` and reports it; hearing nothing for `expireAfterMs` (3 x heartbeat) expires the
 *   entry (DISC-9).
 * - An advertisement with status Offline (a goodbye) ends the entry at once (DISC-10).
 *
 * Why expiry is a delayed raise (id `expiry`) scheduled on every advertisement rather than an
 * `after:` of `suspect`: a timer started on entering `suspect` is measured from when the suspect
 * timer FIRED, not from the advertisement. Any lateness of that first timer (a busy event loop; a
 * SimulatedClock increment that jumps past it, which starts the next timer at the end of the
 * increment) would then push expiry past 3 x heartbeat. One timer per advertisement keeps expiry
 * at exactly 3 x heartbeat after the advertisement arrived, whatever happened in between.
 *
 * Heartbeat = the last advertisement's `heartbeatIntervalMs`, else the client's default (DISC-9).
 * Time is measured on the actor system's clock from the arrival of the advertisement, never from
 * its `timestamp` (docs/protocol.md, discovery notes).
 *
 * The entry reports to its parent (the repository) through `parentRef`; on reaching a final state
 * it reports `entry.ended` exactly once (a final state is entered once and the actor then stops).
 */
import { assign, cancel, raise, sendTo, setup, type ActorRef } from 'xstate';
import type { ServiceAdvertisement } from './messages.js';

export type EntryHealth = 'alive' | 'suspect';

export interface RepositoryEntryInput {
  /** The first advertisement heard for this service (its status is not Offline). */
  readonly advertisement: ServiceAdvertisement;
  /** Heartbeat assumed for an advertisement without `heartbeatIntervalMs` (DISC-9). */
  readonly defaultHeartbeatIntervalMs: number;
  readonly parentRef: ActorRef<any, RepositoryEntryToParentEvent>;
}

export type RepositoryEntryEvent = { readonly type: 'entry.advertised'; readonly advertisement: ServiceAdvertisement };

/** Raised by the entry to itself, 3 x heartbeat after the last advertisement (never sent from outside). */
type ExpiryDueEvent = { readonly type: 'entry.expiryDue' };

/** The id of the delayed raise that expires the entry (restarted by every advertisement). */
export const EXPIRY_TIMER_ID = 'expiry';

export type RepositoryEntryEndReason = 'expired' | 'goodbye';

export type RepositoryEntryToParentEvent =
  | {
      readonly type: 'entry.changed';
      readonly serviceId: string;
      readonly health: EntryHealth;
      readonly advertisement: ServiceAdvertisement;
    }
  | { readonly type: 'entry.ended'; readonly serviceId: string; readonly reason: RepositoryEntryEndReason };

export type RepositoryEntryOutput = { readonly serviceId: string; readonly reason: RepositoryEntryEndReason };

export interface RepositoryEntryContext {
  readonly serviceId: string;
  /** The last advertisement heard (a goodbye is not stored: the entry ends on it). */
  readonly advertisement: ServiceAdvertisement;
  readonly defaultHeartbeatIntervalMs: number;
  readonly parentRef: ActorRef<any, RepositoryEntryToParentEvent>;
}

/** DISC-9: the heartbeat that governs this entry. */
export function heartbeatIntervalMsOf(context: Pick<RepositoryEntryContext, 'advertisement' | 'defaultHeartbeatIntervalMs'>): number {
  return context.advertisement.heartbeatIntervalMs ?? context.defaultHeartbeatIntervalMs;
}

/** Time from the last advertisement to `suspect`: 1.5 x heartbeat, rounded down to a whole ms. */
export function suspectAfterMsOf(heartbeatIntervalMs: number): number {
  return Math.floor(heartbeatIntervalMs * 1.5);
}

/** Time from the last advertisement to expiry: exactly 3 x heartbeat (DISC-9). */
export function expireAfterMsOf(heartbeatIntervalMs: number): number {
  return heartbeatIntervalMs * 3;
}

type MachineEvent = RepositoryEntryEvent | ExpiryDueEvent;
type ParentRef = ActorRef<any, RepositoryEntryToParentEvent>;

const report = (health: EntryHealth) =>
  sendTo<RepositoryEntryContext, MachineEvent, undefined, ParentRef, MachineEvent, never, never>(
    ({ context }) => context.parentRef,
    ({ context }) => ({
      type: 'entry.changed' as const,
      serviceId: context.serviceId,
      health,
      advertisement: context.advertisement,
    }),
  );

const reportEnded = (reason: RepositoryEntryEndReason) =>
  sendTo<RepositoryEntryContext, MachineEvent, undefined, ParentRef, MachineEvent, never, never>(
    ({ context }) => context.parentRef,
    ({ context }) => ({ type: 'entry.ended' as const, serviceId: context.serviceId, reason }),
  );

/**
 * The advertisement transition, the same from `alive` and `suspect`. It is declared on those two
 * states rather than on the root: a root transition with `reenter: true` would re-run the root's
 * entry and schedule the expiry twice.
 */
const onAdvertised = [
  // DISC-10: a goodbye removes the entry at once, whatever its health.
  { guard: 'isGoodbye', target: 'gone' },
  // DISC-8: refresh; re-entering `alive` restarts the suspect timer, and the expiry timer is
  // rescheduled from now with the (possibly new) heartbeat (DISC-9).
  {
    target: 'alive',
    reenter: true,
    actions: ['cancelExpiry', 'storeAdvertisement', 'scheduleExpiry', 'reportAlive'],
  },
] as const;

export const repositoryEntryMachine = setup({
  types: {
    input: {} as RepositoryEntryInput,
    context: {} as RepositoryEntryContext,
    events: {} as MachineEvent,
    output: {} as RepositoryEntryOutput,
  },
  delays: {
    suspectAfterMs: ({ context }) => suspectAfterMsOf(heartbeatIntervalMsOf(context)),
    expireAfterMs: ({ context }) => expireAfterMsOf(heartbeatIntervalMsOf(context)),
  },
  guards: {
    isGoodbye: ({ event }) => event.type === 'entry.advertised' && event.advertisement.status === 'Offline',
  },
  actions: {
    storeAdvertisement: assign({
      advertisement: ({ context, event }) => (event.type === 'entry.advertised' ? event.advertisement : context.advertisement),
    }),
    scheduleExpiry: raise({ type: 'entry.expiryDue' }, { id: EXPIRY_TIMER_ID, delay: 'expireAfterMs' }),
    cancelExpiry: cancel(EXPIRY_TIMER_ID),
    reportAlive: report('alive'),
    reportSuspect: report('suspect'),
    reportExpired: reportEnded('expired'),
    reportGoodbye: reportEnded('goodbye'),
  },
}).createMachine({
  id: 'repositoryEntry',
  context: ({ input }) => ({
    serviceId: input.advertisement.serviceId,
    advertisement: input.advertisement,
    defaultHeartbeatIntervalMs: input.defaultHeartbeatIntervalMs,
    parentRef: input.parentRef,
  }),
  // DISC-9: expiry is measured from the first advertisement, then from each later one.
  entry: 'scheduleExpiry',
  initial: 'alive',
  on: {
    'entry.expiryDue': '.expired',
  },
  states: {
    alive: {
      after: { suspectAfterMs: 'suspect' },
      on: { 'entry.advertised': onAdvertised },
    },
    suspect: {
      entry: 'reportSuspect',
      on: { 'entry.advertised': onAdvertised },
    },
    expired: {
      type: 'final',
      entry: 'reportExpired',
      output: ({ context }) => ({ serviceId: context.serviceId, reason: 'expired' as const }),
    },
    gone: {
      type: 'final',
      entry: 'reportGoodbye',
      output: ({ context }) => ({ serviceId: context.serviceId, reason: 'goodbye' as const }),
    },
  },
  // The output of whichever final state was reached (carried by its done-state event).
  output: ({ event }) => event.output as RepositoryEntryOutput,
});
