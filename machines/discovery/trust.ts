/**
 * The client's trust policy for advertisements (SEC-8, DISC-14, DISC-15), as pure functions: which
 * advertisement the repository may act on, given how it was signed and what the client already
 * trusts. The adapters verify signatures (Ed25519 over machines/discovery/canonical.ts); what
 * reaches the repository is the result, a `DatagramProof`. Everything else is decided here:
 *
 * 1. A signature that does not verify: dropped (`badSignature`).
 * 2. Unsigned: dropped when a pin covers the service (`signatureRequired`), when the serviceId is
 *    bound to a key (`signatureRequired`: so a spoofed unsigned goodbye or Busy status cannot
 *    touch a verified provider), or when the user did not allow unsigned advertisements
 *    (`unsigned`). Otherwise accepted, as an unsigned entry.
 * 3. Signed, the key must be the one trusted for this serviceId:
 *    - pins for the serviceId, else pins for the serviceName, are the only keys allowed
 *      (`keyMismatch` otherwise);
 *    - else the key the serviceId is already bound to (learned on first use, or loaded from the
 *      trust-on-first-use file) (`keyMismatch` otherwise);
 *    - else a key pinned for any service, or, with trust on first use, any key (the binding is
 *      learned); else `untrustedKey`.
 * 4. Signed and trusted, it must carry `epoch` and `sequence` (`unsequenced`), its `timestamp`
 *    must be within `clockSkewMsMax` of the receiver's clock (`stale`: bounds replays to a client
 *    that has no record yet), its epoch must not be older than the newest epoch heard from its
 *    key (`replayed`: an earlier boot of a provider that has restarted since), and
 *    `(epoch, sequence)` must be greater than the last accepted one for that serviceId and key
 *    (`replayed`; duplicates are replays too).
 *
 * The bindings and their last `(epoch, sequence)` are `TrustRecord`s, one per serviceId, kept
 * after an entry ends (so a replay of a dead provider's advertisement stays dropped), at most
 * `recordsMax`, evicting the least recently used record whose serviceId has no live entry. The
 * newest epoch per key is kept likewise; a key's epoch growing means its provider restarted, so
 * the serviceIds of its earlier boot are over (`supersededBy`: the repository removes them).
 *
 * Why the epoch is per key and not per serviceId: a provider draws new serviceIds at each start,
 * so only the key links a boot to the one before; a copy of an old boot's advertisement replayed
 * to a client that never heard it would otherwise be believed. This assumes one running provider
 * per key, which runtime/keys.ts ensures on one host (a key file is locked while in use).
 */
import type { ServiceAdvertisement } from '../messages.js';
import type { DatagramProof } from '../transport.js';

/** Why an advertisement was not acted on (counted, and reported once per source). */
export const trustDropReasons = [
  'unsigned',
  'signatureRequired',
  'badSignature',
  'untrustedKey',
  'keyMismatch',
  'unsequenced',
  'stale',
  'replayed',
] as const;
export type TrustDropReason = (typeof trustDropReasons)[number];

/** A key the user trusts: for one serviceId, for one serviceName, or (neither given) for any service. */
export interface PinnedKey {
  /** Ed25519 public key, base64url of its 32 bytes (the `publicKey` field of a signed advertisement). */
  readonly publicKey: string;
  readonly serviceName?: string | undefined;
  readonly serviceId?: string | undefined;
}

/** A binding learned earlier (trust on first use), e.g. loaded from a file. */
export interface LearnedKey {
  readonly serviceId: string;
  readonly publicKey: string;
}

export interface TrustOptions {
  /** Accept unsigned advertisements (seed-only providers) where no pin or binding forbids it. @default false */
  readonly allowUnsigned: boolean;
  /** Trust the key of a serviceId nobody pinned the first time it is heard. @default true */
  readonly trustOnFirstUse: boolean;
  /** @default [] */
  readonly pinned: readonly PinnedKey[];
  /** @default [] */
  readonly learned: readonly LearnedKey[];
  /** A signed advertisement whose timestamp is further than this from the receiver's clock is stale; 0 turns the check off. @default 300_000 */
  readonly clockSkewMsMax: number;
  /** Trust records kept (bindings and replay marks). @default 8_192 */
  readonly recordsMax: number;
}

