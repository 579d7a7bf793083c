/**
 * What the repository does with one received advertisement (DISC-8, DISC-10, DISC-14, DISC-15, DISC-18),
 * decided once per datagram as a pure function of the repository's state:
 *
 *   untrusted       the trust policy refused it (machines/discovery/trust.ts): counted, reported
 *                   once per source and reason, and nothing changes
 *   refresh         for a serviceId with an entry: the entry takes it (a goodbye ends it)
 *   unknownGoodbye  a goodbye for a serviceId without an entry: ignored (DISC-10)
 *   full            a new serviceId while `entriesMax` entries are held: dropped, counted (DISC-8)
 *   sourceFull      a new serviceId from a source address that already holds
 *                   `entriesPerSourceMax` entries: dropped, counted (DISC-18), so a flood from one
 *                   address cannot fill the repository and hide the next provider
 *   new             a new entry
 *
 * Trust comes first: an untrusted goodbye or refresh never reaches an entry.
 */
import type { ServiceAdvertisement } from '../messages.js';
import type { DatagramEvent } from '../transport.js';
import { judgeAdvertisement, type TrustDropReason, type TrustState, type TrustVerdict } from './trust.js';

export type AcceptedVerdict = Extract<TrustVerdict, { accepted: true }>;

export type AdvertisementAdmission =
  | { readonly kind: 'untrusted'; readonly reason: TrustDropReason; readonly detail: string }
  | { readonly kind: 'refresh'; readonly verdict: AcceptedVerdict }
  | { readonly kind: 'unknownGoodbye' }
  | { readonly kind: 'full' }
  | { readonly kind: 'sourceFull' }
  | { readonly kind: 'new'; readonly verdict: AcceptedVerdict };

export interface AdmissionState {
  /** Live entries by serviceId. */
  readonly services: ReadonlyMap<string, unknown>;
  readonly entriesMax: number;
  readonly entriesPerSourceMax: number;
  /** Live entries per source host. */
  readonly entriesBySource: ReadonlyMap<string, number>;
  readonly trust: TrustState;
}

type Received = Extract<DatagramEvent, { type: 'datagram.received' }>;

/** The advertisement a `datagram.received` event carries, if it carries one. */
export function advertisementIn(event: { readonly type: string }): ServiceAdvertisement | undefined {
  if (event.type !== 'datagram.received') return undefined;
  const message = (event as Received).message;
  return message.discoveryType === 'ServiceAdvertisement' ? message : undefined;
}

export function admissionOf(state: AdmissionState, event: Received, advertisement: ServiceAdvertisement): AdvertisementAdmission {
  const verdict = judgeAdvertisement(state.trust, advertisement, event.proof, event.receivedAtMs);
  if (!verdict.accepted) return { kind: 'untrusted', reason: verdict.reason, detail: verdict.detail };
  if (state.services.has(advertisement.serviceId)) return { kind: 'refresh', verdict };
  if (advertisement.status === 'Offline') return { kind: 'unknownGoodbye' };
  if (state.services.size >= state.entriesMax) return { kind: 'full' };
  if ((state.entriesBySource.get(event.from.host) ?? 0) >= state.entriesPerSourceMax) return { kind: 'sourceFull' };
  return { kind: 'new', verdict };
}

/** `counts` with `delta` added to `source` (a count that reaches 0 is removed). */
export function countedSource(counts: ReadonlyMap<string, number>, source: string, delta: number): ReadonlyMap<string, number> {
  const next = new Map(counts);
  const value = (next.get(source) ?? 0) + delta;
  if (value > 0) next.set(source, value);
  else next.delete(source);
  return next;
}
