/**
 * What a library user gets: `npm pack`, then the tarball installed into an empty project (npm's
 * cache first, the registry only for what it lacks). The install warns about nothing (no engine,
 * no install script), brings only the library's own dependencies and its required peers (no
 * sharp, tsx, esbuild or bench tools, and none of the optional peers only one feature needs: the
 * NATS client, prom-client, @statelyai/inspect, @opentelemetry/api), ships compiled JavaScript
 * and no TypeScript sources, and its CLI runs on plain node: quick to start, and saying what to
 * install when an optional peer is needed, as the library does. The library loads by name and
 * runs a task provider-to-client on loopback.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { note } from './support/notes.js';
import { allocatePort } from './support/ports.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const npm = (args: readonly string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 240_000 });

let scratch: string;
let app: string;
let tarball: string;
let installLog: string;
let installMs: number;

beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'switchboard-install-'));
  const packed = npm(['pack', '--silent', '--pack-destination', scratch], ROOT);
  expect(packed.status, packed.stderr).toBe(0);
  tarball = path.join(scratch, packed.stdout.trim().split('\n').at(-1)!);
  app = path.join(scratch, 'app');
  execFileSync('mkdir', [app]);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  const startedMs = performance.now();
  const installed = npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
  installLog = installed.stdout + installed.stderr;
  expect(installed.status, installLog).toBe(0);
  installMs = performance.now() - startedMs;
}, 300_000);

afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

const cli = (args: readonly string[]) => spawnSync(path.join(app, 'node_modules', '.bin', 'switchboard'), args, { cwd: app, encoding: 'utf8', timeout: 30_000 });

describe('the installed package', () => {
  it('installs without a warning, with only the library\'s dependencies and required peers', () => {
    note(`npm install of the tarball: ${Math.round(installMs)} ms (npm's cache first)`);
    expect(installLog).not.toMatch(/warn/i);
    const names = readdirSync(path.join(app, 'node_modules')).filter((name) => !name.startsWith('.'));
    expect(names.sort()).toEqual(['commander', 'switchboard', 'uuid', 'ws', 'xstate', 'yaml', 'zod']);
  });

  it('ships compiled JavaScript, type declarations, the CLI and the docs, and no TypeScript sources', () => {
    const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(listing).toContain('package/dist/runtime/index.js');
    expect(listing).toContain('package/dist/runtime/index.d.ts');
    expect(listing).toContain('package/bin/switchboard.js');
    expect(listing).toContain('package/docs/protocol.md');
    expect(listing.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    expect(listing.filter((file) => /^package\/(specs|bench)\//.test(file))).toEqual([]);
  });

  it('runs its CLI on plain node: --version and --help', () => {
    const version = cli(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const help = cli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/describe \[options\] <service>/);
  });

  it('says what to install when an optional peer is needed: sharp for the demo, tsx for a TypeScript service', () => {
    const demo = cli(['demo', '--discovery-port', '29999', '--broadcast', '127.255.255.255']);
    expect(demo.status).toBe(2);
    expect(demo.stderr).toMatch(/needs sharp, which is not installed: run `npm install sharp`/);
    writeFileSync(path.join(app, 'service.ts'), 'export default {};\n');
    const typescript = cli(['provider', '--service', 'service.ts', '--discovery-port', '29999', '--broadcast', '127.255.255.255']);
    expect(typescript.status).toBe(2);
    expect(typescript.stderr).toMatch(/service\.ts is TypeScript, and loading TypeScript needs tsx: run `npm install tsx`/);
  });

  it('says what to install for NATS (the CLI, before connecting), and so does the library for NATS, metrics, the Stately bridge and tracing', () => {
    const nats = cli(['discover', '--nats', 'nats://127.0.0.1:4222', '--no-lan']);
    expect(nats.status, nats.stderr).toBe(2);
    expect(nats.stderr).toMatch(/NATS needs @nats-io\/transport-node, which is not installed: run `npm install @nats-io\/transport-node`/);
    writeFileSync(
      path.join(app, 'optional-peers.mjs'),
      `import { createClient, createMetrics, MissingPeerError } from 'switchboard';
const uses = {
  nats: () => createClient({ nats: { servers: ['nats://127.0.0.1:4222'] }, lan: false }),
  metrics: () => createMetrics(),
  stately: () => createClient({ inspect: 'stately', discovery: { port: 29999 } }),
  tracing: () => createClient({ tracing: true, discovery: { port: 29999 } }),
};
for (const [use, make] of Object.entries(uses)) {
  try {
    make();
    console.log(use, 'made');
  } catch (error) {
    console.log(use, error instanceof MissingPeerError ? error.packageName : error);
  }
}
`,
    );
    const run = spawnSync(process.execPath, ['optional-peers.mjs'], { cwd: app, encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('nats @nats-io/transport-node\nmetrics prom-client\nstately @statelyai/inspect\ntracing @opentelemetry/api\n');
  });

  it('loads by name and runs a task from a provider to a client on loopback', async () => {
    const port = await allocatePort();
    writeFileSync(
      path.join(app, 'round-trip.mjs'),
      `import * as z from 'zod';
import { createClient, createProvider, defineService } from 'switchboard';
const discovery = { port: ${port}, broadcastAddresses: ['127.255.255.255'] };
const echo = defineService({ name: 'Echo', version: '1.0.0', operations: { echo: { params: z.object({ text: z.string() }), run: async ({ text }) => ({ text }) } } });
const provider = createProvider({ services: [echo], host: '127.0.0.1', discovery });
await provider.start();
const client = createClient({ discovery });
await client.waitFor('Echo', { timeoutMs: 10000 });
console.log(JSON.stringify(await client.assign('Echo', 'echo', { text: 'installed' }).result));
await client.stop();
await provider.stop();
`,
    );
    const run = spawnSync(process.execPath, ['round-trip.mjs'], { cwd: app, encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('{"text":"installed"}\n');
  });
});
