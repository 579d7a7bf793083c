/**
 * `switchboard simulate <scenario.json>`: runs a scenario (docs/simulation.md) in virtual time on
 * the simulated network, or with `--real` on real processes in network namespaces, checks every
 * invariant, and reports: a summary on the terminal (a progress bar while it runs), `--json` on
 * stdout, `--html <file>` a self-contained report.
 *
 * Exit codes: 0 no violation, 1 a violation (the report has the seed, the minimal fault schedule
 * and the command that replays it), 2 usage or an invalid scenario.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../simulate/duration.js';
import { servicesByProvider } from '../simulate/index.js';
import type { ServiceModules } from '../simulate/participants.js';
import { realPrecondition, runReal } from '../simulate/real/index.js';
import { htmlReport } from '../simulate/report/html.js';
import { jsonReport } from '../simulate/report/json.js';
import { replayCommand } from '../simulate/report/replay.js';
import { progressReporter, terminalSummary } from '../simulate/report/terminal.js';
import { runMany, type Simulation } from '../simulate/run.js';
import { parseFaults, parseScenarioText, scenarioJsonSchema, ScenarioError, type Fault, type Scenario } from '../simulate/scenario.js';
import { runAction, type CliContext } from './context.js';
import { ExitCode, globalOptionsOf, integerIn, UsageError } from './options.js';
import { line, prettyJson } from './output.js';
import { loadServiceModule } from './serviceModule.js';

interface SimulateFlags {
  seed?: number;
  runs?: number;
  until?: number;
  html?: string;
  real?: boolean;
  faults?: string;
  schema?: boolean;
  keepGoing?: boolean;
  shrink?: boolean;
}

function durationArgument(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError(`expected a duration such as 90s, 10m or 1h, got "${value}"`);
  return ms;
}

async function loadScenario(file: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${file}: cannot read the scenario (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    return parseScenarioText(text, file);
  } catch (error) {
    if (error instanceof ScenarioError) throw new UsageError(`${file}: ${error.message}`);
    throw error;
  }
}

/** The scenario's `modules`, loaded relative to the scenario file. */
async function loadModules(scenario: Scenario, file: string): Promise<ServiceModules> {
  const modules: Record<string, ServiceModules[string]> = {};
  for (const provider of scenario.providers) {
    const loaded = [];
    for (const modulePath of provider.modules ?? []) loaded.push(...(await loadServiceModule(modulePath, path.dirname(path.resolve(file)))));
    modules[provider.name] = loaded;
  }
  try {
    return servicesByProvider(scenario, undefined, modules);
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
}

function faultsFlag(text: string | undefined): Fault[] | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--faults is not JSON: ${(error as Error).message}`);
  }
  try {
    return parseFaults(value);
  } catch (error) {
    throw new UsageError(`--faults: ${(error as Error).message}`);
  }
}

async function simulateAction(context: CliContext, file: string | undefined, flags: SimulateFlags, command: Command): Promise<number> {
  const { json } = globalOptionsOf(command);
  const { io } = context;
  if (flags.schema === true) {
    line(io.stdout, prettyJson(scenarioJsonSchema()));
    return ExitCode.ok;
  }
  if (file === undefined) throw new UsageError('simulate needs a scenario file (see docs/simulation.md), or --schema');
  const scenario = await loadScenario(file);
  const modules = await loadModules(scenario, file);
  const faults = faultsFlag(flags.faults);
  let simulation: Simulation;
  let notes: readonly string[] = [];
  if (flags.real === true) {
    if ((flags.runs ?? 1) !== 1) throw new UsageError('--real runs one seed at a time (--runs is for virtual time)');
    const why = realPrecondition();
    if (why !== undefined) throw new UsageError(why);
    const real = await runReal({
      scenario,
      scenarioPath: path.resolve(file),
      seed: flags.seed ?? scenario.seed ?? 1,
      ...(flags.until === undefined ? {} : { durationMs: flags.until }),
      ...(faults === undefined ? {} : { faults }),
      log: (text) => {
        if (!json) line(io.stderr, text);
      },
    });
    simulation = real.simulation;
    notes = real.notes;
  } else {
    const progress = progressReporter(io.stderr, scenario.name ?? path.basename(file));
    simulation = await runMany({
      scenario,
      modules,
      ...(flags.seed === undefined ? {} : { seed: flags.seed }),
      runs: flags.runs ?? 1,
      ...(flags.until === undefined ? {} : { durationMs: flags.until }),
      ...(faults === undefined ? {} : { faults }),
      shrink: flags.shrink !== false,
      keepGoing: flags.keepGoing === true,
      detail: flags.html !== undefined,
      onRun: json ? undefined : (run, done, total) => progress.update(run, done, total),
    });
    progress.end();
  }
  const replay = simulation.failure === undefined ? undefined : replayCommand(file, simulation.failure);
  if (flags.html !== undefined) {
    await writeFile(flags.html, htmlReport(simulation, { replay, notes }));
  }
  if (json) {
    line(io.stdout, prettyJson(jsonReport(simulation, replay, notes)));
  } else {
    io.stdout.write(terminalSummary(simulation, { replay, color: io.stdout.isTTY === true }));
    for (const note of notes) line(io.stdout, `  note: ${note}`);
    if (flags.html !== undefined) line(io.stdout, `\nReport: ${flags.html}`);
  }
  return simulation.ok ? ExitCode.ok : ExitCode.failed;
}

export function registerSimulateCommand(program: Command, context: CliContext): void {
  program
    .command('simulate')
    .description('run a scenario of providers, clients and faults in virtual time (or --real) and check the protocol invariants')
    .argument('[scenario]', 'the scenario file (JSON, docs/simulation.md)')
    .addOption(new Option('--seed <n>', 'seed of the first run (default: the scenario\'s, else 1)').argParser(integerIn(0, 2 ** 32 - 1)))
    .addOption(new Option('--runs <k>', 'runs, with seeds seed, seed+1, ... (default: 1)').argParser(integerIn(1, 1_000_000)))
    .addOption(new Option('--until <duration>', "length of the fault phase, e.g. 10m (default: the scenario's duration)").argParser(durationArgument))
    .addOption(new Option('--html <file>', 'write a self-contained HTML report: timeline, statecharts, failure and replay'))
    .addOption(new Option('--real', 'run on real processes in network namespaces (root, Linux: ip, tc, iptables)'))
    .addOption(new Option('--faults <json>', 'replace the fault schedule with this JSON list (the replay of a shrunk schedule)'))
    .addOption(new Option('--keep-going', 'go on after a failing run (default: stop at the first and shrink it)'))
    .addOption(new Option('--no-shrink', 'report the failing schedule as it was'))
    .addOption(new Option('--schema', 'print the JSON Schema of scenario files and exit'))
    .addHelpText(
      'after',
      `
Examples:
  $ switchboard simulate examples/scenarios/partition-during-long-task.json
  $ switchboard simulate examples/scenarios/flapping-link.json --runs 1000 --html report.html
  $ switchboard simulate scenario.json --seed 42 --faults '[{"type":"crash","at":3000,"target":"p1"}]'
  $ sudo switchboard simulate examples/scenarios/partition-during-long-task.json --real
  $ switchboard simulate --schema > scenario.schema.json`,
    )
    .action((file: string | undefined, flags: SimulateFlags, command: Command) => runAction(context, () => simulateAction(context, file, flags, command)));
}
