/**
 * `switchboard provider`: hosts services until SIGINT/SIGTERM, then stops gracefully (running
 * tasks cancelled, goodbye advertised, sessions closed with 1001) and exits 0.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { ProviderEmitted } from '../../machines/provider.js';
import { createProvider } from '../provider.js';
import type { OperationDefinition, ServiceDefinition } from '../service.js';
import { runAction, within, type CliContext } from './context.js';
import { describeDiscovery, envOption, ExitCode, globalOptionsOf, integerIn, listOf, repeatable } from './options.js';
import { inspectOptionOf } from './inspect.js';
import { jsonLine, line, stderrLogger, type Io } from './output.js';
import { loadServices } from './serviceModule.js';
import { nextStopSignal } from './signals.js';

interface ProviderFlags {
  service?: string[];
  port: number;
  host: string;
  advertisedHost?: string;
  workDir: string;
  heartbeatMs?: number;
  token?: string[];
  stepDelayMs?: number;
  uiPort?: number;
  uiHost: string;
}

/** How long a graceful stop may take before the process gives up on it. */
const STOP_TIMEOUT_MS = 10_000;

export const DEFAULT_WORK_DIR = './switchboard-work';

/** What the provider command reports: the provider's own events plus the start of each task. */
type Reported =
  | ProviderEmitted
  | { readonly type: 'task.started'; readonly taskId: string; readonly clientId: string; readonly serviceName: string; readonly operation: string };

/** The service with each operation's run wrapped so the start of every task is reported. */
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

function reporter(io: Io, json: boolean): (event: Reported) => void {
  let listening = false;
  return (event) => {
    // The first status (Online) comes before start() resolves; the listening line says it.
    if (event.type === 'provider.listening') {
      listening = true;
      return;
    }
    if (event.type === 'provider.status' && !listening) return;
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
  const { imageProcessingService } = await import('../demo/imageService.js');
  const service = imageProcessingService({ workDir, ...(flags.stepDelayMs === undefined ? {} : { stepDelayMs: flags.stepDelayMs }) });
  return { service: service as unknown as ServiceDefinition, workDir };
}

async function runProvider(context: CliContext, flags: ProviderFlags, command: Command): Promise<number> {
  const { io } = context;
  const globals = globalOptionsOf(command);
  const report = reporter(io, globals.json);
  const log = stderrLogger(io, globals.logLevel, globals.logFormat);
  let workDir: string | undefined;
  let services: ServiceDefinition[];
  if (flags.service !== undefined && flags.service.length > 0) {
    services = await loadServices(flags.service);
  } else {
    const demo = await demoService(flags);
    services = [demo.service];
    workDir = demo.workDir;
  }
  const provider = createProvider({
    services: services.map((service) => reportingStarts(service, report)),
    port: flags.port,
    host: flags.host,
    advertisedHost: flags.advertisedHost,
    discovery: globals.discovery,
    ...inspectOptionOf(globals, io),
    ...(flags.uiPort === undefined ? {} : { ui: { port: flags.uiPort, host: flags.uiHost } }),
    ...(flags.heartbeatMs === undefined ? {} : { heartbeatIntervalMs: flags.heartbeatMs }),
    ...(flags.token === undefined || flags.token.length === 0 ? {} : { auth: { tokens: flags.token } }),
    log,
  });
  for (const type of ['provider.listening', 'provider.status', 'session.opened', 'session.bound', 'session.ended', 'task.settled'] as const) {
    provider.on(type, report as (event: ProviderEmitted) => void);
  }
  const stop = nextStopSignal();
  let stoppedCleanly = false;
  try {
    const { endpoint } = await provider.start();
    const offered = services.map((service) => ({ serviceName: service.name, version: service.version, operations: Object.keys(service.operations) }));
    if (globals.json) {
      jsonLine(io.stdout, { event: 'provider.listening', time: new Date().toISOString(), endpoint, services: offered, discovery: globals.discovery, workDir });
    } else {
      line(io.stdout, `provider listening on ${endpoint}`);
      for (const service of offered) line(io.stdout, `service ${service.serviceName} ${service.version}: ${service.operations.join(', ')}`);
      line(io.stdout, `discovery ${describeDiscovery(globals.discovery)}`);
      if (workDir !== undefined) line(io.stdout, `work dir ${workDir}`);
      const ui = await provider.ui;
      if (ui) line(io.stdout, `web UI: ${ui.url} (metrics: ${ui.url.replace(/\/(\?.*)?$/, '/metrics')})`);
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

export function registerProviderCommand(program: Command, context: CliContext): Command {
  return program
    .command('provider')
    .description('host services on the network: the demo ImageProcessingService, or your own with --service')
    .addOption(envOption('--service <module>', 'load the services a module exports (defineService results); repeatable').argParser(repeatable))
    .addOption(envOption('--port <n>', 'WebSocket port (0: any free port)').argParser(integerIn(0, 65_535)).default(0))
    .addOption(envOption('--host <addr>', 'address the WebSocket server listens on').default('0.0.0.0'))
    .addOption(envOption('--advertised-host <host>', "host put in the advertised endpoint (default: --host, or this machine's first LAN address)"))
    .addOption(envOption('--work-dir <dir>', 'demo service: the directory every image path is confined to (created)').default(DEFAULT_WORK_DIR))
    .addOption(envOption('--heartbeat-ms <n>', 'advertisement period (default: 30000)').argParser(integerIn(100, 3_600_000)))
    .addOption(envOption('--token <token>', 'require authentication with one of these tokens (SEC-2); repeatable or comma-separated').argParser(listOf((token) => token)))
    .addOption(envOption('--step-delay-ms <n>', 'demo service: pause between progress steps, to watch progress (default: 0)').argParser(integerIn(0, 60_000)))
    .addOption(envOption('--ui-port <n>', "serve the provider's web UI (its actors, tasks, statecharts) and /metrics on this port (0: any)").argParser(integerIn(0, 65_535)))
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
  $ SWITCHBOARD_BROADCAST=127.255.255.255 switchboard provider --host 127.0.0.1 --json`,
    )
    .action((flags: ProviderFlags, command: Command) => runAction(context, () => runProvider(context, flags, command)));
}
