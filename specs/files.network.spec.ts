/**
 * File transfers under faults, as a property (FILE-2, FILE-7, FILE-11, FILE-12): a client's and a
 * provider's FileTransfers (the real statecharts and stores) joined by a simulated link whose
 * every delivery is a timer on a SimulatedClock, in order per direction as on a TCP connection,
 * with random delays, stalls (nothing delivered for a while), chunks corrupted by a broken sender,
 * and the link cut at a random moment. Each "task" uploads its files (some shared with other
 * tasks) and then runs only if the provider holds every one of them for this client (FILE-10).
 *
 * Invariants: no file is ever in the provider's store under a hash its bytes do not have; every
 * transfer and every task ends, done or failed with a code of ERROR_CODES; a task that runs has
 * every file intact; a corrupted transfer never ends done.
 *
 * This is a property over a simulated link, not over the whole simulated network of
 * runtime/simulate (its hosts have no file links yet).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { decodeChunkFrame } from '../machines/files/chunkFrame.js';
import type { FileRef } from '../machines/files/fileRef.js';
import { fileMessageSchemas, type FileDraft, type FileMessage } from '../machines/files/messages.js';
import { isErrorCode } from '../machines/errors.js';
import { openMemoryFileStore } from '../runtime/files/fileStore.js';
import { FileTransfers, type TransferLink, type TransferResult } from '../runtime/files/transfers.js';
import * as z from 'zod';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const scenarioArb = fc.record({
  files: fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 1, maxLength: 4 }),
  tasks: fc.array(fc.array(fc.nat(3), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
  chunkBytes: fc.integer({ min: 512, max: 8_192 }),
  creditsMax: fc.integer({ min: 1, max: 16 }),
  delayMaxMs: fc.integer({ min: 0, max: 40 }),
  stall: fc.option(fc.record({ atMs: fc.integer({ min: 0, max: 400 }), forMs: fc.integer({ min: 100, max: 3_000 }) }), { nil: undefined }),
  corruptEvery: fc.option(fc.integer({ min: 2, max: 40 }), { nil: undefined }),
  cutAtMs: fc.option(fc.integer({ min: 0, max: 2_000 }), { nil: undefined }),
  seed: fc.integer(),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

async function run(scenario: Scenario) {
  const clock = new SimulatedClock();
  let random = scenario.seed >>> 0;
  const next = () => {
    random = (Math.imul(random, 1_664_525) + 1_013_904_223) >>> 0;
    return random / 2 ** 32;
  };
  const clientStore = openMemoryFileStore();
  const providerStore = openMemoryFileStore({ bytesMax: 120_000 });
  const sides: Partial<Record<'client' | 'provider', FileTransfers>> = {};
  const lastAt = { client: 0, provider: 0 };
  let cut = false;
  let chunksSent = 0;
  const corruptedTransfers = new Set<string>();
  const deliver = (from: 'client' | 'provider', fn: () => void) => {
    const now = clock.now();
    let at = Math.max(lastAt[from], now + Math.floor(next() * (scenario.delayMaxMs + 1)));
    const stall = scenario.stall;
    if (stall !== undefined && at >= stall.atMs && at < stall.atMs + stall.forMs) at = stall.atMs + stall.forMs;
    lastAt[from] = at;
    clock.setTimeout(() => {
      if (!cut) fn();
    }, at - now);
  };
  const linkFrom = (from: 'client' | 'provider'): TransferLink => {
    const to = from === 'client' ? 'provider' : 'client';
    return {
      sendMessage(draft: FileDraft) {
        const text = JSON.stringify({ ...draft, messageId: draft.messageId ?? 'm', timestamp: 0 });
        deliver(from, () => {
          const parsed = JSON.parse(text) as { type: keyof typeof fileMessageSchemas };
          sides[to]?.receive(z.decode(fileMessageSchemas[parsed.type] as z.ZodType<FileMessage>, parsed as never));
        });
      },
      sendChunk(frame: Uint8Array) {
        const copy = frame.slice();
        const decoded = decodeChunkFrame(copy, 1 << 20);
        // A broken sender: now and then a chunk's last byte is changed (the header stays valid).
        if (decoded.ok && scenario.corruptEvery !== undefined && ++chunksSent % scenario.corruptEvery === 0 && decoded.frame.data.byteLength > 0) {
          copy[copy.byteLength - 1] = (copy[copy.byteLength - 1]! + 1) & 0xff;
          corruptedTransfers.add(decoded.frame.transferId);
        }
        deliver(from, () => {
          const again = decodeChunkFrame(copy, 1 << 20);
          if (again.ok) sides[to]?.receiveChunk(again.frame);
        });
      },
    };
  };
  let ids = 0;
  const limits = { chunkBytes: scenario.chunkBytes, creditsMax: scenario.creditsMax, idleTimeoutMs: 1_000 };
  sides.client = new FileTransfers({ store: clientStore, link: linkFrom('client'), identity: 'provider', clientId: 'c1', limits, clock, newId: () => `t${++ids}` });
  sides.provider = new FileTransfers({ store: providerStore, link: linkFrom('provider'), identity: 'c1', clientId: 'c1', limits, clock, newId: () => `p${++ids}` });
  if (scenario.cutAtMs !== undefined) {
    clock.setTimeout(() => {
      cut = true;
      sides.client?.close();
      sides.provider?.close();
    }, scenario.cutAtMs);
  }

  const contents = scenario.files.map((size, index) => new Uint8Array(size).map((_, i) => (i * 31 + index * 7 + scenario.seed) & 0xff));
  const refs: FileRef[] = [];
  for (const bytes of contents) refs.push(await clientStore.add(bytes));
  const transfers: TransferResult[] = [];
  const tasks = scenario.tasks.map(async (uses) => {
    const files = [...new Set(uses.map((use) => use % refs.length))].map((index) => refs[index]!);
    const results = await Promise.all(files.map((file) => sides.client!.upload(file, 'Files')));
    transfers.push(...results);
    const failed = results.find((result) => result.end.status === 'failed');
    if (failed !== undefined && failed.end.status === 'failed') return { status: 'failed' as const, code: failed.end.code };
    // FILE-10: the task runs only when the provider holds every file for this client.
    for (const file of files) if (!providerStore.has(file.sha256) || !providerStore.mayAccess(file.sha256, 'c1')) return { status: 'failed' as const, code: 'FILE_NOT_FOUND' };
    for (const file of files) expect(sha256(await providerStore.read(file.sha256))).toBe(file.sha256);
    return { status: 'done' as const };
  });
  let settled = false;
  const all = Promise.all(tasks).finally(() => (settled = true));
  // Virtual time moves in steps; between steps the stores' promises run.
  for (let step = 0; step < 2_000 && !settled; step++) {
    clock.increment(10);
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(settled, 'every task ended within 20 virtual seconds').toBe(true);
  // The provider's side ends too (its peer's FileFailed, or its own idle timer, FILE-7).
  for (let step = 0; step < 2_000 && (sides.provider.active > 0 || sides.client.active > 0); step++) {
    clock.increment(10);
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(sides.provider.active + sides.client.active, 'every transfer ended on both sides').toBe(0);
  for (let flush = 0; flush < 5; flush++) await new Promise((resolve) => setImmediate(resolve));
  const outcomes = await all;
  return { outcomes, transfers, providerStore, corruptedTransfers, sides };
}

describe('file transfers under faults (property)', () => {
  it('FILE-2, FILE-7, FILE-11: no file is kept under a wrong hash; every transfer and task ends done or with a code', async () => {
    let faulty = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const { outcomes, transfers, providerStore, corruptedTransfers } = await run(scenario);
        if (scenario.corruptEvery !== undefined || scenario.cutAtMs !== undefined || scenario.stall !== undefined) faulty++;
        for (const outcome of outcomes) if (outcome.status === 'failed') expect(isErrorCode(outcome.code), outcome.code).toBe(true);
        for (const transfer of transfers) {
          if (transfer.end.status === 'failed') expect(isErrorCode(transfer.end.code), transfer.end.code).toBe(true);
          else if (!transfer.end.have) expect(corruptedTransfers.has(transfer.transferId), `transfer ${transfer.transferId} was corrupted yet done`).toBe(false);
        }
        // The store's own invariant: every file it holds has the hash it is held under.
        const held = (await Promise.all(transfers.map(async (t) => (providerStore.has(t.file.sha256) ? [t.file.sha256, sha256(await providerStore.read(t.file.sha256))] : undefined)))).filter(
          (pair): pair is [string, string] => pair !== undefined,
        );
        for (const [name, actual] of held) expect(actual).toBe(name);
        expect(providerStore.stats().reservedBytes).toBe(0);
      }),
      { numRuns: 25 },
    );
    expect(faulty).toBeGreaterThan(5);
  }, 60_000);
});
