/**
 * Selection: which known instance gets a task for `(serviceName, operation)` (seed 4.4; DISC-11).
 * A pure function of the repository's view and a small round-robin state, so an application may
 * replace it (DISC-11: "The policy is a pure function and MAY be replaced").
 *
 * The default policy:
 * 1. considers only instances of that serviceName that offer the operation, whose status is Online
 *    or Busy (not Draining, not Offline), and that the request does not exclude; every entry in
 *    the view is alive or suspect (expired and gone entries are removed from it);
 * 2. ranks them Online before Busy, then alive before suspect, then lower load first;
 * 3. goes round-robin among those equal to the best on all three keys, in serviceId order, with
 *    one cursor per `${serviceName}/${operation}`.
 *
 * When nothing qualifies it returns `service: undefined`; the caller then fails the assignment
 * with SERVICE_UNAVAILABLE and sends nothing (DISC-13).
 */
import type { ServiceView } from './repository.js';

export interface SelectionRequest {
  readonly serviceName: string;
  readonly operation: string;
  /** Instances not to pick (e.g. ones that just failed this task). */
  readonly excludeServiceIds?: readonly string[] | undefined;
}

export interface SelectionState {
  /** Round-robin cursor per `${serviceName}/${operation}`; at most `selectionCursorsMax` keys. */
  readonly cursors: Readonly<Record<string, number>>;
}

export const initialSelectionState: SelectionState = { cursors: {} };

export type SelectionPolicy = (
  services: readonly ServiceView[],
  request: SelectionRequest,
  state: SelectionState,
) => { readonly service: ServiceView | undefined; readonly state: SelectionState };

/** Bound on the cursors record: when a new key would exceed it, the record starts afresh. */
export const selectionCursorsMax = 1024;

const selectableStatuses: ReadonlySet<string> = new Set(['Online', 'Busy']);

/** Lower ranks first, compared key by key: status, then health, then load. */
function rankOf(service: ServiceView): readonly [number, number, number] {
  return [service.status === 'Online' ? 0 : 1, service.health === 'alive' ? 0 : 1, service.load];
}

function compareRanks(a: readonly [number, number, number], b: readonly [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);
}

/** Code-unit order, the same on every platform (unlike localeCompare). */
const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** DISC-11 filter and ranking, before round-robin: best first, ties in serviceId order. */
export function candidatesFor(services: readonly ServiceView[], request: SelectionRequest): ServiceView[] {
  const excluded = new Set(request.excludeServiceIds ?? []);
  return services
    .filter(
      (service) =>
        service.serviceName === request.serviceName &&
        selectableStatuses.has(service.status) &&
        !excluded.has(service.serviceId) &&
        service.capabilities.some((capability) => capability.key === request.operation),
    )
    .sort((a, b) => compareRanks(rankOf(a), rankOf(b)) || compareIds(a.serviceId, b.serviceId));
}

export const selectionKeyOf = (request: SelectionRequest): string => `${request.serviceName}/${request.operation}`;

function cursorOf(state: SelectionState, key: string): number {
  const cursor = Object.hasOwn(state.cursors, key) ? state.cursors[key] : 0;
  // A replaced policy or a hand-made state may hold anything: treat nonsense as 0.
  return Number.isSafeInteger(cursor) && (cursor as number) >= 0 ? (cursor as number) : 0;
}

function withCursor(state: SelectionState, key: string, cursor: number): SelectionState {
  const isNewKey = !Object.hasOwn(state.cursors, key);
  const base = isNewKey && Object.keys(state.cursors).length >= selectionCursorsMax ? {} : state.cursors;
  return { cursors: { ...base, [key]: cursor } };
}

export const defaultSelectionPolicy: SelectionPolicy = (services, request, state) => {
  const candidates = candidatesFor(services, request);
  const best = candidates[0];
  if (best === undefined) return { service: undefined, state };
  const bestRank = rankOf(best);
  let equals = 1;
  while (equals < candidates.length && compareRanks(rankOf(candidates[equals] as ServiceView), bestRank) === 0) equals += 1;
  const key = selectionKeyOf(request);
  const index = cursorOf(state, key) % equals;
  // The cursor is stored modulo the group size, so it stays small whatever the traffic.
  return { service: candidates[index], state: withCursor(state, key, (index + 1) % equals) };
};
