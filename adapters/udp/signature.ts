/**
 * Ed25519 signatures of advertisements (SEC-8) with node:crypto: sealing on the way out,
 * checking on the way in. What is signed is machines/discovery/canonical.ts's byte form; what a
 * check finds travels to the machines as a `DatagramProof`, and the trust policy
 * (machines/discovery/trust.ts) decides what it means.
 *
 * Wire forms: `publicKey` is the 32-byte Ed25519 public key and `signature` the 64-byte signature,
 * both base64url without padding (the `x` member of the key's JWK, RFC 8037).
 */
import { Buffer } from 'node:buffer';
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { signedBytes } from '../../machines/discovery/canonical.js';
import type { DatagramProof } from '../../machines/transport.js';

/** Adds the security members and the signature to an outgoing advertisement. */
export interface DatagramSigner {
  /** The provider's public key, as advertised (base64url). */
  readonly publicKey: string;
  /** The wire form of an advertisement (WIRE-3) with publicKey, epoch, sequence, [tlsFingerprint256] and signature. */
  seal(wire: Readonly<Record<string, unknown>>): Record<string, unknown>;
}

export interface DatagramSignerOptions {
  /** An Ed25519 private key. */
  readonly privateKey: KeyObject;
  /** Boot epoch: must be greater than every earlier run's with this key (runtime/keys.ts persists it). */
  readonly epoch: number;
  /** SHA-256 fingerprint of the endpoint's TLS certificate, bound to the key by the signature. */
  readonly tlsFingerprint256?: string | undefined;
}

const BASE64URL_32_BYTES = /^[A-Za-z0-9_-]{43}$/;
const BASE64URL_64_BYTES = /^[A-Za-z0-9_-]{86}$/;

/** The advertised form of an Ed25519 public key. */
export function publicKeyText(key: KeyObject): string {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('switchboard: not an Ed25519 key');
  return jwk.x;
}

/**
 * Whether `text` is an advertised public key: 43 base64url characters in their one canonical
 * spelling (the last character carries 4 spare bits; keys are compared as text, so a second
 * spelling of the same key must not pass).
 */
export const isPublicKeyText = (text: string): boolean =>
  BASE64URL_32_BYTES.test(text) && Buffer.from(text, 'base64url').toString('base64url') === text;

export function createDatagramSigner(options: DatagramSignerOptions): DatagramSigner {
  const { privateKey, epoch, tlsFingerprint256 } = options;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TypeError('switchboard: the signing key must be an Ed25519 private key');
  }
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`switchboard: epoch must be a safe integer >= 0, got ${epoch}`);
  const publicKey = publicKeyText(privateKey);
  let sequence = 0;
  return {
    publicKey,
    seal(wire) {
      const unsigned: Record<string, unknown> = {
        ...wire,
        publicKey,
        epoch,
        sequence: sequence++,
        ...(tlsFingerprint256 === undefined ? {} : { tlsFingerprint256 }),
      };
      const bytes = signedBytes(unsigned);
      if (bytes === undefined) throw new RangeError('switchboard: this advertisement has no canonical form (nested too deep)');
      return { ...unsigned, signature: sign(null, bytes, privateKey).toString('base64url') };
    },
  };
}

/** Public keys imported recently: importing costs more than the check itself. */
const KEY_CACHE_MAX = 1_024;

/** Proofs remembered by the exact text they were found for. */
const PROOF_CACHE_MAX = 256;

/**
 * Checks the signatures of received advertisements. It caches imported keys, and the proof of
 * each recent datagram text: the same bytes always give the same proof, and the same broadcast
 * reaches every socket of a simulated network (and a replay flood repeats the same bytes), so a
 * check is made once.
 */
export class SignatureChecker {
  readonly #keys = new Map<string, KeyObject>();
  readonly #proofs = new Map<string, DatagramProof>();

  /**
   * The proof of a parsed datagram, or undefined when it is not an advertisement. `text`, when
   * given, is the datagram exactly as received (the cache key). Never throws.
   */
  inspect(raw: Readonly<Record<string, unknown>>, text?: string): DatagramProof | undefined {
    if (raw.discoveryType !== 'ServiceAdvertisement') return undefined;
    if (text === undefined) return this.#check(raw);
    const known = this.#proofs.get(text);
    if (known !== undefined) return known;
    const proof = this.#check(raw);
    if (this.#proofs.size >= PROOF_CACHE_MAX) this.#proofs.clear();
    this.#proofs.set(text, proof);
    return proof;
  }

  #check(raw: Readonly<Record<string, unknown>>): DatagramProof {
    const { publicKey, signature } = raw;
    if (publicKey === undefined && signature === undefined) return { kind: 'unsigned' };
    if (typeof publicKey !== 'string' || !isPublicKeyText(publicKey)) return invalid('publicKey is not a base64url Ed25519 key');
    if (typeof signature !== 'string' || !BASE64URL_64_BYTES.test(signature)) return invalid('signature is not a base64url Ed25519 signature');
    try {
      const bytes = signedBytes(raw);
      if (bytes === undefined) return invalid('no canonical form (nested too deep)');
      const ok = verify(null, bytes, this.#key(publicKey), Buffer.from(signature, 'base64url'));
      return ok ? { kind: 'signed', publicKey } : invalid('the signature does not verify');
    } catch {
      return invalid('the public key or signature could not be used');
    }
  }

  #key(publicKey: string): KeyObject {
    let key = this.#keys.get(publicKey);
    if (key === undefined) {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
      if (this.#keys.size >= KEY_CACHE_MAX) this.#keys.clear();
      this.#keys.set(publicKey, key);
    }
    return key;
  }
}

const invalid = (reason: string): DatagramProof => ({ kind: 'invalid', reason });
