/**
 * Interoperation with peers built from the seed alone (issue 11, "Done when"), as users run it:
 * switchboard's CLI (`node bin/switchboard.js`) on one side, the seed-only fixtures
 * (specs/fixtures/peers/, none of switchboard's code) on the other, each a process of its own.
 *
 * - A switchboard client discovers a seed-only provider and completes, cancels and queries tasks
 *   on it. Seed-only providers are unsigned: the client needs --allow-unsigned (without it, it
 *   says it ignored them). The provider in the field dialect binds the discovery port without
 *   SO_REUSEADDR, answers in flat Status messages, never pushes, advertises `localhost:<port>`.
 * - A seed-only client (unpadded discovery requests, a new connection per poll, GetStatus
 *   without originalClientId) discovers a switchboard provider, which signs its advertisements,
 *   and gets its result promptly.
 *
 * Both on one host (loopback), and across two Linux network namespaces on a bridge (10.78.0.0/24,
 * the bridge in a third namespace: nothing touches the host's own network), where the field
 * provider's `localhost` endpoint only works because the client uses the datagram's source
 * address. The namespace half needs root and `ip` (iproute2), and is skipped with the reason
 * otherwise. Every process is killed by pid, every namespace deleted by name, in afterAll.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSeedOnlyProvider, type RunningSeedProvider } from './fixtures/peers/seedOnlyProvider.js';
import { note } from './support/notes.js';
import { allocatePort } from './support/ports.js';
import { ROOT } from './support/processes.js';

const BIN = path.join(ROOT, 'bin', 'switchboard.js');
const SEED_SERVICE_MODULE = path.join(ROOT, 'specs', 'fixtures', 'peers', 'seedService.ts');
const SEED_CLIENT_MAIN = path.join(ROOT, 'specs', 'fixtures', 'peers', 'seedOnlyClientMain.ts');
const SEED_PROVIDER_MAIN = path.join(ROOT, 'specs', 'fixtures', 'peers', 'seedOnlyProviderMain.ts');
const STEP_TIMEOUT_MS = 20_000;

let configHome: string;
beforeAll(async () => {
  configHome = await mkdtemp(path.join(os.tmpdir(), 'switchboard-interop-'));
});

const running = new Set<ChildProcess>();
afterAll(async () => {
  for (const child of running) if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  await rm(configHome, { recursive: true, force: true });
});

interface Run {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
  errors(): string;
  /** The first stdout line that `test` accepts (parsed when JSON). */
  waitFor(test: RegExp, timeoutMs?: number): Promise<string>;
}

