/**
 * Fuzzed discovery datagrams (SEC-9, WIRE-9, SEC-8), made from REAL messages: a signed
 * advertisement captured from a running provider, and a padded request. Each datagram is one of
 * these, mutated: a field set to an evil value (prototype-chain names such as `__proto__` and
 * `constructor`, deep nesting, huge strings, numbers JSON cannot round-trip, wrong types), every
 * string field at once set to a prototype name, members added, renamed to prototype names or
 * removed, re-signed by another key (so the signature verifies and the trust policy must judge
 * it), or broken at the byte level (flipped bytes, truncation, invalid UTF-8, random binary).
 *
 * Deterministic: everything comes from `seed` (mulberry32), so a failing run reproduces from the
 * seed it prints.
 */
import { Buffer } from 'node:buffer';
import { createDatagramSigner } from '../../adapters/udp/signature.js';
import { ephemeralKey } from '../../runtime/keys.js';

export const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'toJSON'] as const;

/** A small seeded PRNG (mulberry32): the same seed, the same datagrams. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** JSON text nested `depth` levels deep (arrays or objects), as a raw string to splice in. */
const deepText = (depth: number, object: boolean): string => (object ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`);

/** Sets `key` as an own member, even `__proto__` (a plain assignment would set the prototype). */
function define(target: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export interface FuzzSources {
  /** The wire form of a real signed advertisement. */
  readonly advertisement: Readonly<Record<string, unknown>>;
  /** The wire form of a real discovery request. */
  readonly request: Readonly<Record<string, unknown>>;
}

export function datagramFuzzer(sources: FuzzSources, seed: number, datagramBytesMax: number) {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const attacker = createDatagramSigner({ privateKey: ephemeralKey().privateKey, epoch: 1 });
  // Spliced in as raw text where JSON.stringify would not produce them.
  const DEEP = '"@@deep@@"';

  const evil = (): Json => {
    switch (Math.floor(random() * 12)) {
      case 0:
        return pick(PROTOTYPE_NAMES);
      case 1:
        return { [pick(PROTOTYPE_NAMES)]: pick(PROTOTYPE_NAMES), constructor: { prototype: { polluted: true } } };
      case 2:
        return 'x'.repeat(1 + Math.floor(random() * Math.min(30_000, datagramBytesMax / 2)));
      case 3:
        return pick([0, -1, 1e308, -1e308, 2 ** 53 + 1, 0.1, 1e-300, Number.MAX_SAFE_INTEGER]);
      case 4:
        return pick([null, true, false, [], {}, '']);
      case 5:
        return DEEP;
      case 6:
        return pick(['\u0000', '\ud800', '\udfff\ud800', '\u202e\u200b', 'é'.repeat(100), '\\"}']);
      case 7:
        return [pick(PROTOTYPE_NAMES), evil()];
      case 8:
        return pick(['ws://__proto__:1', 'wss://constructor', 'http://x', 'ws://', '']);
      case 9:
        return pick(['Offline', 'ONLINE', 'busy', 'Draining', 'constructor']);
      case 10:
        return pick(['2025-07-02T11:45:00Z', '9999-12-31T23:59:59.999Z', '0000-01-01', 'yesterday', 1_751_456_705_000]);
      default:
        return Math.floor(random() * 1_000_000);
    }
  };

  const mutateObject = (base: Readonly<Record<string, unknown>>): Record<string, Json> => {
    const value = JSON.parse(JSON.stringify(base)) as Record<string, Json>;
    const keys = Object.keys(value);
    const rounds = 1 + Math.floor(random() * 3);
    for (let round = 0; round < rounds; round++) {
      switch (Math.floor(random() * 6)) {
        case 0:
          value[pick(keys)] = evil();
          break;
        case 1:
          for (const key of Object.keys(value)) if (typeof value[key] === 'string') value[key] = pick(PROTOTYPE_NAMES);
          break;
        case 2:
          define(value, pick(PROTOTYPE_NAMES), evil());
          break;
        case 3: {
          const key = pick(keys);
          const moved = value[key] as Json;
          delete value[key];
          define(value, pick(PROTOTYPE_NAMES), moved);
          break;
        }
        case 4:
          delete value[pick(keys)];
          break;
        default:
          if (Array.isArray(value.capabilities)) value.capabilities = [{ key: pick(PROTOTYPE_NAMES), settings: [{ [pick(PROTOTYPE_NAMES)]: pick(PROTOTYPE_NAMES) }] }];
          else value[pick(keys)] = evil();
      }
    }
    return value;
  };

  const text = (value: Record<string, Json>): string => {
    let result = JSON.stringify(value);
    if (result.includes(DEEP)) result = result.split(DEEP).join(deepText(1 + Math.floor(random() * 5_000), random() < 0.5));
    return result;
  };

  const byteLevel = (bytes: Buffer): Buffer => {
    switch (Math.floor(random() * 5)) {
      case 0: {
        const copy = Buffer.from(bytes);
        for (let i = 0; i < 1 + random() * 8; i++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
        return copy;
      }
      case 1:
        return bytes.subarray(0, Math.floor(random() * bytes.length));
      case 2: {
        const at = Math.floor(random() * bytes.length);
        return Buffer.concat([bytes.subarray(0, at), Buffer.from(pick([[0xff], [0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]])), bytes.subarray(at)]);
      }
      case 3:
        return Buffer.from(Array.from({ length: Math.floor(random() * 2_000) }, () => Math.floor(random() * 256)));
      default:
        return Buffer.from(deepText(1 + Math.floor(random() * 30_000), random() < 0.5));
    }
  };

  /** The next fuzzed datagram (at most `datagramBytesMax` bytes, so it is received and judged). */
  return (): Buffer => {
    const base = random() < 0.7 ? sources.advertisement : sources.request;
    let mutated = mutateObject(base);
    // Re-signed by another key: the signature verifies; the policy must refuse or contain it.
    if (base === sources.advertisement && random() < 0.25) {
      const { signature: _signature, publicKey: _key, epoch: _epoch, sequence: _sequence, ...rest } = mutated;
      try {
        mutated = attacker.seal(rest) as Record<string, Json>;
      } catch {
        // No canonical form (nested too deep): sent as it is.
      }
    }
    let bytes: Buffer = Buffer.from(text(mutated), 'utf8');
    if (random() < 0.2) bytes = byteLevel(bytes);
    return bytes.byteLength > datagramBytesMax ? bytes.subarray(0, datagramBytesMax) : bytes;
  };
}
