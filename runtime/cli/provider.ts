/**
 * `switchboard provider`: hosts services until SIGINT/SIGTERM, then stops gracefully (running
 * tasks cancelled, goodbye advertised, sessions closed with 1001) and exits 0.
 */
import type { ProviderFilesOptions } from '../files/providerFiles.js';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ProviderEmitted } from '../../machines/provider.js';
import { loadAcl } from '../acl.js';
import { loadApiKeys, type AuthOptions } from '../auth.js';
import { defaultKeyFile, SigningKeyError } from '../keys.js';
import { createProvider, type ProviderOptions, type SigningOptions } from '../provider.js';
import { compatDeviations, type CompatDeviation, type CompatOption } from '../compat.js';
import type { OperationDefinition, ServiceDefinition } from '../service.js';
import { runAction, within, type CliContext } from './context.js';
import { ManifestError } from '../manifest/manifestError.js';
import { loadManifests } from '../manifest/loadManifests.js';
import { envOption, ExitCode, globalOptionsOf, integerIn, listOf, parseParamValue, repeatable, UsageError } from './options.js';
import { describeNetwork, networkChoiceOf } from './natsOptions.js';
import { inspectOptionOf } from './inspect.js';
import { jsonLine, line, stderrLogger, type Io } from './output.js';
import { loadImageService } from './demoModules.js';
import { loadServices } from './serviceModule.js';
import { nextStopSignal } from './signals.js';
import { refuseFrom } from '../hooks/refuseFrom.js';

interface ProviderFlags {
  refuseFrom?: string[];
  service?: string[];
  manifest?: string[];
  setting?: string[];
  port: number;
  host: string;
  advertisedHost?: string;
  workDir: string;
  heartbeatMs?: number;
  token?: string[];
  apiKeys?: string;
  acl?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  stepDelayMs?: number;
  filesDir?: string;
  fileBytesMax?: number;
  fileStoreBytesMax?: number;
  sessionsMax?: number;
  anonymousSessionsMax?: number;
  sessionsPerKeyMax?: number;
  connectionsPerAddressMax?: number;
  framesPerSecond?: number;
  /** false with --no-ack-coalescing. */
  ackCoalescing: boolean;
  framesPerAddressPerSecond?: number;
  keyMessagesPerSecond?: number;
  rateLimit?: { messagesMax: number; windowMs: number };
  sendBufferMax?: number;
  upgradeTimeoutMs?: number;
  firstMessageTimeoutMs?: number;
  keyFile?: string;
  uiPort?: number;
  uiHost: string;
  compat?: CompatOption;
}

/** `--compat field` or `--compat keyed-capabilities,flat-status` (runtime/compat.ts). */
function compatOf(value: string): CompatOption {
  const names = value.split(',').map((name) => name.trim()).filter((name) => name.length > 0);
  if (names.length === 1 && names[0] === 'field') return 'field';
  const unknown = names.filter((name) => !(compatDeviations as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`expected field, or a comma-separated list of ${compatDeviations.join(', ')}${unknown.length > 0 ? `; unknown: ${unknown.join(', ')}` : ''}`);
  }
  return names as CompatDeviation[];
}

/** `--rate-limit 100/1000`: at most 100 messages per 1,000 ms on one connection (SEC-7). */
function rateLimitOf(value: string): { messagesMax: number; windowMs: number } {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  const messagesMax = Number(match?.[1]);
  const windowMs = Number(match?.[2]);
  if (match === null || messagesMax < 1 || windowMs < 1 || !Number.isSafeInteger(messagesMax) || !Number.isSafeInteger(windowMs)) {
    throw new InvalidArgumentError(`expected <messages>/<ms> such as 100/1000, got "${value}"`);
  }
  return { messagesMax, windowMs };
}

