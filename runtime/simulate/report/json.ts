/**
 * `--json`: the simulation as one JSON document on stdout (runs with their verdicts, the failure
 * with its minimal schedule and replay command, the throughput), for CI and scripts.
 */
import { INVARIANTS } from '../checker.js';
import type { Simulation } from '../run.js';
import { faultToInput } from '../shrink.js';

export function jsonReport(simulation: Simulation, replay: string | undefined, notes: readonly string[] = []): Record<string, unknown> {
  const { failure } = simulation;
  return {
    scenario: simulation.scenario.name ?? null,
    ok: simulation.ok,
    invariants: INVARIANTS,
    runs: simulation.runs.map((run) => ({
      seed: run.seed,
      ok: run.ok,
      violations: run.verdict.counts,
      tasks: run.verdict.tasks,
      faults: run.faults.length,
      virtualMs: run.virtualMs,
      realMs: Math.round(run.realMs),
      steps: run.steps,
      network: run.network,
    })),
    failure:
      failure === undefined
        ? null
        : {
            seed: failure.seed,
            violations: failure.verdict.violations,
            counts: failure.verdict.counts,
            faults: failure.faults.map(faultToInput),
            shrunk: failure.shrunk.map(faultToInput),
            shrinkRuns: failure.shrinkRuns,
            replay: replay ?? null,
          },
    notes,
    throughput: {
      ...simulation.throughput,
      realMs: Math.round(simulation.throughput.realMs),
      virtualSecondsPerSecond: Math.round(simulation.throughput.virtualSecondsPerSecond),
      networksPerMinute: Math.round(simulation.throughput.networksPerMinute),
    },
  };
}
