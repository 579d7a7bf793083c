/**
 * The `switchboard` command line, as users run it: real processes (`node bin/switchboard.js`),
 * real UDP discovery and WebSocket, on loopback only. Every child gets
 * SWITCHBOARD_BROADCAST=127.255.255.255 and a discovery port of its own for this file, is
 * bounded in time, and is killed by pid if it outlives its test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeSampleImage } from '../runtime/demo/sampleImage.js';
import { allocatePort } from './support/ports.js';
import { note } from './support/notes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'switchboard.js');
const DISCOVERY_PORT = await allocatePort();
const LOOPBACK_BROADCAST = '127.255.255.255';

/** Where the children keep their configuration (a provider's signing key): never the user's own. */
const CONFIG_HOME = path.join(os.tmpdir(), `switchboard-cli-spec-${process.pid}`);

const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SWITCHBOARD_'))),
  SWITCHBOARD_BROADCAST: LOOPBACK_BROADCAST,
  SWITCHBOARD_DISCOVERY_PORT: String(DISCOVERY_PORT),
  XDG_CONFIG_HOME: CONFIG_HOME,
  ...extra,
});

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Cli {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
  /** Resolves with the output once `test` accepts it; rejects after `timeoutMs` or at exit. */
  waitFor(stream: 'stdout' | 'stderr', test: (text: string) => boolean, timeoutMs?: number): Promise<string>;
}

/** Children of the running test (killed in afterEach) and of the file (killed in afterAll). */
const perTest = new Set<ChildProcess>();
const perFile = new Set<ChildProcess>();

function spawnCli(args: readonly string[], options: { env?: Record<string, string>; owner?: Set<ChildProcess> } = {}): Cli {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  (options.owner ?? perTest).add(child);
  const output = { stdout: '', stderr: '' };
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
    for (const listener of listeners) listener();
  });
  const exited = new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    waitFor: (stream, test, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!test(output[stream])) return false;
          cleanup();
          resolve(output[stream]);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting on ${stream} of switchboard ${args.join(' ')}\nstdout: ${output.stdout}\nstderr: ${output.stderr}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then(() => {
          if (check()) return;
          cleanup();
          reject(new Error(`switchboard ${args.join(' ')} exited first\nstdout: ${output.stdout}\nstderr: ${output.stderr}`));
        });
        check();
      }),
  };
}

interface Ran extends Exit {
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** Runs a command to its end (killed after `timeoutMs`). */
async function runCli(args: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Ran> {
  const startedMs = performance.now();
  const cli = spawnCli(args, options);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  const exit = await cli.exited;
  clearTimeout(timer);
  perTest.delete(cli.child);
  return { ...exit, stdout: cli.stdout(), stderr: cli.stderr(), durationMs: performance.now() - startedMs };
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Only our own children, by pid. */
async function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), graceMs);
  await closed;
  clearTimeout(timer);
}

interface Started {
  readonly cli: Cli;
  readonly endpoint: string;
}

/** Starts `provider --json` on 127.0.0.1 and waits for its endpoint. */
async function startProvider(args: readonly string[], owner: Set<ChildProcess>): Promise<Started> {
  const cli = spawnCli(['provider', '--host', '127.0.0.1', '--json', ...args], { owner });
  const stdout = await cli.waitFor('stdout', (text) => text.includes('"provider.listening"'), 15_000);
  const listening = stdout
    .split('\n')
    .filter((text) => text.includes('"provider.listening"'))
    .map((text) => JSON.parse(text) as { endpoint: string })[0]!;
  return { cli, endpoint: listening.endpoint };
}

