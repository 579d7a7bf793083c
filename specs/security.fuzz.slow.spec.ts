/**
 * SEC-9 target (slow tier): 106,000 fuzzed frames (mutated real messages, prototype names, deep
 * nesting, huge strings, ill-formed Unicode, invalid UTF-8, binary frames) at a provider process
 * from 8 addresses, while a legitimate client process completes 100 tasks: no crash, every task
 * completes with its own result. About 5% are invalid UTF-8 text frames, which ws refuses whole
 * (1007), so that at least 100,000 are decoded by the provider. FUZZ_SEED picks the stream.
 */
import { describe, it } from 'vitest';
import { note } from './support/notes.js';
import { fuzzRun } from './support/fuzzRun.js';

const seed = Number(process.env.FUZZ_SEED ?? 20_250_903);

describe('a provider under 106,000 fuzzed frames (SEC-9)', () => {
  it(`no crash, every legitimate task completes (seed ${seed})`, async () => {
    const started = Date.now();
    const stats = await fuzzRun({ frames: 106_000, lanes: 8, tasks: 100, seed });
    note(
      `fuzz: ${stats.sent} frames, ${(stats.bytes / 1e6).toFixed(1)} MB, ${stats.connections} connections, ${stats.providerFramesIn} taken in by the provider (rejected ${JSON.stringify(stats.providerRejected)}) in ${Date.now() - started} ms; ` +
        `closes ${JSON.stringify(stats.closes)}; kinds ${JSON.stringify(stats.kinds)}`,
    );
  }, 600_000);
});
