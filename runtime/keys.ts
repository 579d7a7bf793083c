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
}

/** `$XDG_CONFIG_HOME/switchboard/provider-key.json`, else `~/.config/switchboard/provider-key.json`. */
export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(base, 'switchboard', 'provider-key.json');
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
  return { privateKey, publicKey: publicKeyText(privateKey), epoch: Math.max(0, Math.floor(nowMs)), file: undefined };
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

/**
 * The key in `file`, made there first if there is none. Throws SigningKeyError (synchronously)
 * when it cannot be read or made, with the reason and what to do.
 */
export function loadOrCreateKey(file: string, options: { nowMs?: number; log?: Logger } = {}): ProviderKey {
  const log = options.log ?? (() => {});
  const resolved = path.resolve(file);
  let privateKey = readKeyFile(resolved);
  if (privateKey === undefined) {
    try {
      mkdirSync(path.dirname(resolved), { recursive: true, mode: 0o700 });
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
