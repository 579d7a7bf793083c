/**
 * The receiving process of bench/fileTransfer.ts: a WebSocket server on loopback.
 * - `/raw`: counts the bytes of binary messages; after `?bytes=N` it answers "done" (the baseline);
 * - `/files?store=NAME`: runs switchboard's file transfers (runtime/files) over the connection into
 *   a disk store under a temp dir (one per NAME, kept between connections so a second transfer of
 *   the same file finds it), JSON envelopes for control, binary chunk frames for content.
 * Reports `listening {port}` and, per file transfer, `received {bytes, have}`; CPU time on request.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import * as z from 'zod';
import { decodeChunkFrame } from '../machines/files/chunkFrame.js';
import { fileMessageSchemas, type FileMessage } from '../machines/files/messages.js';
import { formatTimestamp } from '../machines/timestamp.js';
import { openDiskFileStore, type FileStore } from '../runtime/files/fileStore.js';
import { FileTransfers } from '../runtime/files/transfers.js';
import { onCommand, report, reportCrashes } from './common.js';

reportCrashes();
const root = await mkdtemp(path.join(tmpdir(), 'switchboard-bench-files-'));
const stores = new Map<string, FileStore>();
const FRAME_BYTES_MAX = 1_100_000;

const bytesOf = (data: RawData): Buffer => (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));

function serveRaw(socket: WebSocket, expected: number): void {
  let received = 0;
  socket.on('message', (data, isBinary) => {
    if (!isBinary) return;
    received += bytesOf(data).byteLength;
    if (received >= expected) socket.send('done');
  });
}

async function serveFiles(socket: WebSocket, storeName: string, chunkBytes: number, creditsMax: number): Promise<void> {
  // Messages that arrive while the store opens wait for it.
  const early: Array<[RawData, boolean]> = [];
  const hold = (data: RawData, isBinary: boolean) => early.push([data, isBinary]);
  socket.on('message', hold);
  let store = stores.get(storeName);
  if (store === undefined) {
    store = await openDiskFileStore(path.join(root, storeName), { bytesMax: 2 ** 31 });
    stores.set(storeName, store);
  }
  socket.off('message', hold);
  let ids = 0;
  const transfers = new FileTransfers({
    store,
    identity: 'bench-client',
    clientId: 'bench-client',
    newId: () => `p${++ids}`,
    limits: { chunkBytes, creditsMax, fileBytesMax: 2 ** 31 },
    link: {
      sendMessage: (draft) => socket.send(JSON.stringify({ ...draft, messageId: draft.messageId ?? `m${++ids}`, timestamp: formatTimestamp(Date.now()) })),
      sendChunk: (frame) => socket.send(frame),
    },
  });
  const before = { ...transfers.counters };
  const onMessage = (data: RawData, isBinary: boolean) => {
    const bytes = bytesOf(data);
    if (isBinary) {
      const decoded = decodeChunkFrame(bytes, FRAME_BYTES_MAX);
      if (decoded.ok) transfers.receiveChunk(decoded.frame);
      return;
    }
    const value = JSON.parse(bytes.toString('utf8')) as { type: keyof typeof fileMessageSchemas };
    const message = z.decode(fileMessageSchemas[value.type] as z.ZodType<FileMessage>, value as never);
    transfers.receive(message);
  };
  for (const [data, isBinary] of early) onMessage(data, isBinary);
  socket.on('message', onMessage);
  socket.on('close', () => {
    report('received', { bytes: transfers.counters.bytesReceived - before.bytesReceived, done: transfers.counters.done });
    transfers.close();
  });
}

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: FRAME_BYTES_MAX });
server.on('connection', (socket, request) => {
  const url = new URL(request.url ?? '/', 'ws://x');
  socket.on('error', () => {});
  if (url.pathname === '/raw') serveRaw(socket, Number(url.searchParams.get('bytes')));
  else void serveFiles(socket, url.searchParams.get('store') ?? 'default', Number(url.searchParams.get('chunk')), Number(url.searchParams.get('credits')));
});
server.on('listening', () => report('listening', { port: (server.address() as { port: number }).port }));

onCommand((command) => {
  if (command.cmd === 'cpu') report('cpu', { ...process.cpuUsage() });
  if (command.cmd === 'stop') {
    server.close();
    void rm(root, { recursive: true, force: true }).then(() => process.exit(0));
  }
});
