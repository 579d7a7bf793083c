import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_SHA256 } from '../machines/files/fileRef.js';
import { FileStore, openDiskFileStore, openMemoryFileStore, type FileStoreOptions } from '../runtime/files/fileStore.js';

/** Byte equality without vitest's element-wise diff (slow on megabytes). */
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchboard-store-'));
  dirs.push(dir);
  return dir;
}

const kinds: Array<[string, (options: FileStoreOptions) => Promise<FileStore>]> = [
  ['memory', async (options) => openMemoryFileStore(options)],
  ['disk', async (options) => openDiskFileStore(await tempDir(), options)],
];

describe.each(kinds)('file store (%s)', (_kind, open) => {
  it('FILE-2: names a file by the SHA-256 of its bytes and gives them back', async () => {
    const store = await open({});
    const data = bytesOf(1000);
    const ref = await store.add(data, { name: 'a.bin' });
    expect(ref).toEqual({ sha256: sha(data), size: 1000, name: 'a.bin' });
    expect(store.has(ref.sha256)).toBe(true);
    expect(sameBytes(await store.read(ref.sha256), data)).toBe(true);
    expect(await store.readRange(ref.sha256, 10, 5)).toEqual(data.subarray(10, 15));
    expect((await store.add(new Uint8Array(0))).sha256).toBe(EMPTY_SHA256);
  });

  it('FILE-2: keeps a file that arrived only when its bytes have the announced hash', async () => {
    const store = await open({});
    const data = bytesOf(3000, 2);
    const good = store.begin({ sha256: sha(data), size: data.byteLength });
    if (!good.ok) throw new Error('refused');
    await good.incoming.write(data.subarray(0, 1000));
    await good.incoming.write(data.subarray(1000));
    expect(await good.incoming.finish()).toEqual({ ok: true, file: { sha256: sha(data), size: 3000 } });
    expect(sameBytes(await store.read(sha(data)), data)).toBe(true);

    const forged = bytesOf(3000, 3);
    const claimed = sha(bytesOf(3000, 4));
    const bad = store.begin({ sha256: claimed, size: 3000 });
    if (!bad.ok) throw new Error('refused');
    await bad.incoming.write(forged);
    expect(await bad.incoming.finish()).toEqual({ ok: false, actualSha256: sha(forged) });
    expect(store.has(claimed)).toBe(false);
    expect(store.has(sha(forged))).toBe(false);
    expect(store.stats().reservedBytes).toBe(0);
  });

  it('refuses more bytes than announced, and files beyond fileBytesMax before any byte', async () => {
    const store = await open({ fileBytesMax: 100 });
    expect(store.begin({ sha256: sha(bytesOf(101)), size: 101 })).toEqual({ ok: false, code: 'FILE_TOO_LARGE' });
    const begun = store.begin({ sha256: sha(bytesOf(10)), size: 10 });
    if (!begun.ok) throw new Error('refused');
    await expect(begun.incoming.write(bytesOf(11))).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
    await begun.incoming.abort();
    expect(store.stats()).toMatchObject({ files: 0, reservedBytes: 0 });
  });

  it('FILE-6: stays within bytesMax by evicting the least recently used file', async () => {
    const store = await open({ bytesMax: 2500 });
    const a = await store.add(bytesOf(1000, 1));
    const b = await store.add(bytesOf(1000, 2));
    await store.read(a.sha256); // a is now more recent than b
    const c = await store.add(bytesOf(1000, 3));
    expect([store.has(a.sha256), store.has(b.sha256), store.has(c.sha256)]).toEqual([true, false, true]);
    expect(store.stats()).toMatchObject({ files: 2, bytes: 2000, evictions: 1, evictedBytes: 1000 });
    await expect(store.read(b.sha256)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('FILE-10: never evicts a pinned or leased file; refuses (FILE_STORE_FULL) and evicts nothing when room cannot be made', async () => {
    let now = 0;
    const store = await open({ bytesMax: 2000, nowMs: () => now });
    const a = await store.add(bytesOf(1000, 1));
    const b = await store.add(bytesOf(1000, 2));
    const unpin = store.pin(a.sha256) as () => void;
    store.lease(b.sha256, 5000);
    expect(store.begin({ sha256: sha(bytesOf(500, 9)), size: 500 })).toEqual({ ok: false, code: 'FILE_STORE_FULL' });
    await expect(store.add(bytesOf(500, 9))).rejects.toMatchObject({ code: 'FILE_STORE_FULL' });
    expect(store.stats()).toMatchObject({ files: 2, evictions: 0 });
    now = 5001; // the lease is over: b may go
    const c = await store.add(bytesOf(500, 9));
    expect([store.has(a.sha256), store.has(b.sha256), store.has(c.sha256)]).toEqual([true, false, true]);
    unpin();
    unpin(); // twice is harmless
    expect(store.stats().pinnedFiles).toBe(0);
  });

  it('FILE-6: counts bytes still arriving against the bound', async () => {
    const store = await open({ bytesMax: 1500 });
    const arriving = store.begin({ sha256: sha(bytesOf(1000)), size: 1000 });
    expect(arriving.ok).toBe(true);
    expect(store.begin({ sha256: sha(bytesOf(600, 5)), size: 600 })).toEqual({ ok: false, code: 'FILE_STORE_FULL' });
    if (arriving.ok) await arriving.incoming.abort();
    const later = store.begin({ sha256: sha(bytesOf(600, 5)), size: 600 });
    expect(later.ok).toBe(true);
    // Abort it: an incoming file holds an open file handle until it is finished or aborted.
    if (later.ok) await later.incoming.abort();
  });

  it('FILE-8: remembers which identities may learn a file is here', async () => {
    const store = await open({ accessPerFileMax: 2 });
    const ref = await store.add(bytesOf(10));
    expect(store.mayAccess(ref.sha256, 'alice')).toBe(false);
    store.grantAccess(ref.sha256, 'alice');
    store.grantAccess(ref.sha256, 'bob');
    store.grantAccess(ref.sha256, 'carol');
    expect(['alice', 'bob', 'carol'].map((who) => store.mayAccess(ref.sha256, who))).toEqual([false, true, true]);
    expect(store.mayAccess('0'.repeat(64), 'bob')).toBe(false);
  });
});

describe('file store on disk', () => {
  it('keeps files as real files named by their hash, and finds them again after a restart', async () => {
    const dir = await tempDir();
    const first = await openDiskFileStore(dir);
    const data = bytesOf(4096, 7);
    const ref = await first.add(data);
    const file = first.pathOf(ref.sha256) as string;
    expect(file).toBe(path.join(dir, 'objects', ref.sha256.slice(0, 2), ref.sha256));
    expect(new Uint8Array(await readFile(file))).toEqual(data);
    // A crash mid-transfer leaves a .part file; a stray file in objects/ is not a stored file.
    await writeFile(path.join(dir, 'incoming', 'left-over.part'), 'x');
    await mkdir(path.join(dir, 'objects', 'zz'), { recursive: true });
    await writeFile(path.join(dir, 'objects', 'zz', 'not-a-hash'), 'x');
    const second = await openDiskFileStore(dir);
    expect(second.has(ref.sha256)).toBe(true);
    expect(second.stats()).toMatchObject({ files: 1, bytes: 4096 });
    expect(await readdir(path.join(dir, 'incoming'))).toEqual([]);
    expect(sameBytes(await second.read(ref.sha256), data)).toBe(true);
  });

  it('deletes the bytes of an evicted file and of a failed arrival', async () => {
    const dir = await tempDir();
    const store = await openDiskFileStore(dir, { bytesMax: 1000 });
    const a = await store.add(bytesOf(800, 1));
    const bad = store.begin({ sha256: sha(bytesOf(100, 3)), size: 100 });
    if (!bad.ok) throw new Error('refused');
    await bad.incoming.write(bytesOf(100, 4));
    expect((await bad.incoming.finish()).ok).toBe(false);
    expect(await readdir(path.join(dir, 'incoming'))).toEqual([]);
    await store.add(bytesOf(800, 2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(readFile(path.join(dir, 'objects', a.sha256.slice(0, 2), a.sha256))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a file evicted and received again at once is not deleted by the late removal of its old copy', async () => {
    const dir = await tempDir();
    const store = await openDiskFileStore(dir, { bytesMax: 1000 });
    const a = bytesOf(600, 1);
    await store.add(a);
    await store.add(bytesOf(600, 2)); // evicts a, removal in flight
    await store.add(a); // evicts the second, a written again
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sameBytes(await store.read(sha(a)), a)).toBe(true);
  });
});
