/**
 * `switchboard conformance`: the protocol conformance suites, run against somebody's
 * implementation over the real network.
 *
 * - `conformance provider <ws://host:port>`: black-box checks over the provider's UDP discovery and
 *   WebSocket endpoints (runtime/conformance/provider/).
 * - `conformance client -- <command>`: the client suite; its subcommand is registered by the
 *   client suite's own module through `registerConformanceCommand`'s `subcommands`.
 *
 * Exit codes: 0 every check passed or was not applicable, 1 a check failed, 2 usage.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { hostOf } from '../conformance/provider/probe.js';
import { runProviderSuite } from '../conformance/provider/index.js';
import { registerClientSuite } from '../conformance/client/command.js';
import { REPORT_FORMATS, type ReportFormat } from '../conformance/report.js';
import type { ConformanceLevel } from '../conformance/types.js';
import { runAction, type CliContext } from './context.js';
import { envOption, globalOptionsOf, integerIn, peerAddress, repeatable, taskParams, UsageError } from './options.js';
import { line } from './output.js';
import { emitSuiteReport, progressLine } from './conformanceOutput.js';

interface ProviderFlags {
  udp?: { host: string; port: number | undefined };
  service?: string;
  operation?: string;
  paramsJson?: string;
  slowOperation?: string;
  slowParamsJson?: string;
  invalidParamsJson?: string;
  level: ConformanceLevel;
  format?: ReportFormat;
  output?: string;
  token?: string;
  check?: string[];
  clientId?: string;
  ca?: string;
  insecure?: boolean;
  forbiddenOperation?: string;
  expectFirstMessageMs?: number;
  expectUpgradeTimeoutMs?: number;
  expectConnectionsPerAddress?: number;
  expectVetoFrom?: string;
  authRequired?: boolean;
  rateLimit?: { messagesMax: number; windowMs: number };
  sessionsMax?: number;
}

/** `--rate-limit 100/1000`: messages per window of milliseconds. */
export function rateLimitOption(value: string): { messagesMax: number; windowMs: number } {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*(?:ms)?\s*$/.exec(value);
  const messagesMax = Number(match?.[1]);
  const windowMs = Number(match?.[2]);
  if (match === null || !Number.isSafeInteger(messagesMax) || messagesMax < 1 || !Number.isSafeInteger(windowMs) || windowMs < 1) {
    throw new InvalidArgumentError('expected <messages>/<milliseconds>, e.g. 100/1000');
  }
  return { messagesMax, windowMs };
}

/** `ws://host:port[/path]`, `wss://...`, or a bare `host:port` (read as ws://). */
export function providerEndpoint(text: string): string {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `ws://${text}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${text}: not a ws://host:port URL`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new UsageError(`${text}: the endpoint must be ws:// or wss://`);
  if (parsed.port === '') throw new UsageError(`${text}: the endpoint needs a port`);
  return parsed.href.replace(/\/$/, '');
}

