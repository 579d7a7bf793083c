/**
 * The client's trust policy for advertisements, as pure functions (machines/discovery/trust.ts;
 * SEC-8, DISC-14, DISC-15): what is accepted, what is refused and why, and what a verified
 * serviceId may be changed by. Proofs are made by hand here: checking real signatures is the
 * adapters' job (specs/discovery.signature.spec.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  initialTrustState,
  judgeAdvertisement,
  supersededBy,
  trustDefaults,
  withRecord,
  type TrustOptions,
  type TrustState,
  type TrustVerdict,
} from '../machines/discovery/trust.js';
import type { ServiceAdvertisement } from '../machines/messages.js';
import type { DatagramProof } from '../machines/transport.js';
import { sampleAdvertisement } from './support/discoveryFixtures.js';

const KEY_A = 'A'.repeat(43);
const KEY_B = 'B'.repeat(43);
const NOW = 1_751_456_705_000;

const signedBy = (publicKey: string): DatagramProof => ({ kind: 'signed', publicKey });
const unsigned: DatagramProof = { kind: 'unsigned' };

const ad = (overrides: Partial<ServiceAdvertisement> = {}): ServiceAdvertisement =>
  sampleAdvertisement({ timestamp: NOW, epoch: 7, sequence: 1, ...overrides });

const state = (options: Partial<TrustOptions> = {}): TrustState => initialTrustState({ ...trustDefaults, ...options });

const reasonOf = (verdict: TrustVerdict): string => (verdict.accepted ? 'accepted' : verdict.reason);

/** Accepts `advertisement` and records it, as the repository does with an accepted signed one. */
function accept(trust: TrustState, advertisement: ServiceAdvertisement, proof: DatagramProof): TrustState {
  const verdict = judgeAdvertisement(trust, advertisement, proof, NOW);
  if (!verdict.accepted || verdict.signedBy === undefined) throw new Error(`not accepted: ${reasonOf(verdict)}`);
  return withRecord(trust, advertisement.serviceId, verdict.record, () => true);
}

describe('trust policy: unsigned advertisements (DISC-14)', () => {
  it('are refused by default, with the reason a person can act on', () => {
    const verdict = judgeAdvertisement(state(), ad(), unsigned, NOW);
    expect(verdict).toMatchObject({ accepted: false, reason: 'unsigned' });
    expect((verdict as { detail: string }).detail).toContain('allowUnsigned');
  });

  it('are accepted with allowUnsigned, and a missing proof counts as unsigned whatever fields the message carries', () => {
    const trust = state({ allowUnsigned: true });
    expect(judgeAdvertisement(trust, ad(), unsigned, NOW)).toEqual({ accepted: true, signedBy: undefined });
    // A `signature` field nobody checked proves nothing.
    const claimed = ad({ publicKey: KEY_A, signature: 'x'.repeat(86) });
    expect(judgeAdvertisement(trust, claimed, undefined, NOW)).toEqual({ accepted: true, signedBy: undefined });
    expect(reasonOf(judgeAdvertisement(state(), claimed, undefined, NOW))).toBe('unsigned');
  });

  it('are refused, even with allowUnsigned, for a serviceId bound to a key: a spoofed goodbye or Busy changes nothing', () => {
    const trust = accept(state({ allowUnsigned: true }), ad(), signedBy(KEY_A));
    for (const status of ['Offline', 'Busy', 'Draining', 'Online'] as const) {
      expect(reasonOf(judgeAdvertisement(trust, ad({ status, sequence: 99 }), unsigned, NOW))).toBe('signatureRequired');
    }
  });

  it('are refused, even with allowUnsigned, for a pinned serviceName or serviceId', () => {
    const byName = state({ allowUnsigned: true, pinned: [{ publicKey: KEY_A, serviceName: 'ImageProcessingService' }] });
    const byId = state({ allowUnsigned: true, pinned: [{ publicKey: KEY_A, serviceId: 'svc-1' }] });
    expect(reasonOf(judgeAdvertisement(byName, ad({ serviceId: 'any-new-id' }), unsigned, NOW))).toBe('signatureRequired');
    expect(reasonOf(judgeAdvertisement(byId, ad(), unsigned, NOW))).toBe('signatureRequired');
    // A pin for one service says nothing about another.
    expect(reasonOf(judgeAdvertisement(byName, ad({ serviceName: 'Other' }), unsigned, NOW))).toBe('accepted');
  });
});

