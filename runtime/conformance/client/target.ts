/**
 * What the client checks run against: the client command and the suite's options, plus the
 * scenarios, each run at most once and shared by the checks that read it. Scenarios run one at a
 * time (they share the discovery port), in the order the checks first ask for them.
 */
import type { ResolvedClientSuiteOptions } from './options.js';
import { runScenario, type ScenarioKind, type ScenarioRecord } from './scenarios.js';

export interface ClientTarget {
  /** The client command, for reports. */
  readonly label: string;
  readonly options: ResolvedClientSuiteOptions;
  /** The record of a scenario, run on first use. */
  scenario(kind: ScenarioKind): Promise<ScenarioRecord>;
}

export function createClientTarget(options: ResolvedClientSuiteOptions): ClientTarget {
  const runs = new Map<ScenarioKind, Promise<ScenarioRecord>>();
  let queue: Promise<unknown> = Promise.resolve();
  return {
    label: options.command.join(' '),
    options,
    scenario(kind) {
      let run = runs.get(kind);
      if (run === undefined) {
        run = queue.then(() => runScenario(kind, options));
        queue = run;
        runs.set(kind, run);
      }
      return run;
    },
  };
}
