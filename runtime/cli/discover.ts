/**
 * `switchboard discover`: a client that asks who is there (DISC-2) and prints what it heard as
 * soon as the answers are in: once something (matching) was heard and nothing new arrived for
 * --settle-ms, or at --timeout-ms. Nothing (matching) heard exits 3. With --watch it keeps
 * printing the repository as it changes until SIGINT.
 */
import type { Command } from 'commander';
import type { RepositoryStats, ServiceView } from '../../machines/repository.js';
import { createClient, type Client } from '../client.js';
import { runAction, type CliContext } from './context.js';
import { envOption, ExitCode, globalOptionsOf, integerIn } from './options.js';
import { describeNetwork, networkChoiceOf } from './natsOptions.js';
import { inspectOptionOf } from './inspect.js';
import { jsonLine, line, renderTable, stderrLogger, type Column, type Io } from './output.js';
import { nextStopSignal } from './signals.js';

interface DiscoverFlags {
  timeoutMs: number;
  settleMs: number;
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
  // The key its advertisements are verified with, shortened: pin it with --trust-key (the full key is in --json).
  { header: 'KEY', value: (s) => (s.signedBy === undefined ? 'unsigned' : `${s.signedBy.slice(0, 12)}…`) },
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

/**
 * What the trust policy (SEC-8) kept out of the list, on stderr, so a provider that is missing
 * from it is explained: unsigned advertisements, with how to allow them, then the others.
 */
export function printIgnored(io: Io, stats: RepositoryStats): void {
  const { unsigned, ...others } = stats.ignoredByReason;
  if (unsigned > 0) {
    line(io.stderr, `${unsigned} unsigned advertisement${unsigned === 1 ? ' was' : 's were'} ignored (seed-only providers); pass --allow-unsigned to list them`);
  }
  const rest = Object.entries(others).filter(([, count]) => count > 0);
  if (rest.length > 0) {
    line(io.stderr, `also ignored: ${rest.map(([reason, count]) => `${count} ${reason}`).join(', ')} (see docs/security.md, signed discovery)`);
  }
}

/** Providers answer a request at once (DISC-3), so a quiet spell this long means the answers are in. */
const SETTLE_MS = 300;

/**
 * Resolves once `matched()` holds and the repository did not change for `settleMs`, or after
 * `timeoutMs` whatever was heard.
 */
export function answersIn(client: Pick<Client, 'on'>, matched: () => boolean, { timeoutMs, settleMs }: { timeoutMs: number; settleMs: number }): Promise<void> {
  return new Promise((resolve) => {
    let settle: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(deadline);
      clearTimeout(settle);
      unsubscribe();
      resolve();
    };
    const deadline = setTimeout(done, timeoutMs);
    const unsubscribe = client.on('services.changed', () => {
      clearTimeout(settle);
      if (matched()) settle = setTimeout(done, settleMs);
    });
    if (matched()) settle = setTimeout(done, settleMs);
  });
}

async function runDiscover(context: CliContext, serviceName: string | undefined, flags: DiscoverFlags, command: Command): Promise<number> {
  const { io } = context;
  const globals = globalOptionsOf(command);
  const log = stderrLogger(io, globals.logLevel, globals.logFormat);
  if (!globals.json) {
    const how = flags.watch === true ? 'until Ctrl-C' : `for up to ${flags.timeoutMs} ms`;
    line(io.stderr, `discovering (${describeNetwork(globals.discovery, networkChoiceOf(command))}) ${how}...`);
  }
  const client = createClient({ discovery: globals.discovery, trust: globals.trust, ...networkChoiceOf(command), log, ...inspectOptionOf(globals, io) });
  const visible = () => sorted(client.services().filter((service) => serviceName === undefined || service.serviceName === serviceName));
  try {
    if (flags.watch !== true) {
      await answersIn(client, () => visible().length > 0, flags);
      const services = visible();
      printServices(io, services, globals.json, false);
      printIgnored(io, client.discoveryStats());
      if (services.length > 0) return ExitCode.ok;
      if (!globals.json && serviceName !== undefined) line(io.stderr, `no provider offers ${serviceName}`);
      return ExitCode.unavailable;
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
    .addOption(envOption('--timeout-ms <n>', 'the longest to listen for answers').argParser(integerIn(1, 3_600_000)).default(2_000))
    .addOption(envOption('--settle-ms <n>', 'once something matched, return after this long without a new answer').argParser(integerIn(1, 3_600_000)).default(SETTLE_MS))
    .option('--watch', 'keep listening and print the list again whenever it changes, until Ctrl-C')
    .addHelpText(
      'after',
      `
Sends a ClientServiceDiscoveryRequest and prints serviceName, version, serviceId, endpoint,
status, load, operations and signing key of every instance it trusts: as soon as the answers are
in (something matched and nothing new came for --settle-ms), at the latest after --timeout-ms.
Signed advertisements are trusted on first use (or only with --trust-key keys, with --no-tofu);
unsigned ones (seed-only providers) are counted and listed only with --allow-unsigned.
Exit codes: 0 something matched, 3 nothing did (no answer, or no instance of [service]).

Examples:
  $ switchboard discover
  $ switchboard discover ImageProcessingService --timeout-ms 5000 --json
  $ switchboard discover --watch --broadcast 192.168.1.255
  $ switchboard discover --trust-key ImageProcessingService=<key the provider printed> --no-tofu
  $ switchboard discover --allow-unsigned`,
    )
    .action((serviceName: string | undefined, flags: DiscoverFlags, command: Command) =>
      runAction(context, () => runDiscover(context, serviceName, flags, command)),
    );
}