describe('trust policy: signed advertisements (SEC-8, DISC-14)', () => {
  it('a signature that does not verify is refused, with the adapter\'s reason', () => {
    const verdict = judgeAdvertisement(state({ allowUnsigned: true }), ad(), { kind: 'invalid', reason: 'the signature does not verify' }, NOW);
    expect(verdict).toEqual({ accepted: false, reason: 'badSignature', detail: 'the signature does not verify' });
  });

  it('trust on first use: the first key heard for a serviceId is accepted and then the only one', () => {
    const first = judgeAdvertisement(state(), ad(), signedBy(KEY_A), NOW);
    expect(first).toEqual({ accepted: true, signedBy: KEY_A, basis: 'firstUse', record: { publicKey: KEY_A, epoch: 7, sequence: 1 } });
    const trust = accept(state(), ad(), signedBy(KEY_A));
    expect(judgeAdvertisement(trust, ad({ sequence: 2 }), signedBy(KEY_A), NOW)).toMatchObject({ accepted: true, basis: 'learned' });
    expect(reasonOf(judgeAdvertisement(trust, ad({ sequence: 2, status: 'Offline' }), signedBy(KEY_B), NOW))).toBe('keyMismatch');
  });

  it('without trust on first use, only pinned keys are accepted', () => {
    const trust = state({ trustOnFirstUse: false, pinned: [{ publicKey: KEY_A }] });
    expect(reasonOf(judgeAdvertisement(trust, ad(), signedBy(KEY_B), NOW))).toBe('untrustedKey');
    expect(judgeAdvertisement(trust, ad(), signedBy(KEY_A), NOW)).toMatchObject({ accepted: true, basis: 'pinned' });
  });

  it('a pin by serviceName admits only its keys, for any serviceId of that name (a forged new instance is refused)', () => {
    const trust = state({ pinned: [{ publicKey: KEY_A, serviceName: 'ImageProcessingService' }] });
    expect(reasonOf(judgeAdvertisement(trust, ad({ serviceId: 'forged-instance' }), signedBy(KEY_B), NOW))).toBe('keyMismatch');
    expect(judgeAdvertisement(trust, ad({ serviceId: 'real-instance' }), signedBy(KEY_A), NOW)).toMatchObject({ accepted: true, basis: 'pinned' });
  });

  it('a pin by serviceId wins over a pin by serviceName and over a learned binding', () => {
    const trust = accept(
      state({ pinned: [{ publicKey: KEY_A, serviceName: 'ImageProcessingService' }, { publicKey: KEY_B, serviceId: 'svc-1' }] }),
      ad(),
      signedBy(KEY_B),
    );
    expect(reasonOf(judgeAdvertisement(trust, ad({ sequence: 5 }), signedBy(KEY_A), NOW))).toBe('keyMismatch');
    expect(judgeAdvertisement(trust, ad({ sequence: 5 }), signedBy(KEY_B), NOW)).toMatchObject({ accepted: true, basis: 'pinned' });
  });

  it('bindings loaded from a trust-on-first-use file hold before anything is heard', () => {
    const trust = state({ learned: [{ serviceId: 'svc-1', publicKey: KEY_A }] });
    expect(reasonOf(judgeAdvertisement(trust, ad(), signedBy(KEY_B), NOW))).toBe('keyMismatch');
    expect(reasonOf(judgeAdvertisement(trust, ad(), unsigned, NOW))).toBe('signatureRequired');
    expect(judgeAdvertisement(trust, ad({ epoch: 0, sequence: 0 }), signedBy(KEY_A), NOW)).toMatchObject({ accepted: true, basis: 'learned' });
  });

  it('a signed advertisement without epoch and sequence is refused', () => {
    expect(reasonOf(judgeAdvertisement(state(), ad({ epoch: undefined }), signedBy(KEY_A), NOW))).toBe('unsequenced');
    expect(reasonOf(judgeAdvertisement(state(), ad({ sequence: undefined }), signedBy(KEY_A), NOW))).toBe('unsequenced');
  });
});

