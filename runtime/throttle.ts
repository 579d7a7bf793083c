/**
 * Throttled key guessing (SEC-19): failed authentication attempts counted per source host in a
 * fixed window; a host past the limit is refused at once, valid credential or not, until its
 * window ends. Bounded: at most `hostsMax` hosts are tracked (the oldest window is dropped first).
 */
export interface FailureThrottleOptions {
  /** Failed attempts a host may make per window. @default 10 */
  readonly failuresMax: number;
  /** @default 60_000 */
  readonly windowMs: number;
  /** Hosts tracked at once. @default 10_000 */
  readonly hostsMax: number;
  readonly now: () => number;
}

export const failureThrottleDefaults = { failuresMax: 10, windowMs: 60_000, hostsMax: 10_000 } as const;

export class FailureThrottle {
  readonly #options: FailureThrottleOptions;
  /** host -> failures in its current window (insertion order: oldest window first). */
  readonly #windows = new Map<string, { startedAt: number; failures: number }>();
  /** Attempts refused because their host was throttled. */
  refused = 0;

  constructor(options: Partial<FailureThrottleOptions> & Pick<FailureThrottleOptions, 'now'>) {
    this.#options = { ...failureThrottleDefaults, ...options };
  }

  #window(host: string) {
    const window = this.#windows.get(host);
    if (window !== undefined && this.#options.now() - window.startedAt >= this.#options.windowMs) {
      this.#windows.delete(host);
      return undefined;
    }
    return window;
  }

  /** True while `host` has used up its failures for the current window. */
  blocked(host: string): boolean {
    const blocked = (this.#window(host)?.failures ?? 0) >= this.#options.failuresMax;
    if (blocked) this.refused++;
    return blocked;
  }

  fail(host: string): void {
    const window = this.#window(host);
    if (window !== undefined) {
      window.failures++;
      return;
    }
    if (this.#windows.size >= this.#options.hostsMax) this.#windows.delete(this.#windows.keys().next().value as string);
    this.#windows.set(host, { startedAt: this.#options.now(), failures: 1 });
  }
}
