/**
 * The real clock the runtime gives its actor systems: XState's default (setTimeout and
 * clearTimeout) plus `now()`, which the per-host timer wheel (machines/host/timerWheel.ts) needs.
 */
export const realClock = {
  setTimeout: (fn: (...args: unknown[]) => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (id: unknown): void => clearTimeout(id as NodeJS.Timeout),
  now: (): number => performance.now(),
};