describe('trust policy: replays and freshness (DISC-15)', () => {
  it('(epoch, sequence) must grow: an old or repeated one is a replay; a restart (greater epoch) starts the sequence afresh', () => {
    const trust = accept(state(), ad({ epoch: 7, sequence: 10 }), signedBy(KEY_A));
    expect(reasonOf(judgeAdvertisement(trust, ad({ epoch: 7, sequence: 10 }), signedBy(KEY_A), NOW))).toBe('replayed');
    expect(reasonOf(judgeAdvertisement(trust, ad({ epoch: 7, sequence: 3 }), signedBy(KEY_A), NOW))).toBe('replayed');
    expect(reasonOf(judgeAdvertisement(trust, ad({ epoch: 6, sequence: 99 }), signedBy(KEY_A), NOW))).toBe('replayed');
    expect(reasonOf(judgeAdvertisement(trust, ad({ epoch: 7, sequence: 11 }), signedBy(KEY_A), NOW))).toBe('accepted');
    expect(reasonOf(judgeAdvertisement(trust, ad({ epoch: 8, sequence: 0 }), signedBy(KEY_A), NOW))).toBe('accepted');
  });

  it('a key\'s epoch only grows: once a provider\'s restart is heard, any advertisement of its earlier run is a replay, whatever its serviceId', () => {
    let trust = accept(state(), ad({ serviceId: 'run-1', epoch: 7, sequence: 9 }), signedBy(KEY_A));
    trust = accept(trust, ad({ serviceId: 'run-2', epoch: 8, sequence: 0 }), signedBy(KEY_A));
    // A serviceId of the earlier run that this client never heard (a fresh copy would otherwise be believed).
    expect(reasonOf(judgeAdvertisement(trust, ad({ serviceId: 'run-1-other', epoch: 7, sequence: 50 }), signedBy(KEY_A), NOW))).toBe('replayed');
    // Another key's epochs are its own.
    expect(reasonOf(judgeAdvertisement(trust, ad({ serviceId: 'other', epoch: 1, sequence: 0 }), signedBy(KEY_B), NOW))).toBe('accepted');
  });

  it('supersededBy names the live serviceIds of a key\'s earlier epochs when its epoch grows, and nothing otherwise', () => {
    let trust = accept(state(), ad({ serviceId: 'a', epoch: 7 }), signedBy(KEY_A));
    trust = accept(trust, ad({ serviceId: 'b', epoch: 7 }), signedBy(KEY_A));
    trust = accept(trust, ad({ serviceId: 'c', epoch: 3 }), signedBy(KEY_B));
    const live = (serviceId: string) => serviceId !== 'b';
    expect(supersededBy(trust, { publicKey: KEY_A, epoch: 8, sequence: 0 }, live)).toEqual(['a']);
    expect(supersededBy(trust, { publicKey: KEY_A, epoch: 7, sequence: 99 }, live)).toEqual([]);
    expect(supersededBy(trust, { publicKey: KEY_B, epoch: 4, sequence: 0 }, () => true)).toEqual(['c']);
  });

  it('the record outlives nothing it should not: kept after the entry ends, so the replay of a dead provider stays refused', () => {
    let trust = accept(state(), ad({ serviceId: 'dead', sequence: 4 }), signedBy(KEY_A));
    // 10 other services come and go (records are kept up to recordsMax, live or not).
    for (let i = 0; i < 10; i++) trust = withRecord(trust, `other-${i}`, { publicKey: KEY_B, epoch: 1, sequence: 1 }, () => false);
    expect(reasonOf(judgeAdvertisement(trust, ad({ serviceId: 'dead', sequence: 4 }), signedBy(KEY_A), NOW))).toBe('replayed');
  });

  it('a timestamp further than clockSkewMsMax from the receiver is stale (either way); 0 turns the check off', () => {
    const trust = state({ clockSkewMsMax: 60_000 });
    expect(reasonOf(judgeAdvertisement(trust, ad({ timestamp: NOW - 60_001 }), signedBy(KEY_A), NOW))).toBe('stale');
    expect(reasonOf(judgeAdvertisement(trust, ad({ timestamp: NOW + 60_001 }), signedBy(KEY_A), NOW))).toBe('stale');
    expect(reasonOf(judgeAdvertisement(trust, ad({ timestamp: NOW - 60_000 }), signedBy(KEY_A), NOW))).toBe('accepted');
    expect(reasonOf(judgeAdvertisement(trust, ad({ timestamp: NOW - 60_001 }), signedBy(KEY_A), undefined))).toBe('accepted');
    expect(reasonOf(judgeAdvertisement(state({ clockSkewMsMax: 0 }), ad({ timestamp: 0 }), signedBy(KEY_A), NOW))).toBe('accepted');
  });

  it('records are bounded: the least recently used record without a live entry goes first, a live one never', () => {
    let trust = state({ recordsMax: 3 });
    const live = new Set(['a']);
    for (const serviceId of ['a', 'b', 'c', 'd', 'e']) {
      trust = withRecord(trust, serviceId, { publicKey: KEY_A, epoch: 1, sequence: 1 }, (id) => live.has(id));
    }
    expect([...trust.records.keys()]).toEqual(['a', 'd', 'e']);
  });
});

describe('trust policy: properties', () => {
  const keyArb = fc.constantFrom(KEY_A, KEY_B, 'C'.repeat(43));
  const proofArb: fc.Arbitrary<DatagramProof> = fc.oneof(
    fc.constant(unsigned),
    keyArb.map(signedBy),
    fc.constant<DatagramProof>({ kind: 'invalid', reason: 'forged' }),
  );
  const adArb = fc.record({
    serviceId: fc.constantFrom('svc-1', 'svc-2', '__proto__', 'constructor'),
    status: fc.constantFrom('Online', 'Busy', 'Draining', 'Offline' as const),
    epoch: fc.nat(3),
    sequence: fc.nat(5),
  });

  it('DISC-14, DISC-15: once a serviceId is bound, nothing but its key with a newer (epoch, sequence) is ever accepted for it', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(adArb, proofArb), { maxLength: 40 }), fc.boolean(), (stream, allowUnsigned) => {
        let trust = state({ allowUnsigned });
        for (const [fields, proof] of stream) {
          const advertisement = ad(fields);
          const before = trust.records.get(fields.serviceId);
          const verdict = judgeAdvertisement(trust, advertisement, proof, NOW);
          if (before !== undefined && verdict.accepted) {
            expect(proof).toEqual(signedBy(before.publicKey));
            expect(fields.epoch > before.epoch || (fields.epoch === before.epoch && fields.sequence > before.sequence)).toBe(true);
          }
          if (proof.kind === 'invalid') expect(verdict.accepted).toBe(false);
          if (verdict.accepted && verdict.signedBy !== undefined) trust = withRecord(trust, fields.serviceId, verdict.record, () => true);
        }
      }),
    );
  });
});
