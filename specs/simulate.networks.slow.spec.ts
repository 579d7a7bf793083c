/**
 * The whole-network property, CI-sized (slow tier): 500 random networks (NETWORK_RUNS to change
 * it; the nightly-sized run of docs/simulation.md is NETWORK_RUNS=10000), 0 violations. It prints
 * the simulator's throughput. The workload must really exercise TASK-4: duplicate AssignTasks
 * reach providers.
 */
import { describe, expect, it } from 'vitest';
import { checkRandomNetworks, networkSeed } from './support/networkRuns.js';

describe('whole-network property (CI-sized)', () => {
  it('every invariant holds on 500 random networks, workloads and fault schedules', async () => {
    const runs = Number(process.env.NETWORK_RUNS ?? 500);
    const totals = await checkRandomNetworks(runs, networkSeed(20_261_121));
    expect(totals.networks).toBe(runs);
    expect(totals.duplicateAssigns).toBeGreaterThan(0);
    if (process.env.NETWORK_REPORT !== undefined) {
      const perCpu = Math.round(totals.virtualMs / totals.cpuMs);
      const perWall = Math.round(totals.virtualMs / totals.wallMs);
      const perMinute = Math.round((totals.networks * 60_000) / totals.cpuMs);
      process.stderr.write(
        `${totals.networks} networks, ${totals.tasks} tasks, ${totals.faults} faults, ${totals.duplicateAssigns} duplicate AssignTasks: ` +
          `${Math.round(totals.virtualMs / 1000)} virtual s in ${Math.round(totals.cpuMs / 1000)} CPU s (${Math.round(totals.wallMs / 1000)} wall s): ` +
          `${perCpu} virtual s per CPU s (${perWall} per wall s), ${perMinute} networks per CPU minute\n`,
      );
    }
  }, 3_600_000);
});
