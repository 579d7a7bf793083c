/**
 * What every benchmark process shares: the clock, the JSON-line protocol with the orchestrator
 * (bench/run.ts), the loopback-only network constants, and small statistics.
 *
 * Clock: `nowMs()` is `performance.timeOrigin + performance.now()`, epoch milliseconds with
 * sub-millisecond resolution; processes on one host read the same wall clock, so a time taken in
 * one process can be subtracted from one taken in another (discovery figures do that).
 */
import { createInterface } from 'node:readline';

/** LOOPBACK ONLY: every broadcast of the benchmarks goes here, nowhere else. */
export const LOOPBACK_BROADCAST = '127.255.255.255';
export const LOOPBACK = '127.0.0.1';
/** switchboard's discovery port during the benchmarks (not the well-known 50001, so a demo elsewhere is not disturbed). */
export const SWITCHBOARD_UDP_PORT = 50_071;
/** Moleculer's UDP discovery port during the benchmarks (its default is 4445). */
export const MOLECULER_UDP_PORT = 54_471;
export const SERVICE_NAME = 'Bench';

export const systems = ['switchboard', 'ws', 'moleculer'] as const;
export type System = (typeof systems)[number];

export function isSystem(value: unknown): value is System {
  return typeof value === 'string' && (systems as readonly string[]).includes(value);
}

/** Epoch milliseconds, sub-millisecond resolution, comparable across processes on one host. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** `process.hrtime` in microseconds: the clock of V8's CPU profiles (for cutting a profile to a phase). */
export const hrtimeUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** One event to the orchestrator: one JSON object per line on stdout. */
export function report(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, at: nowMs(), ...fields })}\n`);
}

/** Commands from the orchestrator: one JSON object per line on stdin. */
export function onCommand(handler: (command: { cmd: string; [key: string]: unknown }) => void): void {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (text) => {
    if (text.trim() === '') return;
    try {
      handler(JSON.parse(text));
    } catch (error) {
      report('fatal', { message: String((error as Error)?.stack ?? error) });
      process.exit(70);
    }
  });
  // The orchestrator went away: do not linger.
  lines.on('close', () => process.exit(0));
}

/** A crash becomes a `fatal` event the orchestrator shows, and a non-zero exit. */
export function reportCrashes(): void {
  const fatal = (error: unknown) => {
    report('fatal', { message: String((error as Error)?.stack ?? error) });
    process.exit(70);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

/** `--name value` from argv, or the fallback. */
export function argOf(name: string, fallback?: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

export function numberArg(name: string, fallback: number): number {
  const text = argOf(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new RangeError(`--${name} must be a number, got ${text}`);
  return value;
}

export const hasFlag = (name: string): boolean => process.argv.includes(`--${name}`);

/** The value at quantile `q` (0..1) of ascending `sorted` (nearest rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly values: readonly number[];
}

/** Median with min and max of the rounds (NaN values, from failed rounds, are left out). */
export function spread(values: readonly number[]): Spread {
  const kept = values.filter((value) => Number.isFinite(value));
  const sorted = [...kept].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median =
    sorted.length === 0
      ? Number.NaN
      : sorted.length % 2 === 1
        ? (sorted[Math.floor(middle)] as number)
        : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted.at(-1) ?? Number.NaN, values };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` with a message naming what did not happen. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