export const trustDefaults: TrustOptions = {
  allowUnsigned: false,
  trustOnFirstUse: true,
  pinned: [],
  learned: [],
  clockSkewMsMax: 300_000,
  recordsMax: 8_192,
};

/** What the client knows about the key of one serviceId. */
export interface TrustRecord {
  readonly publicKey: string;
  /** The last accepted (epoch, sequence); -1, -1 when none was accepted yet (a loaded binding). */
  readonly epoch: number;
  readonly sequence: number;
}

/** The pins, indexed once. */
export interface PinIndex {
  readonly byServiceId: ReadonlyMap<string, ReadonlySet<string>>;
  readonly byServiceName: ReadonlyMap<string, ReadonlySet<string>>;
  readonly anyService: ReadonlySet<string>;
}

export interface TrustState {
  readonly options: TrustOptions;
  readonly pins: PinIndex;
  /** serviceId -> record, least recently used first. */
  readonly records: ReadonlyMap<string, TrustRecord>;
  /** publicKey -> the newest epoch accepted from it, least recently used first. */
  readonly epochs: ReadonlyMap<string, number>;
}

/** How a trusted signed advertisement came to be trusted. */
export type TrustBasis = 'pinned' | 'learned' | 'firstUse';

export type TrustVerdict =
  | { readonly accepted: true; readonly signedBy: undefined }
  | { readonly accepted: true; readonly signedBy: string; readonly basis: TrustBasis; readonly record: TrustRecord }
  | { readonly accepted: false; readonly reason: TrustDropReason; readonly detail: string };

function addTo(index: Map<string, Set<string>>, key: string, publicKey: string): void {
  const keys = index.get(key) ?? new Set<string>();
  keys.add(publicKey);
  index.set(key, keys);
}

export function indexPins(pinned: readonly PinnedKey[]): PinIndex {
  const byServiceId = new Map<string, Set<string>>();
  const byServiceName = new Map<string, Set<string>>();
  const anyService = new Set<string>();
  for (const pin of pinned) {
    if (pin.serviceId !== undefined) addTo(byServiceId, pin.serviceId, pin.publicKey);
    else if (pin.serviceName !== undefined) addTo(byServiceName, pin.serviceName, pin.publicKey);
    else anyService.add(pin.publicKey);
  }
  return { byServiceId, byServiceName, anyService };
}

export function initialTrustState(options: TrustOptions): TrustState {
  const records = new Map<string, TrustRecord>();
  for (const learned of options.learned) {
    if (!records.has(learned.serviceId)) records.set(learned.serviceId, { publicKey: learned.publicKey, epoch: -1, sequence: -1 });
  }
  return { options, pins: indexPins(options.pinned), records, epochs: new Map() };
}

/** The only keys allowed for this advertisement, when a pin covers it. */
function requiredKeys(pins: PinIndex, advertisement: ServiceAdvertisement): ReadonlySet<string> | undefined {
  return pins.byServiceId.get(advertisement.serviceId) ?? pins.byServiceName.get(advertisement.serviceName);
}

const drop = (reason: TrustDropReason, detail: string): TrustVerdict => ({ accepted: false, reason, detail });

const isNewer = (advertisement: { epoch: number; sequence: number }, record: TrustRecord): boolean =>
  advertisement.epoch > record.epoch || (advertisement.epoch === record.epoch && advertisement.sequence > record.sequence);

function judgeUnsigned(state: TrustState, advertisement: ServiceAdvertisement): TrustVerdict {
  if (requiredKeys(state.pins, advertisement) !== undefined) {
    return drop('signatureRequired', `unsigned, but ${advertisement.serviceName} has a pinned key`);
  }
  if (state.records.has(advertisement.serviceId)) {
    return drop('signatureRequired', `unsigned, but serviceId ${advertisement.serviceId} is bound to a key`);
  }
  if (!state.options.allowUnsigned) return drop('unsigned', 'unsigned advertisements are not allowed (allowUnsigned is off)');
  return { accepted: true, signedBy: undefined };
}

function basisOf(state: TrustState, advertisement: ServiceAdvertisement, publicKey: string): TrustBasis | TrustVerdict {
  const required = requiredKeys(state.pins, advertisement);
  if (required !== undefined) return required.has(publicKey) ? 'pinned' : drop('keyMismatch', 'signed by a key that is not the pinned one');
  const record = state.records.get(advertisement.serviceId);
  if (record !== undefined) {
    return record.publicKey === publicKey ? 'learned' : drop('keyMismatch', `serviceId ${advertisement.serviceId} is bound to another key`);
  }
  if (state.pins.anyService.has(publicKey)) return 'pinned';
  return state.options.trustOnFirstUse ? 'firstUse' : drop('untrustedKey', 'signed by a key that is not trusted (trust on first use is off)');
}

