/**
 * Reconnect backoff (CONN-4): exponential with full jitter, capped, bounded attempts.
 * delay = random[0,1) x min(delayMsMax, delayMsBase x 2^attempt)
 * Full jitter spreads reconnecting clients out so a restarted provider is not hit all at once.
 *
 * When to give up (CONN-4, CONN-12), whichever comes first: `attemptsMax` attempts;
 * `refusalsMax` attempts in a row refused (nothing listens at the endpoint: the provider's
 * process is gone, so its tasks are lost); `giveUpAfterMs` after the connection was lost (or
 * first tried) without opening again. With the defaults a provider killed mid-task on a host
 * that is still up is given up on within about 0.7 s of its death (3 refusals after delays of at
 * most 100, 200 and 400 ms); a host that vanished, 15 s after the loss is noticed (CONN-3).
 */

export interface BackoffOptions {
  /** First ceiling, before doubling. @default 100 */
  readonly delayMsBase: number;
  /** Largest ceiling. @default 10_000 */
  readonly delayMsMax: number;
  /** Reconnect attempts before giving up (CONNECTION_LOST). @default 10 */
  readonly attemptsMax: number;
  /** Attempts refused in a row (ECONNREFUSED: nothing listens) before giving up. @default 3 */
  readonly refusalsMax?: number;
  /**
   * Time from losing the connection (or first trying it) to giving up, if it has not opened
   * again; `Infinity` turns this bound off. @default 15_000
   */
  readonly giveUpAfterMs?: number;
}

export const backoffDefaults = {
  delayMsBase: 100,
  delayMsMax: 10_000,
  attemptsMax: 10,
  refusalsMax: 3,
  giveUpAfterMs: 15_000,
} as const satisfies Required<BackoffOptions>;

/** `refusalsMax` and `giveUpAfterMs` of these options, defaults filled in (options made before they existed lack them). */
export const giveUpRuleOf = (options: BackoffOptions): { refusalsMax: number; giveUpAfterMs: number } => ({
  refusalsMax: options.refusalsMax ?? backoffDefaults.refusalsMax,
  giveUpAfterMs: options.giveUpAfterMs ?? backoffDefaults.giveUpAfterMs,
});

/** The ceiling for an attempt (0-based): min(max, base x 2^attempt). */
export function backoffCeilingMs(attempt: number, options: BackoffOptions): number {
  return Math.min(options.delayMsMax, options.delayMsBase * 2 ** Math.min(attempt, 52));
}

/** Full-jitter delay for an attempt given a uniform random number in [0, 1). */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random01: number): number {
  return Math.floor(random01 * backoffCeilingMs(attempt, options));
}