/** The rate and connection limits of the provider command (SEC-7, SEC-13..16); absent flags keep the defaults. */
function limitsOf(flags: ProviderFlags): Pick<ProviderOptions, 'sessionsMax' | 'anonymousSessionsMax' | 'sessionsPerPrincipalMax' | 'principalRateLimit'> & {
  server: NonNullable<ProviderOptions['server']>;
  session: NonNullable<ProviderOptions['session']>;
} {
  const defined = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
  return {
    ...defined({
      sessionsMax: flags.sessionsMax,
      anonymousSessionsMax: flags.anonymousSessionsMax,
      sessionsPerPrincipalMax: flags.sessionsPerKeyMax,
    }),
    ...(flags.keyMessagesPerSecond === undefined ? {} : { principalRateLimit: { messagesMax: flags.keyMessagesPerSecond, windowMs: 1_000 } }),
    server: defined({
      connectionsPerAddressMax: flags.connectionsPerAddressMax,
      upgradeTimeoutMs: flags.upgradeTimeoutMs,
      framesPerSecondMax: defined({ perConnection: flags.framesPerSecond, perAddress: flags.framesPerAddressPerSecond }),
      coalesceAcks: flags.ackCoalescing ? undefined : false,
      ...(flags.sendBufferMax === undefined ? {} : { sendBuffer: { bytesMax: flags.sendBufferMax, pauseBytes: Math.min(1_048_576, Math.floor(flags.sendBufferMax / 2)) } }),
    }),
    session: defined({ rateLimit: flags.rateLimit, firstMessageTimeoutMs: flags.firstMessageTimeoutMs }),
  };
}

/** The security options of the provider command: keys, ACL, TLS (files read and checked here). */
async function securityOf(flags: ProviderFlags): Promise<Pick<ProviderOptions, 'auth' | 'acl' | 'server'> & { summary: string[] }> {
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  if (flags.tlsClientCa !== undefined && flags.tlsCert === undefined) throw new UsageError('--tls-client-ca needs --tls-cert and --tls-key');
  const summary: string[] = [];
  const keys = flags.apiKeys === undefined ? undefined : await loadApiKeys(flags.apiKeys).catch(usage);
  const tokens = flags.token !== undefined && flags.token.length > 0 ? flags.token : undefined;
  const certificates = flags.tlsClientCa === undefined ? undefined : ('any' as const);
  const auth: AuthOptions | undefined =
    keys === undefined && tokens === undefined && certificates === undefined
      ? undefined
      : { ...(keys === undefined ? {} : { keys }), ...(tokens === undefined ? {} : { tokens }), ...(certificates === undefined ? {} : { certificates }) };
  if (auth !== undefined) {
    const credentials = (keys?.length ?? 0) + (tokens?.length ?? 0);
    summary.push(`authentication required (${credentials} key${credentials === 1 ? '' : 's'}${certificates ? ', or a client certificate' : ''})`);
  }
  const acl = flags.acl === undefined ? undefined : await loadAcl(flags.acl).catch(usage);
  if (acl !== undefined) summary.push(`ACL ${flags.acl}: ${acl.rules.length} rule${acl.rules.length === 1 ? '' : 's'}, default ${acl.default}`);
  let server: ProviderOptions['server'];
  if (flags.tlsCert !== undefined && flags.tlsKey !== undefined) {
    const [cert, key, clientCa] = await Promise.all([
      readFile(flags.tlsCert),
      readFile(flags.tlsKey),
      flags.tlsClientCa === undefined ? undefined : readFile(flags.tlsClientCa),
    ]).catch(usage);
    server = { tls: { cert, key, ...(clientCa === undefined ? {} : { clientCa }) } };
    summary.push(`TLS (wss://)${clientCa === undefined ? '' : ' with client certificates'}`);
  }
  return { ...(auth === undefined ? {} : { auth }), ...(acl === undefined ? {} : { acl }), ...(server === undefined ? {} : { server }), summary };
}

/** A file that cannot be read or parsed is a configuration mistake (exit 2). */
const usage = (error: unknown): never => {
  throw new UsageError((error as Error).message);
};

/** How long a graceful stop may take before the process gives up on it. */
const STOP_TIMEOUT_MS = 10_000;

export const DEFAULT_WORK_DIR = './switchboard-work';

/** What the provider command reports: the provider's own events plus the start of each task. */
type Reported =
  | ProviderEmitted
  | { readonly type: 'task.started'; readonly taskId: string; readonly clientId: string; readonly serviceName: string; readonly operation: string };

