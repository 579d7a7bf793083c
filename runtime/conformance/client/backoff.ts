/**
 * Judging reconnect delays (CONN-4), as pure functions over the reconnect scenario's log.
 *
 * The delay before attempt `n` (0-based) is measured from the failure the client reacted to: for
 * attempt 0 the abrupt close (`dropped`), for the others the refusal of the previous attempt.
 * Full jitter draws it from [0, min(cap, base x 2^n)). The suite allows, generously:
 * - one doubling too many (a client counting its first connect as attempt 0): the bound is
 *   min(cap, 2 x min(cap, base x 2^n)), so the cap itself is never exceeded;
 * - `backoffToleranceMs` on top of each bound (scheduling, the time to notice the failure).
 * Growth ("exponential"), judged with 4 delays or more on the later half of them: (a) measured
 * against their own ceilings they are not negligible, mean(d_n / min(cap, base x 2^n)) >= 0.03
 * (full jitter gives 0.5 on average; a tight loop about 0.002); and (b) their mean exceeds the
 * earlier half's, or one of them exceeds `base`. For a full-jitter client with 7 delays this fails
 * about once in 10^5 runs (simulated); a client in a tight loop fails it always.
 */
import { backoffCeilingMs } from '../../../machines/backoff.js';
import { markOf, ms, upgrades } from './observe.js';
import type { ClientSuiteTimings } from './options.js';
import type { ScenarioEvent } from './recorder.js';

export interface ReconnectObservation {
  readonly droppedAt: number;
  readonly attempts: readonly { readonly at: number; readonly connId: number; readonly refused: boolean }[];
  /** One per attempt, in ms. */
  readonly delays: readonly number[];
}

/** The attempts after the provider's abrupt close, and the delay before each; undefined if it never closed. */
export function reconnectAttempts(events: readonly ScenarioEvent[]): ReconnectObservation | undefined {
  const dropped = markOf(events, 'dropped');
  if (dropped === undefined) return undefined;
  const attempts = upgrades(events, dropped.at).map(({ at, connId, refused }) => ({ at, connId, refused }));
  const refusedAt = new Map<number, number>();
  for (const event of events) if (event.kind === 'refused') refusedAt.set(event.connId, event.at);
  const delays = attempts.map((attempt, n) => {
    const previous = attempts[n - 1];
    const since = previous === undefined ? dropped.at : (refusedAt.get(previous.connId) ?? previous.at);
    return Math.max(0, attempt.at - since);
  });
  return { droppedAt: dropped.at, attempts, delays };
}

/** At most 12 delays, for evidence. */
export const listMs = (delays: readonly number[]): string =>
  `${delays.slice(0, 12).map(Math.round).join(', ')}${delays.length > 12 ? `, … (${delays.length} in all)` : ''}`;

const mean = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);

export interface BackoffVerdict {
  readonly ok: boolean;
  readonly evidence: string;
}

/** Below this, the later delays are negligible against their ceilings: no growth. */
const GROWTH_RELATIVE_MIN = 0.03;

/** min(cap, base x 2^n), the full-jitter ceiling of attempt n (machines/backoff.ts). */
const ceilingMs = (attempt: number, timings: Pick<ClientSuiteTimings, 'backoffBaseMs' | 'backoffCapMs'>): number =>
  backoffCeilingMs(attempt, { delayMsBase: timings.backoffBaseMs, delayMsMax: timings.backoffCapMs, attemptsMax: attempt + 1 });

export function backoffBoundMs(attempt: number, timings: Pick<ClientSuiteTimings, 'backoffBaseMs' | 'backoffCapMs' | 'backoffToleranceMs'>): number {
  return Math.min(timings.backoffCapMs, 2 * ceilingMs(attempt, timings)) + timings.backoffToleranceMs;
}

const stdev = (values: readonly number[]): number => {
  const average = mean(values);
  return Math.sqrt(mean(values.map((value) => (value - average) ** 2)));
};

/** Below this coefficient of variation, delays that do not grow are a constant retry rate. */
const CONSTANT_VARIATION_MAX = 0.25;

/**
 * A retry storm below any per-second threshold: 4 delays or more that hardly vary and do not grow
 * (the later half's mean under 1.5 x the earlier half's), below half the cap. Full jitter draws
 * each delay from [0, ceiling): seven such delays varying by less than 25% around their mean is
 * vanishingly rare (the ceilings double, and so does their spread); a deterministic exponential
 * backoff grows. What is left is a client that waits the same time after every failure.
 */
export function constantDelays(delays: readonly number[], timings: Pick<ClientSuiteTimings, 'backoffCapMs'>): string | undefined {
  if (delays.length < 4) return undefined;
  const average = mean(delays);
  if (average === 0 || average >= timings.backoffCapMs / 2) return undefined;
  const half = Math.floor(delays.length / 2);
  const grows = mean(delays.slice(half)) >= 1.5 * mean(delays.slice(0, half));
  const variation = stdev(delays) / average;
  if (grows || variation >= CONSTANT_VARIATION_MAX) return undefined;
  return `the same delay after every failure: ${listMs(delays)} ms (mean ${ms(average)}, varying by ${(variation * 100).toFixed(0)}%): no exponential backoff`;
}

export function judgeBackoff(delays: readonly number[], timings: Pick<ClientSuiteTimings, 'backoffBaseMs' | 'backoffCapMs' | 'backoffToleranceMs'>): BackoffVerdict {
  const constant = constantDelays(delays, timings);
  if (constant !== undefined) return { ok: false, evidence: constant };
  const shown = listMs(delays);
  const settings = `base ${ms(timings.backoffBaseMs)}, cap ${ms(timings.backoffCapMs)}`;
  for (const [n, delay] of delays.entries()) {
    const bound = backoffBoundMs(n, timings);
    if (delay > bound) return { ok: false, evidence: `attempt ${n} came ${ms(delay)} after the previous failure; full jitter allows at most ${ms(bound)} (${settings}); delays ${shown} ms` };
  }
  if (delays.length < 4) return { ok: true, evidence: `delays ${shown} ms within full-jitter bounds (${settings}); too few attempts to judge growth` };
  const half = Math.floor(delays.length / 2);
  const earlier = delays.slice(0, half);
  const later = delays.slice(half);
  const relative = mean(later.map((delay, i) => delay / ceilingMs(half + i, timings)));
  if (relative < GROWTH_RELATIVE_MIN) {
    return { ok: false, evidence: `delays do not grow: ${shown} ms (the later ones average ${(relative * 100).toFixed(1)}% of their full-jitter ceilings; full jitter averages 50%)` };
  }
  if (!(mean(later) > mean(earlier) || Math.max(...later) > timings.backoffBaseMs)) {
    return { ok: false, evidence: `delays do not grow: ${shown} ms (later mean ${ms(mean(later))} vs earlier ${ms(mean(earlier))}, none above base ${ms(timings.backoffBaseMs)})` };
  }
  return { ok: true, evidence: `delays ${shown} ms: within full-jitter bounds (${settings}) and growing` };
}
