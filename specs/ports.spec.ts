/**
 * The specs' port allocator (specs/support/ports.ts): ports outside the ephemeral range and never
 * 50001; no two processes drawing from one lock directory get the same port; a dead holder's
 * locks are reclaimed; a port another program holds is skipped. The cross-process cases use
 * real child processes drawing at the same moment from a small private pool.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { allocatePort, allocatePorts, PortAllocator, portPool, releasePort } from './support/ports.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DRAW = path.join(ROOT, 'specs', 'fixtures', 'ports', 'draw.ts');
const dirs: string[] = [];
const children = new Set<ChildProcess>();

const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-ports-spec-'));
  dirs.push(dir);
  return dir;
};

afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Drawn {
  readonly child: ChildProcess;
  readonly result: Promise<{ pid: number; ports: number[]; error?: string }>;
  readonly exited: Promise<void>;
}

/** A child process drawing `count` ports from `pool` under `dir` and holding them until its stdin ends. */
function draw(dir: string, pool: readonly number[], count: number): Drawn {
  const child = spawn(process.execPath, ['--import', 'tsx', DRAW], {
    cwd: ROOT,
    env: { ...process.env, PORTS_DIR: dir, PORTS_POOL: pool.join(','), PORTS_COUNT: String(count) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  let output = '';
  const result = new Promise<{ pid: number; ports: number[]; error?: string }>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('\n')) resolve(JSON.parse(output.slice(0, output.indexOf('\n'))));
    });
    child.once('close', (code) => reject(new Error(`draw exited (${code}) before answering: ${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return { child, result, exited };
}

const locksIn = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.lock'));

describe('the pool', () => {
  it('is 20000-32767 without the ephemeral range and without 50001', () => {
    const pool = portPool('32768\t60999\n');
    expect(pool[0]).toBe(20_000);
    expect(pool.at(-1)).toBe(32_767);
    expect(pool).toHaveLength(12_768);
    const narrowed = portPool('25000 29999');
    expect(narrowed.some((port) => port >= 25_000 && port <= 29_999)).toBe(false);
    expect(narrowed).toContain(24_999);
    expect(narrowed).toContain(30_000);
    expect(() => portPool('1024 65535')).toThrow(/covers/);
  });

  it('allocatePort draws distinct ports outside this machine\'s ephemeral range, never 50001, and locks each', async () => {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    const ports = await allocatePorts(8);
    expect(new Set(ports).size).toBe(8);
    for (const port of ports) {
      expect(port).not.toBe(50_001);
      expect(port >= low! && port <= high!).toBe(false);
      const owner = JSON.parse(readFileSync(path.join(os.tmpdir(), 'switchboard-ports', `${port}.lock`), 'utf8'));
      expect(owner.pid).toBe(process.pid);
    }
    const single = await allocatePort();
    expect(ports).not.toContain(single);
    releasePort(single);
    expect(() => readFileSync(path.join(os.tmpdir(), 'switchboard-ports', `${single}.lock`))).toThrow(/ENOENT/);
  });
});

describe('across processes', () => {
  it('three processes drawing at once from a pool of 9 get 9 distinct ports; a fourth gets none until one exits', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    const pool = await allocatePorts(9);
    const drawers = [draw(dir, pool, 3), draw(dir, pool, 3), draw(dir, pool, 3)];
    const results = await Promise.all(drawers.map((d) => d.result));
    expect(results.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
    const all = results.flatMap((r) => r.ports);
    expect(new Set(all).size).toBe(9);
    expect([...all].sort()).toEqual([...pool].sort());
    expect(locksIn(dir)).toHaveLength(9);

    const late = draw(dir, pool, 1);
    expect((await late.result).error).toMatch(/all 9 ports of the pool are held/);
    late.child.stdin!.end();

    // The first holder exits normally: its three locks go with it and can be drawn again.
    drawers[0]!.child.stdin!.end();
    await drawers[0]!.exited;
    expect(locksIn(dir)).toHaveLength(6);
    const again = draw(dir, pool, 3);
    const reused = await again.result;
    expect(reused.error).toBeUndefined();
    expect([...reused.ports].sort()).toEqual([...results[0]!.ports].sort());
  });

  it('a SIGKILLed holder leaves stale locks that the next claimant reclaims', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    const pool = await allocatePorts(2);
    const victim = draw(dir, pool, 2);
    const { pid } = await victim.result;
    victim.child.kill('SIGKILL');
    await victim.exited;
    // No exit hook ran: both locks still name the dead pid.
    expect(locksIn(dir).map((name) => JSON.parse(readFileSync(path.join(dir, name), 'utf8')).pid)).toEqual([pid, pid]);
    const allocator = new PortAllocator({ dir, pool });
    expect([await allocator.allocate(), await allocator.allocate()].sort()).toEqual([...pool].sort());
    expect(locksIn(dir).map((name) => JSON.parse(readFileSync(path.join(dir, name), 'utf8')).pid)).toEqual([process.pid, process.pid]);
  });
});

describe('within one process', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((server) => server.close()));

  it('a lock naming a live pid is respected; the same pid with another start time (a reused pid) is stale', async () => {
    const dir = tempDir();
    const [port] = await allocatePorts(1);
    const stat = readFileSync('/proc/1/stat', 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    writeFileSync(path.join(dir, `${port}.lock`), JSON.stringify({ pid: 1, start, nonce: 'init' }));
    await expect(new PortAllocator({ dir, pool: [port!] }).allocate()).rejects.toThrow(/held/);
    writeFileSync(path.join(dir, `${port}.lock`), JSON.stringify({ pid: 1, start: `${start}0`, nonce: 'reused' }));
    expect(await new PortAllocator({ dir, pool: [port!] }).allocate()).toBe(port);
  });

  it('a garbage lock file is stale', async () => {
    const dir = tempDir();
    const [port] = await allocatePorts(1);
    writeFileSync(path.join(dir, `${port}.lock`), 'not json');
    expect(await new PortAllocator({ dir, pool: [port!] }).allocate()).toBe(port);
  });

  it('skips a port another program listens on', async () => {
    const dir = tempDir();
    const [busy, free] = await allocatePorts(2);
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(busy, '127.0.0.1', resolve));
    const allocator = new PortAllocator({ dir, pool: [busy!, free!] });
    expect(await allocator.allocate()).toBe(free);
    await expect(allocator.allocate()).rejects.toThrow(/all 2 ports/);
  });
});
