/**
 * The whole-network property (specs/support/networkScenario.ts has the scenario, the phases and
 * the invariants), shared by the fast tier's short run (network.properties.spec.ts) and the slow
 * tier's long one (network.properties.slow.spec.ts). The seed is the tier's (see
 * specs/support/propertySeed.ts) unless NETWORK_SEED names one; NETWORK_RUNS overrides the count.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { runScenario, scenarioArb } from './networkScenario.js';

export function networkProperty(defaultRuns: number, timeoutMs: number): void {
  it(`TASK-16, TASK-4, TASK-9, DISC-9, CONN-4 hold for random networks, workloads and faults (${defaultRuns} networks)`, () => {
    const runs = Number(process.env.NETWORK_RUNS ?? defaultRuns);
    let duplicates = 0;
    let networks = 0;
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        duplicates += runScenario(scenario).duplicates;
        networks++;
      }),
      { numRuns: runs, ...(process.env.NETWORK_SEED ? { seed: Number(process.env.NETWORK_SEED) } : {}) },
    );
    // The workload must really exercise TASK-4: duplicates reached providers.
    expect(networks).toBe(runs); // every requested network ran to its end
    expect(duplicates).toBeGreaterThan(0);
  }, timeoutMs);
}