/** The service with each operation's run wrapped so the start of every task is reported. */
/** The task files options from the flags (the store is used only by operations that declare task files). */
function filesOf(flags: ProviderFlags): { files?: ProviderFilesOptions } {
  const files: ProviderFilesOptions = {
    ...(flags.filesDir === undefined ? {} : { dir: flags.filesDir }),
    ...(flags.fileBytesMax === undefined ? {} : { fileBytesMax: flags.fileBytesMax }),
    ...(flags.fileStoreBytesMax === undefined ? {} : { bytesMax: flags.fileStoreBytesMax }),
  };
  return Object.keys(files).length === 0 ? {} : { files };
}

export function reportingStarts(service: ServiceDefinition, report: (event: Reported) => void): ServiceDefinition {
  const operations = Object.fromEntries(
    Object.entries(service.operations as Record<string, OperationDefinition>).map(([operation, definition]) => [
      operation,
      {
        ...definition,
        run: (params: unknown, context: Parameters<OperationDefinition['run']>[1]) => {
          report({ type: 'task.started', taskId: context.taskId, clientId: context.clientId, serviceName: service.name, operation });
          return definition.run(params, context);
        },
      },
    ]),
  );
  return { ...service, operations } as ServiceDefinition;
}

export function describeEvent(event: Reported): string | undefined {
  switch (event.type) {
    case 'provider.status':
      return `status ${event.status}`;
    case 'session.opened':
      return `session ${event.connectionId} opened`;
    case 'session.bound':
      return `session ${event.connectionId} acts for client ${event.clientId}`;
    case 'session.ended':
      return `session ${event.connectionId} ${event.graceful ? 'closed' : 'lost'}${event.clientId ? ` (client ${event.clientId})` : ''}${event.reason ? `: ${event.reason}` : ''}`;
    case 'task.started':
      return `task ${event.taskId} started ${event.serviceName}.${event.operation} (client ${event.clientId})`;
    case 'task.settled': {
      const { outcome } = event;
      const how = outcome.status === 'Failed' ? `Failed ${outcome.error.code}: ${outcome.error.message}` : outcome.status;
      return `task ${event.taskId} ${how} (client ${event.clientId})`;
    }
    default:
      return undefined;
  }
}

/** Prints what the provider reports: one line per event (JSON lines with --json), a status only when it changed. */
export function reporter(io: Io, json: boolean): (event: Reported) => void {
  let listening = false;
  let lastStatus: string | undefined;
  return (event) => {
    // The first status (Online) comes before start() resolves; the listening line says it.
    if (event.type === 'provider.listening') {
      listening = true;
      return;
    }
    if (event.type === 'provider.status') {
      // Reported with every heartbeat; only a change is news.
      const unchanged = event.status === lastStatus;
      lastStatus = event.status;
      if (unchanged || !listening) return;
    }
    if (json) {
      const { type, ...rest } = event;
      jsonLine(io.stdout, { event: type, time: new Date().toISOString(), ...rest });
      return;
    }
    const text = describeEvent(event);
    if (text !== undefined) line(io.stdout, text);
  };
}

async function demoService(flags: ProviderFlags): Promise<{ service: ServiceDefinition; workDir: string }> {
  const workDir = path.resolve(flags.workDir);
  await mkdir(workDir, { recursive: true });
  const { imageProcessingService } = await loadImageService();
  const service = imageProcessingService({ workDir, ...(flags.stepDelayMs === undefined ? {} : { stepDelayMs: flags.stepDelayMs }) });
  return { service: service as unknown as ServiceDefinition, workDir };
}

/** Runs `make`; a key file that cannot be used is a configuration mistake (exit 2), said as such. */
function usable<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof SigningKeyError) throw new UsageError(`--key-file: ${error.message}`);
    throw error;
  }
}

/** MAN-1..MAN-4: `--manifest` files with their `--setting name=value` values; a bad manifest is a usage error (exit 2). */
async function manifestServices(flags: ProviderFlags): Promise<ServiceDefinition[]> {
  if (!flags.manifest?.length) return [];
  const settings: Record<string, unknown> = {};
  for (const setting of flags.setting ?? []) {
    const index = setting.indexOf('=');
    if (index <= 0) throw new UsageError(`--setting expects name=value, got "${setting}"`);
    settings[setting.slice(0, index)] = parseParamValue(setting.slice(index + 1));
  }
  try {
    return (await loadManifests(flags.manifest, settings)).map((loaded) => loaded.service);
  } catch (error) {
    if (error instanceof ManifestError) throw new UsageError(`--manifest: ${error.message}`);
    throw error;
  }
}

