/**
 * The client conformance suite: a scripted provider on loopback, the client under test started
 * as a command with the env contract, and the checks of docs/conformance.md ("Client suite").
 *
 * ```ts
 * const report = await runClientSuite({ command: ['node', 'my-client.js'], level: 'full', discoveryPort: 50_123 });
 * console.log(report.failed === 0 ? 'conforms' : report.checks.filter((c) => c.status === 'fail'));
 * ```
 */
import { runChecks, type RunOptions } from '../runner.js';
import type { SuiteReport } from '../types.js';
import { defineClientCheck, type ClientCheck } from './checkSupport.js';
import { connectionCheckSpecs } from './connectionChecks.js';
import { discoveryCheckSpecs } from './discoveryChecks.js';
import { resolveClientSuiteOptions, timingDefaults, type ClientSuiteOptions, type ClientSuiteTimings } from './options.js';
import { taskCheckSpecs } from './taskChecks.js';
import { createClientTarget, type ClientTarget } from './target.js';
import { wireCheckSpecs } from './wireChecks.js';

export { resolveClientSuiteOptions, timingDefaults, type ClientSuiteOptions, type ClientSuiteTimings } from './options.js';
export { createClientTarget, type ClientTarget } from './target.js';
export { runScenario, scenarioKinds, type ScenarioKind, type ScenarioRecord } from './scenarios.js';
export type { ClientCheck } from './checkSupport.js';

/**
 * Every client check, ordered so that the checks reading one scenario follow each other (each
 * scenario runs once, when its first check asks for it). Timeouts follow `timings`.
 */
export function clientChecks(timings: ClientSuiteTimings = timingDefaults): ClientCheck[] {
  const specs = [...discoveryCheckSpecs, ...taskCheckSpecs, ...connectionCheckSpecs, ...wireCheckSpecs];
  const order = ['normal', 'liberal', 'withhold', 'seedAck', 'noAck', 'cancel', 'unknown', 'reconnect', 'ping'];
  return specs
    .map((spec, index) => ({ spec, index }))
    .sort((a, b) => order.indexOf(a.spec.scenario) - order.indexOf(b.spec.scenario) || a.index - b.index)
    .map(({ spec }) => defineClientCheck(spec, timings));
}

/** Runs the client suite at the options' level and returns the report. */
export async function runClientSuite(
  options: ClientSuiteOptions,
  hooks: Pick<RunOptions<ClientTarget>, 'onReport'> = {},
): Promise<SuiteReport> {
  const resolved = resolveClientSuiteOptions(options);
  const target = createClientTarget(resolved);
  return runChecks(clientChecks(resolved.timings), target, {
    suite: 'client',
    target: target.label,
    level: resolved.level,
    ...(resolved.only === undefined ? {} : { only: resolved.only }),
    ...hooks,
  });
}
