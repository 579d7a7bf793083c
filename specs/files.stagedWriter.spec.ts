/**
 * The write-behind of a disk store's arriving files (runtime/files/stagedWriter.ts): whatever the
 * chunk sizes, the bytes land in a real file in order; what it holds awaiting the disk never
 * exceeds its blocks (the bound FILE-4's credits rely on); a failed write fails what follows, and
 * the store then keeps nothing and frees its reservation.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { openDiskFileStore } from '../runtime/files/fileStore.js';
import { StagedWriter } from '../runtime/files/stagedWriter.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchboard-staged-'));
  dirs.push(dir);
  return dir;
}
const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + seed) & 0xff);
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A write the spec completes by hand: how a slow disk looks to the writer. */
function heldWrites() {
  const pending: Array<{ length: number; done: () => void; fail: (error: Error) => void }> = [];
  const writeAt = (_block: Uint8Array, length: number) =>
    new Promise<void>((resolve, reject) => pending.push({ length, done: resolve, fail: reject }));
  return { pending, writeAt };
}

const settledWithin = async (promise: Promise<unknown>, turns = 5): Promise<boolean> => {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
};

describe('staged writes of an arriving file', () => {
  it('writes any sequence of chunk sizes to a real file, in order, byte for byte', async () => {
    const dir = await tempDir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 20 }), fc.integer({ min: 1, max: 512 }), fc.integer({ min: 2, max: 4 }), async (sizes, blockBytes, blocks) => {
        const file = path.join(dir, `f${run++}`);
        const handle = await open(file, 'wx');
        const data = bytesOf(sizes.reduce((sum, n) => sum + n, 0), run);
        const writer = new StagedWriter(async (block, length, position) => {
          await handle.write(block, 0, length, position);
        }, { blockBytes, blocks });
        let offset = 0;
        for (const n of sizes) {
          await writer.write(offset, data.subarray(offset, offset + n), data.byteLength);
          offset += n;
        }
        await writer.flush();
        await handle.close();
        expect(Buffer.from(await readFile(file)).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('FILE-4: holds at most blocks x blockBytes awaiting the disk, writes one block at a time, and the next write waits for one to finish', async () => {
    const disk = heldWrites();
    const writer = new StagedWriter(disk.writeAt, { blockBytes: 100, blocks: 3 });
    // 300 bytes fill the three blocks: all taken at once; one write started, the others queued.
    for (let i = 0; i < 3; i++) await writer.write(i * 100, bytesOf(100, i));
    await new Promise((resolve) => setImmediate(resolve));
    expect(disk.pending.map((write) => write.length)).toEqual([100]);
    // The disk is slow: the next chunk is not taken (its sender gets no credit meanwhile).
    const fourth = writer.write(300, bytesOf(50, 3));
    expect(await settledWithin(fourth)).toBe(false);
    disk.pending[0]?.done();
    expect(await settledWithin(fourth)).toBe(true);
    const flushed = writer.flush();
    for (let i = 1; i <= 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      // Never more than one write in progress.
      expect(disk.pending).toHaveLength(i + 1);
      disk.pending[i]?.done();
    }
    await flushed;
    expect(disk.pending.map((write) => write.length)).toEqual([100, 100, 100, 50]);
  });

  it('refuses a write out of order, and fails what follows a failed write with its error', async () => {
    const disk = heldWrites();
    const writer = new StagedWriter(disk.writeAt, { blockBytes: 10, blocks: 2 });
    await expect(writer.write(5, bytesOf(3, 1))).rejects.toThrow(RangeError);
    await writer.write(0, bytesOf(10, 1));
    disk.pending[0]?.fail(new Error('EIO: the disk failed'));
    await new Promise((resolve) => setImmediate(resolve));
    await expect(writer.write(10, bytesOf(4, 2))).rejects.toThrow('EIO');
    await expect(writer.flush()).rejects.toThrow('EIO');
    await writer.drop();
  });

  it('a disk store that fails to keep an arrived file (at its end, where write-behind failures surface) keeps nothing and frees its reservation', async () => {
    const dir = await tempDir();
    const store = await openDiskFileStore(dir, { bytesMax: 10_000_000 });
    const data = bytesOf(3_000_000, 9);
    const begun = store.begin({ sha256: sha(data), size: data.byteLength });
    if (!begun.ok) throw new Error('refused');
    await begun.incoming.write(data.subarray(0, 1_000_000));
    // The incoming directory disappears under the writer: the staged writes still succeed (an
    // unlinked file stays writable on Linux) and the commit at the end fails, as a failed
    // write-behind does.
    for (const name of await readdir(path.join(dir, 'incoming'))) await rm(path.join(dir, 'incoming', name));
    await rm(path.join(dir, 'incoming'), { recursive: true });
    const rest = begun.incoming.write(data.subarray(1_000_000)).then(() => begun.incoming.finish());
    await expect(rest).rejects.toThrow();
    expect(store.has(sha(data))).toBe(false);
    expect(store.stats().reservedBytes).toBe(0);
  });
});
