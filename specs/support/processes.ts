/**
 * Child node processes for the real-network specs: each runs a small TypeScript script under tsx
 * (`node --import tsx <script> <args>`, from the repository root so `tsx` resolves), prints one
 * JSON object per line on stdout (an event) and reads one JSON object per line on stdin (a
 * command).
 *
 * - `startNode(script, args)` spawns and tracks the child; `events` holds every parsed line, each
 *   with the `at` (Date.now()) the child stamped it with.
 * - `waitFor(test, { what, timeoutMs })` resolves with the first event (from `from`, default the
 *   start) that passes `test`; it rejects at the deadline or when the child exits, with the tail
 *   of its output, so a failure says what was missing.
 * - Signals go to the child's own pid (`signal`), never to a name or a group; `stopTracked()`
 *   kills whatever the spec started and is still alive (SIGCONT first, for a stopped one), and
 *   waits (bounded) for each to exit.
 * - `freePort()` draws a port from the specs' allocator (./ports.ts), to get a TCP port a
 *   provider can be started (and restarted) on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocatePort } from './ports.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURES = path.join(ROOT, 'specs', 'fixtures', 'processes');

/** One line of a child's stdout. */
export interface ChildEvent {
  readonly event: string;
  /** The child's Date.now() when it wrote the line. */
  readonly at: number;
  readonly [key: string]: unknown;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface WaitOptions {
  /** For the error message. */
  readonly what: string;
  /** @default 10_000 */
  readonly timeoutMs?: number;
  /** Only events at this index or later count. @default 0 */
  readonly from?: number;
}

/** Lines kept per stream (SEC-6 in spirit: a chatty child cannot grow the test's memory without bound). */
const LINES_MAX = 20_000;
const STDERR_CHARS_MAX = 64_000;

export class NodeChild {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly label: string;
  readonly spawnedAt = Date.now();
  readonly events: ChildEvent[] = [];
  /** Lines that were not JSON objects (warnings, stray logs). */
  readonly noise: string[] = [];
  stderr = '';
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  readonly #listeners = new Set<() => void>();
  #partial = '';

