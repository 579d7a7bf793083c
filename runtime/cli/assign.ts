/**
 * `switchboard assign <service> <operation>`: waits for a provider of the service, reads the
 * parameters by the operation's advertised schema and checks them (./paramsBySchema.ts), assigns
 * the task, shows its progress on stderr and prints its result on stdout.
 *
 * Exit codes: 0 done, 1 the task failed (its code is printed), 2 usage, 3 no provider offers the
 * service or operation (SERVICE_UNAVAILABLE, UNKNOWN_OPERATION), 130 interrupted (cancelled first).
 */
import type { Command } from 'commander';
import { v4 as uuid } from 'uuid';
import { unavailableFailure } from '../../machines/client.js';
import type { Capability } from '../../machines/capabilities.js';
import type { ServiceView } from '../../machines/repository.js';
import { createClient, type Client } from '../client.js';
import { TaskError } from '../taskError.js';
import type { TaskHandle, TaskProgress } from '../taskHandle.js';
import { codeOf, runAction, type CliContext } from './context.js';
import { envOption, ExitCode, globalOptionsOf, integerIn, repeatable, taskParams, UsageError } from './options.js';
import { networkChoiceOf } from './natsOptions.js';
import { inspectOptionOf } from './inspect.js';
import { exitCodeFor, jsonLine, line, printError, prettyJson, stderrLogger } from './output.js';
import { createProgressView } from './progress.js';
import { declarationOf, paramPairs, parameterProblems, paramsByDeclaration } from './paramsBySchema.js';
import { readCa } from './rawTask.js';
import { onStopSignal } from './signals.js';
import { fileFrom, fileRefsAtTopLevel } from '../files/taskFile.js';

interface AssignFlags {
  param?: string[];
  paramsJson?: string;
  timeoutMs?: number;
  waitMs: number;
  clientId?: string;
  clientSecret?: string;
  ca?: string;
  taskId?: string;
  token?: string;
  detach?: boolean;
  file?: string[];
  out?: string;
}

/** `--file name=path`: a task file parameter (the file is sent, FILE-12). */
function filePairs(values: readonly string[]): Array<[string, string]> {
  return values.map((value) => {
    const at = value.indexOf('=');
    if (at < 1 || at === value.length - 1) throw new UsageError(`--file expects name=path, got "${value}"`);
    return [value.slice(0, at), value.slice(at + 1)];
  });
}

/** Placeholder FileRefs, so that the parameters check sees the file parameters before the files are read. */
const PLACEHOLDER_FILE = { sha256: '0'.repeat(64), size: 0 };

/**
 * The first instance of the service offering the operation, and its capability; throws
 * SERVICE_UNAVAILABLE when no instance is heard in time, UNKNOWN_OPERATION when the service is
 * there without the operation (the code the library gives too).
 */
async function findService(client: Client, serviceName: string, operation: string, waitMs: number): Promise<{ service: ServiceView; capability: Capability }> {
  await client.waitFor(serviceName, { timeoutMs: waitMs });
  for (const service of client.services()) {
    const capability = service.serviceName === serviceName ? service.capabilities.find((candidate) => candidate.key === operation) : undefined;
    if (capability !== undefined) return { service, capability };
  }
  throw new TaskError('', unavailableFailure(client.services(), { serviceName, operation }));
}

/** The parameters as the operation declares them; INVALID_PARAMETERS with every problem before anything is sent. */
function checkedParams(base: Record<string, unknown>, pairs: ReturnType<typeof paramPairs>, capability: Capability): Record<string, unknown> {
  const declaration = declarationOf(capability);
  const params = paramsByDeclaration(base, pairs, declaration);
  const problems = parameterProblems(params, declaration);
  if (problems.length > 0) {
    throw new TaskError('', { code: 'INVALID_PARAMETERS', message: `invalid parameters for ${capability.key}: ${problems.join('; ')} (checked here, nothing was sent)` });
  }
  return params;
}

/** A failure in one line: its message, and its details when they add something. */
const failureText = (message: string, details: string | undefined): string =>
  details === undefined || details.length === 0 || message.includes(details) ? message : `${message} (${details})`;

type Ending = { kind: 'settled'; result: unknown } | { kind: 'failed'; error: unknown } | { kind: 'detached'; progress: TaskProgress | null };

