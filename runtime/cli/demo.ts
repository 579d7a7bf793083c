/**
 * `switchboard demo` (and `npm start`): the whole round trip in one process, on loopback.
 *
 * A provider hosting the demo ImageProcessingService starts on 127.0.0.1 (a temporary work dir,
 * progress paced so it can be watched); a client discovers it over UDP (broadcast to
 * 127.255.255.255 unless told otherwise, so the demo never touches the real network), a sample
 * 1600x1200 image is written, the client assigns resizeImage to 320 wide, shows the progress and
 * prints the result; both stop gracefully (goodbye). Everything is bounded by --timeout-ms.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { UdpDiscoveryOptions } from '../../adapters/udp.js';
import { defaultSelectionPolicy, type SelectionPolicy } from '../../machines/selection.js';
import type { ServiceView } from '../../machines/repository.js';
import { createClient, type Client } from '../client.js';
import { createProvider, type Provider } from '../provider.js';
import type { ServiceDefinition } from '../service.js';
import type { TaskHandle } from '../taskHandle.js';
import { runAction, within, type CliContext } from './context.js';
import { describeDiscovery, envOption, ExitCode, globalOptionsOf, integerIn } from './options.js';
import { inspectOptionOf } from './inspect.js';
import { formatBytes, formatDuration, jsonLine, line, printError, stderrLogger, type OutputStream } from './output.js';
import { createProgressView } from './progress.js';
import { onStopSignal } from './signals.js';
import { loadImageService, loadSampleImage } from './demoModules.js';

interface DemoFlags {
  timeoutMs: number;
  stepDelayMs: number;
  width: number;
  workDir?: string;
  keep?: boolean;
}

const SERVICE = 'ImageProcessingService';
const OPERATION = 'resizeImage';
const SAMPLE = { file: 'sample.png', width: 1600, height: 1200 } as const;
export const DEMO_BROADCAST = '127.255.255.255';

interface DemoResult {
  readonly outputImagePath: string;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly sizeBytes: number;
  readonly executionDurationMs: number;
}

/** The demo's discovery: loopback broadcast unless the user chose where discovery goes. */
export function demoDiscovery(discovery: UdpDiscoveryOptions): UdpDiscoveryOptions {
  return discovery.broadcastAddresses === undefined ? { ...discovery, broadcastAddresses: [DEMO_BROADCAST] } : discovery;
}

/** Selection restricted to one endpoint: other providers on this host are never used. */
const onlyAt =
  (endpoint: () => string | undefined): SelectionPolicy =>
  (services, request, state) =>
    defaultSelectionPolicy(
      services.filter((service) => service.endpoint === endpoint()),
      request,
      state,
    );

/** Resolves when the client knows an instance of the service at `endpoint`. */
function discovered(client: Client, endpoint: string): Promise<ServiceView> {
  const find = () => client.services().find((service) => service.serviceName === SERVICE && service.endpoint === endpoint);
  return new Promise((resolve) => {
    const known = find();
    if (known) return resolve(known);
    const unsubscribe = client.on('services.changed', () => {
      const found = find();
      if (!found) return;
      unsubscribe();
      resolve(found);
    });
  });
}

