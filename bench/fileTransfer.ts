/**
 * Task files on loopback (issue 15 target): one file of `--mb` MiB (default 100) sent over one
 * WebSocket by switchboard's file transfers (runtime/files: offer, need, chunks with credits,
 * SHA-256 verified, written to a disk store), side by side with a raw ws binary stream of the
 * same bytes in the same chunk size (counted, not stored), in the same run, alternating, median of
 * `--rounds` (default 3). The receiver is a separate process (bench/fileReceiver.ts); this process
 * sends (from a disk store: the page cache, as a provider sending a result would). Then a second
 * transfer of the same file to the same store: its content bytes must be 0 (FILE-3).
 *
 *   node --import tsx bench/fileTransfer.ts [--mb 100] [--rounds 3] [--chunk 262144] [--credits 16]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import * as z from 'zod';
import { fileMessageSchemas, type FileMessage } from '../machines/files/messages.js';
import { formatTimestamp } from '../machines/timestamp.js';
import { openDiskFileStore } from '../runtime/files/fileStore.js';
import { FileTransfers } from '../runtime/files/transfers.js';
import { numberArg, spread } from './common.js';
import { BenchProcess, killAll } from './procs.js';

const mib = numberArg('mb', 100);
const rounds = numberArg('rounds', 3);
const chunkBytes = numberArg('chunk', 262_144);
const creditsMax = numberArg('credits', 16);
const size = mib * 1_048_576;

const open = (url: string) =>
  new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(url, { maxPayload: 1_100_000 });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });

/** Waits while the socket holds more than `mark` bytes not yet written. */
async function drained(socket: WebSocket, mark = 8 * 1_048_576): Promise<void> {
  while (socket.bufferedAmount > mark) await new Promise((resolve) => setImmediate(resolve));
}

async function rawRound(port: number, data: Uint8Array): Promise<number> {
  const socket = await open(`ws://127.0.0.1:${port}/raw?bytes=${data.byteLength}`);
  const done = new Promise((resolve) => socket.once('message', resolve));
  const started = performance.now();
  for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
    socket.send(data.subarray(offset, Math.min(offset + chunkBytes, data.byteLength)));
    await drained(socket);
  }
  await done;
  const ms = performance.now() - started;
  socket.close();
  return ms;
}

async function filesRound(port: number, store: Awaited<ReturnType<typeof openDiskFileStore>>, sha256: string, storeName: string) {
  const socket = await open(`ws://127.0.0.1:${port}/files?store=${storeName}&chunk=${chunkBytes}&credits=${creditsMax}`);
  let ids = 0;
  const transfers = new FileTransfers({
    store,
    identity: 'bench-provider',
    clientId: 'bench-client',
    newId: () => `t${++ids}`,
    limits: { chunkBytes, creditsMax, fileBytesMax: 2 ** 31 },
    link: {
      sendMessage: (draft) => socket.send(JSON.stringify({ ...draft, messageId: draft.messageId ?? `c${++ids}`, timestamp: formatTimestamp(Date.now()) })),
      sendChunk: (frame) => {
        socket.send(frame);
        return drained(socket);
      },
    },
  });
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    const value = JSON.parse(String(data)) as { type: keyof typeof fileMessageSchemas };
    transfers.receive(z.decode(fileMessageSchemas[value.type] as z.ZodType<FileMessage>, value as never));
  });
  const started = performance.now();
  const result = await transfers.upload({ sha256, size }, 'Bench');
  const ms = performance.now() - started;
  socket.close();
  if (result.end.status !== 'done') throw new Error(`transfer failed: ${JSON.stringify(result.end)}`);
  return { ms, bytes: transfers.counters.bytesSent, have: result.end.have };
}

const receiver = new BenchProcess('receiver', 'fileReceiver.ts', []);
const sendDir = await mkdtemp(path.join(tmpdir(), 'switchboard-bench-send-'));
try {
  const { port } = (await receiver.event('listening')) as unknown as { port: number };
  const store = await openDiskFileStore(sendDir, { bytesMax: 2 ** 33, fileBytesMax: 2 ** 31 });
  const raw: number[] = [];
  const files: number[] = [];
  let secondBytes = -1;
  for (let round = 0; round < rounds; round++) {
    // New content every round, so the receiver's store never holds it before its first transfer.
    const data = new Uint8Array(randomBytes(size));
    const ref = await store.add(data);
    raw.push(await rawRound(port, data));
    files.push((await filesRound(port, store, ref.sha256, `round${round}`)).ms);
    const second = await filesRound(port, store, ref.sha256, `round${round}`);
    secondBytes = Math.max(secondBytes, second.bytes);
    if (!second.have) throw new Error('the second transfer was not answered FileHave');
  }
  const mibPerS = (ms: number) => mib / (ms / 1000);
  const rawS = spread(raw.map(mibPerS));
  const filesS = spread(files.map(mibPerS));
  console.log(`file transfer on loopback, ${mib} MiB, chunks of ${chunkBytes} bytes, window ${creditsMax} chunks, ${rounds} rounds (median [min..max] MiB/s)`);
  console.log(`raw ws binary stream:        ${rawS.median.toFixed(0)} [${rawS.min.toFixed(0)}..${rawS.max.toFixed(0)}]`);
  console.log(`switchboard file transfer:   ${filesS.median.toFixed(0)} [${filesS.min.toFixed(0)}..${filesS.max.toFixed(0)}]  (${((100 * filesS.median) / rawS.median).toFixed(0)}% of raw; SHA-256 verified, written to disk)`);
  console.log(`second transfer of the same file: ${secondBytes} content bytes sent`);
} finally {
  await receiver.stop();
  await killAll();
  await rm(sendDir, { recursive: true, force: true });
}
