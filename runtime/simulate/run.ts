/**
 * Many runs of one scenario: seed, seed + 1, ... each with its own workload draws and random
 * fault schedule, every run checked. The first failing run is shrunk to a minimal fault schedule
 * and replayed once with full detail (states and messages) for the report, like TigerBeetle's
 * VOPR: seeded runs, a safety phase with faults, a liveness phase without, replay by seed.
 */
import type { NetworkStats } from '../../adapters/simulated/network.js';
import { check, type Verdict } from './checker.js';
import type { Observation } from './history.js';
import type { ServiceModules } from './participants.js';
import { planRun, type Plan } from './plan.js';
import type { Fault, Scenario } from './scenario.js';
import { shrinkFaults } from './shrink.js';
import { runVirtual } from './virtual.js';

export interface RunOptions {
  readonly scenario: Scenario;
  /** Seed of the first run. @default the scenario's, else 1 */
  readonly seed?: number;
  /** @default 1 */
  readonly runs?: number;
  /** The fault phase's length (`--until`), instead of the scenario's `duration`. */
  readonly durationMs?: number;
  /** Replaces the fault schedule (a replay of a shrunk schedule). */
  readonly faults?: readonly Fault[];
  /** User service modules by provider entry name. */
  readonly modules?: ServiceModules;
  /** Shrink the first failing run. @default true */
  readonly shrink?: boolean;
  /** Go on after a failing run. @default false (stop at the first, as a fuzzer does) */
  readonly keepGoing?: boolean;
  /** Replay the failing run (or the single run) with states and messages for the report. @default false */
  readonly detail?: boolean;
  /** Called after each run (progress bars). */
  readonly onRun?: (run: RunSummary, done: number, total: number) => void;
}

export interface RunSummary {
  readonly seed: number;
  readonly ok: boolean;
  readonly verdict: Verdict;
  readonly faults: readonly Fault[];
  readonly virtualMs: number;
  readonly realMs: number;
  readonly cpuMs: number;
  readonly steps: number;
  readonly network: NetworkStats;
  readonly delivered: Readonly<Record<string, number>>;
}

export interface Failure {
  readonly seed: number;
  readonly verdict: Verdict;
  /** The schedule of the failing run, and the minimal one that still fails. */
  readonly faults: readonly Fault[];
  readonly shrunk: readonly Fault[];
  readonly shrinkRuns: number;
  /** What to pass to replay it: `--seed` and `--faults` (and `--until` when it was given). */
  readonly replay: { readonly seed: number; readonly faults: readonly Fault[]; readonly durationMs: number | undefined };
}

export interface Throughput {
  readonly runs: number;
  readonly virtualMs: number;
  readonly realMs: number;
  readonly cpuMs: number;
  /** Virtual seconds simulated per real (wall-clock) second. */
  readonly virtualSecondsPerSecond: number;
  /** Virtual seconds per CPU second: what the simulator costs, whatever else loads the machine. */
  readonly virtualSecondsPerCpuSecond: number;
  readonly networksPerMinute: number;
}

export interface Simulation {
  readonly scenario: Scenario;
  readonly ok: boolean;
  readonly runs: readonly RunSummary[];
  readonly failure: Failure | undefined;
  readonly throughput: Throughput;
  /** The run shown in detail: the shrunk failing run, else the first run (with states and messages under `detail`). */
  readonly detailed: { readonly plan: Plan; readonly history: readonly Observation[]; readonly verdict: Verdict } | undefined;
}

export async function runMany(options: RunOptions): Promise<Simulation> {
  const { scenario } = options;
  const first = options.seed ?? scenario.seed ?? 1;
  const total = options.runs ?? 1;
  const runs: RunSummary[] = [];
  let failure: Failure | undefined;
  /** The first run keeps its history (what the library API returns when nothing fails). */
  let firstRun: Simulation['detailed'];
  const planFor = (seed: number, faults?: readonly Fault[]) =>
    planRun(scenario, {
      seed,
      ...(options.durationMs === undefined ? {} : { durationMs: options.durationMs }),
      ...(faults === undefined ? {} : { faults }),
    });
  const runOne = async (plan: Plan, detail = false) => {
    const record = await runVirtual(plan, { ...(options.modules === undefined ? {} : { modules: options.modules }), detail });
    return { record, verdict: check(plan, record.history) };
  };

  for (let index = 0; index < total; index++) {
    const seed = (first + index) >>> 0;
    const plan = planFor(seed, options.faults);
    const { record, verdict } = await runOne(plan, options.detail === true && total === 1);
    if (index === 0) firstRun = { plan, history: record.history, verdict };
    const summary: RunSummary = {
      seed,
      ok: verdict.ok,
      verdict,
      faults: plan.faults,
      virtualMs: plan.endMs,
      realMs: record.realMs,
      cpuMs: record.cpuMs,
      steps: record.steps,
      network: record.network,
      delivered: record.delivered,
    };
    runs.push(summary);
    options.onRun?.(summary, index + 1, total);
    if (!verdict.ok && failure === undefined) {
      const broken = new Set(Object.keys(verdict.counts));
      const shrunk =
        options.shrink === false
          ? { faults: plan.faults, runs: 0 }
          : await shrinkFaults(plan.faults, async (faults) => {
              const again = await runOne(planFor(seed, faults));
              return Object.keys(again.verdict.counts).some((id) => broken.has(id));
            });
      failure = {
        seed,
        verdict,
        faults: plan.faults,
        shrunk: shrunk.faults,
        shrinkRuns: shrunk.runs,
        replay: { seed, faults: shrunk.faults, durationMs: options.durationMs },
      };
      if (options.keepGoing !== true) break;
    }
  }

  let detailed: Simulation['detailed'] = firstRun;
  if (failure !== undefined) {
    const plan = planFor(failure.seed, failure.shrunk);
    const { record, verdict } = await runOne(plan, true);
    detailed = { plan, history: record.history, verdict };
  } else if (options.detail === true && runs[0] !== undefined && total > 1) {
    const plan = planFor(runs[0].seed, options.faults);
    const { record, verdict } = await runOne(plan, true);
    detailed = { plan, history: record.history, verdict };
  }

  const realMs = runs.reduce((sum, run) => sum + run.realMs, 0);
  const virtualMs = runs.reduce((sum, run) => sum + run.virtualMs, 0);
  const cpuMs = runs.reduce((sum, run) => sum + run.cpuMs, 0);
  return {
    scenario,
    ok: runs.every((run) => run.ok),
    runs,
    failure,
    detailed,
    throughput: {
      runs: runs.length,
      virtualMs,
      realMs,
      cpuMs,
      virtualSecondsPerSecond: realMs === 0 ? 0 : virtualMs / realMs,
      virtualSecondsPerCpuSecond: cpuMs === 0 ? 0 : virtualMs / cpuMs,
      networksPerMinute: realMs === 0 ? 0 : (runs.length * 60_000) / realMs,
    },
  };
}
