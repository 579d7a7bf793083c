/**
 * `switchboard/simulate`: your services under network faults, in virtual time, from a test.
 *
 * ```ts
 * import { simulate } from 'switchboard/simulate';
 * const result = await simulate({ scenario, services: [imageService], runs: 20 });
 * expect(result.violations).toEqual([]);
 * ```
 * `scenario` is a scenario object (docs/simulation.md) or its JSON text; `services` are service
 * definitions (defineService) hosted by every provider of the scenario (an array), or by the
 * providers of one scenario entry each (an object keyed by provider name).
 */
import type { ServiceDefinition } from '../service.js';
import type { Verdict, Violation } from './checker.js';
import type { Observation } from './history.js';
import type { ServiceModules } from './participants.js';
import { runMany, type RunOptions, type Simulation } from './run.js';
import { parseScenario, parseScenarioText, ScenarioError, type Scenario, type ScenarioInput } from './scenario.js';

export interface SimulateOptions extends Omit<RunOptions, 'scenario' | 'modules'> {
  readonly scenario: ScenarioInput | string;
  readonly services?: readonly ServiceDefinition[] | Readonly<Record<string, readonly ServiceDefinition[]>>;
}

export interface SimulateResult extends Simulation {
  /** The violations of the first failing run (before shrinking), else none. */
  readonly violations: readonly Violation[];
  /** The checked history: the shrunk failing run's, else the first run's. */
  readonly history: readonly Observation[];
  readonly verdict: Verdict | undefined;
}

/** Which user services each provider entry hosts; every provider must host something. */
export function servicesByProvider(scenario: Scenario, services: SimulateOptions['services'], loaded: ServiceModules = {}): ServiceModules {
  const modules: Record<string, readonly ServiceDefinition[]> = { ...loaded };
  for (const provider of scenario.providers) {
    const given = services === undefined ? [] : Array.isArray(services) ? services : ((services as Record<string, readonly ServiceDefinition[]>)[provider.name] ?? []);
    modules[provider.name] = [...(modules[provider.name] ?? []), ...given];
    if ((provider.services?.length ?? 0) + (modules[provider.name]?.length ?? 0) === 0) {
      throw new ScenarioError('invalid scenario', [`providers.${provider.name}: hosts nothing (give it services, modules, or services in simulate())`]);
    }
  }
  return modules;
}

export async function simulate(options: SimulateOptions): Promise<SimulateResult> {
  const scenario = typeof options.scenario === 'string' ? parseScenarioText(options.scenario) : parseScenario(options.scenario);
  const modules = servicesByProvider(scenario, options.services);
  const simulation = await runMany({ ...options, scenario, modules });
  return {
    ...simulation,
    violations: simulation.failure?.verdict.violations ?? [],
    history: simulation.detailed?.history ?? [],
    verdict: simulation.detailed?.verdict,
  };
}

export { INVARIANTS, check, type Invariant, type InvariantId, type Verdict, type Violation } from './checker.js';
export type { Observation, OutcomeSummary } from './history.js';
export { planRun, type Plan, type PlannedTask } from './plan.js';
export type { Failure, RunSummary, Simulation, Throughput } from './run.js';
export { parseScenario, parseScenarioText, parseFaults, scenarioJsonSchema, scenarioSchema, ScenarioError, type Fault, type Scenario, type ScenarioInput } from './scenario.js';
export { runVirtual, type RunRecord } from './virtual.js';