const jsonObject = (flag: string, text: string | undefined): Record<string, unknown> | undefined => {
  if (text === undefined) return undefined;
  try {
    return taskParams(text, []);
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message.replace(/^--params-json /, '')}`);
  }
};


async function runProvider(context: CliContext, endpointText: string, flags: ProviderFlags, command: Command): Promise<number> {
  const { io } = context;
  const globals = globalOptionsOf(command);
  const endpoint = providerEndpoint(endpointText);
  if (flags.slowParamsJson !== undefined && flags.slowOperation === undefined) throw new UsageError('--slow-params-json needs --slow-operation');
  const params = jsonObject('--params-json', flags.paramsJson);
  const slowParams = jsonObject('--slow-params-json', flags.slowParamsJson);
  const invalidParams = jsonObject('--invalid-params-json', flags.invalidParamsJson);
  const udp = { host: flags.udp?.host ?? hostOf(endpoint), port: flags.udp?.port ?? globals.discovery.port ?? 50_001 };
  const format: ReportFormat = flags.format ?? (globals.json ? 'json' : 'table');
  let ca: Buffer | undefined;
  if (flags.ca !== undefined) {
    try {
      ca = await readFile(flags.ca);
    } catch (error) {
      throw new UsageError(`--ca ${flags.ca}: ${(error as Error).message}`);
    }
  }
  const tls = flags.insecure === true ? { rejectUnauthorized: false } : ca === undefined ? undefined : { ca };
  const verbose = globals.logLevel === 'info' || globals.logLevel === 'debug';
  if (verbose) line(io.stderr, `conformance: provider ${endpoint}, discovery ${udp.host}:${udp.port}, level ${flags.level}`);
  const report = await runProviderSuite(
    {
      endpoint,
      udp,
      level: flags.level,
      ...(flags.service === undefined ? {} : { service: flags.service }),
      ...(flags.operation === undefined ? {} : { operation: flags.operation }),
      ...(params === undefined ? {} : { params }),
      ...(flags.slowOperation === undefined ? {} : { slowOperation: flags.slowOperation }),
      ...(slowParams === undefined ? {} : { slowParams }),
      ...(invalidParams === undefined ? {} : { invalidParams }),
      ...(flags.token === undefined ? {} : { token: flags.token }),
      ...(flags.check === undefined ? {} : { only: flags.check }),
      ...(flags.clientId === undefined ? {} : { clientId: flags.clientId }),
      ...(tls === undefined ? {} : { tls }),
      security: {
        ...(flags.forbiddenOperation === undefined ? {} : { forbiddenOperation: flags.forbiddenOperation }),
        ...(flags.expectFirstMessageMs === undefined ? {} : { firstMessageTimeoutMs: flags.expectFirstMessageMs }),
        ...(flags.expectUpgradeTimeoutMs === undefined ? {} : { upgradeTimeoutMs: flags.expectUpgradeTimeoutMs }),
        ...(flags.expectConnectionsPerAddress === undefined ? {} : { connectionsPerAddressMax: flags.expectConnectionsPerAddress }),
      },
      ...(flags.expectVetoFrom === undefined ? {} : { veto: { fromAddress: flags.expectVetoFrom } }),
      ...(flags.authRequired === true ? { authRequired: true } : {}),
      ...(flags.rateLimit === undefined ? {} : { rateLimit: flags.rateLimit }),
      ...(flags.sessionsMax === undefined ? {} : { sessionsMax: flags.sessionsMax }),
    },
    verbose ? { onReport: (checkReport) => line(io.stderr, progressLine(checkReport)) } : {},
  );
  return emitSuiteReport(io, report, { format, output: flags.output, check: flags.check, level: flags.level });
}

function registerProviderSuite(group: Command, context: CliContext): void {
  group
    .command('provider')
    .description('black-box checks of a provider over its real UDP discovery and WebSocket endpoints')
    .argument('<endpoint>', "the provider's WebSocket endpoint, e.g. ws://127.0.0.1:8080")
    .addOption(new Option('--udp <host:port>', "the provider's discovery address (default: the endpoint's host, --discovery-port)").argParser(peerAddress))
    .addOption(new Option('--service <name>', 'the service whose tasks are assigned (default: the first advertised)'))
    .addOption(new Option('--operation <op>', 'a quick operation that succeeds with --params-json (default: the first capability)'))
    .addOption(new Option('--params-json <json>', "the quick operation's parameters (default: {})"))
    .addOption(new Option('--slow-operation <op>', 'an operation of the same service that runs 1 to 5 s, to be cancelled'))
    .addOption(new Option('--slow-params-json <json>', "the slow operation's parameters (default: {})"))
    .addOption(new Option('--invalid-params-json <json>', 'parameters the quick operation must refuse (default: derived from its settings)'))
    .addOption(new Option('--level <level>', 'core: what the seed asks; full: core plus the extensions').choices(['core', 'full']).default('core'))
    .addOption(new Option('--format <format>', 'report format (default: table, or json with --json)').choices(REPORT_FORMATS))
    .addOption(new Option('--output <file>', 'write the report to this file; a summary line goes to stdout'))
    .addOption(envOption('--token <token>', 'authenticate every connection with this token (SEC-2)'))
    .addOption(new Option('--check <name-or-id>', 'run only checks whose name starts with this, or that cite this requirement id; repeatable').argParser(repeatable))
    .addOption(new Option('--client-id <id>', 'the clientId the suite acts as (default: conformance-<uuid>)'))
    .addOption(new Option('--ca <file>', "wss://: trust this CA certificate (PEM), e.g. the provider's self-signed one"))
    .addOption(new Option('--insecure', 'wss://: accept any certificate').conflicts('ca'))
    .addOption(new Option('--forbidden-operation <op>', 'SEC-4: an operation (or Service.operation) the ACL refuses this identity'))
    .addOption(new Option('--expect-first-message-ms <n>', "SEC-14: the provider's first-message deadline").argParser(integerIn(1, 3_600_000)))
    .addOption(new Option('--expect-upgrade-timeout-ms <n>', "SEC-14: the provider's upgrade deadline").argParser(integerIn(1, 3_600_000)))
    .addOption(new Option('--expect-connections-per-address <n>', 'SEC-15: connections one address may hold').argParser(integerIn(1, 1_000)))
    .addOption(new Option('--expect-veto-from <address>', "HOOK-1: a local address (e.g. 127.0.0.9) whose connections the provider's connect hook vetoes"))
    .addOption(new Option('--auth-required', 'authentication is configured on the provider: fail if a session without a token may act (SEC-3)'))
    .addOption(new Option('--rate-limit <n/ms>', "the provider's configured rate limit, e.g. 100/1000: fail if it is not enforced (SEC-7)").argParser(rateLimitOption))
    .addOption(new Option('--sessions-max <n>', "the provider's configured session limit: fail if it is not enforced (CONN-10)").argParser(integerIn(1, 10_000)))
    .addHelpText(
      'after',
      `
Offer a quick test operation (it succeeds in well under a second with the parameters given) and,
for the cancel and running-task checks, a slow one. Without --operation the suite picks one from
the advertised schema. Limits you say are configured (--auth-required, --rate-limit,
--sessions-max) are checked as requirements. Exit codes: 0 no check failed, 1 a check failed, 2 usage.

Examples:
  $ switchboard conformance provider ws://127.0.0.1:8080 --udp 127.0.0.1:50001
  $ switchboard conformance provider ws://192.168.1.20:8080 --service ImageProcessingService \\
      --operation convertFormat --params-json '{"inputPath":"in.png","outputPath":"out.webp","format":"webp"}' \\
      --level full --format junit --output provider-conformance.xml`,
    )
    .action((endpoint: string, flags: ProviderFlags, command: Command) => runAction(context, () => runProvider(context, endpoint, flags, command)));
}

/** Adds the `conformance` group with its provider suite, plus `subcommands` (the client suite). */
export function registerConformanceCommand(
  program: Command,
  context: CliContext,
  subcommands: readonly ((group: Command, context: CliContext) => void)[] = [registerClientSuite],
): Command {
  const group = program
    .command('conformance')
    .description('check an implementation of the protocol against docs/protocol.md (levels core and full)')
    .addHelpText(
      'after',
      `
Examples:
  $ switchboard conformance provider ws://127.0.0.1:8080 --udp 127.0.0.1:50001 --level core
  $ switchboard conformance provider ws://127.0.0.1:8080 --level full --format junit --output report.xml

Every option of a suite also reads SWITCHBOARD_<OPTION> where noted (SWITCHBOARD_TOKEN).
See docs/conformance.md for the checks, the levels and what black-box testing cannot prove.`,
    );
  registerProviderSuite(group, context);
  for (const register of subcommands) register(group, context);
  return group;
}