  constructor(label: string, child: ChildProcess) {
    if (child.pid === undefined) throw new Error(`${label}: spawn failed`);
    this.child = child;
    this.pid = child.pid;
    this.label = label;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.#onStdout(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_CHARS_MAX);
    });
    // A child that died must not make a write to its stdin an uncaught EPIPE.
    child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.exit = { code, signal };
        this.#notify();
        resolve(this.exit);
      }),
    );
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Writes one command line to the child's stdin. */
  send(command: Record<string, unknown>): void {
    if (!this.alive || this.child.stdin!.destroyed) throw new Error(`${this.label}: cannot send ${JSON.stringify(command)}: the child exited`);
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** Sends a signal to this child's pid. */
  signal(signal: NodeJS.Signals): void {
    if (this.alive) process.kill(this.pid, signal);
  }

  of(event: string, from = 0): ChildEvent[] {
    return this.events.slice(from).filter((e) => e.event === event);
  }

  waitFor(test: (event: ChildEvent) => boolean, { what, timeoutMs = 10_000, from = 0 }: WaitOptions): Promise<ChildEvent> {
    return new Promise((resolve, reject) => {
      let index = from;
      const check = () => {
        for (; index < this.events.length; index++) {
          const event = this.events[index] as ChildEvent;
          if (test(event)) {
            done();
            resolve(event);
            return;
          }
        }
        if (!this.alive) {
          done();
          reject(new Error(`${this.label} exited (${JSON.stringify(this.exit)}) before ${what}\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Sends a command and waits for the first event after it that passes `test`. */
  request(command: Record<string, unknown>, test: (event: ChildEvent) => boolean, options: Omit<WaitOptions, 'from'>): Promise<ChildEvent> {
    const from = this.events.length;
    this.send(command);
    return this.waitFor(test, { ...options, from });
  }

  tail(lines = 15): string {
    const out = this.events.slice(-lines).map((e) => JSON.stringify(e).slice(0, 400));
    return `--- last events of ${this.label} (pid ${this.pid}):\n${out.join('\n')}\n--- noise: ${this.noise.slice(-5).join(' | ')}\n--- stderr:\n${this.stderr.slice(-2_000)}`;
  }

  #onStdout(chunk: string): void {
    const lines = (this.#partial + chunk).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { event?: unknown }).event === 'string') {
        if (this.events.length < LINES_MAX) this.events.push(parsed as ChildEvent);
      } else if (this.noise.length < LINES_MAX) {
        this.noise.push(line);
      }
    }
    this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

/** Every child started through startNode and not yet reaped by stopTracked. */
const tracked = new Set<NodeChild>();

/**
 * Starts `node --import tsx <script> ...args` from the repository root. With tsx 4.23 on Node 20,
 * `--import tsx` registers both the ESM and the CJS hooks (`--import tsx/esm` only the former).
 */
export function startNode(label: string, script: string, args: readonly string[], env: Record<string, string> = {}): NodeChild {
  const childEnv: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SWITCHBOARD_') && !key.startsWith('VITEST'))),
    ...env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const node = new NodeChild(label, child);
  tracked.add(node);
  void node.exited.then(() => tracked.delete(node));
  return node;
}

/** Kills (by pid) every tracked child still alive and waits for each to exit, at most `timeoutMs` in all. */
export async function stopTracked(timeoutMs = 5_000): Promise<void> {
  const alive = [...tracked].filter((node) => node.alive);
  for (const node of alive) {
    try {
      process.kill(node.pid, 'SIGCONT'); // a SIGSTOPped child: let it die promptly and flush
      process.kill(node.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(alive.map((node) => node.exited)),
    new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  for (const node of alive) if (!node.alive) tracked.delete(node);
}

/** A port held for this process by the specs' allocator (./ports.ts): free for TCP and UDP. */
export const freePort = allocatePort;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns a value other than undefined/false, or throws at the deadline. */
export async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs: number, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---- the fixture provider and client (specs/fixtures/processes) -------------------------------

export const LOOPBACK = '127.0.0.1';
export const LOOPBACK_BROADCAST = '127.255.255.255';

export interface ProviderProcessOptions {
  readonly name: string;
  readonly discoveryPort: number;
  /** @default 0 (a free port) */
  readonly wsPort?: number;
  /** Load everything, then wait for {"cmd":"start"} (a warm spare, restarted in milliseconds). */
  readonly waitStart?: boolean;
  /** More fixture flags (see specs/fixtures/processes/provider.ts). */
  readonly args?: readonly string[];
}

export function startProviderProcess(options: ProviderProcessOptions): NodeChild {
  const args = ['--name', options.name, '--discovery-port', String(options.discoveryPort), '--ws-port', String(options.wsPort ?? 0)];
  if (options.waitStart === true) args.push('--wait-start');
  return startNode(`provider ${options.name}`, path.join(FIXTURES, 'provider.ts'), [...args, ...(options.args ?? [])]);
}

export function startClientProcess(label: string, discoveryPort: number, args: readonly string[] = []): NodeChild {
  return startNode(label, path.join(FIXTURES, 'client.ts'), ['--discovery-port', String(discoveryPort), ...args]);
}

/** What a fixture provider's `listening` line says. */
export interface Listening {
  readonly at: number;
  readonly name: string;
  readonly pid: number;
  readonly endpoint: string;
  readonly wsPort: number;
  /** serviceId by serviceName (`Work`, `Pin-<name>`). */
  readonly serviceIds: Readonly<Record<string, string>>;
  /** The key its advertisements are signed with (SEC-8). */
  readonly publicKey: string;
}

export async function listeningOf(provider: NodeChild, timeoutMs = 20_000): Promise<Listening> {
  const event = await provider.waitFor((e) => e.event === 'listening', { what: 'listening', timeoutMs });
  const services = event.services as Array<{ serviceId: string; serviceName: string }>;
  return {
    at: event.at,
    name: String(event.name),
    pid: Number(event.pid),
    endpoint: String(event.endpoint),
    wsPort: Number(event.wsPort),
    serviceIds: Object.fromEntries(services.map((s) => [s.serviceName, s.serviceId])),
    publicKey: String(event.publicKey),
  };
}

/** A fixture client's view in a `services` line. */
export interface ServiceLine {
  readonly serviceId: string;
  readonly serviceName: string;
  readonly endpoint: string;
  readonly status: string;
  readonly health: string;
}

export const servicesIn = (event: ChildEvent): ServiceLine[] => (event.services ?? []) as ServiceLine[];

/** The first `services` line (from `from`) that passes `test`. */
export function clientView(client: NodeChild, test: (services: ServiceLine[]) => boolean, what: string, timeoutMs: number, from = 0): Promise<ChildEvent> {
  return client.waitFor((e) => e.event === 'services' && test(servicesIn(e)), { what, timeoutMs, from });
}

export function assignTask(client: NodeChild, taskId: string, service: string, operation: string, params: Record<string, unknown>): void {
  client.send({ cmd: 'assign', taskId, service, operation, params });
}

export function settledOf(client: NodeChild, taskId: string, timeoutMs: number): Promise<ChildEvent> {
  return client.waitFor((e) => e.event === 'settled' && e.taskId === taskId, { what: `task ${taskId} settled`, timeoutMs });
}

/** Asks a fixture for its counters (`stats` line). */
export async function statsOf(child: NodeChild, timeoutMs = 5_000): Promise<Record<string, any>> {
  return child.request({ cmd: 'stats' }, (e) => e.event === 'stats', { what: 'stats', timeoutMs });
}