/**
 * The verdict on one advertisement. `receivedAtMs` is the receiver's wall clock at arrival (from
 * the adapter); without it the freshness check is skipped.
 */
export function judgeAdvertisement(
  state: TrustState,
  advertisement: ServiceAdvertisement,
  proof: DatagramProof | undefined,
  receivedAtMs: number | undefined,
): TrustVerdict {
  // No proof means nobody checked: never treat it as signed, whatever fields it carries.
  if (proof === undefined || proof.kind === 'unsigned') return judgeUnsigned(state, advertisement);
  if (proof.kind === 'invalid') return drop('badSignature', proof.reason);
  const basis = basisOf(state, advertisement, proof.publicKey);
  if (typeof basis !== 'string') return basis;
  const { epoch, sequence } = advertisement;
  if (epoch === undefined || sequence === undefined) return drop('unsequenced', 'signed without epoch and sequence');
  const skew = state.options.clockSkewMsMax;
  if (receivedAtMs !== undefined && skew > 0 && Math.abs(advertisement.timestamp - receivedAtMs) > skew) {
    return drop('stale', `timestamp ${Math.round((advertisement.timestamp - receivedAtMs) / 1000)} s off the local clock (at most ${skew / 1000} s)`);
  }
  const newestEpoch = state.epochs.get(proof.publicKey);
  if (newestEpoch !== undefined && epoch < newestEpoch) {
    return drop('replayed', `epoch ${epoch} is from an earlier run of this provider (it has restarted since, epoch ${newestEpoch})`);
  }
  const record = state.records.get(advertisement.serviceId);
  if (record !== undefined && record.publicKey === proof.publicKey && !isNewer({ epoch, sequence }, record)) {
    return drop('replayed', `epoch ${epoch} sequence ${sequence} is not newer than ${record.epoch}/${record.sequence}`);
  }
  return { accepted: true, signedBy: proof.publicKey, basis, record: { publicKey: proof.publicKey, epoch, sequence } };
}

/**
 * The state after acting on a trusted signed advertisement: its record replaces the old one and
 * becomes the most recently used; beyond `recordsMax`, the least recently used records whose
 * serviceId has no live entry go.
 */
export function withRecord(
  state: TrustState,
  serviceId: string,
  record: TrustRecord,
  isLive: (serviceId: string) => boolean,
): TrustState {
  const records = new Map(state.records);
  records.delete(serviceId);
  records.set(serviceId, record);
  if (records.size > state.options.recordsMax) {
    for (const candidate of records.keys()) {
      if (records.size <= state.options.recordsMax) break;
      if (candidate !== serviceId && !isLive(candidate)) records.delete(candidate);
    }
  }
  const newestEpoch = state.epochs.get(record.publicKey);
  if (newestEpoch !== undefined && newestEpoch >= record.epoch) return { ...state, records };
  const epochs = new Map(state.epochs);
  epochs.delete(record.publicKey);
  epochs.set(record.publicKey, record.epoch);
  if (epochs.size > state.options.recordsMax) epochs.delete(epochs.keys().next().value as string);
  return { ...state, records, epochs };
}

/**
 * The serviceIds an accepted advertisement ends: those bound to the same key with an older epoch
 * (the provider restarted; its earlier boot's instances are gone). Call before `withRecord`.
 */
export function supersededBy(state: TrustState, record: TrustRecord, isLive: (serviceId: string) => boolean): string[] {
  const newestEpoch = state.epochs.get(record.publicKey);
  if (newestEpoch !== undefined && newestEpoch >= record.epoch) return [];
  const ended: string[] = [];
  for (const [serviceId, known] of state.records) {
    if (known.publicKey === record.publicKey && known.epoch >= 0 && known.epoch < record.epoch && isLive(serviceId)) ended.push(serviceId);
  }
  return ended;
}

/** The key a serviceId is bound to, if any (what a view shows as `signedBy`). */
export const boundKeyOf = (state: TrustState, serviceId: string): string | undefined => state.records.get(serviceId)?.publicKey;
