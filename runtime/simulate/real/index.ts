/**
 * `switchboard simulate --real`: the same plan as in virtual time, on real processes. Each
 * participant is a node process (./participantMain.ts) in its own network namespace
 * (./netns.ts); the fault schedule is played in real time with the kernel's tools: iptables for
 * partitions, tc netem for link faults, SIGKILL and a new process for crash and restart,
 * SIGSTOP/SIGCONT for freeze. What cannot be reproduced for real is said in `notes` (and applied
 * as the closest fault, or not at all). The processes' observations go through the same checker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { check } from '../checker.js';
import { cutsOf, scheduleFaults, undoAll, type FaultWorld, type Scheduler } from '../faultSchedule.js';
import type { Observation } from '../history.js';
import { planRun } from '../plan.js';
import type { Simulation } from '../run.js';
import type { Fault, Scenario } from '../scenario.js';
import { faultToInput } from '../shrink.js';
import { NamespaceNetwork, realPrecondition } from './netns.js';
import type { ParticipantProcessConfig } from './participantMain.js';

export { realPrecondition } from './netns.js';

/** `--real` cannot run on this machine (not Linux, not root, a tool missing): says which. */
export class RealUnavailableError extends Error {
  override readonly name = 'RealUnavailableError';
}

export interface RealRunOptions {
  readonly scenario: Scenario;
  /** The scenario file (its directory resolves `modules`). */
  readonly scenarioPath: string;
  readonly seed: number;
  readonly durationMs?: number;
  readonly faults?: readonly Fault[];
  /** Progress lines. */
  readonly log?: (text: string) => void;
}

export interface RealRun {
  readonly simulation: Simulation;
  /** Faults not reproduced as such, and why. */
  readonly notes: readonly string[];
}

/** Discovery port inside the namespaces (each has its own stack; never the well-known 50001). */
const DISCOVERY_PORT = 41_234;
/** Time the processes get to start (node loads the package; from the sources, tsx compiles it) before run time 0. */
const STARTUP_MS = 5_000;
const OUTPUT_CHARS_MAX = 8_000;
/**
 * Real timers fire late when the machine is busy (node's event loop, the kernel's scheduler):
 * the timer-bound invariants allow this much on real processes.
 */
export const TIMER_TOLERANCE_MS = 500;

