/**
 * Child processes of the orchestrator (bench/run.ts): each runs a bench script under tsx, speaks
 * JSON lines (events out on stdout, commands in on stdin), and is tracked by pid so that only the
 * processes this benchmark started are ever signalled, one at a time, by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nowMs } from './common.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = path.join(ROOT, 'bench');

export interface BenchEvent {
  readonly event: string;
  readonly at: number;
  readonly [key: string]: unknown;
}

const live = new Set<BenchProcess>();

export class BenchProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The orchestrator's clock when it spawned the child. */
  readonly spawnedAt = nowMs();
  readonly events: BenchEvent[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  #partial = '';
  readonly #waiters = new Set<() => void>();

  constructor(
    readonly label: string,
    script: string,
    args: readonly string[],
    nodeFlags: readonly string[] = [],
  ) {
    this.child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(BENCH, script), ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    if (this.child.pid === undefined) throw new Error(`${label}: spawn failed`);
    this.pid = this.child.pid;
    live.add(this);
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.#onStdout(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-20_000);
    });
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code) => {
        live.delete(this);
        this.#notify();
        resolve(code);
      }),
    );
  }

  get running(): boolean {
    return live.has(this);
  }

  send(command: Record<string, unknown>): void {
    if (this.running) this.child.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** The first event (at index `from` or later) that passes `test`; rejects at the deadline, on `fatal`, or on exit. */
  waitFor(test: (event: BenchEvent) => boolean, what: string, timeoutMs = 60_000, from = 0): Promise<BenchEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`${this.label}: no ${what} within ${timeoutMs} ms${this.#tail()}`)), timeoutMs);
      const check = () => {
        const found = this.events.slice(from).find(test);
        if (found) return finish(undefined, found);
        const fatal = this.events.find((event) => event.event === 'fatal');
        if (fatal) return finish(new Error(`${this.label}: ${String(fatal.message)}`));
        if (!this.running) return finish(new Error(`${this.label}: exited before ${what}${this.#tail()}`));
      };
      const finish = (error: Error | undefined, event?: BenchEvent) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve(event as BenchEvent);
      };
      this.#waiters.add(check);
      check();
    });
  }

  event(name: string, timeoutMs?: number, from?: number): Promise<BenchEvent> {
    return this.waitFor((event) => event.event === name, name, timeoutMs, from);
  }

  /** Asks the child to stop (`stop` command, so a --cpu-prof profile gets written); SIGKILL by pid after `graceMs`. */
  async stop(graceMs = 8_000): Promise<void> {
    if (!this.running) return;
    this.send({ cmd: 'stop' });
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.running) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  #tail(): string {
    const stderr = this.stderr.trim().split('\n').slice(-8).join('\n');
    return stderr === '' ? '' : `\n--- stderr of ${this.label} (pid ${this.pid}) ---\n${stderr}`;
  }

  #onStdout(chunk: string): void {
    const lines = (this.#partial + chunk).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        this.events.push(JSON.parse(line) as BenchEvent);
      } catch {
        // not one of ours
      }
    }
    this.#notify();
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** Kills (by pid) every child this process started that is still running. */
export async function killAll(): Promise<void> {
  const remaining = [...live];
  for (const child of remaining) child.kill();
  await Promise.all(remaining.map((child) => child.exited));
}

export const liveCount = (): number => live.size;
