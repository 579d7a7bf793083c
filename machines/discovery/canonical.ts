/**
 * The canonical byte form of a signed advertisement (SEC-8, docs/protocol.md "Signed discovery"):
 * what a provider signs and what a receiver verifies, so that any implementation can check a
 * switchboard signature.
 *
 *   signedBytes = UTF-8( SIGNING_CONTEXT + canonicalJson(advertisement without "signature") )
 *
 * `canonicalJson` is RFC 8785 (JSON Canonicalization Scheme) for the values JSON.parse produces:
 * object members sorted by key in UTF-16 code-unit order, no whitespace, strings and numbers
 * written as ECMAScript's JSON.stringify writes them. The receiver works on the object exactly as
 * parsed, unknown members included, BEFORE liberal decoding (which drops and normalises fields),
 * because the signature covers the bytes the sender meant, not our reading of them.
 *
 * The context line keeps a signature made for an advertisement from being valid as anything
 * else the same key might ever sign. Nesting deeper than `CANONICAL_DEPTH_MAX` has no canonical
 * form here (so it cannot verify): a datagram may nest thousands of levels, and a recursion that
 * deep would overflow the stack.
 *
 * Pure: no I/O, no crypto (the adapters sign and verify these bytes with Ed25519).
 */

/** Prepended to the canonical JSON before signing: names the protocol, the message kind and the revision. */
export const SIGNING_CONTEXT = 'switchboard/ServiceAdvertisement/v1\n';

/** The member that carries the signature; it is left out of what is signed. */
export const SIGNATURE_FIELD = 'signature';

/** Nesting levels (objects and arrays) a signed message may have. */
export const CANONICAL_DEPTH_MAX = 32;

/** Why a value has no canonical form. */
export class CanonicalFormError extends Error {
  override readonly name = 'CanonicalFormError';
}

function canonicalValue(value: unknown, depth: number, omit: string | undefined): string {
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new CanonicalFormError('a number that JSON cannot carry');
    return JSON.stringify(value);
  }
  if (depth >= CANONICAL_DEPTH_MAX) throw new CanonicalFormError(`nested deeper than ${CANONICAL_DEPTH_MAX} levels`);
  // Plain loops and concatenation: this runs twice per signed advertisement (sign, verify).
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ',') + canonicalValue(value[i], depth + 1, undefined);
    return `${text}]`;
  }
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    // Object.keys lists own members only, `__proto__` included when JSON.parse made it one.
    // The default sort compares UTF-16 code units, as RFC 8785 asks.
    const keys = Object.keys(record).sort();
    let text = '{';
    for (const key of keys) {
      if (key === omit) continue;
      text += (text.length === 1 ? '' : ',') + JSON.stringify(key) + ':' + canonicalValue(record[key], depth + 1, undefined);
    }
    return `${text}}`;
  }
  throw new CanonicalFormError(`a ${typeof value} is not a JSON value`);
}

/** RFC 8785 canonical JSON of a parsed JSON value; throws CanonicalFormError beyond the depth bound. */
export function canonicalJson(value: unknown): string {
  return canonicalValue(value, 0, undefined);
}

/** The text that is signed: the context line, then the canonical JSON of `message` without `signature`. */
export function signedText(message: Readonly<Record<string, unknown>>): string {
  return SIGNING_CONTEXT + canonicalValue(message, 0, SIGNATURE_FIELD);
}

/** `signedText` as UTF-8 bytes, or undefined when the message has no canonical form. */
export function signedBytes(message: Readonly<Record<string, unknown>>): Uint8Array | undefined {
  try {
    return new TextEncoder().encode(signedText(message));
  } catch (error) {
    if (error instanceof CanonicalFormError || error instanceof RangeError) return undefined;
    throw error;
  }
}
