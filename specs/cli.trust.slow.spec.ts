/**
 * The trust options of the command line, as users run them (real processes, real UDP and
 * WebSocket on loopback): `provider --key-file` (made with mode 0600, printed so clients can pin
 * it, refused when others may read it), and `discover` with `--trust-key`, `--no-tofu` and
 * `--allow-unsigned`, which says how many advertisements it ignored and how to allow them.
 * Every child has a discovery port of this file's own, its own config directory, a time bound,
 * and is stopped by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { discoveryPort, LOOPBACK_BROADCAST, rawSocket, closeAll } from './support/discoveryNet.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'switchboard.js');

let port = 0;
let home = '';
const children = new Set<ChildProcess>();

beforeAll(async () => {
  port = await discoveryPort();
  home = mkdtempSync(path.join(tmpdir(), 'switchboard-cli-trust-'));
});
afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.pid !== undefined) {
      const closed = new Promise((resolve) => child.once('close', resolve));
      process.kill(child.pid, 'SIGTERM');
      await closed;
    }
  }
  children.clear();
  await closeAll();
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

function cli(args: readonly string[]) {
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SWITCHBOARD_'))),
    SWITCHBOARD_BROADCAST: LOOPBACK_BROADCAST,
    SWITCHBOARD_DISCOVERY_PORT: String(port),
    XDG_CONFIG_HOME: home,
  };
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve(code);
    }),
  );
  return { child, output, exited };
}

/** A provider on 127.0.0.1 with its signing key in `keyFile`; resolves once it listens. */
async function provider(keyFile: string) {
  const run = cli(['provider', '--host', '127.0.0.1', '--json', '--key-file', keyFile, '--work-dir', path.join(home, 'work')]);
  const deadline = Date.now() + 15_000;
  while (!run.output.stdout.includes('"provider.listening"')) {
    if (Date.now() > deadline || run.child.exitCode !== null) throw new Error(`the provider did not start: ${run.output.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const listening = JSON.parse(run.output.stdout.split('\n').find((line) => line.includes('"provider.listening"')) as string) as { endpoint: string; publicKey: string; keyFile: string };
  return { ...run, ...listening };
}

async function discover(...flags: string[]) {
  const run = cli(['discover', '--timeout-ms', '800', '--json', ...flags]);
  const code = await run.exited;
  return { code, services: JSON.parse(run.output.stdout || '[]') as { serviceName: string; signedBy?: string }[], stderr: run.output.stderr };
}

describe('switchboard provider --key-file (SEC-8)', () => {
  it('makes the key file with mode 0600, prints its public key, and keeps it across restarts', async () => {
    const keyFile = path.join(home, 'keys', 'image.json');
    const first = await provider(keyFile);
    expect(first.keyFile).toBe(keyFile);
    expect(first.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    if (process.platform !== 'win32') expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const second = await provider(keyFile);
    expect(second.publicKey).toBe(first.publicKey);
  }, 30_000);

  it.skipIf(process.platform === 'win32')('refuses a key file others may read: exit 2, and says the chmod that fixes it', async () => {
    const keyFile = path.join(home, 'keys', 'shared.json');
    const made = await provider(keyFile);
    made.child.kill('SIGTERM');
    await made.exited;
    chmodSync(keyFile, 0o644);
    const refused = cli(['provider', '--host', '127.0.0.1', '--key-file', keyFile]);
    expect(await refused.exited).toBe(2);
    expect(refused.output.stderr).toContain(`chmod 600 ${keyFile}`);
  }, 30_000);
});

describe('switchboard discover and the trust store (SEC-8, DISC-14)', () => {
  it('lists a signed provider; with --no-tofu only under its pinned key; says what it ignored', async () => {
    const signed = await provider(path.join(home, 'keys', 'pinned.json'));
    const byDefault = await discover();
    expect(byDefault.services).toEqual([expect.objectContaining({ serviceName: 'ImageProcessingService', signedBy: signed.publicKey })]);

    const pinned = await discover('--no-tofu', '--trust-key', `ImageProcessingService=${signed.publicKey}`);
    expect(pinned.services.map((service) => service.signedBy)).toEqual([signed.publicKey]);

    const otherKey = `${'A'.repeat(42)}A`;
    const wrongPin = await discover('--no-tofu', '--trust-key', `ImageProcessingService=${otherKey}`);
    expect(wrongPin.code).toBe(3); // nothing matched: exit 3, and the reason on stderr
    expect(wrongPin.services).toEqual([]);
    expect(wrongPin.stderr).toMatch(/also ignored: \d+ keyMismatch/);
  }, 30_000);

  it('ignores unsigned (seed-only) advertisements unless --allow-unsigned, and says how many and how to allow them', async () => {
    const seed = await rawSocket('127.0.0.66');
    const advertisement = () =>
      JSON.stringify({
        discoveryType: 'ServiceAdvertisement',
        serviceId: 'seed-only-001',
        serviceName: 'SeedService',
        serviceVersion: '1.0.0',
        endpoint: 'ws://127.0.0.1:9',
        capabilities: [{ key: 'work', settings: [] }],
        status: 'Online',
        load: 0,
        timestamp: new Date().toISOString(),
      });
    const timer = setInterval(() => void seed.send(advertisement(), port), 100);
    try {
      const strict = await discover();
      expect(strict.services.map((service) => service.serviceName)).not.toContain('SeedService');
      expect(strict.stderr).toMatch(/\d+ unsigned advertisements? (was|were) ignored \(seed-only providers\); pass --allow-unsigned to list them/);
      const open = await discover('--allow-unsigned');
      expect(open.services).toEqual([expect.objectContaining({ serviceName: 'SeedService' })]);
      expect(open.services[0]).not.toHaveProperty('signedBy');
      expect(open.stderr).not.toMatch(/unsigned/);
    } finally {
      clearInterval(timer);
    }
  }, 30_000);

  it('a malformed --trust-key is a usage error (exit 2) that shows the expected form', async () => {
    const run = cli(['discover', '--timeout-ms', '100', '--trust-key', 'Service=not-a-key']);
    expect(await run.exited).toBe(2);
    expect(run.output.stderr).toMatch(/--trust-key: .*\[<serviceName>=\|id:<serviceId>=\]<publicKey>/);
  });
});
