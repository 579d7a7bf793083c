/**
 * `switchboard machines`: the participants' statecharts, from their definitions. A summary table,
 * or with --json one XState config per machine (`config`, for Stately Studio or createMachine)
 * with its states and transitions as data (`chart`).
 */
import type { Command } from 'commander';
import { chartOf, participantMachines } from '../inspect/charts.js';
import { studioConfigOf } from '../inspect/studio.js';
import { runAction, type CliContext } from './context.js';
import { ExitCode, globalOptionsOf } from './options.js';
import { line, renderTable } from './output.js';

/** What `machines --json` prints: one entry per participant statechart. */
export function machinesExport(only?: string) {
  return Object.entries(participantMachines)
    .filter(([kind]) => only === undefined || kind === only)
    .map(([kind, machine]) => ({ kind, config: studioConfigOf(machine), chart: chartOf(machine) }));
}

function runMachines(context: CliContext, name: string | undefined, command: Command): number {
  const { io } = context;
  const globals = globalOptionsOf(command);
  if (name !== undefined && !(name in participantMachines)) {
    line(io.stderr, `error: no machine "${name}" (machines: ${Object.keys(participantMachines).join(', ')})`);
    return ExitCode.usage;
  }
  const machines = machinesExport(name);
  if (globals.json) {
    line(io.stdout, JSON.stringify(name === undefined ? { machines } : machines[0]?.config, null, 2));
    return ExitCode.ok;
  }
  line(
    io.stdout,
    renderTable(machines, [
      { header: 'MACHINE', value: (entry) => entry.kind },
      { header: 'STATES', value: (entry) => String(entry.chart.states.length) },
      { header: 'TRANSITIONS', value: (entry) => String(entry.chart.edges.length) },
      { header: 'TOP-LEVEL STATES', value: (entry) => entry.chart.root.children.map((child) => child.key).join(', ') },
    ]),
  );
  return ExitCode.ok;
}

export function registerMachinesCommand(program: Command, context: CliContext): Command {
  return program
    .command('machines')
    .description("the participants' statecharts: a summary, or XState configs for Stately Studio with --json")
    .argument('[machine]', 'only this machine (provider, session, providerTask, client, repository, repositoryEntry, connection, clientTask)')
    .addHelpText(
      'after',
      `
With --json: { machines: [{ kind, config, chart }] }, where config is XState configuration JSON
(paste it into createMachine(...) in Stately Studio) and chart lists every state and transition.
With a machine name and --json: that machine's config alone.

Examples:
  $ switchboard machines
  $ switchboard machines --json > machines.json
  $ switchboard machines connection --json`,
    )
    .action((name: string | undefined, _flags: unknown, command: Command) => runAction(context, async () => runMachines(context, name, command)));
}
