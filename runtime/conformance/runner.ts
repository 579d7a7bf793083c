/**
 * Runs conformance checks (./types.ts) one after the other and builds the SuiteReport.
 *
 * - Level: a `core` run runs the core checks; a `full` run runs core and full checks (a full
 *   implementation conforms to core, docs/protocol.md "Conformance levels").
 * - Bounded: each check gets its own `timeoutMs` (default 10 s); one that exceeds it fails with
 *   "timed out" as evidence and the run goes on. The check's promise is left to settle on its own
 *   (its rejection is swallowed); `afterEach` is where a suite releases what the check opened.
 * - Never crashed by a check: a throw (or a rejected promise, or a malformed result) is a fail
 *   with the error as evidence.
 *
 * ```ts
 * const report = await runChecks(providerChecks, probe, { suite: 'provider', target: url, level: 'core' });
 * ```
 */
import { Blocked, type Check, type CheckReport, type CheckResult, type CheckStatus, type ConformanceLevel, type SuiteReport } from './types.js';

/** @default 10_000 (types.ts, Check.timeoutMs) */
export const CHECK_TIMEOUT_MS_DEFAULT = 10_000;

/** Evidence longer than this is cut (with an ellipsis) in reports. */
export const EVIDENCE_CHARS_MAX = 2_000;

export interface RunOptions<T> {
  readonly suite: SuiteReport['suite'];
  /** What was tested, for the report (an endpoint, a command line). */
  readonly target: string;
  readonly level: ConformanceLevel;
  /**
   * Run only the checks whose name starts with one of these, or that cite one of these
   * requirement ids (case-insensitive). Empty or absent: every check of the level.
   */
  readonly only?: readonly string[];
  /** For checks without their own `timeoutMs`. @default 10_000 */
  readonly defaultTimeoutMs?: number;
  /** Before each check; a throw fails that check. */
  readonly beforeEach?: (check: Check<T>) => void | Promise<void>;
  /** After each check, also after a timeout (release what the check opened); a throw is ignored. */
  readonly afterEach?: (check: Check<T>, report: CheckReport) => void | Promise<void>;
  /** Told each report as soon as it exists (progress output). */
  readonly onReport?: (report: CheckReport) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Which checks a level runs: core runs core checks, full runs all of them. */
export function checksOfLevel<T>(checks: readonly Check<T>[], level: ConformanceLevel): Check<T>[] {
  return checks.filter((check) => level === 'full' || check.level === 'core');
}

/** Does `check` match one of `patterns` (a name prefix or a requirement id)? */
export function matchesAny(check: Pick<Check<unknown>, 'name' | 'requirements'>, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => {
    const wanted = pattern.trim().toLowerCase();
    if (wanted.length === 0) return false;
    return check.name.toLowerCase().startsWith(wanted) || check.requirements.some((id) => id.toLowerCase() === wanted);
  });
}

/** The checks a run executes, in order; throws on duplicate names (a programmer error). */
export function selectChecks<T>(checks: readonly Check<T>[], level: ConformanceLevel, only: readonly string[] = []): Check<T>[] {
  const names = new Set<string>();
  for (const check of checks) {
    if (names.has(check.name)) throw new TypeError(`conformance: two checks are named "${check.name}"`);
    names.add(check.name);
  }
  const ofLevel = checksOfLevel(checks, level);
  return only.length === 0 ? ofLevel : ofLevel.filter((check) => matchesAny(check, only));
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`;
  }
  return String(error);
}

export function clip(text: string, charsMax: number): string {
  return text.length <= charsMax ? text : `${text.slice(0, Math.max(0, charsMax - 1))}…`;
}

const STATUSES: readonly CheckStatus[] = ['pass', 'fail', 'not-applicable'];

function isCheckResult(value: unknown): value is CheckResult {
  const result = value as Partial<CheckResult> | undefined;
  return typeof result === 'object' && result !== null && STATUSES.includes(result.status as CheckStatus) && typeof result.evidence === 'string';
}

type Settled = { readonly kind: 'result'; readonly result: CheckResult } | { readonly kind: 'timeout' };

/** Runs one check within its bound; never rejects. */
export async function runCheck<T>(check: Check<T>, target: T, options: Pick<RunOptions<T>, 'defaultTimeoutMs' | 'now'> = {}): Promise<CheckReport> {
  const now = options.now ?? Date.now;
  const timeoutMs = check.timeoutMs ?? options.defaultTimeoutMs ?? CHECK_TIMEOUT_MS_DEFAULT;
  const started = now();
  const running = Promise.resolve()
    .then(() => check.run(target))
    .then(
      (value): CheckResult =>
        isCheckResult(value) ? value : { status: 'fail', evidence: `the check returned no result (${JSON.stringify(value)})` },
      (error: unknown): CheckResult =>
        error instanceof Blocked
          ? { status: error.status, evidence: `${error.evidence} (see ${error.rootCause})`, rootCause: error.rootCause }
          : { status: 'fail', evidence: `the check threw: ${describeError(error)}` },
    );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Settled>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
  });
  const settled = await Promise.race([running.then((result): Settled => ({ kind: 'result', result })), timedOut]);
  clearTimeout(timer);
  const result: CheckResult =
    settled.kind === 'result' ? settled.result : { status: 'fail', evidence: `timed out: no verdict within ${timeoutMs} ms (the check's bound)` };
  return report(check, result, result.durationMs ?? now() - started);
}

function report<T>(check: Check<T>, result: CheckResult, durationMs: number): CheckReport {
  return {
    name: check.name,
    requirements: [...check.requirements],
    level: check.level,
    title: check.title,
    status: result.status,
    evidence: clip(result.evidence, EVIDENCE_CHARS_MAX),
    durationMs: Math.max(0, Math.round(durationMs)),
    ...(result.rootCause === undefined || result.rootCause === check.name ? {} : { rootCause: result.rootCause }),
    ...(check.seed === undefined ? {} : { seed: check.seed }),
  };
}

/** Counts and wraps check reports. */
export function summarize(
  fields: Pick<SuiteReport, 'suite' | 'target' | 'level' | 'startedAt' | 'durationMs'>,
  checks: readonly CheckReport[],
): SuiteReport {
  return {
    ...fields,
    checks,
    passed: checks.filter((check) => check.status === 'pass').length,
    failed: checks.filter((check) => check.status === 'fail').length,
    notApplicable: checks.filter((check) => check.status === 'not-applicable').length,
  };
}

/** Runs the checks of `options.level` (and `options.only`) against `target`, in order. */
export async function runChecks<T>(checks: readonly Check<T>[], target: T, options: RunOptions<T>): Promise<SuiteReport> {
  const now = options.now ?? Date.now;
  const selected = selectChecks(checks, options.level, options.only);
  const started = now();
  const reports: CheckReport[] = [];
  for (const check of selected) {
    let checkReport: CheckReport;
    try {
      await options.beforeEach?.(check);
      checkReport = await runCheck(check, target, options);
    } catch (error) {
      checkReport = report(check, { status: 'fail', evidence: `could not start the check: ${describeError(error)}` }, 0);
    }
    try {
      await options.afterEach?.(check, checkReport);
    } catch {
      // Cleanup is best effort; the verdict stands.
    }
    reports.push(checkReport);
    options.onReport?.(checkReport);
  }
  return summarize(
    { suite: options.suite, target: options.target, level: options.level, startedAt: new Date(started).toISOString(), durationMs: now() - started },
    reports,
  );
}
