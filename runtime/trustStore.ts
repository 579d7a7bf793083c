/**
 * The client's trust store (SEC-8, DISC-14): the keys the user pins, and the bindings learned on
 * first use, optionally kept in a file so they outlive the process.
 *
 * Pins are written `<publicKey>` (that key, for any service), `<serviceName>=<publicKey>` (only
 * that key may speak for the service) or `id:<serviceId>=<publicKey>` (for one instance). The
 * public key is what a provider prints at start and advertises: 43 base64url characters.
 *
 * The trust-on-first-use file is JSON, `{"version": 1, "keys": {"<serviceId>": {"publicKey": ...,
 * "serviceName": ..., "learnedAt": ...}}}`, written atomically with mode 0600. Delete an entry to
 * trust that serviceId afresh; add one by hand to bind a serviceId before it is first heard.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isPublicKeyText } from '../adapters/udp/signature.js';
import { trustDefaults, type LearnedKey, type PinnedKey, type TrustOptions } from '../machines/discovery/trust.js';
import type { Logger } from './service.js';

/** What createClient takes: TrustOptions, with pins also as text and an optional file for learned keys. */
export interface ClientTrustOptions {
  /** Accept unsigned advertisements (seed-only providers) where no pin or binding forbids it. @default false */
  readonly allowUnsigned?: boolean;
  /** Trust an unpinned serviceId's key the first time it is heard. @default true */
  readonly trustOnFirstUse?: boolean;
  /** Pinned keys, as objects or as text (see above). @default [] */
  readonly pinned?: readonly (PinnedKey | string)[];
  /** Keep the keys learned on first use in this file, and start from the ones it holds. @default none (memory only) */
  readonly tofuFile?: string;
  /** @default 300_000 */
  readonly clockSkewMsMax?: number;
  /** @default 8_192 */
  readonly recordsMax?: number;
}

/** A trust option a person got wrong: the option, the value and why. */
export class TrustStoreError extends Error {
  override readonly name = 'TrustStoreError';
}

/** `key`, `Service=key` or `id:serviceId=key`. Throws TrustStoreError on anything else. */
export function parsePinnedKey(text: string): PinnedKey {
  const trimmed = text.trim();
  const equals = trimmed.lastIndexOf('=');
  const scope = equals < 0 ? '' : trimmed.slice(0, equals).trim();
  const publicKey = equals < 0 ? trimmed : trimmed.slice(equals + 1).trim();
  if (!isPublicKeyText(publicKey)) {
    throw new TrustStoreError(`pinned key "${text}": expected [<serviceName>=|id:<serviceId>=]<publicKey>, the key being the 43 base64url characters a provider prints`);
  }
  if (scope === '') return { publicKey };
  if (scope.startsWith('id:')) {
    const serviceId = scope.slice(3);
    if (serviceId === '') throw new TrustStoreError(`pinned key "${text}": id: needs a serviceId`);
    return { publicKey, serviceId };
  }
  return { publicKey, serviceName: scope };
}

interface TofuEntry {
  readonly publicKey: string;
  readonly serviceName?: string;
  readonly learnedAt?: string;
}

/** The learned keys in a trust-on-first-use file; none when it does not exist. */
export function readTofuFile(file: string): Map<string, TofuEntry> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new TrustStoreError(`cannot read the trust-on-first-use file ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TrustStoreError(`the trust-on-first-use file ${file} is not JSON`);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) {
    throw new TrustStoreError(`the trust-on-first-use file ${file} has no "keys" object`);
  }
  const entries = new Map<string, TofuEntry>();
  for (const [serviceId, entry] of Object.entries(keys)) {
    const publicKey = (entry as { publicKey?: unknown } | null)?.publicKey;
    if (typeof publicKey !== 'string' || !isPublicKeyText(publicKey)) {
      throw new TrustStoreError(`the trust-on-first-use file ${file}: "${serviceId}" has no valid publicKey`);
    }
    entries.set(serviceId, entry as TofuEntry);
  }
  return entries;
}

/** Writes the learned keys (at most `entriesMax`, the newest kept), atomically, mode 0600. */
function writeTofuFile(file: string, entries: ReadonlyMap<string, TofuEntry>, entriesMax: number): void {
  const kept = [...entries].slice(-entriesMax);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ version: 1, keys: Object.fromEntries(kept) }, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

export interface ResolvedTrust {
  /** The repository's trust policy input. */
  readonly options: TrustOptions;
  /** Call on each `trust.learned`: keeps the binding in the file, if there is one. */
  readonly remember: (learned: LearnedKey & { readonly serviceName: string }) => void;
}

/** The trust policy for createClient's options. Throws TrustStoreError on a bad pin or an unreadable file. */
export function resolveTrust(options: ClientTrustOptions = {}, log: Logger = () => {}): ResolvedTrust {
  const pinned = (options.pinned ?? []).map((pin) => (typeof pin === 'string' ? parsePinnedKey(pin) : pin));
  for (const pin of pinned) {
    if (!isPublicKeyText(pin.publicKey)) throw new TrustStoreError(`pinned key ${pin.publicKey}: not a base64url Ed25519 public key`);
  }
  const file = options.tofuFile === undefined ? undefined : path.resolve(options.tofuFile);
  const entries = file === undefined ? new Map<string, TofuEntry>() : readTofuFile(file);
  const resolved: TrustOptions = {
    ...trustDefaults,
    allowUnsigned: options.allowUnsigned ?? trustDefaults.allowUnsigned,
    trustOnFirstUse: options.trustOnFirstUse ?? trustDefaults.trustOnFirstUse,
    pinned,
    learned: [...entries].map(([serviceId, entry]) => ({ serviceId, publicKey: entry.publicKey })),
    clockSkewMsMax: options.clockSkewMsMax ?? trustDefaults.clockSkewMsMax,
    recordsMax: options.recordsMax ?? trustDefaults.recordsMax,
  };
  const remember = (learned: LearnedKey & { readonly serviceName: string }): void => {
    if (file === undefined || entries.has(learned.serviceId)) return;
    entries.set(learned.serviceId, { publicKey: learned.publicKey, serviceName: learned.serviceName, learnedAt: new Date().toISOString() });
    try {
      writeTofuFile(file, entries, resolved.recordsMax);
    } catch (error) {
      log('warn', `cannot write the trust-on-first-use file ${file}: ${(error as Error).message}`);
    }
  };
  return { options: resolved, remember };
}
