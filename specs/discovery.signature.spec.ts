/**
 * Signatures of advertisements (SEC-8): the canonical byte form (machines/discovery/canonical.ts),
 * sealing and checking with Ed25519 (adapters/udp/signature.ts), and the worked example of
 * docs/protocol.md, which must verify as printed (so another implementation can test against it).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDatagramSigner, isPublicKeyText, SignatureChecker } from '../adapters/udp/signature.js';
import { canonicalJson, CANONICAL_DEPTH_MAX, signedBytes, signedText, SIGNING_CONTEXT } from '../machines/discovery/canonical.js';
import { ephemeralKey, keyFromSeed } from '../runtime/keys.js';
import { jsonValue } from './support/arbitraries.js';

/** RFC 8032, test 1: the key of the worked example in docs/protocol.md. */
const RFC8032_SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const RFC8032_PUBLIC = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');

const wire = (): Record<string, unknown> => ({
  discoveryType: 'ServiceAdvertisement',
  serviceId: 'svc-1',
  serviceName: 'ImageProcessingService',
  serviceVersion: '1.2.0',
  endpoint: 'ws://127.0.0.1:8080',
  capabilities: [{ key: 'resizeImage', settings: [{ int: 'width' }] }],
  status: 'Online',
  load: 0,
  timestamp: '2025-07-02T12:00:30Z',
  heartbeatIntervalMs: 30000,
});

