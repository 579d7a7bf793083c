/**
 * The provider process of bench/fileTransfer.ts: a real switchboard provider on loopback hosting
 * `FileSink.consume({ input: taskFile() })` (the task reads the file's size from its store and
 * returns it with the time its handler started), its files in a disk store under a temp dir. On
 * the same WebSocket server, the side channel `/raw?bytes=N` counts the bytes of binary messages
 * and answers `done <time>` after N: the baseline, a raw ws binary stream into the same process.
 * Both end stamps are this process's clock (`nowMs`), so the two figures end in the same place.
 *
 * Reports `listening {endpoint}`; `{"cmd":"cpu","fromUs":A,"toUs":B}` -> `cpu {cpuUs}`, this
 * process's CPU time in that hrtime window (bench/cpu.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RawData, WebSocket } from 'ws';
import * as z from 'zod';
import { taskFile } from '../runtime/files/taskFile.js';
import { createProvider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { LOOPBACK, LOOPBACK_BROADCAST, nowMs, numberArg, onCommand, report, reportCrashes } from './common.js';
import { startCpuSampler } from './cpu.js';

reportCrashes();
const cpu = startCpuSampler();
const root = await mkdtemp(path.join(process.env.BENCH_FILES_DIR ?? tmpdir(), 'switchboard-bench-files-'));
const discoveryPort = numberArg('discovery-port', 50_073);
const chunkBytes = numberArg('chunk', 262_144);
const creditsMax = numberArg('credits', 16);

const bytesOf = (data: RawData): number => (Array.isArray(data) ? data.reduce((sum, part) => sum + part.byteLength, 0) : (data as Buffer | ArrayBuffer).byteLength);

function serveRaw(socket: WebSocket, request: { url?: string | undefined }): void {
  const expected = Number(new URL(request.url ?? '/', 'ws://x').searchParams.get('bytes'));
  let received = 0;
  socket.on('error', () => {});
  socket.on('message', (data, isBinary) => {
    if (!isBinary) return;
    received += bytesOf(data);
    if (received >= expected) socket.send(`done ${nowMs()}`);
  });
}

const sink = defineService({
  name: 'FileSink',
  version: '1.0.0',
  operations: {
    consume: {
      params: z.object({ input: taskFile() }),
      run: ({ input }, ctx) => ({ size: input.size, stored: ctx.files.path(input).length > 0, startedAt: nowMs() }),
    },
  },
});

const provider = createProvider({
  services: [sink],
  host: LOOPBACK,
  advertisedHost: LOOPBACK,
  discovery: { port: discoveryPort, broadcastAddresses: [LOOPBACK_BROADCAST] },
  server: { sideChannels: { '/raw': serveRaw } },
  files: { dir: root, bytesMax: 2 ** 33, fileBytesMax: 2 ** 31, limits: { chunkBytes, creditsMax, fileBytesMax: 2 ** 31 } },
  log: () => {},
});
const { endpoint } = await provider.start();
report('listening', { endpoint, filesDir: root });

onCommand((command) => {
  if (command.cmd === 'cpu') report('cpu', { cpuUs: cpu.between(Number(command.fromUs), Number(command.toUs)) ?? -1 });
  if (command.cmd === 'stop') {
    void provider
      .stop()
      .then(() => rm(root, { recursive: true, force: true }))
      .then(() => process.exit(0));
  }
});