const here = fileURLToPath(import.meta.url);
const PACKAGE_ROOT = path.resolve(path.dirname(here), '..', '..', here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
const MAIN = path.join(path.dirname(here), `participantMain${path.extname(here)}`);

interface Process {
  readonly child: ChildProcess;
  readonly incarnation: number;
  stopped: boolean;
  stderr: string;
}

export async function runReal(options: RealRunOptions): Promise<RealRun> {
  const why = realPrecondition();
  if (why !== undefined) throw new RealUnavailableError(why);
  const log = options.log ?? (() => {});
  const startedAt = performance.now();
  const plan = planRun(options.scenario, {
    seed: options.seed,
    ...(options.durationMs === undefined ? {} : { durationMs: options.durationMs }),
    ...(options.faults === undefined ? {} : { faults: options.faults }),
  });
  const names = plan.participants.map((participant) => participant.name);
  const network = new NamespaceNetwork(names);
  const history: Observation[] = [];
  const notes = new Set<string>();
  const processes = new Map<string, Process>();
  const incarnations = new Map<string, number>();
  const timers: NodeJS.Timeout[] = [];
  const epochMs = Date.now() + STARTUP_MS;
  const now = () => Date.now() - epochMs;
  const record = (observation: Observation) => void history.push(observation);

  const spawnParticipant = (name: string) => {
    const incarnation = (incarnations.get(name) ?? 0) + 1;
    incarnations.set(name, incarnation);
    const host = network.host(name);
    const config: ParticipantProcessConfig = {
      scenario: scenarioInput(options.scenario),
      scenarioDir: path.dirname(options.scenarioPath),
      seed: options.seed,
      ...(options.durationMs === undefined ? {} : { durationMs: options.durationMs }),
      ...(options.faults === undefined ? {} : { faults: options.faults.map(faultToInput) }),
      participant: name,
      incarnation,
      epochMs: Math.max(epochMs, Date.now()),
      address: host.address,
      broadcast: network.broadcast,
      discoveryPort: DISCOVERY_PORT,
    };
    // From the build, plain node (TypeScript service modules register tsx when they load, as in
    // the CLI: runtime/cli/typescript.ts); from the sources (specs), tsx loads the participant.
    const nodeArgs = path.extname(MAIN) === '.ts' ? ['--import', 'tsx', MAIN] : [MAIN];
    const child = spawn('ip', ['netns', 'exec', host.namespace, process.execPath, ...nodeArgs, JSON.stringify(config)], {
      cwd: PACKAGE_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const entry: Process = { child, incarnation, stopped: false, stderr: '' };
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const text of lines) {
        try {
          record(JSON.parse(text) as Observation);
        } catch {
          // not an observation (a stray log line)
        }
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (entry.stderr.length < OUTPUT_CHARS_MAX) entry.stderr += chunk;
    });
    processes.set(name, entry);
  };
  const signal = (name: string, sig: NodeJS.Signals) => {
    const entry = processes.get(name);
    // `ip netns exec` execs node, so the child's pid is node's own.
    if (entry !== undefined && entry.child.exitCode === null) entry.child.kill(sig);
  };

  const world: FaultWorld = {
    partition(groups, oneWay) {
      const cuts = cutsOf(groups, oneWay).flatMap(([senders, receivers]) => senders.flatMap((a) => receivers.map((b) => network.cut(a, b))));
      return { undo: undoAll(cuts) };
    },
    link(from, to, faults) {
      const undos: (() => void)[] = [];
      const notes = new Set<string>();
      for (const source of from) {
        const targets = to.filter((target) => target !== source);
        const everyone = names.every((name) => name === source || targets.includes(name));
        const applied = network.link(source, targets, faults, everyone);
        undos.push(applied.undo);
        if (applied.note !== undefined) notes.add(applied.note);
      }
      // File links are simulated only (tasks with files fail UNSUPPORTED_MESSAGE here): nothing to corrupt.
      if ((faults.corrupt ?? 0) > 0) notes.add('corrupt: not applied (file links run in virtual time only)');
      return { undo: undoAll(undos), ...(notes.size === 0 ? {} : { note: [...notes].join('; ') }) };
    },
    crash(name) {
      const entry = processes.get(name);
      if (entry === undefined || entry.stopped) return {};
      entry.stopped = true;
      signal(name, 'SIGKILL');
      record({ t: now(), type: 'down', participant: name, incarnation: entry.incarnation });
      return {};
    },
    restart(name) {
      const entry = processes.get(name);
      if (entry !== undefined && !entry.stopped) return {};
      spawnParticipant(name);
      return { note: 'a restarted process needs about a second to start (node loading the package), so it comes back later than in virtual time' };
    },
    stall(name) {
      const entry = processes.get(name);
      if (entry?.stopped !== false) return { skipped: true };
      signal(name, 'SIGSTOP');
      return {
        undo: () => processes.get(name) === entry && (signal(name, 'SIGCONT'), true),
        note: 'stall (stops reading) is approximated by SIGSTOP: the process also stops its timers, so it is checked as a freeze',
        as: 'freeze',
      };
    },
    freeze(name) {
      const entry = processes.get(name);
      if (entry?.stopped !== false) return { skipped: true };
      signal(name, 'SIGSTOP');
      return { undo: () => processes.get(name) === entry && (signal(name, 'SIGCONT'), true) };
    },
    skew() {
      return { note: 'clock skew cannot be reproduced on real processes (they share the kernel clock): not applied' };
    },
    heal() {
      network.clearFaults();
    },
  };
  const scheduler: Scheduler = {
    at: (atMs, fn) => void timers.push(setTimeout(fn, Math.max(0, epochMs + atMs - Date.now()))),
    now,
  };

  // Interrupted (Ctrl-C) or exiting early: the processes and namespaces of this run go too.
  const cleanUp = () => {
    for (const entry of processes.values()) if (entry.child.exitCode === null) entry.child.kill('SIGKILL');
    network.destroy();
  };
  const interrupted = () => {
    cleanUp();
    process.exit(130);
  };
  process.once('exit', cleanUp);
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    network.create();
    log(`--real: ${names.length} namespaces on ${network.broadcast.replace(/\.255$/, '.0/24')}; run time 0 in ${STARTUP_MS / 1000} s, end at ${Math.round(plan.endMs / 1000)} s`);
    for (const name of names) spawnParticipant(name);
    scheduleFaults(plan, world, scheduler, (observation) => {
      if (observation.type === 'fault' && observation.note !== undefined) notes.add(observation.note);
      record(observation);
    });
    scheduler.at(plan.healAtMs, () => {
      record({ t: now(), type: 'heal' });
      network.clearFaults();
      for (const name of names) signal(name, 'SIGCONT');
      for (const name of names) if (processes.get(name)?.stopped === true) world.restart(name);
    });
    await new Promise((resolve) => setTimeout(resolve, epochMs + plan.endMs + 1_500 - Date.now()));
  } finally {
    for (const timer of timers) clearTimeout(timer);
    for (const [name, entry] of processes) {
      if (entry.child.exitCode !== null) continue;
      signal(name, 'SIGCONT');
      signal(name, 'SIGKILL');
    }
    await Promise.all([...processes.values()].map((entry) => (entry.child.exitCode !== null ? undefined : new Promise((resolve) => entry.child.once('exit', resolve)))));
    network.destroy();
    process.off('exit', cleanUp);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
  for (const [name, entry] of processes) {
    if (entry.child.exitCode !== null && entry.child.exitCode !== 0 && !entry.stopped) {
      notes.add(`${name} exited with ${entry.child.exitCode}: ${entry.stderr.slice(0, 500)}`);
    }
  }

  const ordered = history.map((observation, index) => ({ observation, index })).sort((a, b) => a.observation.t - b.observation.t || a.index - b.index).map(({ observation }) => observation);
  const verdict = check(plan, ordered, { toleranceMs: TIMER_TOLERANCE_MS });
  const realMs = performance.now() - startedAt;
  const simulation: Simulation = {
    scenario: options.scenario,
    ok: verdict.ok,
    runs: [{ seed: plan.seed, ok: verdict.ok, verdict, faults: plan.faults, virtualMs: plan.endMs, realMs, cpuMs: 0, steps: ordered.length, network: { delivered: 0, lost: 0, duplicated: 0, partitioned: 0, rejected: 0, dropped: 0 }, delivered: {} }],
    failure: verdict.ok ? undefined : { seed: plan.seed, verdict, faults: plan.faults, shrunk: plan.faults, shrinkRuns: 0, replay: { seed: plan.seed, faults: plan.faults, durationMs: options.durationMs } },
    detailed: { plan, history: ordered, verdict },
    throughput: { runs: 1, virtualMs: plan.endMs, realMs, cpuMs: 0, virtualSecondsPerSecond: plan.endMs / realMs, virtualSecondsPerCpuSecond: 0, networksPerMinute: 60_000 / realMs },
  };
  return { simulation, notes: [...notes] };
}

/** The scenario back in file form (durations in ms, ranges as pairs) for the child processes. */
function scenarioInput(scenario: Scenario): unknown {
  return JSON.parse(JSON.stringify(scenario, (_key, value: unknown) => (value !== null && typeof value === 'object' && 'min' in value && 'max' in value && Object.keys(value).length === 2 ? [(value as { min: number }).min, (value as { max: number }).max] : value)));
}
