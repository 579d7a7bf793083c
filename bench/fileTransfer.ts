/**
 * Task files on loopback, the wired path (issue 15 target): a file of `--mb` MiB (default 100) as
 * the input of a task, sent by switchboard's client to a real provider in another process
 * (bench/fileReceiver.ts): `assign` puts it in the client's cache (SHA-256), offers it on the file
 * link, sends it in chunks with credits, the provider verifies it and writes it to its disk store,
 * then the AssignTask runs and its result comes back. Side by side, in the same run and
 * alternating, a raw ws binary stream of the same bytes in the same chunk size to the same
 * provider process (a side channel of its WebSocket server; counted, not stored), with the same
 * ws (and the same native helpers, when installed) in both processes. Medians of `--rounds`
 * (default 5). Then a second task with the same file: its content bytes must be 0 (FILE-3).
 *
 * Three figures per round, each ending on the provider's clock:
 * - raw: first send to the provider counting the last byte;
 * - upload phase: the first chunk (its progress report, extrapolated back by its bytes) to the
 *   provider's handler starting (so the last chunks' flight, the verification, FileDone and the
 *   AssignTask are inside);
 * - whole task: assign to result (hashing into the cache, offer, transfer, verification, task, result).
 * And CPU time (process.cpuUsage, user + system) per 100 MiB in each process over each window:
 * the client's measured in place, the provider's sampled every 10 ms (bench/cpu.ts).
 *
 *   node --import tsx bench/fileTransfer.ts [--mb 100] [--rounds 5] [--chunk 262144] [--credits 16] [--profile DIR]
 *
 * `--profile DIR`: CPU profiles of both processes (the provider with --cpu-prof, the client with
 * the inspector), summarised for the last round's raw window and upload window (bench/profile.ts).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { createClient } from '../runtime/client.js';
import { fileFrom } from '../runtime/files/taskFile.js';
import { argOf, hrtimeUs, LOOPBACK_BROADCAST, nowMs, numberArg, spread } from './common.js';
import { cpuNowUs } from './cpu.js';
import { BenchProcess, killAll } from './procs.js';
import { formatSummary, loadProfile, summarise } from './profile.js';

const mib = numberArg('mb', 100);
const rounds = numberArg('rounds', 5);
const chunkBytes = numberArg('chunk', 262_144);
const creditsMax = numberArg('credits', 16);
const discoveryPort = numberArg('discovery-port', 50_073);
const profileDir = argOf('profile');
const size = mib * 1_048_576;

/** How ws masks and unmasks here (both processes load the same ws): bufferutil's native code when installed and not turned off. */
function wsMasking(): string {
  if (process.env.WS_NO_BUFFER_UTIL) return 'JavaScript (WS_NO_BUFFER_UTIL set)';
  try {
    createRequire(import.meta.url)('bufferutil');
    return 'native (bufferutil)';
  } catch {
    return 'JavaScript (bufferutil not installed)';
  }
}

/** One phase: its wall time and the client's CPU in it, with the hrtime window the provider is asked about. */
interface Phase {
  ms: number;
  clientCpuUs: number;
  fromUs: number;
  toUs: number;
  providerCpuUs?: number;
}

/** Waits while the socket holds more than `mark` bytes not yet written (what the file link does too). */
async function drained(socket: WebSocket, mark = 8 * 1_048_576): Promise<void> {
  while (socket.bufferedAmount > mark) await new Promise((resolve) => setImmediate(resolve));
}

/** A moment on three clocks: wall (comparable with the provider's), hrtime (profiles, CPU samples), this process's CPU. */
const stamp = () => ({ at: nowMs(), us: hrtimeUs(), cpu: cpuNowUs() });
type Stamp = ReturnType<typeof stamp>;

/** A phase from `from` to a wall time `endAt` taken in the provider; the client's CPU up to `cpuEnd`. */
function phase(from: Stamp, endAt: number, cpuEnd: Stamp, scale = 1): Phase {
  const ms = (endAt - from.at) * scale;
  return { ms, clientCpuUs: cpuEnd.cpu - from.cpu, fromUs: from.us, toUs: from.us + Math.round((endAt - from.at) * 1000) };
}

async function rawRound(endpoint: string, data: Uint8Array): Promise<Phase> {
  const socket = new WebSocket(`${endpoint}/raw?bytes=${data.byteLength}`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const done = new Promise<string>((resolve) => socket.once('message', (message) => resolve(String(message))));
  const started = stamp();
  for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
    socket.send(data.subarray(offset, Math.min(offset + chunkBytes, data.byteLength)));
    await drained(socket);
  }
  const endAt = Number((await done).split(' ')[1]);
  const result = phase(started, endAt, stamp());
  socket.close();
  return result;
}

