/**
 * The client under test, as a child process: spawned with the env contract, watched (its exit
 * goes into the scenario's Recorder, the tail of its output is kept for evidence), and killed at
 * the end of the scenario.
 *
 * The child gets a process group of its own (`detached`), and is killed through it: SIGTERM to
 * `-pid`, then SIGKILL after `KILL_GRACE_MS`. The group is the child and whatever it started
 * (`npx tsx`, `sh -c` wrappers), nothing else. Should the suite's own process exit first, the
 * children still alive are killed on its `exit`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Recorder } from './recorder.js';

/** Time the client has to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 500;
const TAIL_CHARS = 4_000;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Signals the child's process group (the child and what it started). Only ever called while the
 * child runs or right after it exited, so the group id cannot have been reused.
 */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is empty
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL');
  });
}

/** Replaces `$NAME` and `${NAME}` of the SWITCHBOARD_ variables in one argument. */
export function expandArgument(argument: string, env: Readonly<Record<string, string | undefined>>): string {
  return argument.replace(/\$\{(SWITCHBOARD_[A-Z0-9_]+)\}|\$(SWITCHBOARD_[A-Z0-9_]+)/g, (whole, braced?: string, bare?: string) => {
    const value = env[(braced ?? bare) as string];
    return value === undefined ? whole : value;
  });
}

export class ClientProcess {
  readonly #child: ChildProcess;
  readonly exited: Promise<void>;
  stdoutTail = '';
  stderrTail = '';
  exitedAt: number | undefined;

  constructor(command: readonly string[], options: { env: Record<string, string>; cwd: string; recorder: Recorder }) {
    installExitHook();
    const env = { ...process.env, ...options.env };
    const [file, ...args] = command as [string, ...string[]];
    this.#child =
      command.length === 1
        ? spawn(file, { shell: true, cwd: options.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(expandArgument(file, env), args.map((arg) => expandArgument(arg, env)), {
            cwd: options.cwd,
            env,
            detached: true,
            stdio: ['ignore', 'pipe', 'pipe'],
          });
    live.add(this.#child);
    this.#child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.stdoutTail = (this.stdoutTail + chunk).slice(-TAIL_CHARS)));
    this.#child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderrTail = (this.stderrTail + chunk).slice(-TAIL_CHARS)));
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: string | null, error?: string) => {
        if (done) return;
        done = true;
        live.delete(this.#child);
        this.exitedAt = options.recorder.now();
        options.recorder.push({ kind: 'exit', code, signal, ...(error === undefined ? {} : { error }) });
        resolve();
      };
      this.#child.once('exit', (code, signal) => finish(code, signal));
      this.#child.once('error', (error) => finish(null, null, error.message));
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.exitedAt === undefined;
  }

  /** SIGTERM to the child's process group, SIGKILL after a grace period; resolves once it exited (bounded). */
  async kill(): Promise<void> {
    if (!this.running) return;
    killGroup(this.#child, 'SIGTERM');
    const graceful = await Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(resolve, KILL_GRACE_MS, false))]);
    if (graceful) {
      killGroup(this.#child, 'SIGKILL'); // whatever the wrapper left behind in its group
      return;
    }
    killGroup(this.#child, 'SIGKILL');
    await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 2_000))]);
  }

  /** The last lines of the client's stderr (or stdout), for evidence. */
  tail(chars = 300): string {
    const text = (this.stderrTail.trim() || this.stdoutTail.trim()).slice(-chars);
    return text.replace(/\s+/g, ' ');
  }
}
