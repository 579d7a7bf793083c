/**
 * `switchboard ui`: a client that discovers the network, with the web UI served by this process
 * (services, assign, tasks, live statecharts, /metrics) until SIGINT. With --demo it also hosts
 * the demo services (ImageProcessingService and Previews) on loopback, so there is something to
 * browse on a machine alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { createClient, type Client } from '../client.js';
import { networkChoiceOf } from './natsOptions.js';
import { MissingPeerError } from '../../adapters/optionalPeer.js';
import { metricsIfInstalled } from '../metrics/metrics.js';
import { createProvider, type Provider } from '../provider.js';
import type { ServiceDefinition } from '../service.js';
import { startUiServer, type UiServer } from '../ui/server.js';
import { runAction, within, type CliContext } from './context.js';
import { demoDiscovery } from './demo.js';
import { loadImageService, loadPreviewService, loadSampleImage } from './demoModules.js';
import { inspectOptionOf } from './inspect.js';
import { describeDiscovery, envOption, ExitCode, globalOptionsOf, integerIn } from './options.js';
import { jsonLine, line, stderrLogger } from './output.js';
import { nextStopSignal } from './signals.js';

interface UiFlags {
  port: number;
  host: string;
  token?: string;
  demo?: boolean;
  stepDelayMs: number;
}

export const DEFAULT_UI_PORT = 4280;

async function runUi(context: CliContext, flags: UiFlags, command: Command): Promise<number> {
  const { io } = context;
  const globals = globalOptionsOf(command);
  const log = stderrLogger(io, globals.logLevel, globals.logFormat);
  const discovery = flags.demo === true ? demoDiscovery(globals.discovery) : globals.discovery;
  // Without prom-client (an optional peer) the UI runs without /metrics and says what to install.
  const installedMetrics = metricsIfInstalled();
  const metrics = installedMetrics instanceof MissingPeerError ? undefined : installedMetrics;
  let provider: Provider | undefined;
  let client: Client | undefined;
  let server: UiServer | undefined;
  let workDir: string | undefined;
  const stop = nextStopSignal();
  try {
    if (flags.demo === true) {
      workDir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-ui-'));
      const { imageProcessingService } = await loadImageService();
      const { writeSampleImage } = await loadSampleImage();
      const { previewService } = await loadPreviewService();
      await writeSampleImage(path.join(workDir, 'sample.png'), { width: 1600, height: 1200 });
      const services = [imageProcessingService({ workDir, stepDelayMs: flags.stepDelayMs }) as unknown as ServiceDefinition, previewService({ stepDelayMs: flags.stepDelayMs })];
      provider = createProvider({ services, host: '127.0.0.1', port: 0, discovery, log, metrics, ...inspectOptionOf(globals, io) });
    }
    client = createClient({ discovery, trust: globals.trust, ...networkChoiceOf(command), log, metrics, ...inspectOptionOf(globals, io) });
    server = await startUiServer({ client, ...(provider ? { provider } : {}), metrics, log }, { port: flags.port, host: flags.host, ...(flags.token === undefined ? {} : { token: flags.token }) });
    const endpoint = provider ? (await provider.start()).endpoint : undefined;
    if (globals.json) jsonLine(io.stdout, { event: 'ui.listening', time: new Date().toISOString(), url: server.url, clientId: client.clientId, demoEndpoint: endpoint });
    else {
      line(io.stdout, `web UI: ${server.url}`);
      line(io.stdout, `metrics: ${metrics ? server.url.replace(/\/(\?.*)?$/, '/metrics') : `not served (${(installedMetrics as MissingPeerError).message})`}`);
      line(io.stdout, `client ${client.clientId}; discovery ${describeDiscovery(discovery)}`);
      if (endpoint) line(io.stdout, `demo provider on ${endpoint} (ImageProcessingService, Previews; sample.png in ${workDir})`);
      line(io.stdout, 'press Ctrl-C to stop');
    }
    const signal = await stop.signal;
    if (!globals.json) line(io.stdout, `${signal}: stopping`);
    return ExitCode.ok;
  } finally {
    stop.dispose();
    await within(Promise.allSettled([server?.close(), client?.stop(), provider?.stop()]), 5_000);
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

export function registerUiCommand(program: Command, context: CliContext): Command {
  return program
    .command('ui')
    .description('the web UI: services, assign from a form, tasks with their full history, live statecharts, /metrics')
    .addOption(envOption('--port <n>', 'HTTP port of the UI (0: any free port)').argParser(integerIn(0, 65_535)).default(DEFAULT_UI_PORT))
    .addOption(envOption('--host <addr>', 'address the UI listens on; anything but loopback requires a token').default('127.0.0.1'))
    .addOption(envOption('--token <token>', 'token the UI requires (default: none on loopback, a random one elsewhere, printed in the URL)'))
    .option('--demo', 'also host the demo services (ImageProcessingService, Previews) on loopback')
    .addOption(envOption('--step-delay-ms <n>', 'with --demo: pause between progress steps').argParser(integerIn(0, 60_000)).default(150))
    .addHelpText(
      'after',
      `
Serves the UI from this process (no internet needed) and prints its URL. Bound to 127.0.0.1 by
default; bound elsewhere (--host 0.0.0.0) it requires a token: open the printed URL once, which
keeps the token in a cookie. GET /metrics serves Prometheus metrics. See docs/ui.md.

Examples:
  $ switchboard ui
  $ switchboard ui --demo --port 0
  $ switchboard ui --host 0.0.0.0 --token s3cret --broadcast 192.168.1.255`,
    )
    .action((flags: UiFlags, command: Command) => runAction(context, () => runUi(context, flags, command)));
}
