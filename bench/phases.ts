/**
 * One measurement each, run by the orchestrator (bench/run.ts) with fresh processes: a server
 * process (bench/serve.ts) and the process that measures against it.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { type System } from './common.js';
import { BenchProcess, type BenchEvent } from './procs.js';
import { formatSummary, loadProfile, summarise, type ProfileSummary } from './profile.js';

export interface LoadSettings {
  readonly warmup: number;
  readonly count: number;
  readonly tpWarmupMs: number;
  readonly tpMs: number;
  readonly inFlight: readonly number[];
}

export type Figures = Record<string, number>;

const num = (event: BenchEvent, key: string): number => Number(event[key]);

async function startServer(system: System, args: readonly string[] = [], nodeFlags: readonly string[] = []): Promise<{ server: BenchProcess; ready: BenchEvent; starting: BenchEvent }> {
  const server = new BenchProcess(`${system} server`, 'serve.ts', [system, ...args], nodeFlags);
  const starting = await server.event('starting', 30_000);
  const ready = await server.event('ready', 30_000);
  return { server, ready, starting };
}

/** Latency (sequential) and throughput (closed loop, each in-flight level) of the trivial operation. */
export async function measureLoad(system: System, settings: LoadSettings): Promise<Figures> {
  const { server, ready } = await startServer(system);
  try {
    const phases = ['latency', ...settings.inFlight.map((k) => `tp${k}`)].join(',');
    const load = new BenchProcess(`${system} load`, 'load.ts', [
      system,
      '--port', String(ready.port ?? 0),
      '--phases', phases,
      '--warmup', String(settings.warmup),
      '--count', String(settings.count),
      '--tp-warmup-ms', String(settings.tpWarmupMs),
      '--tp-ms', String(settings.tpMs),
    ]);
    await load.event('done', 240_000);
    const figures: Figures = {};
    // CPU time per task on each side, in each phase's measured window (bench/cpu.ts).
    for (const window of load.events.filter((e) => e.event === 'window')) {
      const completed = num(window, 'completed');
      if (!(completed > 0)) continue;
      const from = server.events.length;
      server.send({ cmd: 'cpu', fromUs: num(window, 'startUs'), toUs: num(window, 'endUs') });
      const serverCpu = num(await server.event('cpu', 10_000, from), 'cpuUs');
      figures[`${String(window.phase)}ClientCpuUs`] = num(window, 'cpuUs') / completed;
      if (serverCpu >= 0) figures[`${String(window.phase)}ServerCpuUs`] = serverCpu / completed;
    }
    for (const event of load.events.filter((e) => e.event === 'result')) {
      if (event.phase === 'latency') {
        figures.p50Us = num(event, 'p50Us');
        figures.p99Us = num(event, 'p99Us');
        figures.meanUs = num(event, 'meanUs');
      } else {
        figures[String(event.phase)] = num(event, 'perSecond');
        if (num(event, 'failed') > 0) figures[`${String(event.phase)}Failed`] = num(event, 'failed');
      }
    }
    await load.exited;
    return figures;
  } finally {
    await server.stop();
  }
}

/**
 * A client already running when the provider process starts: provider start (just before
 * provider.start() / broker.start()) to the client seeing the service, and to its first call
 * having returned. Also from the provider process's own start (Node boot and module loading).
 */
export async function measureRunningClient(system: 'switchboard' | 'moleculer'): Promise<Figures> {
  const watcher = new BenchProcess(`${system} watcher`, 'discovery.ts', ['watch', system]);
  let server: BenchProcess | undefined;
  try {
    await watcher.event('watching', 30_000);
    const started = await startServer(system);
    server = started.server;
    const seen = await watcher.event('seen', 60_000);
    const first = await watcher.event('firstCall', 60_000);
    return {
      seenMs: seen.at - started.starting.at,
      firstCallMs: first.at - started.starting.at,
      seenSinceProcessMs: seen.at - num(started.starting, 'processStartAt'),
    };
  } finally {
    await watcher.stop();
    await server?.stop();
  }
}