async function runDemo(context: CliContext, flags: DemoFlags, command: Command): Promise<number> {
  const globals = globalOptionsOf(command);
  const { io } = context;
  // With --json the story goes to stderr and stdout carries one summary object.
  const out: OutputStream = globals.json ? io.stderr : io.stdout;
  const say = (label: string, text: string) => line(out, `${label.padEnd(9)} ${text}`);
  const log = stderrLogger(io, globals.logLevel, globals.logFormat);
  const discovery = demoDiscovery(globals.discovery);
  const startedMs = performance.now();
  const since = (ms: number) => Math.round(performance.now() - ms);
  const workDir = flags.workDir === undefined ? await mkdtemp(path.join(os.tmpdir(), 'switchboard-demo-')) : path.resolve(flags.workDir);
  let provider: Provider | undefined;
  let client: Client | undefined;
  let task: TaskHandle<DemoResult> | undefined;
  let interrupted = false;
  let interrupt = () => {};
  const interruption = new Promise<number>((resolve) => (interrupt = () => resolve(ExitCode.interrupted)));
  const disposeSignals = onStopSignal((signal) => {
    interrupted = true;
    line(out, `\n${signal}: ${task ? 'cancelling the task and ' : ''}stopping`);
    // A running task is cancelled and the story ends when the cancel settles; otherwise stop now.
    if (task) void task.cancel();
    else interrupt();
  });
  const progressView = createProgressView(out);

  const story = async (): Promise<number> => {
    say('demo', `provider and client in one process; discovery ${describeDiscovery(discovery)}`);
    const { imageProcessingService } = await loadImageService();
    const { writeSampleImage } = await loadSampleImage();
    const service = imageProcessingService({ workDir, stepDelayMs: flags.stepDelayMs }) as unknown as ServiceDefinition;

    const providerStartMs = performance.now();
    provider = createProvider({ services: [service], host: '127.0.0.1', port: 0, discovery, log, ...inspectOptionOf(globals, io) });
    const { endpoint } = await provider.start();
    say('provider', `${service.name} ${service.version} listening on ${endpoint} (${since(providerStartMs)} ms; work dir ${workDir})`);
    say('provider', `advertisements signed with key ${provider.publicKey} (SEC-8)`);

    const clientStartMs = performance.now();
    // The client trusts its own provider: its key is pinned for the demo's instance (its
    // serviceId), so no other process can stand in for it, while other providers of the service
    // on this host are left alone (docs/security.md, signed discovery).
    const publicKey = provider.publicKey as string;
    const own = provider.actor.getSnapshot().context.services.map(({ serviceId }) => ({ serviceId, publicKey }));
    const trust = { ...globals.trust, pinned: [...(globals.trust.pinned ?? []), ...own] };
    client = createClient({ discovery, trust, log, selectionPolicy: onlyAt(() => endpoint), ...inspectOptionOf(globals, io) });
    const found = await discovered(client, endpoint);
    const discoveryMs = since(providerStartMs);
    say('client', `discovered ${found.serviceName} ${found.serviceVersion} at ${found.endpoint} in ${discoveryMs} ms (provider start to client knowing it; client start to knowing it: ${since(clientStartMs)} ms), signature verified`);

    const sampleMs = performance.now();
    const inputPath = path.join(workDir, SAMPLE.file);
    await writeSampleImage(inputPath, { width: SAMPLE.width, height: SAMPLE.height });
    say('sample', `wrote ${SAMPLE.file} (${SAMPLE.width}x${SAMPLE.height}) in ${since(sampleMs)} ms`);

    const outputPath = `sample-${flags.width}w.png`;
    const assignedMs = performance.now();
    if (interrupted) return ExitCode.interrupted;
    task = client.assign<DemoResult>(SERVICE, OPERATION, { inputPath: SAMPLE.file, outputPath, width: flags.width });
    say('assign', `${OPERATION} ${SAMPLE.file} -> ${outputPath}, ${flags.width} wide (task ${task.taskId})`);
    task.onProgress((progress) => progressView.update(progress));
    let result: DemoResult;
    try {
      result = await task.result;
    } finally {
      progressView.finish();
    }
    const roundTripMs = since(assignedMs);
    say('result', `${result.outputImagePath}: ${result.format} ${result.width}x${result.height}, ${formatBytes(result.sizeBytes)}, processed in ${result.executionDurationMs} ms (${roundTripMs} ms assign to result)`);
    const temporary = flags.workDir === undefined && flags.keep !== true;
    say('', `${path.join(workDir, result.outputImagePath)}${temporary ? ' (temporary: removed at exit; --keep or --work-dir keeps it)' : ''}`);
    say('', `resultData ${JSON.stringify(result)}`);

    const stopMs = performance.now();
    await client.stop();
    await provider.stop();
    say('stopped', `client closed, provider said goodbye (${since(stopMs)} ms)`);
    say('done', `in ${formatDuration(since(startedMs))}`);
    if (globals.json) {
      jsonLine(io.stdout, { endpoint, discoveryMs, taskId: task.taskId, status: 'Completed', resultData: result, roundTripMs, totalMs: since(startedMs), workDir });
    }
    return ExitCode.ok;
  };

  try {
    const outcome = await within(Promise.race([story(), interruption]), flags.timeoutMs, 'timeout' as const);
    if (outcome === 'timeout') {
      progressView.finish();
      printError(io, 'TIMEOUT', `the demo did not finish within ${flags.timeoutMs} ms`);
      return ExitCode.failed;
    }
    return outcome;
  } catch (error) {
    progressView.finish();
    if (interrupted) return ExitCode.interrupted;
    throw error;
  } finally {
    disposeSignals();
    await within(Promise.allSettled([client?.stop(), provider?.stop()]), 3_000);
    if (flags.workDir === undefined && flags.keep !== true) {
      await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

export function registerDemoCommand(program: Command, context: CliContext): Command {
  return program
    .command('demo')
    .description('the whole round trip in one process: provider, discovery, a real resizeImage task with progress, result')
    .addOption(envOption('--step-delay-ms <n>', 'pause between progress steps, so progress is visible').argParser(integerIn(0, 5_000)).default(150))
    .addOption(envOption('--width <n>', 'resize the 1600x1200 sample to this width').argParser(integerIn(1, 16_384)).default(320))
    .addOption(envOption('--timeout-ms <n>', 'fail if the demo has not finished by then').argParser(integerIn(1_000, 600_000)).default(15_000))
    .addOption(envOption('--work-dir <dir>', 'keep the sample and the result here (default: a temporary directory, removed afterwards)'))
    .option('--keep', 'keep the temporary directory')
    .addHelpText(
      'after',
      `
Runs on loopback: the provider listens on 127.0.0.1 and discovery broadcasts go to
${DEMO_BROADCAST} unless --broadcast, --multicast or --peer say otherwise. Exits 0 when the
task completed and both sides stopped, non-zero with "error CODE: message" otherwise.

Examples:
  $ switchboard demo
  $ switchboard demo --width 640 --step-delay-ms 500 --work-dir ./demo-out
  $ switchboard demo --json --discovery-port 42001`,
    )
    .action((flags: DemoFlags, command: Command) => runAction(context, () => runDemo(context, flags, command)));
}
