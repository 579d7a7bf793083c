/**
 * SEC-9 (short run, in `npm test`): 5,000 fuzzed frames (specs/support/fuzz.ts) at a provider
 * process while a legitimate client's tasks all complete. The 100,000-frame run is
 * security.fuzz.slow.spec.ts. FUZZ_SEED picks the stream (it is printed on failure).
 */
import { describe, it } from 'vitest';
import { note } from './support/notes.js';
import { fuzzRun } from './support/fuzzRun.js';

const seed = Number(process.env.FUZZ_SEED ?? 20_250_902);

describe('a provider under fuzzed frames (SEC-9)', () => {
  it(`5,000 frames, no crash, every legitimate task completes (seed ${seed})`, async () => {
    const stats = await fuzzRun({ frames: 5_000, lanes: 4, tasks: 20, seed });
    note(`fuzz: ${stats.sent} frames, ${(stats.bytes / 1e6).toFixed(1)} MB, ${stats.connections} connections, ${stats.providerFramesIn} taken in by the provider (rejected ${JSON.stringify(stats.providerRejected)}), closes ${JSON.stringify(stats.closes)}`);
  }, 120_000);
});
