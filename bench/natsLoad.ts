/**
 * A client process of the NATS comparison: latency and closed-loop throughput, as bench/load.ts,
 * plus its own CPU time over each throughput window and a `mark` at the window's edges (the
 * orchestrator samples the server's and nats-server's CPU there).
 *
 *   node --import tsx bench/natsLoad.ts <system> --url U [--phases latency,tp256] [--warmup 500]
 *     [--count 2000] [--tp-warmup-ms 500] [--tp-ms 2000]
 */
import { argOf, numberArg, quantile, report, reportCrashes, sleep } from './common.js';
import { isNatsSystem, natsCaller } from './natsSystems.js';

reportCrashes();
const system = process.argv[2];
if (!isNatsSystem(system)) throw new TypeError(`natsLoad: unknown system ${system}`);
setTimeout(() => process.exit(3), numberArg('lifetime-ms', 10 * 60_000)).unref();

const phases = (argOf('phases') ?? 'latency,tp256').split(',');
const warmup = numberArg('warmup', 500);
const count = numberArg('count', 2_000);
const tpWarmupMs = numberArg('tp-warmup-ms', 500);
const tpMs = numberArg('tp-ms', 2_000);
const caller = await natsCaller(system, argOf('url') ?? 'nats://127.0.0.1:4222');
report('connected', { system });

const cpuUs = () => {
  const { user, system: kernel } = process.cpuUsage();
  return user + kernel;
};

async function latency(): Promise<void> {
  for (let i = 0; i < warmup; i++) await caller.call();
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await caller.call();
    samples[i] = (performance.now() - start) * 1_000;
  }
  samples.sort();
  report('result', { phase: 'latency', count, p50Us: quantile(samples, 0.5), p99Us: quantile(samples, 0.99) });
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
  const phase = `tp${inFlight}`;
  const startCompleted = completed;
  const startCpu = cpuUs();
  const start = performance.now();
  report('mark', { phase, edge: 'start' });
  await sleep(tpMs);
  report('mark', { phase, edge: 'end' });
  const done = completed - startCompleted;
  const elapsedMs = performance.now() - start;
  const clientCpuUs = cpuUs() - startCpu;
  running = false;
  await Promise.all(workers);
  report('result', { phase, inFlight, completed: done, failed, elapsedMs, perSecond: (done / elapsedMs) * 1_000, clientCpuUs });
}

for (const phase of phases) {
  if (phase === 'latency') await latency();
  else if (/^tp\d+$/.test(phase)) await throughput(Number(phase.slice(2)));
  else throw new RangeError(`natsLoad: unknown phase ${phase}`);
}
await caller.close().catch(() => undefined);
report('done');
process.exit(0);
