/**
 * Slow tier: 100,000 fuzzed discovery datagrams against a real provider process and a real client
 * process, with the client's tasks running all along (SEC-9, WIRE-9, SEC-8; see
 * specs/support/datagramFuzzRun.ts). Target: 0 crashes, every task completed. Seed:
 * DATAGRAM_FUZZ_SEED (printed); size: DATAGRAM_FUZZ_COUNT.
 */
import { describe, expect, it } from 'vitest';
import { note } from './support/notes.js';
import { fuzzSeed, runDatagramFuzz } from './support/datagramFuzzRun.js';

describe('fuzzed datagrams against a real provider and client (100,000)', () => {
  it('100,000 datagrams: 0 crashes, 200 tasks completed, every datagram judged', async () => {
    const seed = fuzzSeed();
    const datagrams = Number(process.env.DATAGRAM_FUZZ_COUNT ?? 100_000);
    const report = await runDatagramFuzz({ datagrams, tasks: 200, seed });
    note(
      `datagram fuzz seed=${seed}: ${report.sent} sent in ${report.durationMs} ms; provider udp ${JSON.stringify(report.provider.udp)}; ` +
        `client udp ${JSON.stringify(report.client.udp)}; client repository ${JSON.stringify(report.client.repository)}; ` +
        `rss provider ${Math.round(report.provider.memoryRssBytes / 1e6)} MB`,
    );
    expect(report.exits, `seed=${seed}`).toEqual([undefined, undefined]);
    expect(report.completed, `seed=${seed}`).toBe(200);
    const judged = (udp: { received: number; rejected: number }) => udp.received + udp.rejected;
    expect(judged(report.provider.udp)).toBeGreaterThan(datagrams * 0.9);
    expect(judged(report.client.udp)).toBeGreaterThan(datagrams * 0.9);
  }, 600_000);
});
