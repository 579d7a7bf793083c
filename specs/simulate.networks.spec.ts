/**
 * The whole-network property, small (npm test): 40 random networks through the simulate engine,
 * 0 violations of any invariant. The CI-sized run (500) is specs/simulate.networks.slow.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import { checkRandomNetworks, networkSeed } from './support/networkRuns.js';

describe('whole-network property (small)', () => {
  it('every invariant holds on 40 random networks, workloads and fault schedules', async () => {
    const totals = await checkRandomNetworks(40, networkSeed(20_261_203));
    expect(totals.networks).toBe(40);
    expect(totals.faults).toBeGreaterThan(0);
  }, 60_000);
});
