/**
 * How a client check is made: it names the scenario it reads and a pure `analyse` function from
 * that scenario's record to a result. The scenario runs on first use (target.ts); the check's
 * timeout covers the scenario's longest run.
 */
import { Blocked, fail, type Check, type CheckResult, type ConformanceLevel } from '../types.js';
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
      const peak = sustainedConnections(record);
      if (peak > 1 && spec.name !== ONE_CONNECTION_CHECK) {
        throw new Blocked(ONE_CONNECTION_CHECK, `the client had ${peak} connections open at once to the one endpoint, so what it does on each cannot be judged`);
      }
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

/** The check of CONN-1 (one connection per endpoint): every other check's root when it is broken. */
export const ONE_CONNECTION_CHECK = 'client.connect.advertisedEndpoint';

/** The most connections the client had open at once in a scenario. */
export function peakConnections(record: ScenarioRecord): number {
  let open = 0;
  let peak = 0;
  for (const event of record.events) {
    if (event.kind === 'open') peak = Math.max(peak, ++open);
    else if (event.kind === 'close') open--;
  }
  return peak;
}

/** A reconnect may open its socket a moment before the old one's close is seen: not two connections. */
const OVERLAP_MS = 250;

/** The most connections open at once for at least OVERLAP_MS. */
export function sustainedConnections(record: ScenarioRecord): number {
  const end = record.events.at(-1)?.at ?? 0;
  const intervals = new Map<number, { from: number; to: number }>();
  for (const event of record.events) {
    if (event.kind === 'open') intervals.set(event.connId, { from: event.at, to: end });
    else if (event.kind === 'close') {
      const interval = intervals.get(event.connId);
      if (interval !== undefined) interval.to = event.at;
    }
  }
  const spans = [...intervals.values()];
  return Math.max(0, ...spans.map((span) => spans.filter((other) => other.from <= span.from + OVERLAP_MS && other.to > span.from + OVERLAP_MS).length));
}
