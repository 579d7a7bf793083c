/**
 * The one port allocator of the specs: every UDP discovery port and every TCP port a spec (or a
 * fixture process it starts) binds to a fixed number comes from here.
 *
 * Why a lock file per port: vitest runs spec files in parallel worker processes, and several
 * worktrees of this repository may run their suites at the same moment on the same machine. A
 * port drawn by one of them must not be drawn by any other until its holder exits, so each drawn
 * port is claimed by creating `<tmpdir>/switchboard-ports/<port>.lock` atomically (a hard link
 * of a fully written file: the lock either exists with its owner in it or does not exist). A lock
 * whose owner process is gone (its pid is dead, or now belongs to a process started later) is
 * stale and is reclaimed. A port is also bind-checked (TCP and UDP, on every address) before it
 * is handed out, so a port some other program holds is skipped.
 *
 * Where ports come from: 20000-32767 minus the kernel's ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range, where sockets bound to port 0 and outgoing
 * connections get theirs, so a drawn port never collides with one of those) and never 50001,
 * the protocol's default discovery port, which a real switchboard on this machine may use. The
 * first candidate is random, so parallel claimants rarely contend for the same lock.
 *
 * Locks are released when this process exits (or by `releasePort`); a crashed process leaves
 * stale locks that the next claimant reclaims.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The protocol's default discovery port: never drawn (RULES: never 50001 in tests). */
const RESERVED = new Set([50_001]);
const POOL_FIRST = 20_000;
const POOL_LAST = 32_767;
const DEFAULT_LOCK_DIR = path.join(os.tmpdir(), 'switchboard-ports');

interface Owner {
  readonly pid: number;
  /** The process's start time in clock ticks since boot (Linux), so a reused pid is not mistaken for the owner. */
  readonly start: string | undefined;
  readonly nonce: string;
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: the pid exists but belongs to another user; it is alive.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = startTimeOf(owner.pid);
  return owner.start === undefined || start === undefined || start === owner.start;
}

function parseOwner(text: string): Owner | undefined {
  try {
    const value = JSON.parse(text) as Partial<Owner>;
    return typeof value.pid === 'number' && typeof value.nonce === 'string' ? { pid: value.pid, start: value.start, nonce: value.nonce } : undefined;
  } catch {
    return undefined;
  }
}

/** The candidate ports: the pool minus the ephemeral range and the reserved ports. */
export function portPool(rangeText = readEphemeralRange()): number[] {
  const [low, high] = rangeText.trim().split(/\s+/).map(Number);
  const ephemeral = (port: number) => low !== undefined && high !== undefined && port >= low && port <= high;
  const pool: number[] = [];
  for (let port = POOL_FIRST; port <= POOL_LAST; port++) if (!ephemeral(port) && !RESERVED.has(port)) pool.push(port);
  if (pool.length === 0) throw new Error(`ports: the ephemeral range ${rangeText.trim()} covers ${POOL_FIRST}-${POOL_LAST}; no port left to draw`);
  return pool;
}

function readEphemeralRange(): string {
  try {
    return readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
  } catch {
    return '32768 60999'; // Linux's default; elsewhere the pool simply stays below it
  }
}

const me: Owner = { pid: process.pid, start: startTimeOf(process.pid), nonce: randomBytes(8).toString('hex') };

