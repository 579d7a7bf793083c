/**
 * `switchboard discover`: a client that asks who is there (DISC-2), listens for --timeout-ms and
 * prints what it heard; with --watch it keeps printing the repository as it changes until SIGINT.
 */
import type { Command } from 'commander';
import type { ServiceView } from '../../machines/repository.js';
import { createClient } from '../client.js';
import { runAction, sleep, type CliContext } from './context.js';
import { describeDiscovery, envOption, ExitCode, globalOptionsOf, integerIn } from './options.js';
import { inspectOptionOf } from './inspect.js';
import { jsonLine, line, renderTable, stderrLogger, type Column, type Io } from './output.js';
import { nextStopSignal } from './signals.js';

interface DiscoverFlags {
  timeoutMs: number;
  watch?: boolean;
}

/** Coalesces bursts of repository changes (a provider's many services) into one redraw. */
const REDRAW_DEBOUNCE_MS = 100;

const operationsOf = (service: ServiceView) => service.capabilities.map((capability) => capability.key);

export const serviceColumns: readonly Column<ServiceView>[] = [
  { header: 'SERVICE', value: (s) => s.serviceName },
  { header: 'VERSION', value: (s) => s.serviceVersion },
  { header: 'SERVICE ID', value: (s) => s.serviceId },
  { header: 'ENDPOINT', value: (s) => s.endpoint },
  { header: 'STATUS', value: (s) => (s.health === 'alive' ? s.status : `${s.status} (${s.health})`) },
  { header: 'LOAD', value: (s) => String(s.load) },
  { header: 'OPERATIONS', value: (s) => operationsOf(s).join(', ') },
];

/** The JSON form of a repository entry: the view plus its operation names. */
export const serviceJson = (service: ServiceView) => ({ ...service, operations: operationsOf(service) });

const sorted = (services: readonly ServiceView[]) =>
  [...services].sort((a, b) => a.serviceName.localeCompare(b.serviceName) || a.endpoint.localeCompare(b.endpoint) || a.serviceId.localeCompare(b.serviceId));

function printServices(io: Io, services: readonly ServiceView[], json: boolean, watching: boolean): void {
  if (json) {
    if (watching) jsonLine(io.stdout, { time: new Date().toISOString(), services: services.map(serviceJson) });
    else line(io.stdout, JSON.stringify(services.map(serviceJson), null, 2));
    return;
  }
  if (watching) {
    if (io.stdout.isTTY) io.stdout.write('\x1b[2J\x1b[H');
    line(io.stdout, `${new Date().toLocaleTimeString()}  ${services.length} service${services.length === 1 ? '' : 's'} (Ctrl-C to stop)`);
  }
  line(io.stdout, services.length === 0 ? 'no services found' : renderTable(services, serviceColumns));
  if (watching && !io.stdout.isTTY) line(io.stdout);
}

async function runDiscover(context: CliContext, serviceName: string | undefined, flags: DiscoverFlags, command: Command): Promise<number> {
  const { io } = context;
  const globals = globalOptionsOf(command);
  const log = stderrLogger(io, globals.logLevel, globals.logFormat);
  if (!globals.json) {
    const how = flags.watch === true ? 'until Ctrl-C' : `for ${flags.timeoutMs} ms`;
    line(io.stderr, `discovering (${describeDiscovery(globals.discovery)}) ${how}...`);
  }
  const client = createClient({ discovery: globals.discovery, log, ...inspectOptionOf(globals, io) });
  const visible = () => sorted(client.services().filter((service) => serviceName === undefined || service.serviceName === serviceName));
  try {
    if (flags.watch !== true) {
      await sleep(flags.timeoutMs);
      printServices(io, visible(), globals.json, false);
      return ExitCode.ok;
    }
    const stop = nextStopSignal();
    let timer: NodeJS.Timeout | undefined;
    const redraw = () => {
      timer = undefined;
      printServices(io, visible(), globals.json, true);
    };
    const unsubscribe = client.on('services.changed', () => {
      timer ??= setTimeout(redraw, REDRAW_DEBOUNCE_MS);
    });
    try {
      const first = setTimeout(redraw, flags.timeoutMs);
      await stop.signal;
      clearTimeout(first);
      if (timer !== undefined) clearTimeout(timer);
      return ExitCode.ok;
    } finally {
      unsubscribe();
      stop.dispose();
    }
  } finally {
    await client.stop();
  }
}

export function registerDiscoverCommand(program: Command, context: CliContext): Command {
  return program
    .command('discover')
    .description('list the services on the network (a table, or JSON with --json)')
    .argument('[service]', 'show only this service')
    .addOption(envOption('--timeout-ms <n>', 'how long to listen for answers').argParser(integerIn(1, 3_600_000)).default(2_000))
    .option('--watch', 'keep listening and print the list again whenever it changes, until Ctrl-C')
    .addHelpText(
      'after',
      `
Sends a ClientServiceDiscoveryRequest, listens for advertisements for --timeout-ms, then prints
serviceName, version, serviceId, endpoint, status, load and operations of every instance heard.

Examples:
  $ switchboard discover
  $ switchboard discover ImageProcessingService --timeout-ms 5000 --json
  $ switchboard discover --watch --broadcast 192.168.1.255`,
    )
    .action((serviceName: string | undefined, flags: DiscoverFlags, command: Command) =>
      runAction(context, () => runDiscover(context, serviceName, flags, command)),
    );
}
