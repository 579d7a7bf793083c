/**
 * The conformance suite's vocabulary: a check cites a requirement id of docs/protocol.md, belongs
 * to a level, and reports pass, fail or not applicable with the evidence it saw.
 */

/** `core`: what the seed design document asks; `full`: core plus switchboard's extensions. */
export type ConformanceLevel = 'core' | 'full';

export type CheckStatus = 'pass' | 'fail' | 'not-applicable';

export interface CheckResult {
  readonly status: CheckStatus;
  /** What was seen: the message (or its relevant part), a timing, a close code. Short. */
  readonly evidence: string;
  readonly durationMs?: number;
  /**
   * The check whose failure this one only follows from (a knock-on): fix that one first. Set by
   * the runner when a check throws Blocked.
   */
  readonly rootCause?: string;
}

export interface Check<TTarget> {
  /** Stable, unique: `provider.assign.ack`, `client.backoff.bounds`. */
  readonly name: string;
  /** The requirement ids of docs/protocol.md this check verifies, e.g. ['TASK-2']. */
  readonly requirements: readonly string[];
  readonly level: ConformanceLevel;
  readonly title: string;
  /**
   * The seed document's own words for what a core check asks, quoted in its failures so a peer
   * written from the seed sees which sentence it departs from. Only for what the seed asks.
   */
  readonly seed?: string;
  /** Bounded: the runner fails a check that exceeds it. @default 10_000 */
  readonly timeoutMs?: number;
  run(target: TTarget): Promise<CheckResult>;
}

export interface CheckReport {
  readonly name: string;
  readonly requirements: readonly string[];
  readonly level: ConformanceLevel;
  readonly title: string;
  readonly status: CheckStatus;
  readonly evidence: string;
  readonly durationMs: number;
  /** See CheckResult.rootCause. */
  readonly rootCause?: string;
  /** See Check.seed. */
  readonly seed?: string;
}

export interface SuiteReport {
  readonly suite: 'provider' | 'client';
  readonly target: string;
  readonly level: ConformanceLevel;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly checks: readonly CheckReport[];
  readonly passed: number;
  readonly failed: number;
  readonly notApplicable: number;
}

export const pass = (evidence: string): CheckResult => ({ status: 'pass', evidence });
export const fail = (evidence: string): CheckResult => ({ status: 'fail', evidence });
export const notApplicable = (evidence: string): CheckResult => ({ status: 'not-applicable', evidence });

/**
 * Thrown by a check that cannot judge its own rule because something it depends on went wrong
 * first (the test task never completes, discovery found nothing): the runner reports it with
 * `rootCause`, so the report points at the root check instead of a chain of knock-on failures.
 * `status` is 'not-applicable' when the root is itself not applicable (nothing to test with).
 */
export class Blocked extends Error {
  constructor(
    readonly rootCause: string,
    readonly evidence: string,
    readonly status: 'fail' | 'not-applicable' = 'fail',
  ) {
    super(evidence);
    this.name = 'Blocked';
  }
}

/** `sent X; expected Y; observed Z`: the three things a failure must name. */
export function mismatch(parts: { readonly sent?: string; readonly expected: string; readonly observed: string }): string {
  return `${parts.sent === undefined ? '' : `sent ${parts.sent}; `}expected ${parts.expected}; observed ${parts.observed}`;
}