/** A client process started while the provider runs: until it knows the provider, and until its first call returned. */
export async function measureFreshClient(system: 'switchboard' | 'moleculer'): Promise<Figures> {
  const { server } = await startServer(system);
  const client = new BenchProcess(`${system} fresh client`, 'discovery.ts', ['fresh', system]);
  try {
    const known = await client.event('known', 60_000);
    const first = await client.event('firstCall', 60_000);
    return {
      knownMs: num(known, 'sinceStartMs'),
      firstCallMs: num(first, 'sinceStartMs'),
      firstCallSinceProcessMs: num(first, 'sinceProcessMs'),
    };
  } finally {
    await client.stop();
    await server.stop();
  }
}

/**
 * `tasks` long-running tasks in flight on one switchboard provider, sent by a raw ws generator
 * (bench/flood.ts): heap per in-flight task (after full GCs, before and after) and the
 * provider's time per admitted task, per block of 1,000, while saturated.
 */
export async function measureInFlight(tasks: number): Promise<Figures> {
  const { server, ready } = await startServer('switchboard', ['--flood', '--capacity', String(tasks)], ['--expose-gc', '--max-old-space-size=8192']);
  const flood = new BenchProcess('flood', 'flood.ts', ['--endpoint', String(ready.endpoint), '--tasks', String(tasks)]);
  try {
    await flood.event('warmed', 60_000);
    const heapFrom = server.events.length;
    server.send({ cmd: 'heap' });
    const before = await server.event('heap', 30_000, heapFrom);
    flood.send({ cmd: 'go' });
    const flooded = await flood.event('flooded', 300_000);
    // Every task acknowledged; wait for every handler to have started too.
    let starts: BenchEvent;
    for (let tries = 0; ; tries++) {
      const from = server.events.length;
      server.send({ cmd: 'starts' });
      starts = await server.event('starts', 30_000, from);
      if (num(starts, 'count') >= tasks || tries > 100) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const afterFrom = server.events.length;
    server.send({ cmd: 'heap' });
    const after = await server.event('heap', 60_000, afterFrom);
    const blocks = (starts.blockUs as number[]) ?? [];
    const gcBlocks = (starts.blockGcUs as number[]) ?? [];
    const head = blocks.slice(0, 5);
    const tail = blocks.slice(-5);
    const mean = (values: number[]) => (values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length);
    // The curve: mean time per task in each tenth of the run (admitD1 .. admitD10).
    const deciles: Figures = {};
    for (let d = 0; d < 10; d++) {
      const part = blocks.slice(Math.floor((d * blocks.length) / 10), Math.floor(((d + 1) * blocks.length) / 10));
      deciles[`admitD${d + 1}`] = mean(part);
    }
    return {
      tasks,
      started: num(starts, 'count'),
      failed: num(flooded, 'failed'),
      heapPerTaskBytes: (num(after, 'heapUsed') - num(before, 'heapUsed')) / tasks,
      rssPerTaskBytes: (num(after, 'rss') - num(before, 'rss')) / tasks,
      admitFirstUs: blocks[0] ?? Number.NaN,
      admitLastUs: blocks.at(-1) ?? Number.NaN,
      admitFirst5Us: mean(head),
      admitLast5Us: mean(tail),
      admitGrowth: mean(tail) / mean(head),
      /** The same without the GC pauses inside those blocks: the admission work itself. */
      admitFirst5NoGcUs: mean(head) - mean(gcBlocks.slice(0, 5)),
      admitLast5NoGcUs: mean(tail) - mean(gcBlocks.slice(-5)),
      admitGrowthNoGc: (mean(tail) - mean(gcBlocks.slice(-5))) / (mean(head) - mean(gcBlocks.slice(0, 5))),
      gcShare: gcBlocks.reduce((sum, v) => sum + v, 0) / Math.max(1e-9, blocks.reduce((sum, v) => sum + v, 0)),
      floodMs: num(flooded, 'elapsedMs'),
      admittedPerSecond: (tasks / num(flooded, 'elapsedMs')) * 1_000,
      ...deciles,
    };
  } catch (error) {
    const ended = server.events.filter((event) => event.event === 'sessionEnded');
    throw ended.length === 0 ? error : new Error(`${(error as Error).message}; provider sessions ended: ${JSON.stringify(ended.slice(0, 3))}`);
  } finally {
    await flood.stop(3_000);
    await server.stop(15_000);
  }
}

/** Heap snapshots of a provider before and after `tasks` tasks were admitted (for bench/heap.ts). */
export async function snapshotInFlight(tasks: number, dir: string): Promise<{ before: string; after: string }> {
  mkdirSync(dir, { recursive: true });
  const { server, ready } = await startServer('switchboard', ['--flood', '--capacity', String(tasks)], ['--expose-gc', '--max-old-space-size=8192']);
  const flood = new BenchProcess('flood', 'flood.ts', ['--endpoint', String(ready.endpoint), '--tasks', String(tasks)]);
  try {
    await flood.event('warmed', 60_000);
    const files = { before: path.join(dir, 'before.heapsnapshot'), after: path.join(dir, 'after.heapsnapshot') };
    let from = server.events.length;
    server.send({ cmd: 'snapshot', file: files.before });
    await server.event('snapshot', 120_000, from);
    flood.send({ cmd: 'go' });
    await flood.event('flooded', 300_000);
    for (let tries = 0; tries < 100; tries++) {
      from = server.events.length;
      server.send({ cmd: 'starts' });
      if (num(await server.event('starts', 30_000, from), 'count') >= tasks) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    from = server.events.length;
    server.send({ cmd: 'snapshot', file: files.after });
    await server.event('snapshot', 300_000, from);
    return files;
  } finally {
    await flood.stop(3_000);
    await server.stop(15_000);
  }
}

/** The main thread's profile in `dir` (tsx's loader thread writes a second, smaller one). */
function mainProfile(dir: string): string {
  const files = readdirSync(dir).filter((file) => file.endsWith('.cpuprofile'));
  const main = files.find((file) => /\.\d+\.0\.\d+\.cpuprofile$/.test(file));
  const chosen = main ?? files.sort((a, b) => statSync(path.join(dir, b)).size - statSync(path.join(dir, a)).size)[0];
  if (chosen === undefined) throw new Error(`no .cpuprofile in ${dir}`);
  return path.join(dir, chosen);
}

/** switchboard at `inFlight` tasks in flight with --cpu-prof on the provider and the client, cut to the measured window. */
export async function profileThroughput(
  dir: string,
  inFlight: number,
  tpMs: number,
): Promise<{ provider: ProfileSummary; client: ProfileSummary; perSecond: number; text: string }> {
  const providerDir = path.join(dir, 'provider');
  const clientDir = path.join(dir, 'client');
  mkdirSync(providerDir, { recursive: true });
  mkdirSync(clientDir, { recursive: true });
  const { server } = await startServer('switchboard', [], ['--cpu-prof', '--cpu-prof-interval=250', `--cpu-prof-dir=${providerDir}`]);
  let window: BenchEvent;
  let result: BenchEvent;
  try {
    const load = new BenchProcess('switchboard load (profiled)', 'load.ts', ['switchboard', '--phases', `tp${inFlight}`, '--tp-ms', String(tpMs)], [
      '--cpu-prof',
      '--cpu-prof-interval=250',
      `--cpu-prof-dir=${clientDir}`,
    ]);
    window = await load.event('window', 120_000);
    result = await load.event('result', 30_000);
    await load.exited;
  } finally {
    await server.stop();
  }
  const cut = { startUs: num(window, 'startUs'), endUs: num(window, 'endUs'), tasks: num(window, 'completed'), top: 30 };
  const provider = summarise(loadProfile(mainProfile(providerDir)), cut);
  const client = summarise(loadProfile(mainProfile(clientDir)), cut);
  const text = [formatSummary(`provider (tp${inFlight})`, provider), '', formatSummary(`client (tp${inFlight})`, client)].join('\n');
  return { provider, client, perSecond: num(result, 'perSecond'), text };
}
