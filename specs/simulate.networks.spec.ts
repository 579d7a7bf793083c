/**
 * The whole-network property, small (npm test): 16 random networks through the simulate engine,
 * 0 violations of any invariant, with signed, mixed and unsigned discovery, event subscribers and
 * tasks with files (over corrupting links in some). The CI-sized run
 * (500) is specs/simulate.networks.slow.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import { note } from './support/notes.js';
import { checkRandomNetworks, throughput } from './support/networkRuns.js';

describe('whole-network property (small)', () => {
  it('every invariant holds on 16 random networks, workloads and fault schedules', async () => {
    const totals = await checkRandomNetworks(16);
    note(throughput(totals));
    expect(totals.networks).toBe(16);
    expect(totals.faults).toBeGreaterThan(0);
    expect(totals.duplicateAssigns).toBeGreaterThan(0); // TASK-4 really exercised
    expect(Object.values(totals.discovery).every((count) => count > 0), JSON.stringify(totals.discovery)).toBe(true);
    // Events and files really exercised: at-least-once deliveries, corrupted chunks refused (FILE-2), files used.
    expect(totals.events.atLeastOnce).toBeGreaterThan(0);
    expect(totals.files.used).toBeGreaterThan(0);
    expect(totals.files.fetches.done ?? 0, JSON.stringify(totals.files.fetches)).toBeGreaterThan(0);
    expect(totals.files.uploads.FILE_HASH_MISMATCH ?? 0, JSON.stringify(totals.files.uploads)).toBeGreaterThan(0);
  }, 120_000);
});