async function runAssign(context: CliContext, serviceName: string, operation: string, flags: AssignFlags, command: Command): Promise<number> {
  const { io } = context;
  const globals = globalOptionsOf(command);
  // --params-json now (a usage error exits before discovery); each --param once the schema is known.
  const baseParams = taskParams(flags.paramsJson, []);
  const pairs = paramPairs(flags.param ?? []);
  const files = filePairs(flags.file ?? []);
  const log = stderrLogger(io, globals.logLevel, globals.logFormat);
  const client = createClient({
    discovery: globals.discovery,
    trust: globals.trust,
    ...networkChoiceOf(command),
    log,
    ...inspectOptionOf(globals, io),
    ...(flags.clientId === undefined ? {} : { clientId: flags.clientId }),
    ...(flags.clientSecret === undefined ? {} : { clientSecret: flags.clientSecret }),
    ...(flags.token === undefined && flags.ca === undefined
      ? {}
      : { connect: { ...(flags.token === undefined ? {} : { token: flags.token }), ...(flags.ca === undefined ? {} : { tls: { ca: await readCa(flags.ca) } }) } }),
  });
  let handle: TaskHandle | undefined;
  let interrupted = false;
  let stopWaiting = () => {};
  const disposeSignals = onStopSignal((signal) => {
    interrupted = true;
    line(io.stderr, handle === undefined ? `\n${signal}: giving up` : `\n${signal}: cancelling task ${handle.taskId}...`);
    if (handle !== undefined) void handle.cancel();
    else stopWaiting();
  });
  const progressView = createProgressView(io.stderr);
  try {
    const { service, capability } = await Promise.race([
      findService(client, serviceName, operation, flags.waitMs),
      new Promise<never>((_resolve, reject) => {
        stopWaiting = () => reject(Object.assign(new Error('interrupted while waiting for the service'), { code: 'CANCELLED' }));
      }),
    ]);
    const placeholders = Object.fromEntries(files.map(([name]) => [name, PLACEHOLDER_FILE]));
    const params = { ...checkedParams({ ...baseParams, ...placeholders }, pairs, capability), ...Object.fromEntries(files.map(([name, file]) => [name, fileFrom(file)])) };
    let endpoint = service.endpoint;
    const taskId = flags.taskId ?? uuid();
    // Subscribed first: the client reports the submission synchronously, inside assign().
    const unsubscribe = client.on('task.submitted', (event) => {
      if (event.taskId !== taskId) return;
      endpoint = event.endpoint;
      line(io.stderr, `task ${taskId} assigned to ${serviceName}.${operation} at ${event.endpoint} (client ${client.clientId})`);
    });
    const task = client.assign(serviceName, operation, params, {
      ...(flags.timeoutMs === undefined ? {} : { timeoutMs: flags.timeoutMs }),
      taskId,
    });
    handle = task;
    const ending = await new Promise<Ending>((resolve) => {
      task.result.then(
        (result) => resolve({ kind: 'settled', result }),
        (error: unknown) => resolve({ kind: 'failed', error }),
      );
      task.onProgress((progress) => {
        progressView.update(progress);
        if (flags.detach === true) resolve({ kind: 'detached', progress });
      });
    });
    unsubscribe();
    progressView.finish();
    const ids = { clientId: client.clientId, taskId: task.taskId, endpoint };
    switch (ending.kind) {
      case 'detached': {
        const progress = ending.progress;
        // SEC-10: the task belongs to this client's id AND secret; following it takes both.
        const secret = client.clientSecret;
        if (globals.json) {
          jsonLine(io.stdout, { ...ids, clientSecret: secret, status: progress?.status ?? 'Processing', progressPercentage: progress?.progressPercentage ?? 0 });
        } else {
          const target = `--endpoint ${endpoint} --client-id ${client.clientId} --client-secret ${secret}`;
          line(io.stdout, `task ${task.taskId} is running at ${endpoint}; it keeps running after this command exits`);
          line(io.stdout, `  switchboard status ${task.taskId} ${target}`);
          line(io.stdout, `  switchboard cancel ${task.taskId} ${target}`);
        }
        return ExitCode.ok;
      }
      case 'settled':
        // --out: the result's files (fetched into the client's cache before it settled) are saved there.
        if (flags.out !== undefined) {
          for (const file of fileRefsAtTopLevel(ending.result)) line(io.stderr, `saved ${await client.files.save(file, flags.out)}`);
        }
        if (globals.json) jsonLine(io.stdout, { ...ids, status: 'Completed', resultData: ending.result });
        else line(io.stdout, prettyJson(ending.result));
        return ExitCode.ok;
      case 'failed': {
        const code = codeOf(ending.error) ?? 'INTERNAL_ERROR';
        const message = ending.error instanceof Error ? ending.error.message : String(ending.error);
        const status = code === 'CANCELLED' ? 'Cancelled' : 'Failed';
        const details = (ending.error as { details?: string }).details;
        if (globals.json) jsonLine(io.stdout, { ...ids, status, error: { code, message, ...(details === undefined ? {} : { details }) } });
        if (interrupted && code === 'CANCELLED') {
          line(io.stderr, `task ${task.taskId} cancelled`);
          return ExitCode.interrupted;
        }
        printError(io, code, failureText(message, details));
        return exitCodeFor(code);
      }
    }
  } catch (error) {
    progressView.finish();
    if (interrupted) return ExitCode.interrupted;
    if (globals.json && codeOf(error) !== undefined) {
      jsonLine(io.stdout, { clientId: client.clientId, taskId: handle?.taskId ?? null, status: 'Failed', error: { code: codeOf(error), message: (error as Error).message } });
    }
    throw error;
  } finally {
    disposeSignals();
    await client.stop();
  }
}