/** Starts a process, in network namespace `netns` when given (`ip netns exec`). */
function start(command: string[], options: { netns?: string; env?: Record<string, string> } = {}): Run {
  const argv = options.netns === undefined ? command : ['ip', 'netns', 'exec', options.netns, ...command];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SWITCHBOARD_'))), XDG_CONFIG_HOME: configHome, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const listener of [...listeners]) listener();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      running.delete(child);
      for (const listener of [...listeners]) listener();
      resolve(code);
    }),
  );
  return {
    child,
    exited,
    output: () => stdout,
    errors: () => stderr,
    waitFor: (test, timeoutMs = STEP_TIMEOUT_MS) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${test} in:\n${stdout}\n--- stderr:\n${stderr}`)), timeoutMs);
        const check = () => {
          const line = stdout.split('\n').find((candidate) => test.test(candidate));
          if (line !== undefined) finish(undefined, line);
          else if (child.exitCode !== null) finish(new Error(`exited ${child.exitCode} before ${test}:\n${stdout}\n--- stderr:\n${stderr}`));
        };
        const finish = (error: Error | undefined, line?: string) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error === undefined) resolve(line!);
          else reject(error);
        };
        listeners.add(check);
        check();
      }),
  };
}

/** `switchboard <args>` to its end: exit code and output. */
async function cli(globals: string[], args: string[], netns?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = start(['node', BIN, ...globals, ...args], netns === undefined ? {} : { netns });
  const timer = setTimeout(() => run.child.pid !== undefined && run.child.exitCode === null && process.kill(run.child.pid, 'SIGKILL'), STEP_TIMEOUT_MS);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.output(), stderr: run.errors() };
}

const lastJson = (text: string): Record<string, any> => JSON.parse(text.trim().split('\n').filter((line) => line.startsWith('{')).at(-1)!) as Record<string, any>;

/**
 * What a switchboard user does with a seed-only provider: discover (refused without
 * --allow-unsigned), complete a task, start a long one detached, query it, cancel it, query again.
 */
async function useSeedProvider(globals: string[], netns: string | undefined, reachableAt: RegExp): Promise<void> {
  const strict = await cli(globals, ['discover', 'SeedService', '--timeout-ms', '3000'], netns);
  expect(strict.code, strict.stdout + strict.stderr).toBe(3);
  expect(strict.stderr + strict.stdout).toMatch(/unsigned/);

  const open = [...globals, '--allow-unsigned'];
  const found = await cli(open, ['--json', 'discover', 'SeedService', '--timeout-ms', '3000'], netns);
  expect(found.code, found.stderr).toBe(0);
  expect(found.stdout).toMatch(reachableAt);

  const started = Date.now();
  const echo = await cli(open, ['--json', 'assign', 'SeedService', 'echo', '--param', 'text=across'], netns);
  expect(echo.code, echo.stderr).toBe(0);
  expect(lastJson(echo.stdout)).toMatchObject({ status: 'Completed', resultData: { text: 'across' } });
  note(`switchboard assign on a seed-only provider: ${Date.now() - started} ms, process start and discovery included`);

  const detached = await cli(open, ['--json', 'assign', 'SeedService', 'sleep', '--param', 'ms=20000', '--detach'], netns);
  expect(detached.code, detached.stderr).toBe(0);
  const { taskId, clientId, endpoint } = lastJson(detached.stdout) as { taskId: string; clientId: string; endpoint: string };
  expect(endpoint).toMatch(reachableAt);
  const target = [taskId, '--endpoint', endpoint, '--client-id', clientId];
  const running = await cli(globals, ['status', ...target], netns);
  expect(running.code, running.stderr).toBe(0);
  expect(running.stdout).toMatch(new RegExp(`task ${taskId} Processing`));
  const cancelled = await cli(globals, ['cancel', ...target], netns);
  expect(cancelled.code, cancelled.stderr).toBe(0);
  expect(cancelled.stdout).toContain(`task ${taskId} Cancelled`);
  const after = await cli(globals, ['status', ...target], netns);
  expect(after.code).toBe(1);
  expect(after.stdout).toContain(`task ${taskId} Cancelled`);
}

/** A seed-only client asking a switchboard provider: its outcome, and how long it took. */
async function askSwitchboard(env: Record<string, string>, netns: string | undefined): Promise<{ outcome: Record<string, any>; ms: number }> {
  const begun = Date.now();
  const client = start(['node', '--import', 'tsx', SEED_CLIENT_MAIN], { ...(netns === undefined ? {} : { netns }), env: { SWITCHBOARD_SERVICE: 'SeedService', SWITCHBOARD_OPERATION: 'echo', SWITCHBOARD_PARAMS_JSON: '{"text":"from a seed peer"}', ...env } });
  try {
    const line = await client.waitFor(/"status"/);
    return { outcome: JSON.parse(line) as Record<string, any>, ms: Date.now() - begun };
  } finally {
    if (client.child.pid !== undefined && client.child.exitCode === null) process.kill(client.child.pid, 'SIGTERM');
  }
}

function startSwitchboardProvider(globals: string[], host: string, netns?: string): Run {
  return start(['node', BIN, ...globals, 'provider', '--service', SEED_SERVICE_MODULE, '--host', host, '--port', '0', '--key-file', path.join(configHome, `key-${Math.random()}.json`)], netns === undefined ? {} : { netns });
}

// ---- one host ---------------------------------------------------------------------------------

describe('seed-only peers on one host (loopback)', () => {
  let port: number;
  let seedProvider: RunningSeedProvider | undefined;
  afterAll(async () => seedProvider?.stop());

  it('a switchboard client discovers the field-dialect seed-only provider (which holds the port exclusively) and completes, cancels and queries tasks', { timeout: 120_000 }, async () => {
    port = await allocatePort();
    seedProvider = await startSeedOnlyProvider({ discoveryPort: port, dialect: 'field', host: '127.0.0.1' });
    await useSeedProvider(['--discovery-port', String(port), '--broadcast', '127.255.255.255'], undefined, /ws:\/\/localhost:\d+/);
    await seedProvider.stop();
    seedProvider = undefined;
  });

  it('the same with the seed-dialect provider (the seed\'s exact forms: pushes, envelopes, heartbeats)', { timeout: 120_000 }, async () => {
    port = await allocatePort();
    seedProvider = await startSeedOnlyProvider({ discoveryPort: port, dialect: 'seed', host: '127.0.0.1', heartbeatIntervalMs: 1_000 });
    await useSeedProvider(['--discovery-port', String(port), '--broadcast', '127.255.255.255'], undefined, /ws:\/\/127\.0\.0\.1:\d+/);
  });

  it('a seed-only client discovers `switchboard provider` (signed, its request unpadded) and gets its result promptly', { timeout: 60_000 }, async () => {
    const discoveryPort = String(await allocatePort());
    const provider = startSwitchboardProvider(['--discovery-port', discoveryPort, '--broadcast', '127.255.255.255'], '127.0.0.1');
    await provider.waitFor(/press Ctrl-C/);
    expect(provider.output()).toMatch(/signing key \S{43}/);
    const { outcome, ms } = await askSwitchboard({ SWITCHBOARD_DISCOVERY_PORT: discoveryPort, SWITCHBOARD_BROADCAST: '127.255.255.255' }, undefined);
    expect(outcome).toMatchObject({ status: 'Completed', resultData: { text: 'from a seed peer' } });
    // Discovery by request (one unpadded request gets one advertisement), then a poll or two: not a heartbeat's 30 s.
    expect(ms).toBeLessThan(10_000);
    note(`seed-only client -> switchboard provider on one host: ${ms} ms (process start included), ${outcome.polls} poll(s)`);
    process.kill(provider.child.pid!, 'SIGTERM');
    await provider.exited;
  });
});

// ---- two network namespaces -------------------------------------------------------------------

const SUBNET = '10.78.0.';
const suffix = process.pid.toString(36);
const ns = { bridge: `sbi${suffix}s`, provider: `sbi${suffix}p`, client: `sbi${suffix}c` } as const;

function ip(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync('ip', args, { encoding: 'utf8', timeout: 5_000 });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`.trim() };
}

