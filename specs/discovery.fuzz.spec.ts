/**
 * SEC-9, WIRE-9, SEC-8: fuzzed discovery datagrams (mutated real messages, signed ones included;
 * prototype names in every string field; deep nesting; huge strings; invalid UTF-8) broadcast to
 * a real provider process and a real client process while the client's tasks run: no process
 * crashes, every task completes, every datagram is judged. A short run here; 100,000 datagrams in
 * the slow tier (specs/discovery.fuzz.slow.spec.ts). Seed: DATAGRAM_FUZZ_SEED (printed).
 */
import { describe, expect, it } from 'vitest';
import { note } from './support/notes.js';
import { fuzzSeed, runDatagramFuzz } from './support/datagramFuzzRun.js';

describe('fuzzed datagrams against a real provider and client (short run)', () => {
  it('3,000 datagrams: 0 crashes, 20 tasks completed, every datagram judged', async () => {
    const seed = fuzzSeed();
    const report = await runDatagramFuzz({ datagrams: 3_000, tasks: 20, seed });
    note(`datagram fuzz seed=${seed}: ${report.sent} sent in ${report.durationMs} ms; provider udp ${JSON.stringify(report.provider.udp)}; client repository ${JSON.stringify(report.client.repository)}`);
    expect(report.exits, `seed=${seed}`).toEqual([undefined, undefined]);
    expect(report.completed, `seed=${seed}`).toBe(20);
    const judged = (udp: { received: number; rejected: number }) => udp.received + udp.rejected;
    // Loopback may drop a few under a burst; nearly all must have been read and judged.
    expect(judged(report.provider.udp)).toBeGreaterThan(report.sent * 0.9);
    expect(judged(report.client.udp)).toBeGreaterThan(report.sent * 0.9);
    expect(report.client.repository.advertisementsIgnored).toBeGreaterThan(0);
  }, 90_000);
});