async function runProvider(context: CliContext, flags: ProviderFlags, command: Command): Promise<number> {
  const { io } = context;
  const globals = globalOptionsOf(command);
  const report = reporter(io, globals.json);
  const log = stderrLogger(io, globals.logLevel, globals.logFormat);
  let workDir: string | undefined;
  let services: ServiceDefinition[];
  if ((flags.service?.length ?? 0) > 0 || (flags.manifest?.length ?? 0) > 0) {
    services = [...(flags.service?.length ? await loadServices(flags.service) : []), ...(await manifestServices(flags))];
    const names = services.map((service) => service.name);
    const twin = names.find((name, index) => names.indexOf(name) !== index);
    if (twin !== undefined) throw new UsageError(`a service named ${twin} is loaded twice (--service and --manifest)`);
  } else {
    const demo = await demoService(flags);
    services = [demo.service];
    workDir = demo.workDir;
  }
  const { summary, server: tlsServer, ...security } = await securityOf(flags);
  const { server: limitsServer, ...limits } = limitsOf(flags);
  const provider = usable(() => createProvider({
    signing: signingOf(flags),
    services: services.map((service) => reportingStarts(service, report)),
    port: flags.port,
    host: flags.host,
    advertisedHost: flags.advertisedHost,
    discovery: globals.discovery,
    ...networkChoiceOf(command),
    ...inspectOptionOf(globals, io),
    ...(flags.uiPort === undefined ? {} : { ui: { port: flags.uiPort, host: flags.uiHost } }),
    ...(flags.heartbeatMs === undefined ? {} : { heartbeatIntervalMs: flags.heartbeatMs }),
    ...security,
    ...limits,
    ...(flags.compat === undefined ? {} : { compat: flags.compat }),
    ...filesOf(flags),
    // HOOK-1: the operator's deny list, as a connect hook.
    ...(flags.refuseFrom === undefined ? {} : { hooks: { connect: refuseFrom(flags.refuseFrom) } }),
    server: { ...limitsServer, ...tlsServer },
    log,
  }));
  for (const type of ['provider.listening', 'provider.status', 'session.opened', 'session.bound', 'session.ended', 'task.settled'] as const) {
    provider.on(type, report as (event: ProviderEmitted) => void);
  }
  const stop = nextStopSignal();
  let stoppedCleanly = false;
  try {
    const { endpoint, discovery: port } = await provider.start();
    const offered = services.map((service) => ({ serviceName: service.name, version: service.version, operations: Object.keys(service.operations) }));
    if (globals.json) {
      jsonLine(io.stdout, {
        event: 'provider.listening',
        time: new Date().toISOString(),
        endpoint,
        services: offered,
        discovery: { ...globals.discovery, ...(port === undefined ? {} : { listening: port.listening, ...(port.listening ? {} : { problem: port.reason }) }) },
        workDir,
        publicKey: provider.publicKey,
        keyFile: provider.keyFile,
      });
    } else {
      line(io.stdout, `provider listening on ${endpoint}`);
      for (const service of offered) line(io.stdout, `service ${service.serviceName} ${service.version}: ${service.operations.join(', ')}`);
      // DISC-1: never claim to be discoverable when the port is another process's.
      if (port?.listening === false) {
        line(io.stdout, `NOT DISCOVERABLE on this host: ${port.reason}; this provider cannot answer discovery requests (clients elsewhere still hear its heartbeats). See "Sharing the discovery port" in docs/guide.md`);
      } else {
        line(io.stdout, `discovery ${describeNetwork(globals.discovery, networkChoiceOf(command))}`);
      }
      // What a client pins: switchboard discover --trust-key <service>=<key>.
      line(io.stdout, `signing key ${provider.publicKey} (${provider.keyFile})`);
      if (workDir !== undefined) line(io.stdout, `work dir ${workDir}`);
      for (const text of summary) line(io.stdout, text);
      if (flags.compat !== undefined) line(io.stdout, `compat ${flags.compat === 'field' ? 'field (keyed-capabilities, flat-status)' : flags.compat.join(', ')}`);
      if (flags.token?.length) line(io.stdout, `authentication required (${flags.token.length} token${flags.token.length === 1 ? '' : 's'})`);
      line(io.stdout, 'press Ctrl-C to stop');
    }
    const signal = await stop.signal;
    if (globals.json) jsonLine(io.stdout, { event: 'provider.stopping', time: new Date().toISOString(), signal });
    else line(io.stdout, `${signal}: stopping (running tasks cancelled, goodbye sent)`);
    const stopped = await within(provider.stop().then(() => true), STOP_TIMEOUT_MS, false);
    if (!stopped) throw new Error(`the provider did not stop within ${STOP_TIMEOUT_MS} ms`);
    stoppedCleanly = true;
    if (globals.json) jsonLine(io.stdout, { event: 'provider.stopped', time: new Date().toISOString() });
    else line(io.stdout, 'stopped');
    return ExitCode.ok;
  } finally {
    stop.dispose();
    if (!stoppedCleanly) await within(provider.stop().catch(() => undefined), 2_000);
  }
}

