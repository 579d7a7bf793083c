/**
 * A server process: the provider side of one system (see bench/systems.ts).
 *
 *   node --import tsx bench/serve.ts <switchboard|ws|moleculer> [--flood] [--capacity N]
 *
 * Prints `starting` (just before the provider / broker / server starts: the origin of the
 * discovery figures) and `ready` ({ port } for ws). Commands on stdin:
 *   {"cmd":"heap"}     -> `heap` { heapUsed, rss, external } after two full GCs (needs --expose-gc)
 *   {"cmd":"starts"}   -> `starts` { count, blockUs: [us per task for each block of 1,000 hold starts] }
 *   {"cmd":"release"}  -> releases every held task, `released` { count }
 *   {"cmd":"cpu","fromUs":A,"toUs":B} -> `cpu` { cpuUs }: this process's CPU time in that hrtime window (bench/cpu.ts)
 *   {"cmd":"snapshot","file":F} -> writes a heap snapshot to F (bench/heap.ts reads two of them)
 *   {"cmd":"stop"}     -> stops and exits 0 (so --cpu-prof writes its profile)
 * `--flood` raises switchboard's limits for 200,000 running tasks (the in-flight test).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { startCpuSampler } from './cpu.js';
import { writeHeapSnapshot } from 'node:v8';
import {
  hasFlag,
  isSystem,
  nowMs,
  numberArg,
  onCommand,
  report,
  reportCrashes,
  within,
} from './common.js';
import {
  addEchoService,
  floodLimits,
  holdStarted,
  holdStarts,
  moleculerBroker,
  prepareHold,
  releaseHeld,
  switchboardProvider,
  throughputLimits,
  wsEchoServer,
} from './systems.js';

reportCrashes();
const system = process.argv[2];
if (!isSystem(system)) throw new TypeError(`serve: unknown system ${system}`);
// A forgotten server must not outlive the benchmark.
setTimeout(() => process.exit(3), numberArg('lifetime-ms', 20 * 60_000)).unref();

prepareHold(numberArg('capacity', 0));
const cpu = startCpuSampler();

/** GC pauses (start, duration in ms, performance.now() clock), to tell GC from admission work. */
const gcPauses: Array<[number, number]> = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (gcPauses.length < 1_000_000) gcPauses.push([entry.startTime, entry.duration]);
}).observe({ entryTypes: ['gc'] });

/** GC time (ms) inside [from, to). */
function gcWithin(from: number, to: number): number {
  let total = 0;
  for (const [start, duration] of gcPauses) {
    const overlap = Math.min(to, start + duration) - Math.max(from, start);
    if (overlap > 0) total += overlap;
  }
  return total;
}

let stop: () => Promise<void>;

report('starting', { system, pid: process.pid, processStartAt: performance.timeOrigin });
if (system === 'switchboard') {
  const provider = switchboardProvider(hasFlag('flood') ? floodLimits : throughputLimits);
  // A session that ends during a benchmark is worth knowing about (why did a client go away?).
  provider.on('session.ended', (event) => report('sessionEnded', { ...event }));
  const { endpoint } = await provider.start();
  stop = () => provider.stop();
  report('ready', { endpoint });
} else if (system === 'ws') {
  const server = await wsEchoServer();
  stop = server.close;
  report('ready', { port: server.port });
} else {
  const broker = moleculerBroker(`bench-provider-${process.pid}`);
  addEchoService(broker);
  await broker.start();
  stop = () => broker.stop();
  report('ready', {});
}

const fullGc = (): void => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('serve: run with --expose-gc for heap figures');
  gc();
  gc();
};

onCommand((command) => {
  switch (command.cmd) {
    case 'heap': {
      fullGc();
      const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage();
      report('heap', { heapUsed, rss, external, arrayBuffers });
      return;
    }
    case 'starts': {
      const count = Math.min(holdStarted, holdStarts.length);
      const blockUs: number[] = [];
      const blockGcUs: number[] = [];
      for (let end = 1_000; end < count; end += 1_000) {
        const from = holdStarts[end - 1_000] as number;
        const to = holdStarts[end] as number;
        // ms per 1,000 tasks is us per task.
        blockUs.push(to - from);
        blockGcUs.push(gcWithin(from, to));
      }
      report('starts', { count: holdStarted, blockUs, blockGcUs });
      return;
    }
    case 'snapshot': {
      // A heap snapshot for bench/heap.ts (what an in-flight task is made of).
      fullGc();
      report('snapshot', { file: writeHeapSnapshot(String(command.file)) });
      return;
    }
    case 'cpu': {
      // CPU time (user + system, us) between two process.hrtime stamps of the client's window.
      report('cpu', { cpuUs: cpu.between(Number(command.fromUs), Number(command.toUs)) ?? -1 });
      return;
    }
    case 'release':
      report('released', { count: releaseHeld() });
      return;
    case 'stop':
      void within(stop(), 5_000, 'stop')
        .catch(() => undefined)
        .then(() => {
          report('stopped', { at: nowMs() });
          process.exit(0);
        });
      return;
    default:
      throw new Error(`serve: unknown command ${command.cmd}`);
  }
});
