/**
 * `switchboard conformance client [options] -- <command that starts a client>`: the client suite
 * from the command line. Registered into the `conformance` group by runtime/cli/conformance.ts.
 *
 * Exit codes: 0 no check failed (passes and not-applicables only), 1 a check failed, 2 usage.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { runAction, type CliContext } from '../../cli/context.js';
import { globalOptionsOf, integerIn, repeatable, taskParams, UsageError } from '../../cli/options.js';
import { line } from '../../cli/output.js';
import { emitSuiteReport, progressLine } from '../../cli/conformanceOutput.js';
import { REPORT_FORMATS, type ReportFormat } from '../report.js';
import type { ConformanceLevel } from '../types.js';
import { runClientSuite } from './index.js';
import { timingDefaults, type ClientSuiteTimings } from './options.js';

interface ClientFlags extends Partial<Record<keyof ClientSuiteTimings, number>> {
  level: ConformanceLevel;
  format?: ReportFormat;
  output?: string;
  service?: string;
  operation?: string;
  paramsJson?: string;
  check?: string[];
}

/** One flag per timing: `ackTimeoutMs` is `--ack-timeout-ms`. */
const TIMING_HELP: Record<keyof ClientSuiteTimings, string> = {
  startTimeoutMs: "time from the client's start to its discovery request and its AssignTask",
  ackTimeoutMs: "the client's Ack timeout (TASK-3)",
  withholdMs: 'how long the provider withholds every answer to the AssignTask (at least (assign-sends-max + 1) x ack timeout)',
  assignSendsMax: "the client's assignAttemptsMax: most AssignTask sends, the first included (TASK-3)",
  pingIntervalMs: "the client's ping period (CONN-3)",
  pongTimeoutMs: "the client's pong timeout (CONN-3)",
  backoffBaseMs: "the client's reconnect backoff base (CONN-4)",
  backoffCapMs: "the client's reconnect backoff cap (CONN-4)",
  backoffToleranceMs: 'added to each reconnect delay bound',
  refusedAttempts: 'reconnect attempts refused before one is accepted',
  reconnectsPerSecondMax: 'more reconnect attempts than this in one second is hammering',
  cancelAfterMs: 'SWITCHBOARD_CANCEL_AFTER_MS in the cancel scenario',
  quietMs: 'observation after the TaskResult (TASK-10)',
  heartbeatIntervalMs: "period of the scripted provider's heartbeat advertisements",
  slackMs: "added to every deadline derived from the client's timings",
};

const flagOf = (name: string): string => `--${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;


function paramsOf(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    return taskParams(text, []);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function runClient(context: CliContext, commandLine: string[], flags: ClientFlags, command: Command): Promise<number> {
  const { io } = context;
  if (commandLine.length === 0) throw new UsageError('give the command that starts the client after --');
  const globals = globalOptionsOf(command);
  const timings: Partial<Record<keyof ClientSuiteTimings, number>> = {};
  for (const name of Object.keys(timingDefaults) as (keyof ClientSuiteTimings)[]) {
    if (flags[name] !== undefined) timings[name] = flags[name];
  }
  const params = paramsOf(flags.paramsJson);
  const format: ReportFormat = flags.format ?? (globals.json ? 'json' : 'table');
  const verbose = globals.logLevel === 'info' || globals.logLevel === 'debug';
  const discoveryPort = globals.discovery.port ?? 50_001;
  if (verbose) line(io.stderr, `conformance: client ${commandLine.join(' ')}, discovery port ${discoveryPort}, level ${flags.level}`);
  const report = await runClientSuite(
    {
      command: commandLine,
      level: flags.level,
      discoveryPort,
      timings,
      ...(flags.service === undefined ? {} : { serviceName: flags.service }),
      ...(flags.operation === undefined ? {} : { operation: flags.operation }),
      ...(params === undefined ? {} : { params }),
      ...(flags.check === undefined ? {} : { only: flags.check }),
      ...(verbose ? { log: (text: string) => line(io.stderr, `conformance: ${text}`) } : {}),
    },
    verbose ? { onReport: (checkReport) => line(io.stderr, progressLine(checkReport)) } : {},
  );
  return emitSuiteReport(io, report, { format, output: flags.output, check: flags.check, level: flags.level });
}

const nonNegative = (value: string): number => {
  try {
    return integerIn(0, 86_400_000)(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

/** Adds `client` to the `conformance` group. */
export function registerClientSuite(group: Command, context: CliContext): void {
  const client = group
    .command('client')
    .description('run a client under a scripted provider on loopback and check what it does')
    .argument('<command...>', 'the command that starts the client under test (after --)')
    .addOption(new Option('--level <level>', 'core: what the seed asks; full: core plus the extensions').choices(['core', 'full']).default('core'))
    .addOption(new Option('--format <format>', 'report format (default: table, or json with --json)').choices(REPORT_FORMATS))
    .addOption(new Option('--output <file>', 'write the report to this file; a summary line goes to stdout'))
    .addOption(new Option('--service <name>', 'the service the scripted provider advertises (SWITCHBOARD_SERVICE)').default('ConformanceProbe'))
    .addOption(new Option('--operation <op>', 'its operation (SWITCHBOARD_OPERATION)').default('probe'))
    .addOption(new Option('--params-json <json>', 'the task parameters (SWITCHBOARD_PARAMS_JSON; default {"text":"conformance"})'))
    .addOption(new Option('--check <name-or-id>', 'run only checks whose name starts with this, or that cite this requirement id; repeatable').argParser(repeatable));
  for (const [name, help] of Object.entries(TIMING_HELP)) {
    client.addOption(new Option(`${flagOf(name)} <n>`, help).argParser(nonNegative).default(timingDefaults[name as keyof ClientSuiteTimings]));
  }
  client
    .addHelpText(
      'after',
      `
The suite binds the UDP discovery port (--discovery-port, default 50001, SO_REUSEADDR) and a WebSocket
server on 127.0.0.1, then runs the command once per scenario with:
  SWITCHBOARD_DISCOVERY_PORT, SWITCHBOARD_BROADCAST=127.255.255.255, SWITCHBOARD_SERVICE,
  SWITCHBOARD_OPERATION, SWITCHBOARD_PARAMS_JSON, and SWITCHBOARD_CANCEL_AFTER_MS (cancel scenario).
The client must discover the service, assign it ONE task, and keep running until killed (the suite
kills it, by pid, at the end of each scenario). One argument runs through /bin/sh -c; several are
run directly, with $SWITCHBOARD_X replaced in each. Tell the suite the client's timings when they
are not the protocol's defaults (--ack-timeout-ms, --ping-interval-ms, --backoff-base-ms, ...).
Exit codes: 0 no check failed, 1 a check failed, 2 usage. See docs/conformance.md, "Client suite".

Examples:
  $ switchboard conformance client -- node bin/switchboard.js assign '$SWITCHBOARD_SERVICE' '$SWITCHBOARD_OPERATION' --params-json '$SWITCHBOARD_PARAMS_JSON'
  $ switchboard conformance client --level full --ack-timeout-ms 400 --ping-interval-ms 500 --pong-timeout-ms 500 \\
      --backoff-base-ms 50 --backoff-cap-ms 1000 -- node --import tsx specs/fixtures/clients/switchboardClient.ts
  $ switchboard conformance client --format junit --output client.xml -- python3 my_client.py`,
    )
    .action((commandLine: string[], flags: ClientFlags, command: Command) => runAction(context, () => runClient(context, commandLine, flags, command)));
}
