/**
 * The whole-network property, CI-sized (slow tier): 500 random networks (NETWORK_RUNS to change
 * it; the nightly-sized run of docs/simulation.md is NETWORK_RUNS=10000), 0 violations, with
 * signed, mixed and unsigned discovery, event subscribers and tasks with files (over corrupting
 * links in some). The simulator's throughput is noted on the test (see it
 * with `--reporter=verbose`). The workload must really exercise TASK-4: duplicate AssignTasks
 * reach providers.
 */
import { describe, expect, it } from 'vitest';
import { note } from './support/notes.js';
import { checkRandomNetworks, throughput } from './support/networkRuns.js';

describe('whole-network property (CI-sized)', () => {
  it('every invariant holds on 500 random networks, workloads and fault schedules', async () => {
    const runs = Number(process.env.NETWORK_RUNS ?? 500);
    const totals = await checkRandomNetworks(runs);
    note(throughput(totals));
    expect(totals.networks).toBe(runs);
    expect(totals.duplicateAssigns).toBeGreaterThan(0);
    expect(Object.values(totals.discovery).every((count) => count > 0), JSON.stringify(totals.discovery)).toBe(true);
    // Events and files really exercised: at-least-once deliveries, overflow drops, corrupted chunks refused (FILE-2), files used.
    expect(totals.events.atLeastOnce).toBeGreaterThan(0);
    expect(totals.events.dropped).toBeGreaterThan(0);
    expect(totals.files.used).toBeGreaterThan(0);
    expect(totals.files.fetches.done ?? 0, JSON.stringify(totals.files.fetches)).toBeGreaterThan(0);
    expect(totals.files.uploads.FILE_HASH_MISMATCH ?? 0, JSON.stringify(totals.files.uploads)).toBeGreaterThan(0);
  }, 3_600_000);
});
