/**
 * A provider's signing identity on disk (runtime/keys.ts) and the client's trust store
 * (runtime/trustStore.ts), with real files in a temporary directory: made once with mode 0600,
 * the same key on every start with a growing epoch, refused when others may read it, locked
 * while a provider uses it; pins written as text; keys learned on first use kept in a file.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPublicKeyText } from '../adapters/udp/signature.js';
import { defaultKeyFile, loadOrCreateKey, SigningKeyError } from '../runtime/keys.js';
import { createProvider } from '../runtime/provider.js';
import { parsePinnedKey, readTofuFile, resolveTrust, TrustStoreError } from '../runtime/trustStore.js';
import { greeterService } from './support/discoveryNet.js';
import { allocatePort } from './support/ports.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'switchboard-keys-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const posix = process.platform !== 'win32';

describe('the key file (runtime/keys.ts)', () => {
  it('is made on first use with mode 0600 in a directory of mode 0700, and gives the same key afterwards', () => {
    const file = path.join(dir, 'nested', 'provider-key.json');
    const first = loadOrCreateKey(file, { nowMs: 1_000 });
    first.release();
    expect(isPublicKeyText(first.publicKey)).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ kty: 'OKP', crv: 'Ed25519', x: first.publicKey, d: expect.any(String) });
    if (posix) {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    }
    const second = loadOrCreateKey(file, { nowMs: 2_000 });
    second.release();
    expect(second.publicKey).toBe(first.publicKey);
  });

  it('DISC-15: the epoch grows at every start, even when the clock goes back', () => {
    const file = path.join(dir, 'provider-key.json');
    const epochs = [5_000, 9_000, 1_000, 1_000].map((nowMs) => {
      const key = loadOrCreateKey(file, { nowMs });
      key.release();
      return key.epoch;
    });
    expect(epochs).toEqual([5_000, 9_000, 9_001, 9_002]);
  });

  it.skipIf(!posix)('is refused when others may read it, with the chmod that fixes it', () => {
    const file = path.join(dir, 'provider-key.json');
    loadOrCreateKey(file).release();
    chmodSync(file, 0o644);
    expect(() => loadOrCreateKey(file)).toThrow(SigningKeyError);
    expect(() => loadOrCreateKey(file)).toThrow(`chmod 600 ${file}`);
  });

  it('says what is wrong with a file that is not a key, or cannot be made', () => {
    const file = path.join(dir, 'provider-key.json');
    writeFileSync(file, 'not json', { mode: 0o600 });
    expect(() => loadOrCreateKey(file)).toThrow(/is not JSON/);
    writeFileSync(file, JSON.stringify({ kty: 'RSA' }), { mode: 0o600 });
    expect(() => loadOrCreateKey(file)).toThrow(/does not hold an Ed25519 private key/);
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, '');
    expect(() => loadOrCreateKey(path.join(blocker, 'key.json'))).toThrow(SigningKeyError);
  });

  it('is locked while in use: a second provider is refused, or with nextFreeSlot takes the next file; the lock goes at stop', async () => {
    const file = path.join(dir, 'provider-key.json');
    const held = loadOrCreateKey(file);
    expect(() => loadOrCreateKey(file)).toThrow(/in use by another provider of this process/);
    const second = loadOrCreateKey(file, { nextFreeSlot: true });
    expect(second.file).toBe(path.join(dir, 'provider-key-2.json'));
    expect(second.publicKey).not.toBe(held.publicKey);
    second.release();
    held.release();
    // A provider holds its key file from creation until it has stopped.
    const provider = createProvider({ services: [greeterService('x')], host: '127.0.0.1', signing: { keyFile: file }, discovery: { port: 29_999, broadcastAddresses: ['127.255.255.255'] } });
    expect(provider.keyFile).toBe(file);
    expect(() => createProvider({ services: [greeterService('y')], signing: { keyFile: file } })).toThrow(SigningKeyError);
    await provider.stop();
    loadOrCreateKey(file).release();
  });

  it('a provider with signing off holds no key: stopped before it started, or stopped twice, it stops without error', async () => {
    const discovery = { port: await allocatePort(), broadcastAddresses: ['127.255.255.255'] };
    const never = createProvider({ services: [greeterService('x')], host: '127.0.0.1', signing: false, discovery, log: () => {} });
    expect(never.keyFile).toBeUndefined();
    await expect(never.stop()).resolves.toBeUndefined();
    await expect(never.stop()).resolves.toBeUndefined();
    const ran = createProvider({ services: [greeterService('y')], host: '127.0.0.1', signing: false, discovery, log: () => {} });
    await ran.start();
    await ran.stop();
    await expect(ran.stop()).resolves.toBeUndefined(); // already stopped: the same branch as never started
  });

  it('takes over a lock whose process is gone', () => {
    const file = path.join(dir, 'provider-key.json');
    loadOrCreateKey(file).release();
    writeFileSync(`${file}.lock`, '999999999\n');
    const key = loadOrCreateKey(file);
    expect(readFileSync(`${file}.lock`, 'utf8').trim()).toBe(String(process.pid));
    key.release();
  });

  it('defaults to $XDG_CONFIG_HOME/switchboard/provider-key.json, else ~/.config/... (gateway-key.json for a gateway)', () => {
    expect(defaultKeyFile({ XDG_CONFIG_HOME: '/etc/cfg' })).toBe(path.join('/etc/cfg', 'switchboard', 'provider-key.json'));
    expect(defaultKeyFile({})).toMatch(/\.config[/\\]switchboard[/\\]provider-key\.json$/);
    expect(defaultKeyFile({ XDG_CONFIG_HOME: '/etc/cfg' }, 'gateway')).toBe(path.join('/etc/cfg', 'switchboard', 'gateway-key.json'));
  });
});

describe('the trust store (runtime/trustStore.ts)', () => {
  const key = 'K'.repeat(42) + 'A';

  it('reads pins as <key>, <service>=<key> and id:<serviceId>=<key>, and says what a bad one should look like', () => {
    expect(parsePinnedKey(key)).toEqual({ publicKey: key });
    expect(parsePinnedKey(`ImageProcessingService=${key}`)).toEqual({ publicKey: key, serviceName: 'ImageProcessingService' });
    expect(parsePinnedKey(` id:svc-1 = ${key} `)).toEqual({ publicKey: key, serviceId: 'svc-1' });
    expect(() => parsePinnedKey('Service=short')).toThrow(TrustStoreError);
    expect(() => parsePinnedKey(`id:=${key}`)).toThrow(/needs a serviceId/);
  });

  it('keeps keys learned on first use in the file (mode 0600), starts from them, and never rebinds a serviceId', () => {
    const file = path.join(dir, 'tofu.json');
    const first = resolveTrust({ tofuFile: file });
    expect(first.options.learned).toEqual([]);
    first.remember({ serviceId: 'svc-1', serviceName: 'S', publicKey: key });
    first.remember({ serviceId: 'svc-1', serviceName: 'S', publicKey: 'B'.repeat(43) });
    if (posix) expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readTofuFile(file).get('svc-1')).toMatchObject({ publicKey: key, serviceName: 'S', learnedAt: expect.any(String) });
    expect(resolveTrust({ tofuFile: file }).options.learned).toEqual([{ serviceId: 'svc-1', publicKey: key }]);
  });

  it('refuses a trust file it cannot read, with the file and the problem', () => {
    const file = path.join(dir, 'tofu.json');
    writeFileSync(file, '{"keys": {"svc-1": {"publicKey": "nope"}}}');
    expect(() => resolveTrust({ tofuFile: file })).toThrow(/svc-1" has no valid publicKey/);
    writeFileSync(file, '[]');
    expect(() => resolveTrust({ tofuFile: file })).toThrow(/has no "keys" object/);
  });

  it('defaults to signed advertisements only, trusted on first use, freshness 5 minutes', () => {
    expect(resolveTrust().options).toMatchObject({ allowUnsigned: false, trustOnFirstUse: true, pinned: [], clockSkewMsMax: 300_000 });
  });
});