/** A --service module: TypeScript, loaded by the CLI through tsx, importing this repository's zod. */
function serviceModuleSource(): string {
  const zod = pathToFileURL(path.join(ROOT, 'node_modules', 'zod', 'index.js')).href;
  const service = pathToFileURL(path.join(ROOT, 'runtime', 'service.ts')).href;
  return `
import * as z from '${zod}';
import { defineService } from '${service}';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const timer = defineService({
  name: 'CliTestTimer',
  version: '1.0.0',
  operations: {
    wait: {
      params: z.object({ ms: z.int().min(0).max(60_000) }),
      run: async ({ ms }: { ms: number }, context: any) => {
        const started = Date.now();
        while (Date.now() - started < ms) {
          if (context.signal.aborted) throw Object.assign(new Error('stopped waiting'), { code: 'CANCELLED' });
          context.progress(Math.floor(((Date.now() - started) / ms) * 100), 'waiting');
          await sleep(50);
        }
        return { waitedMs: ms };
      },
    },
  },
});

export default [
  defineService({
    name: 'CliTestGreeter',
    version: '1.0.0',
    operations: { greet: { params: z.object({ name: z.string() }), run: ({ name }: { name: string }) => ({ greeting: 'Hello, ' + name }) } },
  }),
];
`;
}

const lines = (text: string) => text.split('\n').filter((line) => line.trim().length > 0);
const jsonLines = (text: string) => lines(text).map((line) => JSON.parse(line) as Record<string, unknown>);

let scratch: string;
let workDir: string;
let imageProvider: Started;
let customProvider: Started;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'switchboard-cli-spec-'));
  workDir = path.join(scratch, 'work');
  await writeSampleImage(path.join(workDir, 'sample.png'), { width: 400, height: 300 });
  const modulePath = path.join(scratch, 'services.ts');
  await writeFile(modulePath, serviceModuleSource());
  [imageProvider, customProvider] = await Promise.all([
    startProvider(['--work-dir', workDir, '--step-delay-ms', '40'], perFile),
    startProvider(['--service', modulePath], perFile),
  ]);
}, 30_000);

afterEach(async () => {
  await Promise.all([...perTest].map((child) => stopChild(child, 1_000)));
  perTest.clear();
});

afterAll(async () => {
  await Promise.all([...perFile].map((child) => stopChild(child)));
  perFile.clear();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  await rm(CONFIG_HOME, { recursive: true, force: true });
});

describe('switchboard --help', () => {
  it('lists every command with an example, and every command has its own examples', async () => {
    const commands = ['provider', 'discover', 'describe', 'assign', 'status', 'cancel', 'demo', 'completion'];
    const [top, ...each] = await Promise.all([runCli(['--help']), ...commands.map((command) => runCli([command, '--help']))]);
    expect(top!.code).toBe(0);
    for (const command of commands) expect(top!.stdout).toMatch(new RegExp(`\\$ switchboard ${command} `));
    each.forEach((result, index) => {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Examples:');
      expect(result.stdout).toContain(`$ switchboard ${commands[index]}`);
      expect(result.stdout).toMatch(/SWITCHBOARD_/);
    });
  });
});

describe('switchboard demo (npm start)', () => {
  it('runs provider and client in one process and resizes the sample to 320 wide, exit 0', async () => {
    const result = await runCli(['demo'], { timeoutMs: 20_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/discovered ImageProcessingService \S+ at ws:\/\/127\.0\.0\.1:\d+ in \d+ ms/);
    expect(result.stdout).toMatch(/progress \d+%/);
    expect(result.stdout).toMatch(/"width":320/);
    expect(result.stdout).toMatch(/provider said goodbye/);
    expect(result.durationMs).toBeLessThan(15_000);
    note(`demo took ${Math.round(result.durationMs)} ms; ${/discovered .* in (\d+) ms/.exec(result.stdout)?.[0]}`);
  }, 25_000);
});

describe('switchboard discover', () => {
  it('DISC-2: lists the demo service with its endpoint as JSON', async () => {
    const result = await runCli(['discover', '--timeout-ms', '700', '--json']);
    expect(result.code).toBe(0);
    const services = JSON.parse(result.stdout) as { serviceName: string; endpoint: string; operations: string[]; status: string }[];
    const image = services.find((service) => service.endpoint === imageProvider.endpoint);
    expect(image).toMatchObject({ serviceName: 'ImageProcessingService', status: 'Online' });
    expect(image!.operations).toEqual(expect.arrayContaining(['resizeImage', 'applyFilter', 'convertFormat']));
  });
});

describe('switchboard discover: returns when the answers are in, exit 3 when nothing matches', () => {
  it('DISC-2, DISC-3: a service that answers is printed after --settle-ms, long before --timeout-ms', async () => {
    const result = await runCli(['discover', 'ImageProcessingService', '--timeout-ms', '20000', '--settle-ms', '200', '--json']);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as { endpoint: string }[]).map((service) => service.endpoint)).toEqual([imageProvider.endpoint]);
    // Well under the 20 s timeout even on a loaded machine: the answer comes at once (DISC-3).
    expect(result.durationMs).toBeLessThan(8_000);
  });

  it('exits 3 when no provider offers the service, after --timeout-ms; JSON output is an empty list', async () => {
    const [table, json] = await Promise.all([
      runCli(['discover', 'NoSuchService', '--timeout-ms', '500']),
      runCli(['discover', 'NoSuchService', '--timeout-ms', '500', '--json']),
    ]);
    expect(table.code).toBe(3);
    expect(table.stdout).toBe('no services found\n');
    expect(table.stderr).toMatch(/^no provider offers NoSuchService$/m);
    expect(table.durationMs).toBeGreaterThanOrEqual(500);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toEqual([]);
  });
});

