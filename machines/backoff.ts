/**
 * Reconnect backoff (CONN-4): exponential with full jitter, capped, bounded attempts.
 * delay = random[0,1) x min(delayMsMax, delayMsBase x 2^attempt)
 * Full jitter spreads reconnecting clients out so a restarted provider is not hit all at once.
 */

export interface BackoffOptions {
  /** First ceiling, before doubling. @default 100 */
  readonly delayMsBase: number;
  /** Largest ceiling. @default 10_000 */
  readonly delayMsMax: number;
  /** Reconnect attempts before giving up (CONNECTION_LOST). @default 10 */
  readonly attemptsMax: number;
}

export const backoffDefaults: BackoffOptions = { delayMsBase: 100, delayMsMax: 10_000, attemptsMax: 10 };

/** The ceiling for an attempt (0-based): min(max, base x 2^attempt). */
export function backoffCeilingMs(attempt: number, options: BackoffOptions): number {
  return Math.min(options.delayMsMax, options.delayMsBase * 2 ** Math.min(attempt, 52));
}

/** Full-jitter delay for an attempt given a uniform random number in [0, 1). */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random01: number): number {
  return Math.floor(random01 * backoffCeilingMs(attempt, options));
}