const provider = new BenchProcess(
  'provider',
  'fileReceiver.ts',
  ['--discovery-port', String(discoveryPort), '--chunk', String(chunkBytes), '--credits', String(creditsMax)],
  profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir, 'provider')}`],
);
const client = createClient({
  discovery: { port: discoveryPort, broadcastAddresses: [LOOPBACK_BROADCAST] },
  files: { bytesMax: 2 ** 33, fileBytesMax: 2 ** 31, limits: { chunkBytes, creditsMax, fileBytesMax: 2 ** 31 } },
  log: () => {},
});
const profiler = profileDir === undefined ? undefined : new Session();
const providerCpu = async (p: Phase): Promise<void> => {
  const from = provider.events.length;
  provider.send({ cmd: 'cpu', fromUs: p.fromUs, toUs: p.toUs });
  p.providerCpuUs = Number((await provider.event('cpu', 10_000, from)).cpuUs);
};
try {
  const { endpoint } = (await provider.event('listening')) as unknown as { endpoint: string };
  await client.waitFor('FileSink', { timeoutMs: 10_000 });
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const raw: Phase[] = [];
  const upload: Phase[] = [];
  const whole: Phase[] = [];
  const second: number[] = [];
  let secondBytes = -1;
  for (let round = 0; round < rounds; round++) {
    // New content every round, so the provider's store never holds it before its first transfer.
    const data = new Uint8Array(randomBytes(size));
    raw.push(await rawRound(endpoint, data));
    let first: Stamp | undefined;
    let firstBytes = 0;
    const started = stamp();
    const task = client.assign('FileSink', 'consume', { input: fileFrom(data, { name: `round${round}.bin` }) });
    task.onProgress((progress) => {
      if (progress.phase !== 'upload' || progress.bytes === undefined || first !== undefined || progress.bytes === 0) return;
      [first, firstBytes] = [stamp(), progress.bytes];
    });
    const result = (await task.result) as { size: number; startedAt: number };
    const ended = stamp();
    if (result.size !== size) throw new Error(`the task saw ${result.size} bytes`);
    if (first === undefined) throw new Error('no upload progress');
    whole.push(phase(started, ended.at, ended));
    // The first chunk's own time, extrapolated back at the rate of the rest.
    upload.push(phase(first, result.startedAt, ended, size / (size - firstBytes)));
    const sentBefore = client.files.counters.bytesSent;
    const againStarted = performance.now();
    await client.assign('FileSink', 'consume', { input: fileFrom(data, { name: `round${round}.bin` }) }).result;
    second.push(performance.now() - againStarted);
    secondBytes = Math.max(secondBytes, client.files.counters.bytesSent - sentBefore);
  }
  for (const p of [...raw, ...upload, ...whole]) await providerCpu(p);

  const mibPerS = (p: Phase) => mib / (p.ms / 1000);
  const per100 = (us: number | undefined) => ((us ?? Number.NaN) / 1000) * (100 / mib);
  const fmt = (values: number[], digits = 0) => {
    const s = spread(values);
    return `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}..${s.max.toFixed(digits)}]`;
  };
  const line = (label: string, phases: Phase[]) =>
    console.log(
      `${label.padEnd(50)} ${fmt(phases.map(mibPerS)).padStart(16)} MiB/s   CPU per 100 MiB: client ${fmt(phases.map((p) => per100(p.clientCpuUs)))} ms, provider ${fmt(phases.map((p) => per100(p.providerCpuUs)))} ms`,
    );
  console.log(`task files on loopback, ${mib} MiB input, chunks of ${chunkBytes} bytes, window ${creditsMax} chunks, ${rounds} rounds (median [min..max])`);
  console.log(`ws masking in both processes: ${wsMasking()}; load average at the end: ${loadavg().map((value) => value.toFixed(1)).join(' ')}`);
  line('raw ws binary stream (same processes, same chunks)', raw);
  line('task upload phase (file link, verified, on disk)', upload);
  line('whole task (hash, offer, transfer, task, result)', whole);
  const ratios = (phases: Phase[]) => phases.map((p, i) => (100 * (raw[i] as Phase).ms) / p.ms);
  const median = (phases: Phase[]) => spread(phases.map(mibPerS)).median;
  console.log(
    `upload phase: ${((100 * median(upload)) / median(raw)).toFixed(0)}% of raw (each round against its own raw: ${fmt(ratios(upload))}); ` +
      `whole task: ${((100 * median(whole)) / median(raw)).toFixed(0)}% of raw (${fmt(ratios(whole))})`,
  );
  console.log(`second task with the same file: ${secondBytes} content bytes sent, ${spread(second).median.toFixed(0)} ms median (hashing into the cache included)`);

  if (profiler && profileDir) {
    const { profile } = await profiler.post('Profiler.stop');
    const clientFile = path.resolve(profileDir, 'client.cpuprofile');
    mkdirSync(profileDir, { recursive: true });
    writeFileSync(clientFile, JSON.stringify(profile));
    await provider.stop();
    const providerDir = path.resolve(profileDir, 'provider');
    const providerFile = path.join(providerDir, readdirSync(providerDir).filter((name) => name.endsWith('.cpuprofile')).sort()[0] as string);
    const last = rounds - 1;
    for (const [side, file] of [['client', clientFile], ['provider', providerFile]] as const) {
      const loaded = loadProfile(file);
      for (const [label, p] of [['raw stream', raw[last] as Phase], ['upload phase', upload[last] as Phase]] as const) {
        console.log(formatSummary(`${side}, ${label} of the last round`, summarise(loaded, { startUs: p.fromUs, endUs: p.toUs, top: Number(argOf("top", "15")) })));
      }
    }
  }
} finally {
  await client.stop();
  await provider.stop();
  await killAll();
}