function netnsPrecondition(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'not root (creating network namespaces needs CAP_NET_ADMIN)';
  if (spawnSync('ip', ['-V'], { timeout: 5_000 }).status !== 0) return '`ip` is missing (the Debian package iproute2)';
  if (`${ip(['-4', 'addr', 'show']).output}\n${ip(['-4', 'route', 'show', 'table', 'all']).output}`.includes(SUBNET)) return `${SUBNET}0/24 is already in use on this host`;
  return undefined;
}

const created: string[] = [];

/** Provider at .1, client at .2, veths to a bridge in its own namespace. Returns why it failed, if it did. */
function buildNetwork(): string | undefined {
  for (const name of [ns.bridge, ns.provider, ns.client]) {
    const added = ip(['netns', 'add', name]);
    if (!added.ok) return `ip netns add ${name}: ${added.output}`;
    created.push(name);
  }
  const steps = [
    ['-n', ns.bridge, 'link', 'add', 'br0', 'type', 'bridge'],
    ['-n', ns.bridge, 'link', 'set', 'br0', 'up'],
  ];
  for (const [key, name, address] of [['p', ns.provider, `${SUBNET}1`], ['c', ns.client, `${SUBNET}2`]] as const) {
    steps.push(
      ['-n', ns.bridge, 'link', 'add', `v${key}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name],
      ['-n', ns.bridge, 'link', 'set', `v${key}`, 'master', 'br0'],
      ['-n', ns.bridge, 'link', 'set', `v${key}`, 'up'],
      ['-n', name, 'addr', 'add', `${address}/24`, 'brd', '+', 'dev', 'eth0'],
      ['-n', name, 'link', 'set', 'eth0', 'up'],
      ['-n', name, 'link', 'set', 'lo', 'up'],
    );
  }
  for (const step of steps) {
    const result = ip(step);
    if (!result.ok) return `ip ${step.join(' ')}: ${result.output}`;
  }
  return undefined;
}

const skipReason = netnsPrecondition();

describe.skipIf(skipReason !== undefined)(`seed-only peers across network namespaces${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  let setupFailure: string | undefined;
  beforeAll(() => {
    setupFailure = buildNetwork();
  });
  afterAll(() => {
    for (const name of created.splice(0).reverse()) ip(['netns', 'delete', name]);
  });
  const globals = (port: number) => ['--discovery-port', String(port), '--broadcast', `${SUBNET}255`];

  it("a switchboard client discovers the field-dialect seed-only provider in another namespace: its 'localhost' endpoint becomes the datagram's source; completes, cancels, queries", { timeout: 180_000 }, async () => {
    expect(setupFailure).toBeUndefined();
    const port = await allocatePort();
    const provider = start(['node', '--import', 'tsx', SEED_PROVIDER_MAIN], {
      netns: ns.provider,
      env: { SEED_DISCOVERY_PORT: String(port), SEED_HOST: '0.0.0.0', SEED_DIALECT: 'field', SEED_BROADCAST: `${SUBNET}255` },
    });
    const listening = JSON.parse(await provider.waitFor(/"listening"/)) as { advertisedEndpoint: string };
    expect(listening.advertisedEndpoint).toMatch(/^localhost:\d+$/);
    await useSeedProvider(globals(port), ns.client, new RegExp(`ws://${SUBNET.replace(/\./g, '\\.')}1:\\d+`));
    process.kill(provider.child.pid!, 'SIGTERM');
    await provider.exited;
  });

  it('a seed-only client in another namespace discovers `switchboard provider` and gets its result', { timeout: 120_000 }, async () => {
    expect(setupFailure).toBeUndefined();
    const port = await allocatePort();
    const provider = startSwitchboardProvider(globals(port), '0.0.0.0', ns.provider);
    const listeningLine = await provider.waitFor(/provider listening on/);
    expect(listeningLine).toContain(`ws://${SUBNET}1:`);
    await provider.waitFor(/press Ctrl-C/);
    const { outcome, ms } = await askSwitchboard({ SWITCHBOARD_DISCOVERY_PORT: String(port), SWITCHBOARD_BROADCAST: `${SUBNET}255` }, ns.client);
    expect(outcome).toMatchObject({ status: 'Completed', resultData: { text: 'from a seed peer' } });
    expect(ms).toBeLessThan(10_000);
    note(`seed-only client -> switchboard provider across namespaces: ${ms} ms (process start included), ${outcome.polls} poll(s)`);
    process.kill(provider.child.pid!, 'SIGTERM');
    await provider.exited;
  });
});
