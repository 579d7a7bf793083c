/**
 * Exact time travel for SimulatedClock.
 *
 * `clock.increment(ms)` moves time to the END of the jump and then fires every due timer, so a
 * timer scheduled by a callback during that flush starts counting from the end: chained timers
 * (ping then pong timeout, suspect then expiry, backoff then connect) drift by up to the size of
 * the jump. `advanceClock` instead steps to each next due time in order, so every timer fires at
 * exactly its due time and what it schedules counts from there: a run is the same whether it is
 * advanced in one call or in many.
 *
 * It reads SimulatedClock's private `timeouts` map (xstate 5.33); should that field change, it
 * falls back to 1 ms steps, which gives the same result for integer delays, only slower.
 */
import type { SimulatedClock } from 'xstate';

function nextDueMs(clock: SimulatedClock): number | undefined {
  const timeouts = (clock as unknown as { timeouts?: unknown }).timeouts;
  if (!(timeouts instanceof Map)) return undefined;
  let earliestMs = Number.POSITIVE_INFINITY;
  for (const entry of timeouts.values() as Iterable<{ start?: unknown; timeout?: unknown }>) {
    if (typeof entry?.start !== 'number' || typeof entry.timeout !== 'number') return undefined;
    earliestMs = Math.min(earliestMs, entry.start + entry.timeout);
  }
  return earliestMs;
}

/** Advances the clock to `targetMs` (absolute), firing every timer at exactly its due time. */
export function advanceClockTo(clock: SimulatedClock, targetMs: number): void {
  clock.increment(0); // fire whatever is already due
  while (clock.now() < targetMs) {
    const now = clock.now();
    const next = nextDueMs(clock);
    const step = next === undefined || next <= now ? now + 1 : next;
    clock.increment(Math.min(step, targetMs) - now);
  }
}

/** Advances the clock by `ms`, firing every timer at exactly its due time. */
export function advanceClock(clock: SimulatedClock, ms: number): void {
  advanceClockTo(clock, clock.now() + ms);
}
