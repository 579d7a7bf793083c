/**
 * The whole-network property, shared by the fast and the slow spec: `runs` random networks
 * (specs/support/networkScenario.ts) through `switchboard simulate`'s engine, each checked by
 * every invariant. A failure names the network's scenario and seed (replay it with
 * `switchboard simulate <file> --seed N`), and fast-check prints its own seed and path.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { check, type Verdict } from '../../runtime/simulate/checker.js';
import { planRun } from '../../runtime/simulate/plan.js';
import { parseScenario } from '../../runtime/simulate/scenario.js';
import { runVirtual } from '../../runtime/simulate/virtual.js';
import { networkScenarioArb } from './networkScenario.js';

export interface NetworkRunTotals {
  networks: number;
  virtualMs: number;
  cpuMs: number;
  wallMs: number;
  /** AssignTasks delivered beyond one per task: the duplicates TASK-4 must not run. */
  duplicateAssigns: number;
  faults: number;
  tasks: number;
}

export async function checkRandomNetworks(runs: number, seed: number | undefined): Promise<NetworkRunTotals> {
  const totals: NetworkRunTotals = { networks: 0, virtualMs: 0, cpuMs: 0, wallMs: 0, duplicateAssigns: 0, faults: 0, tasks: 0 };
  await fc.assert(
    fc.asyncProperty(networkScenarioArb, async (input) => {
      const scenario = parseScenario(input);
      const plan = planRun(scenario, { seed: scenario.seed ?? 1 });
      const record = await runVirtual(plan);
      const verdict: Verdict = check(plan, record.history);
      totals.networks++;
      totals.virtualMs += plan.endMs;
      totals.cpuMs += record.cpuMs;
      totals.wallMs += record.realMs;
      totals.faults += plan.faults.length;
      totals.tasks += verdict.tasks.submitted;
      totals.duplicateAssigns += Math.max(0, (record.delivered.AssignTask ?? 0) - verdict.tasks.submitted);
      expect(verdict.violations, `seed ${plan.seed} of ${JSON.stringify(input)}`).toEqual([]);
    }),
    { numRuns: runs, ...(seed === undefined ? {} : { seed }) },
  );
  return totals;
}

/** NETWORK_SEED: a number, or `random` to explore; by default a fixed seed keeps CI deterministic. */
export function networkSeed(fixed: number): number | undefined {
  const value = process.env.NETWORK_SEED;
  if (value === 'random') return undefined;
  return value === undefined ? fixed : Number(value);
}