describe('switchboard describe', () => {
  it("lists a service's instances and operations with their parameters", async () => {
    const result = await runCli(['describe', 'ImageProcessingService', '--timeout-ms', '10000']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ImageProcessingService \d+\.\d+\.\d+/);
    expect(result.stdout).toContain(imageProvider.endpoint);
    expect(result.stdout).toMatch(/^ {2}resizeImage\(inputPath\?: string, outputPath\?: string, input\?: object, outputName\?: string, width\??: int/m);
    expect(result.stdout).toMatch(/^ {2}applyFilter\(/m);
  });

  it("shows one operation's parameters and JSON Schema (--json: the same as data)", async () => {
    const [table, json] = await Promise.all([
      runCli(['describe', 'CliTestGreeter', 'greet', '--timeout-ms', '10000']),
      runCli(['describe', 'CliTestGreeter', 'greet', '--timeout-ms', '10000', '--json']),
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^greet\(name: string\)$/m);
    expect(table.stdout).toMatch(/^name +string +yes/m);
    expect(table.stdout).toContain('JSON Schema of the parameters:');
    expect(json.code).toBe(0);
    const described = JSON.parse(json.stdout) as { name: string; parameters: unknown[]; schema: { required?: string[] } };
    expect(described).toMatchObject({ serviceName: 'CliTestGreeter', name: 'greet', parameters: [{ name: 'name', type: 'string', required: true }] });
    expect(described.schema.required).toEqual(['name']);
  });

  it('exits 3 when nobody offers the service (SERVICE_UNAVAILABLE) or the operation (UNKNOWN_OPERATION)', async () => {
    const [service, operation] = await Promise.all([
      runCli(['describe', 'NoSuchService', '--timeout-ms', '400']),
      runCli(['describe', 'CliTestGreeter', 'explode', '--timeout-ms', '10000']),
    ]);
    expect(service.code).toBe(3);
    expect(service.stderr).toMatch(/^error SERVICE_UNAVAILABLE: no provider offers NoSuchService$/m);
    expect(operation.code).toBe(3);
    expect(operation.stderr).toMatch(/^error UNKNOWN_OPERATION: CliTestGreeter has no operation explode \(it has greet\)$/m);
  });
});

describe('switchboard completion', () => {
  /** Runs `script` then each case's words through the completion function; one output line per case. */
  async function complete(shell: 'bash' | 'zsh', cases: readonly (readonly string[])[]): Promise<string[]> {
    const generated = await runCli(['completion', shell]);
    expect(generated.code).toBe(0);
    const file = path.join(scratch, `completion.${shell}`);
    await writeFile(file, generated.stdout);
    const quote = (word: string) => `'${word.replace(/'/g, "'\\''")}'`;
    const calls = cases.map((words) =>
      shell === 'bash'
        ? `COMP_WORDS=(${words.map(quote).join(' ')}); COMP_CWORD=${words.length - 1}; _switchboard_completion; echo "\${COMPREPLY[*]}"`
        : `words=(${words.map(quote).join(' ')}); CURRENT=${words.length}; print -r -- "$(_switchboard_completion)"`,
    );
    // zsh: compadd and _files only work inside a completion widget, so they are stood in for by
    // functions that print what they were given (zsh itself filters by what is typed).
    const prelude = shell === 'zsh' ? 'compdef() { :; }; compadd() { shift; print -rn -- "$* "; }; _files() { print -rn -- "<files> "; };' : '';
    const run = spawnSync(shell, shell === 'zsh' ? ['-f', '-c', `${prelude} source ${quote(file)}; ${calls.join('; ')}`] : ['-c', `source ${quote(file)}; ${calls.join('; ')}`], { encoding: 'utf8', timeout: 10_000 });
    expect(run.status, run.stderr).toBe(0);
    return run.stdout.split('\n').slice(0, cases.length).map((text) => text.trim());
  }

  it('bash: completes commands, subcommands, options after global options with values, choices and files', async () => {
    const [commands, sub, options, choices, files] = await complete('bash', [
      ['switchboard', 'd'],
      ['switchboard', 'conformance', 'pro'],
      ['switchboard', '--discovery-port', '5', 'discover', '--se'],
      ['switchboard', 'describe', '--log-level', 'w'],
      ['switchboard', 'provider', '--work-dir', path.join(scratch, 'wor')],
    ]);
    expect(commands).toBe('discover describe demo doctor');
    expect(sub).toBe('provider');
    expect(options).toBe('--settle-ms');
    expect(choices).toBe('warn');
    expect(files).toBe(workDir);
  });

  it.skipIf(spawnSync('zsh', ['-f', '-c', 'true']).status !== 0)('zsh (when installed): the same candidates through compadd and _files', async () => {
    const [commands, options, choices, files] = await complete('zsh', [
      ['switchboard', ''],
      ['switchboard', '--discovery-port', '5', 'discover', '--se'],
      ['switchboard', '--log-level', ''],
      ['switchboard', 'provider', '--service', ''],
    ]);
    expect(commands!.split(' ')).toEqual(expect.arrayContaining(['provider', 'discover', 'describe', 'completion', '--log-level']));
    expect(options!.split(' ')).toEqual(expect.arrayContaining(['--timeout-ms', '--settle-ms', '--watch', '--discovery-port']));
    expect(choices).toBe('debug info warn error silent');
    expect(files).toBe('<files>');
  });

  it('exits 2 for a shell it does not know', async () => {
    const result = await runCli(['completion', 'tcsh']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: no completion for "tcsh": choose bash or zsh$/m);
  });
});

describe('switchboard assign', () => {
  it('shows plain progress lines when not on a terminal and prints the result, exit 0', async () => {
    const result = await runCli(['assign', 'ImageProcessingService', 'resizeImage', '--param', 'inputPath=sample.png', '--param', 'outputPath=small.png', '--param', 'width=100']);
    expect(result.code).toBe(0);
    expect(lines(result.stderr).filter((line) => /^progress \d+%/.test(line)).length).toBeGreaterThanOrEqual(3);
    expect(result.stderr).toMatch(/^progress 100% /m);
    expect(result.stderr).not.toContain('\r');
    expect(JSON.parse(result.stdout)).toMatchObject({ outputImagePath: 'small.png', width: 100, height: 75 });
  });

  it('FILE-12: --file sends a local file the provider cannot see (outside its work dir), --out saves the result file', async () => {
    const clientDir = path.join(scratch, 'client-disk');
    await writeSampleImage(path.join(clientDir, 'mine.png'), { width: 400, height: 300 });
    const out = path.join(scratch, 'client-out');
    const result = await runCli(['assign', 'ImageProcessingService', 'resizeImage', '--file', `input=${path.join(clientDir, 'mine.png')}`, '--param', 'width=100', '--param', 'outputName=mine-100.webp', '--out', out]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ width: 100, height: 75, format: 'webp', output: { name: 'mine-100.webp', mediaType: 'image/webp' } });
    expect(result.stderr).toMatch(/^progress 0% \(queued\) upload mine\.png: \d+ of \d+ bytes/m);
    expect(result.stderr).toContain(`saved ${path.join(out, 'mine-100.webp')}`);
    const { default: sharp } = await import('sharp');
    expect(await sharp(path.join(out, 'mine-100.webp')).metadata()).toMatchObject({ width: 100, height: 75, format: 'webp' });
  });

  it('TASK-6, DISC-13: an operation the service does not offer exits 3 with UNKNOWN_OPERATION, as describe does', async () => {
    const result = await runCli(['assign', 'ImageProcessingService', 'explode', '--param', 'x=1']);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^error UNKNOWN_OPERATION: /m);
  });

  it('a path outside the provider work dir exits 1 with FORBIDDEN', async () => {
    const result = await runCli(['assign', 'ImageProcessingService', 'resizeImage', '--params-json', '{"inputPath":"../../etc/passwd","outputPath":"x.png","width":10}']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error FORBIDDEN: /m);
  });

  it('DISC-13: a service nobody provides exits 3 with SERVICE_UNAVAILABLE after --wait-ms', async () => {
    const result = await runCli(['assign', 'NoSuchService', 'anything', '--wait-ms', '600']);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^error SERVICE_UNAVAILABLE: .*600 ms/m);
    expect(result.durationMs).toBeGreaterThanOrEqual(600);
  });

  it('loads --service modules (TypeScript, default and named exports) and prints --json', async () => {
    const result = await runCli(['assign', 'CliTestGreeter', 'greet', '--param', 'name=Ada', '--json']);
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(output).toMatchObject({ status: 'Completed', resultData: { greeting: 'Hello, Ada' }, endpoint: customProvider.endpoint });
    expect(output.clientId).toEqual(expect.any(String));
    expect(output.taskId).toEqual(expect.any(String));
  });

  it('TASK-11: SIGINT cancels the running task and exits 130 once the cancel settles', async () => {
    const cli = spawnCli(['assign', 'CliTestTimer', 'wait', '--param', 'ms=20000']);
    await cli.waitFor('stderr', (text) => /progress \d+% waiting/.test(text));
    cli.child.kill('SIGINT');
    const exit = await cli.exited;
    expect(exit.code).toBe(130);
    expect(cli.stderr()).toMatch(/task \S+ cancelled/);
    await customProvider.cli.waitFor('stdout', (text) => /"event":"task.settled".*"status":"Cancelled"/.test(text), 3_000);
  });

  it('exits 2 on usage errors, before sending anything', async () => {
    const results = await Promise.all([
      runCli(['assign', 'OnlyAService']),
      runCli(['assign', 'S', 'op', '--params-json', '[1, 2]']),
      runCli(['assign', 'S', 'op', '--param', 'novalue']),
      runCli(['provider', '--port', 'eighty']),
      runCli(['status', 'some-task']),
      runCli(['no-such-command']),
    ]);
    for (const result of results) {
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error/m);
      expect(result.stdout).toBe('');
    }
  });
});

