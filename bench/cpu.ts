/**
 * CPU time per task: `process.cpuUsage()` (user + system) over a measured window, in the
 * process that measures (the client) and, through samples, in the server process.
 *
 * The server cannot know the client's window, so it samples its own CPU time every 10 ms on the
 * monotonic clock both processes share (process.hrtime); the orchestrator later asks for the CPU
 * time between the window's two hrtime stamps, interpolated between samples.
 */
import { hrtimeUs } from './common.js';

export const cpuNowUs = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** Samples this process's CPU time; `between(from, to)` is the CPU time spent in [from, to). */
export function startCpuSampler(periodMs = 10): { between(fromUs: number, toUs: number): number | undefined } {
  const times: number[] = [];
  const cpus: number[] = [];
  const sample = () => {
    if (times.length >= 200_000) return;
    times.push(hrtimeUs());
    cpus.push(cpuNowUs());
  };
  sample();
  setInterval(sample, periodMs).unref();
  const at = (us: number): number | undefined => {
    sample();
    if (us < (times[0] as number) || us > (times.at(-1) as number)) return undefined;
    let lo = 0;
    let hi = times.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((times[mid] as number) <= us) lo = mid;
      else hi = mid;
    }
    const t0 = times[lo] as number;
    const t1 = times[hi] as number;
    const c0 = cpus[lo] as number;
    const c1 = cpus[hi] as number;
    return t1 === t0 ? c0 : c0 + ((c1 - c0) * (us - t0)) / (t1 - t0);
  };
  return {
    between(fromUs, toUs) {
      const from = at(fromUs);
      const to = at(toUs);
      return from === undefined || to === undefined ? undefined : to - from;
    },
  };
}
