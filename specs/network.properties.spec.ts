/**
 * The whole-network property: see specs/support/networkScenario.ts for the scenario, the phases
 * and the invariants (TASK-16, TASK-4, TASK-9, DISC-9, CONN-4).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runScenario, scenarioArb } from './support/networkScenario.js';

describe('whole-network properties on the simulated network', () => {
  it('TASK-16, TASK-4, TASK-9, DISC-9, CONN-4 hold for random networks, workloads and faults', () => {
    const runs = Number(process.env.NETWORK_RUNS ?? 500);
    let duplicates = 0;
    let networks = 0;
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        duplicates += runScenario(scenario).duplicates;
        networks++;
      }),
      // A fixed seed keeps CI deterministic (a failure reproduces as is); set NETWORK_SEED=random
      // (or a number) and NETWORK_RUNS to explore other networks. fast-check prints the seed and
      // the shrunk scenario of any failure.
      {
        numRuns: runs,
        ...(process.env.NETWORK_SEED === 'random' ? {} : { seed: Number(process.env.NETWORK_SEED ?? 20_261_121) }),
      },
    );
    // The workload must really exercise TASK-4: duplicates reached providers.
    expect(networks).toBe(runs); // every requested network ran to its end
    expect(duplicates).toBeGreaterThan(0);
  }, 240_000);
});
