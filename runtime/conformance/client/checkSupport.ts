/**
 * How a client check is made: it names the scenario it reads and a pure `analyse` function from
 * that scenario's record to a result. The scenario runs on first use (target.ts); the check's
 * timeout covers the scenario's longest run.
 */
import { fail, type Check, type CheckResult, type ConformanceLevel } from '../types.js';
import { discoveryRequests, exitOf, ms, upgrades } from './observe.js';
import type { ClientSuiteTimings, ResolvedClientSuiteOptions } from './options.js';
import { scenarioBoundMs, type ScenarioKind, type ScenarioRecord } from './scenarios.js';
import type { ClientTarget } from './target.js';

export interface ClientCheckSpec {
  readonly name: string;
  readonly requirements: readonly string[];
  readonly level: ConformanceLevel;
  readonly title: string;
  /** The seed's words for what a core check asks (Check.seed). */
  readonly seed?: string;
  readonly scenario: ScenarioKind;
  /** Another scenario the analysis compares with (what the client does when nothing is odd). */
  readonly baseline?: ScenarioKind;
  readonly analyse: (record: ScenarioRecord, options: ResolvedClientSuiteOptions, baseline?: ScenarioRecord) => CheckResult;
}

/** A client check with its scenario and analysis, for tests that feed it a hand-made record. */
export interface ClientCheck extends Check<ClientTarget> {
  readonly scenario: ScenarioKind;
  readonly analyse: ClientCheckSpec['analyse'];
}

/** Margin on top of a scenario's bound, for the runner's timeout. */
const TIMEOUT_MARGIN_MS = 5_000;

export function defineClientCheck(spec: ClientCheckSpec, timings: ClientSuiteTimings): ClientCheck {
  return {
    ...spec,
    timeoutMs: scenarioBoundMs(spec.scenario, timings) + (spec.baseline === undefined ? 0 : scenarioBoundMs(spec.baseline, timings)) + TIMEOUT_MARGIN_MS,
    async run(target) {
      const baseline = spec.baseline === undefined ? undefined : await target.scenario(spec.baseline);
      const record = await target.scenario(spec.scenario);
      if (record.error !== undefined) return fail(`the ${spec.scenario} scenario could not run: ${record.error}`);
      return spec.analyse(record, target.options, baseline);
    },
  };
}

/** What the client did do, when it did not get as far as a check needs. */
export function whatHappened(record: ScenarioRecord): string {
  const parts = [`${discoveryRequests(record.events).length} discovery request(s)`, `${upgrades(record.events).length} connection attempt(s)`];
  const exit = exitOf(record.events);
  if (exit !== undefined) {
    parts.push(exit.error !== undefined ? `the command failed: ${exit.error}` : `the client exited (code ${exit.code ?? exit.signal}) after ${ms(exit.at)}`);
  }
  if (record.clientTail !== '') parts.push(`its output: ${record.clientTail}`);
  return parts.join('; ');
}

export const noAssignTask = (record: ScenarioRecord, options: ResolvedClientSuiteOptions): CheckResult =>
  fail(`no AssignTask within ${ms(options.timings.startTimeoutMs)} of the client's start (${whatHappened(record)})`);