describe('switchboard status and cancel (TASK-13: the task belongs to its clientId)', () => {
  it('follow a detached task by the clientId and taskId from assign --json', async () => {
    const assigned = await runCli(['assign', 'CliTestTimer', 'wait', '--param', 'ms=20000', '--detach', '--json']);
    expect(assigned.code).toBe(0);
    const { clientId, clientSecret, taskId, endpoint } = JSON.parse(assigned.stdout) as { clientId: string; clientSecret: string; taskId: string; endpoint: string };
    expect(endpoint).toBe(customProvider.endpoint);
    const target = ['--endpoint', endpoint, '--client-id', clientId, '--client-secret', clientSecret];
    // SEC-10: without the client's secret, another process is just another client.
    const stranger = await runCli(['status', taskId, '--endpoint', endpoint, '--client-id', clientId]);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/^error FORBIDDEN: /m);

    const running = await runCli(['status', taskId, ...target]);
    expect(running.code).toBe(0);
    expect(running.stdout).toMatch(new RegExp(`^task ${taskId} Processing \\d+% waiting`, 'm'));

    const cancelled = await runCli(['cancel', taskId, ...target]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`task ${taskId} Cancelled`);

    const after = await runCli(['status', taskId, ...target, '--json']);
    expect(after.code).toBe(1);
    expect(JSON.parse(after.stdout)).toMatchObject({ type: 'TaskFailed', taskId, status: 'Cancelled', errorCode: 'CANCELLED' });
  });

  it('TASK-12: a task the provider does not know gets TASK_NOT_FOUND, exit 1', async () => {
    const [status, cancel] = await Promise.all([
      runCli(['status', 'no-such-task', '--endpoint', customProvider.endpoint, '--client-id', 'cli-spec']),
      runCli(['cancel', 'no-such-task', '--endpoint', customProvider.endpoint, '--client-id', 'cli-spec']),
    ]);
    for (const result of [status, cancel]) {
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error TASK_NOT_FOUND: /m);
    }
  });
});