export function registerAssignCommand(program: Command, context: CliContext): Command {
  return program
    .command('assign')
    .description('assign a task to a service on the network, show its progress and print its result')
    .argument('<service>', 'service name, e.g. ImageProcessingService')
    .argument('<operation>', 'operation, e.g. resizeImage')
    .option('--param <key=value>', "a task parameter, read by the operation's advertised type (x=2024 is a string where x is a string); repeatable", repeatable)
    .option('--params-json <json>', 'the task parameters as a JSON object (--param values override it)')
    .addOption(envOption('--timeout-ms <n>', "the task's deadline (TASK-14): it fails with TIMEOUT when it passes").argParser(integerIn(1, 604_800_000)))
    .addOption(envOption('--wait-ms <n>', 'how long to wait for a provider of the service before giving up (exit 3)').argParser(integerIn(0, 3_600_000)).default(5_000))
    .addOption(envOption('--client-id <id>', 'this client\'s id (default: a new "client-<uuid>"); tasks belong to it'))
    .addOption(envOption('--ca <file>', "wss://: trust this CA certificate (PEM), e.g. the provider's self-signed one"))
    .addOption(envOption('--client-secret <secret>', 'the secret this client proves its id with (SEC-10; default: a new random one, printed with --detach)'))
    .option('--task-id <id>', 'the task id (default: a new uuid)')
    .addOption(envOption('--token <token>', 'authenticate at the upgrade with this token (SEC-2)'))
    .option('--detach', 'exit once the provider reports the task running; it keeps running (use status/cancel later)')
    .option('--file <name=path>', 'a task file parameter: the local file is sent to the provider (only if it does not hold it already); repeatable', repeatable)
    .addOption(envOption('--out <dir>', 'save the files the result names into this directory'))
    .addHelpText(
      'after',
      `
Progress goes to stderr (a bar on a terminal, "progress 42% message" lines otherwise), the
result to stdout (pretty JSON; one JSON object {clientId, taskId, endpoint, status, resultData}
with --json). Ctrl-C cancels the task and exits 130 once the provider confirms.
Each --param is read by the operation's advertised schema, and the parameters are checked against
it before anything is sent (missing required ones, wrong types: INVALID_PARAMETERS, exit 1).
Exit codes: 0 done, 1 task failed ("error CODE: message" on stderr), 2 usage, 3 no provider
offers the service (SERVICE_UNAVAILABLE) or the operation (UNKNOWN_OPERATION).

Examples:
  $ switchboard assign ImageProcessingService resizeImage --param inputPath=photo.png --param outputPath=small.png --param width=320
  $ switchboard assign ImageProcessingService applyFilter --params-json '{"inputPath":"a.png","outputPath":"b.png","name":"sepia"}' --json
  $ switchboard assign Greeter greet --param name=Ada --wait-ms 10000 --timeout-ms 30000
  $ switchboard assign ImageProcessingService resizeImage --file input=photo.png --param width=320 --out .`,
    )
    .action((service: string, operation: string, flags: AssignFlags, command: Command) =>
      runAction(context, () => runAssign(context, service, operation, flags, command)),
    );
}
