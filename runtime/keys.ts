/**
 * A provider's signing identity (SEC-8): an Ed25519 key pair, kept in a file so that it survives
 * restarts and can be pinned by clients, and the boot epoch that keeps its signed sequence
 * increasing across those restarts.
 *
 * - The key file is a JSON Web Key (RFC 8037: `{"kty":"OKP","crv":"Ed25519","x":...,"d":...}`),
 *   created on first use with mode 0600 in a directory created with mode 0700. Creation is atomic
 *   (written to a temporary file, then linked into place), so two providers starting at once on
 *   one host end up with the same key, never a torn file.
 * - A key file that others may read (group or world bits set) is refused, as ssh refuses one: the
 *   key is the provider's identity.
 * - The epoch is `max(now in ms, last epoch + 1)`, the last one kept next to the key
 *   (`<keyFile>.epoch`). The clock alone would do while it never goes back; the stored value
 *   covers a clock set back between two runs. If it cannot be stored the clock is used, and said.
 * - One running provider per key: clients take a greater epoch from a key as that provider's
 *   restart and drop what its earlier run advertised (DISC-15), so two providers sharing a key
 *   would silence each other. A key file is therefore locked while in use (`<keyFile>.lock`
 *   holds the pid; a lock whose process is gone is stale and taken over). A second provider gets
 *   a clear error, or, with `nextFreeSlot` (the CLI's default file), the next free file
 *   `<name>-2.json`, `<name>-3.json`, ...
 */
import { Buffer } from 'node:buffer';
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { publicKeyText } from '../adapters/udp/signature.js';
import type { Logger } from './service.js';

/** A problem with the key file: what was tried, and what to do about it. */
export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
  readonly code = 'SIGNING_KEY_UNAVAILABLE';
}

export interface ProviderKey {
  readonly privateKey: KeyObject;
  /** As advertised, and as clients pin it (`--trust-key`): base64url of the 32-byte public key. */
  readonly publicKey: string;
  readonly epoch: number;
  /** The key file, when the key is kept in one. */
  readonly file: string | undefined;
  /** Unlocks the key file (when the provider stops). Idempotent. */
  readonly release: () => void;
}

/** Key files held by providers of this process. */
const heldHere = new Set<string>();

function isRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/**
 * Takes the lock of `file`: a release function, or the pid that holds it. Where no lock can be
 * written at all (a read-only directory holding a provisioned key), the key is used unlocked.
 */
function lockKeyFile(file: string, log: Logger): { release: () => void } | { heldBy: number } {
  const lockFile = `${file}.lock`;
  if (heldHere.has(file)) return { heldBy: process.pid };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      heldHere.add(file);
      let released = false;
      return {
        release: () => {
          if (released) return;
          released = true;
          heldHere.delete(file);
          try {
            if (Number(readFileSync(lockFile, 'utf8').trim()) === process.pid) unlinkSync(lockFile);
          } catch {
            // already gone
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        log('warn', `cannot lock the key file ${file} (${describe(error)}); make sure no other provider uses this key at the same time`);
        return { release: () => {} };
      }
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(lockFile, 'utf8').trim());
      } catch {
        // vanished meanwhile: try again
      }
      if (isRunning(holder) && holder !== process.pid) return { heldBy: holder };
      // Stale (its process is gone, or a provider of this process that never stopped): take it over.
      try {
        unlinkSync(lockFile);
      } catch {
        // someone else removed it first
      }
    }
  }
  return { heldBy: Number.NaN };
}

/** `provider-key.json` -> `provider-key-2.json`. */
function slotFile(file: string, slot: number): string {
  if (slot === 1) return file;
  const extension = path.extname(file);
  return `${file.slice(0, file.length - extension.length)}-${slot}${extension}`;
}

/** Slots tried for the default key file before giving up. */
export const KEY_FILE_SLOTS_MAX = 16;

/** `$XDG_CONFIG_HOME/switchboard/<role>-key.json`, else `~/.config/switchboard/<role>-key.json`. */
export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env, role: 'provider' | 'gateway' = 'provider'): string {
  const base = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(base, 'switchboard', `${role}-key.json`);
}

/** PKCS #8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The Ed25519 private key whose seed (RFC 8032 private key) is these 32 bytes: for reproducible
 * keys (the simulated network, the worked example of docs/protocol.md). Never for real providers.
 */