describe('switchboard provider', () => {
  it('MAN-1, MAN-3: hosts a service described by --manifest, with --setting, that assign runs', async () => {
    const dir = path.join(scratch, 'manifest');
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, 'greeter.yaml'),
      'name: CliManifestGreeter\nversion: "1.0"\nmodule: ./greeter.mjs\nsettings:\n  greeting: { schema: { type: string }, default: Hello }\noperations:\n  greet:\n    params: { type: object, properties: { name: { type: string } }, required: [name] }\n',
    );
    await writeFile(path.join(dir, 'greeter.mjs'), 'export default ({ settings }) => ({ greet: async ({ name }) => ({ greeting: `${settings.greeting}, ${name}` }) });\n');
    const hosted = await startProvider(['--manifest', path.join(dir, 'greeter.yaml'), '--setting', 'greeting=Hi'], perTest);
    const result = await runCli(['assign', 'CliManifestGreeter', 'greet', '--param', 'name=Ada', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'Completed', resultData: { greeting: 'Hi, Ada' }, endpoint: hosted.endpoint });
  });

  it('MAN-2: a manifest it cannot use exits 2, naming the file, line, column, path and fix', async () => {
    const file = path.join(scratch, 'broken.yaml');
    await writeFile(file, 'name: Broken\nversion: "1"\nmodule: ./nowhere.mjs\noperations:\n  op:\n    params: { type: object, properties: { n: { type: strnig } } }\n');
    const result = await runCli(['provider', '--manifest', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}:6:13: operations.op.params: Unsupported type: strnig`);
    expect(result.stderr).toContain('fix: use a JSON Schema type');
  });

  it('DISC-7: exits 0 on SIGTERM after its goodbye, which a watching discover sees', async () => {
    const doomedDir = path.join(scratch, 'doomed');
    const doomed = await startProvider(['--work-dir', doomedDir], perTest);
    const watch = spawnCli(['discover', '--watch', '--json', '--timeout-ms', '300']);
    const mine = (line: Record<string, unknown>) => (line.services as { endpoint: string }[]).some((service) => service.endpoint === doomed.endpoint);
    await watch.waitFor('stdout', (text) => jsonLines(text).some(mine), 10_000);

    doomed.cli.child.kill('SIGTERM');
    const exit = await doomed.cli.exited;
    expect(exit.code).toBe(0);
    const events = jsonLines(doomed.cli.stdout()).map((line) => line.event);
    expect(events).toEqual(expect.arrayContaining(['provider.stopping', 'provider.stopped']));

    await watch.waitFor('stdout', (text) => !mine(jsonLines(text).at(-1)!), 3_000);
    watch.child.kill('SIGINT');
    expect((await watch.exited).code).toBe(0);
  });
});
