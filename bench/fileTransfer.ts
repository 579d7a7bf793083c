/**
 * Task files on loopback, the wired path (issue 15 target): a file of `--mb` MiB (default 100) as
 * the input of a task, sent by switchboard's client to a real provider in another process
 * (bench/fileReceiver.ts): `assign` puts it in the client's cache (SHA-256), offers it on the file
 * link, sends it in chunks with credits, the provider verifies it and writes it to its disk store,
 * then the AssignTask runs and its result comes back. Side by side, in the same run and
 * alternating, a raw ws binary stream of the same bytes in the same chunk size to the same
 * provider process (a side channel of its WebSocket server; counted, not stored). Medians of
 * `--rounds` (default 3). Then a second task with the same file: its content bytes must be 0
 * (FILE-3).
 *
 * Three figures per round: the raw stream; the upload phase of the task (from the first chunk's
 * progress report to the last: the transfer itself); the whole task (assign to result: hashing
 * into the cache, offer, transfer, verification, AssignTask, result).
 *
 *   node --import tsx bench/fileTransfer.ts [--mb 100] [--rounds 3] [--chunk 262144] [--credits 16]
 */
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { createClient } from '../runtime/client.js';
import { fileFrom } from '../runtime/files/taskFile.js';
import { LOOPBACK_BROADCAST, numberArg, spread } from './common.js';
import { BenchProcess, killAll } from './procs.js';

const mib = numberArg('mb', 100);
const rounds = numberArg('rounds', 3);
const chunkBytes = numberArg('chunk', 262_144);
const creditsMax = numberArg('credits', 16);
const discoveryPort = numberArg('discovery-port', 50_073);
const size = mib * 1_048_576;

/** Waits while the socket holds more than `mark` bytes not yet written (what the file link does too). */
async function drained(socket: WebSocket, mark = 8 * 1_048_576): Promise<void> {
  while (socket.bufferedAmount > mark) await new Promise((resolve) => setImmediate(resolve));
}

async function rawRound(endpoint: string, data: Uint8Array): Promise<number> {
  const socket = new WebSocket(`${endpoint}/raw?bytes=${data.byteLength}`);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
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

const provider = new BenchProcess('provider', 'fileReceiver.ts', ['--discovery-port', String(discoveryPort), '--chunk', String(chunkBytes), '--credits', String(creditsMax)], process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []);
const client = createClient({
  discovery: { port: discoveryPort, broadcastAddresses: [LOOPBACK_BROADCAST] },
  files: { bytesMax: 2 ** 33, fileBytesMax: 2 ** 31, limits: { chunkBytes, creditsMax, fileBytesMax: 2 ** 31 } },
  log: () => {},
});
try {
  const { endpoint } = (await provider.event('listening')) as unknown as { endpoint: string };
  await client.waitFor('FileSink', { timeoutMs: 10_000 });
  const raw: number[] = [];
  const upload: number[] = [];
  const whole: number[] = [];
  const second: number[] = [];
  /** CPU ms of this (the client's) process per round: the raw stream's, and the task's. */
  const rawCpu: number[] = [];
  const taskCpu: number[] = [];
  let secondBytes = -1;
  for (let round = 0; round < rounds; round++) {
    // New content every round, so the provider's store never holds it before its first transfer.
    const data = new Uint8Array(randomBytes(size));
    const cpu0 = process.cpuUsage();
    raw.push(await rawRound(endpoint, data));
    const cpu1 = process.cpuUsage(cpu0);
    rawCpu.push((cpu1.user + cpu1.system) / 1000);
    let firstAt = 0;
    let firstBytes = 0;
    let lastAt = 0;
    const started = performance.now();
    const task = client.assign('FileSink', 'consume', { input: fileFrom(data, { name: `round${round}.bin` }) });
    task.onProgress((progress) => {
      if (progress.phase !== 'upload' || progress.bytes === undefined) return;
      if (firstAt === 0) [firstAt, firstBytes] = [performance.now(), progress.bytes];
      lastAt = performance.now();
    });
    const result = (await task.result) as { size: number };
    whole.push(performance.now() - started);
    const cpu2 = process.cpuUsage(cpu0);
    taskCpu.push((cpu2.user + cpu2.system - cpu1.user - cpu1.system) / 1000);
    if (result.size !== size) throw new Error(`the task saw ${result.size} bytes`);
    upload.push(((lastAt - firstAt) * size) / (size - firstBytes));
    const sentBefore = client.files.counters.bytesSent;
    const againStarted = performance.now();
    await client.assign('FileSink', 'consume', { input: fileFrom(data, { name: `round${round}.bin` }) }).result;
    second.push(performance.now() - againStarted);
    secondBytes = Math.max(secondBytes, client.files.counters.bytesSent - sentBefore);
  }
  const mibPerS = (ms: number) => mib / (ms / 1000);
  const line = (label: string, values: number[], note = '') => {
    const s = spread(values.map(mibPerS));
    console.log(`${label.padEnd(44)} ${s.median.toFixed(0).padStart(5)} [${s.min.toFixed(0)}..${s.max.toFixed(0)}]${note}`);
    return s.median;
  };
  console.log(`task files on loopback, ${mib} MiB input, chunks of ${chunkBytes} bytes, window ${creditsMax} chunks, ${rounds} rounds (median [min..max] MiB/s)`);
  const rawMedian = line('raw ws binary stream (same process, same chunks)', raw);
  const uploadMedian = line('task upload phase (file link, verified, disk)', upload);
  const wholeMedian = line('whole task (hash, offer, transfer, task, result)', whole);
  console.log(`upload phase: ${((100 * uploadMedian) / rawMedian).toFixed(0)}% of raw; whole task: ${((100 * wholeMedian) / rawMedian).toFixed(0)}% of raw`);
  console.log(`client CPU per round: raw stream ${spread(rawCpu).median.toFixed(0)} ms, task ${spread(taskCpu).median.toFixed(0)} ms (medians)`);
  const secondS = spread(second);
  console.log(`second task with the same file: ${secondBytes} content bytes sent, ${secondS.median.toFixed(0)} ms median (hashing into the cache included)`);
} finally {
  await client.stop();
  await provider.stop();
  await killAll();
}
