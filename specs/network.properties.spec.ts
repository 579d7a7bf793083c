/**
 * The whole-network property: see specs/support/networkScenario.ts for the scenario, the phases
 * and the invariants (TASK-16, TASK-4, TASK-9, DISC-9, CONN-4).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runScenario, scenarioArb } from './support/networkScenario.js';

describe('whole-network properties on the simulated network', () => {
  it('TASK-16, TASK-4, TASK-9, DISC-9, CONN-4 hold for random networks, workloads and faults', () => {
    let duplicates = 0;
    let networks = 0;
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        networks++;
        duplicates += runScenario(scenario).duplicates;
      }),
      // A fixed seed keeps CI deterministic (a failure reproduces as is); set NETWORK_SEED=random
      // (or a number) and NETWORK_RUNS to explore other networks. fast-check prints the seed and
      // the shrunk scenario of any failure.
      {
        numRuns: Number(process.env.NETWORK_RUNS ?? 500),
        ...(process.env.NETWORK_SEED === 'random' ? {} : { seed: Number(process.env.NETWORK_SEED ?? 20_261_121) }),
      },
    );
    // The workload must really exercise TASK-4: duplicates reached providers.
    expect(networks).toBeGreaterThanOrEqual(1);
    expect(duplicates).toBeGreaterThan(0);
  }, 240_000);
});