export function keyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.byteLength !== 32) throw new RangeError(`switchboard: an Ed25519 seed is 32 bytes, got ${seed.byteLength}`);
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** A key that lives as long as the process (clients can trust it on first use, not pin it). */
export function ephemeralKey(nowMs: number = Date.now()): ProviderKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: publicKeyText(privateKey), epoch: Math.max(0, Math.floor(nowMs)), file: undefined, release: () => {} };
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function parseKey(text: string, file: string): KeyObject {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new SigningKeyError(`the key file ${file} is not JSON; move it away to have a new key made`);
  }
  const record = jwk as Record<string, unknown> | null;
  if (typeof record !== 'object' || record === null || record.kty !== 'OKP' || record.crv !== 'Ed25519' || typeof record.d !== 'string') {
    throw new SigningKeyError(`the key file ${file} does not hold an Ed25519 private key (a JWK with kty OKP, crv Ed25519, d)`);
  }
  try {
    return createPrivateKey({ key: record as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch (error) {
    throw new SigningKeyError(`the key file ${file} holds an unusable key: ${describe(error)}`);
  }
}

/** Writes `text` to `file` only if it does not exist yet, atomically; false when it already existed. */
function createExclusively(file: string, text: string): boolean {
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}

/** The key in `file`, or undefined when there is no such file. */
function readKeyFile(file: string): KeyObject | undefined {
  let text: string;
  try {
    if (process.platform !== 'win32') {
      const mode = statSync(file).mode & 0o777;
      if ((mode & 0o077) !== 0) {
        throw new SigningKeyError(`the key file ${file} may be read by others (mode ${mode.toString(8)}); run: chmod 600 ${file}`);
      }
    }
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof SigningKeyError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SigningKeyError(`cannot read the key file ${file}: ${describe(error)}`);
  }
  return parseKey(text, file);
}

function nextEpoch(file: string, nowMs: number, log: Logger): number {
  const epochFile = `${file}.epoch`;
  let last = -1;
  try {
    const stored = Number(readFileSync(epochFile, 'utf8').trim());
    if (Number.isSafeInteger(stored) && stored >= 0) last = stored;
  } catch {
    // First run with this key, or the file is gone: the clock decides.
  }
  const epoch = Math.max(Math.floor(nowMs), last + 1);
  try {
    const temporary = `${epochFile}.${process.pid}.tmp`;
    writeFileSync(temporary, `${epoch}\n`, { mode: 0o600 });
    renameSync(temporary, epochFile);
  } catch (error) {
    log('warn', `cannot store the boot epoch in ${epochFile} (${describe(error)}); using the clock, so keep it from going back`);
  }
  return epoch;
}

export interface KeyFileOptions {
  readonly nowMs?: number;
  readonly log?: Logger;
  /** When the file is in use by another running provider, use the next free `<name>-<n>` file instead of failing. @default false */
  readonly nextFreeSlot?: boolean;
}

/**
 * The key in `file` (made there first if there is none), locked for this provider until
 * `release()`. Throws SigningKeyError (synchronously) when it cannot be read, made or locked,
 * with the reason and what to do.
 */
export function loadOrCreateKey(file: string, options: KeyFileOptions = {}): ProviderKey {
  const requested = path.resolve(file);
  const slots = options.nextFreeSlot === true ? KEY_FILE_SLOTS_MAX : 1;
  let heldBy = Number.NaN;
  for (let slot = 1; slot <= slots; slot++) {
    const candidate = slotFile(requested, slot);
    try {
      mkdirSync(path.dirname(candidate), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new SigningKeyError(`cannot make the directory of the key file ${candidate}: ${describe(error)} (choose another place with --key-file)`);
    }
    const lock = lockKeyFile(candidate, options.log ?? (() => {}));
    if ('heldBy' in lock) {
      heldBy = lock.heldBy;
      continue;
    }
    try {
      return { ...loadLocked(candidate, options), release: lock.release };
    } catch (error) {
      lock.release();
      throw error;
    }
  }
  const who = Number.isNaN(heldBy) ? 'another provider' : heldBy === process.pid ? 'another provider of this process' : `another running provider (pid ${heldBy})`;
  throw new SigningKeyError(
    `the key file ${requested}${slots > 1 ? ` and its ${slots - 1} spare slots are` : ' is'} in use by ${who}; give each provider its own key file (--key-file), or stop the other one`,
  );
}

function loadLocked(resolved: string, options: KeyFileOptions): Omit<ProviderKey, 'release'> {
  const log = options.log ?? (() => {});
  let privateKey = readKeyFile(resolved);
  if (privateKey === undefined) {
    try {
      const fresh = generateKeyPairSync('ed25519').privateKey;
      const made = createExclusively(resolved, `${JSON.stringify(fresh.export({ format: 'jwk' }))}\n`);
      if (made) {
        chmodSync(resolved, 0o600);
        log('info', `made a new signing key in ${resolved}`);
      }
    } catch (cause) {
      throw new SigningKeyError(`cannot make a key file at ${resolved}: ${describe(cause)} (choose another place with --key-file)`);
    }
    privateKey = readKeyFile(resolved);
    if (privateKey === undefined) throw new SigningKeyError(`the key file ${resolved} vanished while it was being made`);
  }
  return { privateKey, publicKey: publicKeyText(privateKey), epoch: nextEpoch(resolved, options.nowMs ?? Date.now(), log), file: resolved };
}
