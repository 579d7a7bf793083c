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
}

export interface Check<TTarget> {
  /** Stable, unique: `provider.assign.ack`, `client.backoff.bounds`. */
  readonly name: string;
  /** The requirement ids of docs/protocol.md this check verifies, e.g. ['TASK-2']. */
  readonly requirements: readonly string[];
  readonly level: ConformanceLevel;
  readonly title: string;
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