/** Resolves true if nothing holds `port` for TCP or UDP on any IPv4 address. */
async function bindable(port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((resolve) => {
    const socket = createSocket({ type: 'udp4', reuseAddr: false });
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ port, address: '0.0.0.0', exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

export interface PortAllocatorOptions {
  /** Where the lock files go. @default `<os.tmpdir()>/switchboard-ports` */
  readonly dir?: string;
  /** The candidate ports. @default `portPool()` */
  readonly pool?: readonly number[];
}

/** Draws ports under lock files in `dir`; one shared instance serves the specs (`allocatePort`). */
export class PortAllocator {
  readonly dir: string;
  readonly #pool: readonly number[] | undefined;
  readonly #held = new Set<number>();
  #exitHook = false;

  constructor(options: PortAllocatorOptions = {}) {
    this.dir = options.dir ?? DEFAULT_LOCK_DIR;
    this.#pool = options.pool;
  }

  /** The ports this process holds. */
  get held(): readonly number[] {
    return [...this.#held];
  }

  /**
   * A port for this process alone until it exits (or `release`): free for TCP and UDP when
   * drawn, and held by no other process drawing from the same lock directory.
   */
  async allocate(): Promise<number> {
    const pool = this.#pool ?? portPool();
    mkdirSync(this.dir, { recursive: true });
    this.#releaseAllOnExit();
    const offset = randomInt(pool.length);
    for (let i = 0; i < pool.length; i++) {
      const port = pool[(offset + i) % pool.length]!;
      if (this.#held.has(port) || !this.#claim(port)) continue;
      this.#held.add(port);
      if (await bindable(port)) return port;
      // Another program holds it: keep the lock until we exit so no claimant retries it at once.
    }
    throw new Error(`ports: all ${pool.length} ports of the pool are held`);
  }

  /** Gives a port back before exit (only a port this process drew). */
  release(port: number): void {
    if (!this.#held.delete(port)) return;
    const lock = this.#lockPath(port);
    try {
      const owner = parseOwner(readFileSync(lock, 'utf8'));
      if (owner?.pid === me.pid && owner.nonce === me.nonce) unlinkSync(lock);
    } catch {
      // already gone
    }
  }

  #lockPath(port: number): string {
    return path.join(this.dir, `${port}.lock`);
  }

  #releaseAllOnExit(): void {
    if (this.#exitHook) return;
    this.#exitHook = true;
    process.once('exit', () => {
      for (const port of this.#held) this.release(port);
    });
  }

  /** Claims `port`'s lock for this process; false if a live process holds it. */
  #claim(port: number): boolean {
    const lock = this.#lockPath(port);
    const draft = `${lock}.${me.pid}.${me.nonce}.draft`;
    writeFileSync(draft, JSON.stringify(me));
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          linkSync(draft, lock); // atomic: fails with EEXIST while anyone holds the port
          return true;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        let text: string;
        try {
          text = readFileSync(lock, 'utf8');
        } catch {
          continue; // released between our link and our read: try again
        }
        const owner = parseOwner(text);
        if (owner !== undefined && isAlive(owner)) return false;
        if (!reclaim(lock, text)) return false;
      }
      return false;
    } finally {
      unlinkSync(draft);
    }
  }
}

/**
 * Removes a stale lock whose content is `staleText`. The lock is first moved aside (rename is
 * atomic, so of two reclaimers only one moves it); if what was moved is not the stale lock (a
 * faster reclaimer already replaced it with its own live one), it is put back.
 */
function reclaim(lock: string, staleText: string): boolean {
  const aside = `${lock}.${me.pid}.${me.nonce}.stale`;
  try {
    renameSync(lock, aside);
  } catch {
    return true; // already gone: the caller's next link attempt decides
  }
  const moved = readFileSync(aside, 'utf8');
  if (moved === staleText) {
    unlinkSync(aside);
    return true;
  }
  try {
    linkSync(aside, lock);
  } catch {
    // Someone claimed the port in the instant it was moved aside; theirs stands.
  }
  unlinkSync(aside);
  return false;
}

const shared = new PortAllocator();

/**
 * A port for this process alone until it exits: free for TCP and UDP when drawn, outside the
 * ephemeral range, never 50001, and held by no other process that uses this allocator (other
 * spec files, vitest workers, other worktrees' runs).
 */
export const allocatePort = (): Promise<number> => shared.allocate();

/** `count` distinct ports (see `allocatePort`). */
export async function allocatePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await shared.allocate());
  return ports;
}

/** Gives a port drawn by `allocatePort` back before this process exits. */
export const releasePort = (port: number): void => shared.release(port);

/**
 * `count` ports drawn now, handed out one by one by the returned function (for specs that need
 * a port synchronously, inside a test); asking for more than `count` is an error naming `owner`.
 */
export async function portSequence(count: number, owner: string): Promise<() => number> {
  const ports = await allocatePorts(count);
  let next = 0;
  return () => {
    if (next >= ports.length) throw new Error(`${owner}: more than ${count} ports; draw more`);
    return ports[next++]!;
  };
}