describe('canonical form (RFC 8785)', () => {
  it('sorts members by UTF-16 code units, writes no whitespace, and leaves array order alone', () => {
    // RFC 8785, 3.2.3: the sorting example.
    const rfc = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'] as const;
    expect(canonicalJson(rfc)).toBe(`{${order.map((key) => `${JSON.stringify(key)}:${JSON.stringify(rfc[key])}`).join(',')}}`);
    expect(canonicalJson({ b: [3, 1, { d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[3,1,{"c":2,"d":1}]}');
  });

  it('writes numbers and strings as ECMAScript does (RFC 8785, 3.2.2)', () => {
    expect(canonicalJson([1e21, 1e-7, 0.000001, -0, 333333333.3333333, 1.0, 'é\n"\\\u0001'])).toBe(
      '[1e+21,1e-7,0.000001,0,333333333.3333333,1,"é\\n\\"\\\\\\u0001"]',
    );
  });

  it('keeps a member named __proto__ (JSON.parse makes it an own member) and leaves out only the top-level signature', () => {
    const parsed = JSON.parse('{"__proto__":{"signature":1},"signature":"x","z":1}') as Record<string, unknown>;
    expect(signedText(parsed)).toBe(`${SIGNING_CONTEXT}{"__proto__":{"signature":1},"z":1}`);
  });

  it(`has no form beyond ${CANONICAL_DEPTH_MAX} levels of nesting (so such a datagram never verifies), and never overflows the stack`, () => {
    let deep: unknown = 1;
    for (let i = 0; i < CANONICAL_DEPTH_MAX; i++) deep = [deep];
    expect(signedBytes({ deep })).toBeUndefined();
    expect(signedBytes(JSON.parse(`{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`) as Record<string, unknown>)).toBeUndefined();
  });

  it('is the same for any member order and any whitespace of the same JSON', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), jsonValue, { maxKeys: 8 }), (value) => {
        const reordered = Object.fromEntries(Object.entries(value).reverse());
        expect(canonicalJson(JSON.parse(JSON.stringify(reordered, null, 2)))).toBe(canonicalJson(value));
        // And it is JSON that means the same value.
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe('sealing and checking (SEC-8)', () => {
  const key = ephemeralKey(1_000);

  it('a sealed advertisement verifies as parsed from its text, with any member order or whitespace', () => {
    const signer = createDatagramSigner({ privateKey: key.privateKey, epoch: 5 });
    const sealed = signer.seal(wire());
    expect(sealed).toMatchObject({ publicKey: key.publicKey, epoch: 5, sequence: 0 });
    expect(signer.seal(wire())).toMatchObject({ sequence: 1 });
    const checker = new SignatureChecker();
    expect(checker.inspect(JSON.parse(JSON.stringify(sealed)) as Record<string, unknown>)).toEqual({ kind: 'signed', publicKey: key.publicKey });
    const reordered = Object.fromEntries(Object.entries(sealed).reverse());
    expect(checker.inspect(JSON.parse(JSON.stringify(reordered, null, 1)) as Record<string, unknown>)).toEqual({ kind: 'signed', publicKey: key.publicKey });
  });

  it('binds the TLS certificate fingerprint: it is signed with the rest', () => {
    const signer = createDatagramSigner({ privateKey: key.privateKey, epoch: 5, tlsFingerprint256: 'AB'.repeat(32) });
    const sealed = signer.seal(wire());
    expect(sealed.tlsFingerprint256).toBe('AB'.repeat(32));
    expect(new SignatureChecker().inspect({ ...sealed, tlsFingerprint256: 'CD'.repeat(32) })).toMatchObject({ kind: 'invalid' });
  });

  it('any change of a member, an added or a removed member, fails the check; so does another key', () => {
    const sealed = createDatagramSigner({ privateKey: key.privateKey, epoch: 5 }).seal(wire());
    const checker = new SignatureChecker();
    const variants: Record<string, unknown>[] = [
      { ...sealed, status: 'Offline' },
      { ...sealed, endpoint: 'ws://10.6.6.6:8080' },
      { ...sealed, sequence: 1_000 },
      { ...sealed, extra: true },
      Object.fromEntries(Object.entries(sealed).filter(([name]) => name !== 'heartbeatIntervalMs')),
      { ...sealed, publicKey: ephemeralKey().publicKey },
      { ...sealed, load: 0.0000001 },
    ];
    for (const variant of variants) expect(checker.inspect(variant)).toMatchObject({ kind: 'invalid' });
  });

  it('tells unsigned from malformed: no fields is unsigned; half a signature, a malformed key or signature is invalid; requests get no proof', () => {
    const checker = new SignatureChecker();
    expect(checker.inspect(wire())).toEqual({ kind: 'unsigned' });
    expect(checker.inspect({ ...wire(), signature: 'A'.repeat(86) })).toMatchObject({ kind: 'invalid' });
    expect(checker.inspect({ ...wire(), publicKey: key.publicKey })).toMatchObject({ kind: 'invalid' });
    expect(checker.inspect({ ...wire(), publicKey: 42, signature: 'A'.repeat(86) })).toMatchObject({ kind: 'invalid' });
    expect(checker.inspect({ ...wire(), publicKey: key.publicKey, signature: '!'.repeat(86) })).toMatchObject({ kind: 'invalid' });
    expect(checker.inspect({ discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'c' })).toBeUndefined();
  });

  it('accepts a public key only in its one canonical base64url spelling (keys are compared as text)', () => {
    expect(isPublicKeyText(key.publicKey)).toBe(true);
    const last = key.publicKey.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // The last character carries 4 spare bits: its neighbour in the alphabet often decodes to the same 32 bytes.
    const sibling = alphabet[(alphabet.indexOf(last) ^ 1) % 64] as string;
    const respelled = key.publicKey.slice(0, -1) + sibling;
    if (Buffer.from(respelled, 'base64url').equals(Buffer.from(key.publicKey, 'base64url'))) expect(isPublicKeyText(respelled)).toBe(false);
    expect(isPublicKeyText('A'.repeat(42))).toBe(false);
  });

  it('never throws, whatever the parsed datagram holds', () => {
    const sealed = createDatagramSigner({ privateKey: key.privateKey, epoch: 5 }).seal(wire());
    const checker = new SignatureChecker();
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...Object.keys(sealed), '__proto__', 'constructor'), jsonValue), (overrides) => {
        const mutated = { ...sealed, ...overrides };
        const proof = checker.inspect(mutated);
        const changed = canonicalJson({ ...mutated, signature: null }) !== canonicalJson({ ...sealed, signature: null });
        if (changed || mutated.signature !== sealed.signature) expect(proof?.kind).not.toBe('signed');
      }),
    );
  });
});

describe('keys', () => {
  it('keyFromSeed gives RFC 8032\'s key for its seed, and the advertised form is its base64url', () => {
    const signer = createDatagramSigner({ privateKey: keyFromSeed(RFC8032_SEED), epoch: 0 });
    expect(signer.publicKey).toBe(RFC8032_PUBLIC.toString('base64url'));
  });
});

describe('the worked example of docs/protocol.md', () => {
  const protocol = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
  const section = protocol.slice(protocol.indexOf('### Signed advertisements'));
  const blocks = [...section.matchAll(/```(json|text)\n([\s\S]*?)```/g)].map((match) => ({ kind: match[1], body: match[2] as string }));

  it('verifies: the advertisement as printed, signed with the RFC 8032 test key, and its canonical text as printed', () => {
    const advertisement = JSON.parse(blocks.find((block) => block.kind === 'json')?.body ?? 'null') as Record<string, unknown>;
    expect(advertisement.publicKey).toBe(RFC8032_PUBLIC.toString('base64url'));
    expect(new SignatureChecker().inspect(advertisement)).toEqual({ kind: 'signed', publicKey: advertisement.publicKey });
    const printed = blocks.find((block) => block.kind === 'text')?.body.trimEnd();
    expect(printed).toBe(signedText(advertisement));
    // And signing it again gives the same bytes (Ed25519 is deterministic).
    const signer = createDatagramSigner({ privateKey: keyFromSeed(RFC8032_SEED), epoch: advertisement.epoch as number });
    const { publicKey: _k, epoch: _e, sequence, signature, ...rest } = advertisement;
    for (let i = 0; i < (sequence as number); i++) signer.seal({});
    expect(signer.seal(rest).signature).toBe(signature);
  });
});
