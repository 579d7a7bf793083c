/**
 * A client process: latency and throughput of the trivial operation against a running server.
 *
 *   node --import tsx bench/load.ts <switchboard|ws|moleculer|switchboard-nats|moleculer-nats> [--port P] [--url nats://...]
 *     [--phases latency,tp1,tp16,tp256,tp1024]
 *     [--warmup 500] [--count 2000] [--tp-warmup-ms 500] [--tp-ms 2000]
 *
 * - latency: `warmup` calls, then `count` sequential calls, each timed (call to result).
 * - tpK: a closed loop with K calls in flight (K workers, each starting a new call when its
 *   previous one settles) for `tp-warmup-ms`, then completions are counted for `tp-ms`.
 * Prints `connected`, then one `result` per phase; every phase also prints `window` with its
 * measured interval in process.hrtime microseconds (bench/profile.ts cuts profiles to it, and
 * the orchestrator asks the server for its CPU time in it) and this process's CPU time in it;
 * a tp phase prints `mark` at its edges (bench/natsPhases.ts samples the server there), and its
 * result has the client's CPU time over the window (`clientCpuUs`).
 */
import { hrtimeUs, isSystem, numberArg, argOf, quantile, report, reportCrashes, sleep } from './common.js';
import { cpuNowUs } from './cpu.js';
import { moleculerCaller, switchboardCaller, wsCaller, type Caller } from './systems.js';
import { isNatsSystem, natsCaller } from './natsSystems.js';

reportCrashes();
const system = process.argv[2];
if (!isSystem(system) && !isNatsSystem(system)) throw new TypeError(`load: unknown system ${system}`);
setTimeout(() => process.exit(3), numberArg('lifetime-ms', 10 * 60_000)).unref();

const phases = (argOf('phases') ?? 'latency,tp1,tp16,tp256,tp1024').split(',');
const warmup = numberArg('warmup', 500);
const count = numberArg('count', 2_000);
const tpWarmupMs = numberArg('tp-warmup-ms', 500);
const tpMs = numberArg('tp-ms', 2_000);

const caller: Caller = isNatsSystem(system)
  ? await natsCaller(system, argOf('url') ?? 'nats://127.0.0.1:4222')
  : system === 'switchboard'
    ? await switchboardCaller()
    : system === 'ws'
      ? await wsCaller(numberArg('port', 0))
      : await moleculerCaller();
report('connected', { system });

async function latency(): Promise<void> {
  for (let i = 0; i < warmup; i++) await caller.call();
  const samples = new Float64Array(count);
  const startUs = hrtimeUs();
  const cpuStart = cpuNowUs();
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await caller.call();
    samples[i] = (performance.now() - start) * 1_000;
  }
  const cpuUs = cpuNowUs() - cpuStart;
  const endUs = hrtimeUs();
  report('window', { phase: 'latency', startUs, endUs, completed: count, cpuUs });
  samples.sort();
  let sum = 0;
  for (const sample of samples) sum += sample;
  report('result', {
    phase: 'latency',
    count,
    p50Us: quantile(samples, 0.5),
    p99Us: quantile(samples, 0.99),
    meanUs: sum / count,
    maxUs: samples[count - 1],
  });
}

async function throughput(inFlight: number): Promise<void> {
  let running = true;
  let completed = 0;
  let failed = 0;
  const worker = async () => {
    while (running) {
      try {
        await caller.call();
        completed++;
      } catch {
        failed++;
      }
    }
  };
  const workers = Array.from({ length: inFlight }, worker);
  await sleep(tpWarmupMs);
  const startCompleted = completed;
  const startUs = hrtimeUs();
  const cpuStart = cpuNowUs();
  const start = performance.now();
  // The orchestrator samples the server's CPU at these marks (bench/natsPhases.ts).
  report('mark', { phase: `tp${inFlight}`, edge: 'start' });
  await sleep(tpMs);
  report('mark', { phase: `tp${inFlight}`, edge: 'end' });
  const done = completed - startCompleted;
  const elapsedMs = performance.now() - start;
  const cpuUs = cpuNowUs() - cpuStart;
  const endUs = hrtimeUs();
  running = false;
  await Promise.all(workers);
  report('window', { phase: `tp${inFlight}`, startUs, endUs, completed: done, cpuUs });
  report('result', { phase: `tp${inFlight}`, inFlight, completed: done, failed, elapsedMs, perSecond: (done / elapsedMs) * 1_000, clientCpuUs: cpuUs });
}

for (const phase of phases) {
  if (phase === 'latency') await latency();
  else if (/^tp\d+$/.test(phase)) await throughput(Number(phase.slice(2)));
  else throw new RangeError(`load: unknown phase ${phase}`);
}
await caller.close().catch(() => undefined);
report('done');
process.exit(0);
