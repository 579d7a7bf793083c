import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { receiveTransferMachine, type ReceiveTransferToParentEvent } from '../machines/files/receiveTransfer.js';
import { openDiskFileStore, openMemoryFileStore } from '../runtime/files/fileStore.js';
import { linkedTransfers } from './support/fileLink.js';
import { createRecorder } from './support/recorder.js';

/** Byte equality without vitest's element-wise diff (slow on megabytes). */
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 0xff);
const stores = () => ({ clientStore: openMemoryFileStore(), providerStore: openMemoryFileStore() });

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('file transfers (FILE-1..FILE-11)', () => {
  it('FILE-3: uploads a file, verified; a second upload of the same file sends no content byte', async () => {
    const { clientStore, providerStore } = stores();
    const { client, wire } = linkedTransfers({ clientStore, providerStore, limits: { chunkBytes: 1000, creditsMax: 4 } });
    const data = bytesOf(10_500);
    const ref = await clientStore.add(data, { name: 'in.bin' });
    const first = await client.upload(ref, 'Images');
    expect(first.end).toEqual({ status: 'done', have: false, bytes: 10_500 });
    expect(sameBytes(await providerStore.read(ref.sha256), data)).toBe(true);
    expect(wire.chunkBytes).toBe(10_500);
    expect(wire.messages.map((m) => m.message.type).filter((t) => t !== 'FileCredit')).toEqual(['FileOffer', 'FileNeed', 'FileDone']);
    const second = await client.upload(ref, 'Images');
    expect(second.end).toEqual({ status: 'done', have: true, bytes: 0 });
    expect(wire.chunkBytes).toBe(10_500);
    expect(wire.messages.at(-1)?.message.type).toBe('FileHave');
  });

  it('FILE-8: another identity that offers the same content sends it (no confirmation oracle), and it is stored once', async () => {
    const { clientStore, providerStore } = stores();
    const data = bytesOf(5000);
    const held = await providerStore.add(data);
    providerStore.grantAccess(held.sha256, 'key:bob');
    const { client, wire } = linkedTransfers({ clientStore, providerStore, identity: 'key:alice', limits: { chunkBytes: 1000 } });
    const ref = await clientStore.add(data);
    expect((await client.upload(ref, 'Images')).end).toMatchObject({ status: 'done', have: false });
    expect(wire.chunkBytes).toBe(5000);
    expect(providerStore.stats()).toMatchObject({ files: 1, bytes: 5000, reservedBytes: 0 });
    expect(providerStore.mayAccess(held.sha256, 'key:alice')).toBe(true);
  });

  it('downloads a result the provider made for this identity; nothing moves when the client holds it', async () => {
    const { clientStore, providerStore } = stores();
    const data = bytesOf(7777, 3);
    const made = await providerStore.add(data, { name: 'out.png', mediaType: 'image/png' });
    providerStore.grantAccess(made.sha256, 'key:alice');
    const { client, wire } = linkedTransfers({ clientStore, providerStore, limits: { chunkBytes: 2048 } });
    expect((await client.download(made, 'Images')).end).toEqual({ status: 'done', have: false, bytes: 7777 });
    expect(sameBytes(await clientStore.read(made.sha256), data)).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(wire.messages.map((m) => m.message.type).filter((t) => t !== 'FileCredit')).toEqual(['FileRequest', 'FileOffer', 'FileNeed', 'FileDone']);
    const again = await client.download(made, 'Images');
    expect(again.end).toEqual({ status: 'done', have: true, bytes: 0 });
    expect(wire.chunkBytes).toBe(7777);
  });

  it('FILE-8: a file this identity may not know is FILE_NOT_FOUND, the same answer as a missing one', async () => {
    const { clientStore, providerStore } = stores();
    const secret = await providerStore.add(bytesOf(100, 9));
    providerStore.grantAccess(secret.sha256, 'key:bob');
    const { client, wire } = linkedTransfers({ clientStore, providerStore });
    const foreign = await client.download(secret, 'Images');
    const missing = await client.download({ sha256: 'a'.repeat(64), size: 100 }, 'Images');
    expect(foreign.end).toMatchObject({ status: 'failed', code: 'FILE_NOT_FOUND' });
    expect(missing.end).toMatchObject({ status: 'failed', code: 'FILE_NOT_FOUND' });
    const answers = wire.messages.filter((m) => m.from === 'provider').map((m) => ({ ...m.message.payload, transferId: '' }));
    expect(answers[0]).toEqual({ ...answers[1], message: expect.any(String) });
    expect(wire.chunkBytes).toBe(0);
  });

  it('FILE-9: the ACL decides file:put and file:get per service', async () => {
    const { clientStore, providerStore } = stores();
    const { client } = linkedTransfers({ clientStore, providerStore, authorize: (service, action) => service === 'Images' && action === 'file:get' });
    const ref = await clientStore.add(bytesOf(10));
    expect((await client.upload(ref, 'Images')).end).toMatchObject({ status: 'failed', code: 'FORBIDDEN' });
    expect(providerStore.has(ref.sha256)).toBe(false);
  });

  it('FILE-2: a chunk changed on the way fails FILE_HASH_MISMATCH at both ends and stores nothing', async () => {
    const { clientStore, providerStore } = stores();
    const { client, provider, wire } = linkedTransfers({ clientStore, providerStore, limits: { chunkBytes: 1000 } });
    wire.tamperChunk = (frame) => {
      const copy = frame.slice();
      copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 1;
      return copy;
    };
    const ref = await clientStore.add(bytesOf(3000));
    expect((await client.upload(ref, 'Images')).end).toMatchObject({ status: 'failed', code: 'FILE_HASH_MISMATCH' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(providerStore.has(ref.sha256)).toBe(false);
    expect(providerStore.stats()).toMatchObject({ files: 0, reservedBytes: 0 });
    expect(provider.counters).toMatchObject({ failed: 1, done: 0 });
  });

  it('FILE-6: refuses a file beyond the limit before any byte, and a full store with FILE_STORE_FULL', async () => {
    const clientStore = openMemoryFileStore();
    const { client, wire } = linkedTransfers({ clientStore, providerStore: openMemoryFileStore({ fileBytesMax: 1000 }) });
    const big = await clientStore.add(bytesOf(1001));
    expect((await client.upload(big, 'Images')).end).toMatchObject({ status: 'failed', code: 'FILE_TOO_LARGE', bytes: 0 });
    expect(wire.chunks).toBe(0);
    const full = linkedTransfers({ clientStore, providerStore: openMemoryFileStore({ bytesMax: 500 }) });
    const some = await clientStore.add(bytesOf(600, 2));
    expect((await full.client.upload(some, 'Images')).end).toMatchObject({ status: 'failed', code: 'FILE_STORE_FULL' });
  });

  it('FILE-4: a chunk sent without a credit fails the transfer with INVALID_MESSAGE', () => {
    const parent = createRecorder<ReceiveTransferToParentEvent>();
    const data = bytesOf(4000);
    const actor = createActor(receiveTransferMachine, {
      input: {
        mode: 'push',
        transferId: 't1',
        file: { sha256: sha(data), size: 4000 },
        limits: { fileBytesMax: 10_000, chunkBytes: 1000, creditsMax: 2, idleTimeoutMs: 1000 },
        parentRef: parent.ref,
      },
    }).start();
    actor.send({ type: 'store.reserved' });
    actor.send({ type: 'peer.chunk', index: 0, data: data.subarray(0, 1000) });
    actor.send({ type: 'peer.chunk', index: 1, data: data.subarray(1000, 2000) });
    actor.send({ type: 'peer.chunk', index: 2, data: data.subarray(2000, 3000) });
    expect(actor.getSnapshot().output?.end).toMatchObject({ status: 'failed', code: 'INVALID_MESSAGE', message: 'chunk 2 sent without a credit' });
    expect(parent.ofType('transfer.send').at(-1)?.draft).toMatchObject({ type: 'FileFailed', payload: { code: 'INVALID_MESSAGE' } });
  });

  it('FILE-7: a silent peer fails the transfer with TIMEOUT after idleTimeoutMs', async () => {
    const clock = new SimulatedClock();
    const { clientStore, providerStore } = stores();
    const { client, wire } = linkedTransfers({ clientStore, providerStore, clock, limits: { idleTimeoutMs: 5000 } });
    wire.silent = true;
    const ref = await clientStore.add(bytesOf(100));
    const pending = client.upload(ref, 'Images');
    clock.increment(4999);
    expect(client.active).toBe(1);
    clock.increment(1);
    expect((await pending).end).toMatchObject({ status: 'failed', code: 'TIMEOUT' });
  });

  it('cancel and a closed link end transfers and free what they reserved', async () => {
    const { clientStore, providerStore } = stores();
    const { client, provider, wire } = linkedTransfers({ clientStore, providerStore, limits: { chunkBytes: 1000, creditsMax: 1 } });
    const ref = await clientStore.add(bytesOf(50_000));
    let sent = 0;
    wire.tamperChunk = (frame) => {
      if (++sent === 3) client.cancel('t1');
      return frame;
    };
    expect((await client.upload(ref, 'Images')).end).toMatchObject({ status: 'failed', code: 'CANCELLED' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(provider.active).toBe(0);
    expect(providerStore.stats().reservedBytes).toBe(0);
    const pending = client.upload(ref, 'Images');
    client.close();
    expect((await pending).end).toMatchObject({ status: 'failed', code: 'CONNECTION_LOST' });
    expect((await client.upload(ref, 'Images')).end).toMatchObject({ status: 'failed', code: 'CONNECTION_LOST' });
  });

  it('FILE-4: whatever the sizes, chunks and window, the file arrives intact and never more than creditsMax chunks await writing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 64, max: 4096 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        async (size, chunkBytes, creditsMax, slowLink) => {
          const { clientStore, providerStore } = stores();
          const { client, provider, wire } = linkedTransfers({ clientStore, providerStore, limits: { chunkBytes, creditsMax } });
          // A link slow to take chunks: grants arrive while a run of chunks is still being sent.
          if (slowLink) wire.chunkDelayMs = () => (wire.chunks % 3 === 0 ? 2 : 0);
          let maxInFlight = 0;
          let inFlight = 0;
          wire.tamperChunk = (frame) => {
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight - provider.counters.bytesReceived / chunkBytes);
            return frame;
          };
          const data = bytesOf(size, size % 7);
          const ref = await clientStore.add(data);
          const result = await client.upload(ref, 'Images');
          expect(result.end).toEqual({ status: 'done', have: false, bytes: size });
          expect(sameBytes(await providerStore.read(ref.sha256), data)).toBe(true);
          expect(maxInFlight).toBeLessThanOrEqual(creditsMax + 1);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('a sender reuses a chunk frame only once the link released it: a link that writes behind gets every byte right', async () => {
    const { clientStore, providerStore } = stores();
    const { client, wire } = linkedTransfers({ clientStore, providerStore, limits: { chunkBytes: 1024, creditsMax: 8 } });
    wire.holdFrames = true;
    const data = bytesOf(64 * 1024 + 100, 3);
    const ref = await clientStore.add(data);
    expect((await client.upload(ref, 'Images')).end).toEqual({ status: 'done', have: false, bytes: data.byteLength });
    expect(sameBytes(await providerStore.read(ref.sha256), data)).toBe(true);
    // Released frames were used again (65 chunks, a window of 8).
    expect(wire.frames.size).toBeLessThan(wire.chunks / 2);
  });

  it('moves real files between two disk stores', async () => {
    const [a, b] = await Promise.all([mkdtemp(path.join(tmpdir(), 'sb-client-')), mkdtemp(path.join(tmpdir(), 'sb-provider-'))]);
    dirs.push(a, b);
    const clientStore = await openDiskFileStore(a);
    const providerStore = await openDiskFileStore(b);
    const { client } = linkedTransfers({ clientStore, providerStore });
    const data = bytesOf(3 * 262_144 + 17, 5);
    const ref = await clientStore.add(data);
    expect((await client.upload(ref, 'Images')).end.status).toBe('done');
    expect(providerStore.pathOf(ref.sha256)).toContain(path.join(b, 'objects'));
    expect(sameBytes(await providerStore.read(ref.sha256), data)).toBe(true);
  });
});