/**
 * The signing key: the --key-file, or the default file (the next free slot of it when another
 * provider on this host holds it). A key file that cannot be used is a configuration error.
 */
function signingOf(flags: ProviderFlags): SigningOptions {
  return flags.keyFile === undefined ? { keyFile: defaultKeyFile(), nextFreeSlot: true } : { keyFile: flags.keyFile };
}

export function registerProviderCommand(program: Command, context: CliContext): Command {
  return program
    .command('provider')
    .description('host services on the network: the demo ImageProcessingService, or your own with --service')
    .addOption(envOption('--service <module>', 'load the services a module exports (defineService results); repeatable').argParser(repeatable))
    .addOption(envOption('--manifest <file>', 'load a service described by a manifest (YAML or JSON) and its handlers module; repeatable').argParser(repeatable))
    .addOption(envOption('--setting <name=value>', "a manifest setting's value (numbers, true/false/null, JSON parsed); repeatable").argParser(repeatable))
    .addOption(envOption('--port <n>', 'WebSocket port (0: any free port)').argParser(integerIn(0, 65_535)).default(0))
    .addOption(envOption('--host <addr>', 'address the WebSocket server listens on').default('0.0.0.0'))
    .addOption(envOption('--advertised-host <host>', "host put in the advertised endpoint (default: --host, or this machine's first LAN address)"))
    .addOption(envOption('--work-dir <dir>', 'demo service: the directory every image path is confined to (created)').default(DEFAULT_WORK_DIR))
    .addOption(envOption('--heartbeat-ms <n>', 'advertisement period (default: 30000)').argParser(integerIn(100, 3_600_000)))
    .addOption(envOption('--token <token>', 'require authentication with one of these tokens (SEC-2); repeatable or comma-separated').argParser(listOf((token) => token)))
    .addOption(envOption('--api-keys <file>', 'require authentication with these named API keys: JSON [{name, key, groups?, clientIds?}] (SEC-2, SEC-10)'))
    .addOption(envOption('--acl <file>', 'authorise each task by this JSON policy: {default, rules: [{effect, who?, services?, operations?, clientIds?}]} (SEC-4)'))
    .addOption(envOption('--tls-cert <file>', 'serve wss:// with this certificate (PEM; with --tls-key) (SEC-1)'))
    .addOption(envOption('--tls-key <file>', 'the private key of --tls-cert (PEM)'))
    .addOption(envOption('--tls-client-ca <file>', 'accept client certificates signed by this CA (PEM) as credentials (SEC-10)'))
    .addOption(envOption('--sessions-max <n>', 'connections served at once (default: 1024)').argParser(integerIn(1, 1_000_000)))
    .addOption(envOption('--anonymous-sessions-max <n>', 'of those, connections without a credential while one is required (default: 256)').argParser(integerIn(0, 1_000_000)))
    .addOption(envOption('--sessions-per-key-max <n>', 'connections one API key or certificate may hold (default: 64)').argParser(integerIn(1, 1_000_000)))
    .addOption(envOption('--refuse-from <address>', 'refuse connections from this address: Error FORBIDDEN, close 1008 (a connect hook, HOOK-1); repeatable or comma-separated').argParser(listOf((address) => address)))
    .addOption(envOption('--connections-per-address-max <n>', 'TCP connections from one address (default: 64)').argParser(integerIn(1, 1_000_000)))
    .addOption(envOption('--frames-per-second <n>', 'frames one connection may send per second; beyond it, it is not read until the second ends (default: 5000)').argParser(integerIn(1, 10_000_000)))
    .addOption(envOption('--frames-per-address-per-second <n>', 'the same over all connections from one address (default: 10000)').argParser(integerIn(1, 10_000_000)))
    .addOption(envOption('--key-messages-per-second <n>', 'task messages one API key may send per second over all its connections; beyond, RATE_LIMITED (default: 10000)').argParser(integerIn(1, 10_000_000)))
    .addOption(envOption('--rate-limit <messages/ms>', 'messages one connection may send per window, e.g. 100/1000; beyond, RATE_LIMITED (SEC-7; default: off)').argParser(rateLimitOf))
    .addOption(envOption('--send-buffer-max <bytes>', 'unsent bytes a client may leave unread before it is dropped (default: 8388608)').argParser(integerIn(65_536, 1_073_741_824)))
    .addOption(envOption('--upgrade-timeout-ms <n>', 'time a TCP connection has to complete its WebSocket upgrade (default: 5000)').argParser(integerIn(100, 600_000)))
    .addOption(new Option('--no-ack-coalescing', "send every task's Ack, even when its final message leaves with it (the seed's behaviour; TASK-2)"))
    .addOption(envOption('--first-message-timeout-ms <n>', 'time a new connection has to send its first message (default: 10000)').argParser(integerIn(100, 3_600_000)))
    .addOption(envOption('--files-dir <dir>', 'task files: where the provider keeps the files tasks take and return (default: a new temporary directory)'))
    .addOption(envOption('--file-bytes-max <n>', 'task files: the largest file taken (FILE-6; default: 268435456)').argParser(integerIn(1, Number.MAX_SAFE_INTEGER)))
    .addOption(envOption('--file-store-bytes-max <n>', 'task files: bytes the store holds, least recently used evicted first (FILE-6; default: 1073741824)').argParser(integerIn(1, Number.MAX_SAFE_INTEGER)))
    .addOption(envOption('--step-delay-ms <n>', 'demo service: pause between progress steps, to watch progress (default: 0)').argParser(integerIn(0, 60_000)))
    .addOption(
      envOption(
        '--key-file <path>',
        `the provider's signing key (Ed25519, made there with mode 0600 on first start); clients pin its public key (default: ${defaultKeyFile()}, or the next free -2, -3, ... when another provider uses it)`,
      ),
    )
    .addOption(envOption('--ui-port <n>', "serve the provider's web UI (its actors, tasks, statecharts) and /metrics on this port (0: any)").argParser(integerIn(0, 65_535)))
    .addOption(
      envOption(
        '--compat <profile>',
        `speak a dialect of peers built from the seed alone: field, or a comma-separated list of ${compatDeviations.join(', ')} (docs/protocol.md, "The compat profile")`,
      ).argParser(compatOf),
    )
    .addOption(envOption('--ui-host <addr>', 'address the web UI listens on; anything but loopback requires a token (docs/ui.md)').default('127.0.0.1'))
    .addHelpText(
      'after',
      `
Without --service, hosts the demo ImageProcessingService (resizeImage, applyFilter, convertFormat)
on files inside --work-dir. Prints one line per session and task event (JSON lines with --json).
SIGINT or SIGTERM stops it gracefully: running tasks are cancelled, a goodbye is advertised.

Examples:
  $ switchboard provider --work-dir ./images --step-delay-ms 200
  $ switchboard provider --service ./greeter.js --port 8080 --token s3cret
  $ switchboard provider --manifest ./greeter.yaml --setting greeting=Hi
  $ switchboard provider --tls-cert cert.pem --tls-key key.pem --api-keys keys.json --acl acl.json
  $ SWITCHBOARD_BROADCAST=127.255.255.255 switchboard provider --host 127.0.0.1 --json`,
    )
    .action((flags: ProviderFlags, command: Command) => runAction(context, () => runProvider(context, flags, command)));
}
