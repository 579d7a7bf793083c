/**
 * The `switchboard` command line, one file per command under ./cli/. Every option of every
 * command can also come from SWITCHBOARD_<OPTION> or from switchboard.config.json (./cli/settings.ts).
 *
 * Exit codes (docs/guide.md#exit-codes): 0 ok, 1 the task or request failed, 2 usage, 3 nothing
 * matched (no provider offers the service or operation: SERVICE_UNAVAILABLE, or discover/describe
 * found none), 130 interrupted.
 *
 * Start-up time: a command's module (and what it imports: the client, the provider, zod, ws, ...)
 * is loaded only when that command runs, or for the full help and completion; `--version` loads
 * none. So `switchboard --version` costs node's start plus commander.
 */
import { Command, CommanderError } from 'commander';
import type { CliContext } from './cli/context.js';
import { addGlobalOptions, ExitCode } from './cli/options.js';
import { addNatsOptions } from './cli/natsOptions.js';
import { printError, processIo, type Io } from './cli/output.js';
import { packageInfo } from './cli/packageInfo.js';
import { addConfigOptions, ConfiguredCommand, configFilePath, loadConfigFile, nameEnvironmentVariables, type ConfigFile } from './cli/settings.js';

type Register = (program: Command, context: CliContext) => unknown;

/** Every command: its name and how to load its register function. Add a command with one line here. */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  provider: async () => (await import('./cli/provider.js')).registerProviderCommand,
  discover: async () => (await import('./cli/discover.js')).registerDiscoverCommand,
  describe: async () => (await import('./cli/describe.js')).registerDescribeCommand,
  assign: async () => (await import('./cli/assign.js')).registerAssignCommand,
  status: async () => (await import('./cli/status.js')).registerStatusCommand,
  cancel: async () => (await import('./cli/cancel.js')).registerCancelCommand,
  demo: async () => (await import('./cli/demo.js')).registerDemoCommand,
  conformance: async () => (await import('./cli/conformance.js')).registerConformanceCommand,
  gateway: async () => (await import('./cli/gateway.js')).registerGatewayCommand,
  ui: async () => (await import('./cli/ui.js')).registerUiCommand,
  machines: async () => (await import('./cli/machines.js')).registerMachinesCommand,
  completion: async () => (await import('./cli/completion.js')).registerCompletionCommand,
  types: async () => (await import('./cli/types.js')).registerTypesCommand,
  doctor: async () => (await import('./cli/doctor.js')).registerDoctorCommand,
  simulate: async () => (await import('./cli/simulate.js')).registerSimulateCommand,
};

/** Commands that need every other command's definition (the completion script describes them all). */
const NEEDS_ALL = new Set(['completion']);

export interface ProgramOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly config: ConfigFile | undefined;
  /** The commands to load; the others are not registered (their modules stay unloaded). */
  readonly commands: readonly string[];
}

export async function createProgram(context: CliContext, options: ProgramOptions): Promise<Command> {
  const { description, version } = packageInfo();
  const program = new ConfiguredCommand('switchboard', { env: options.env, config: options.config, commandNames: Object.keys(COMMANDS) })
    .description(description)
    .version(version, '-v, --version')
    // Set before the commands are added, so each of them inherits it.
    .exitOverride()
    .configureOutput({ writeOut: (text) => context.io.stdout.write(text), writeErr: (text) => context.io.stderr.write(text) })
    .showHelpAfterError('(add --help for usage and examples)')
    .configureHelp({ showGlobalOptions: true });
  addGlobalOptions(program);
  addConfigOptions(program);
  addNatsOptions(program);
  const registers = await Promise.all(options.commands.map((name) => COMMANDS[name]!()));
  for (const register of registers) register(program, context);
  nameEnvironmentVariables(program);
  return program.addHelpText(
    'after',
    `
Examples (one per command):
  $ switchboard demo                                   # the whole round trip on loopback (npm start)
  $ switchboard provider --work-dir ./images           # host the demo ImageProcessingService
  $ switchboard discover --timeout-ms 3000             # list what is on the network
  $ switchboard describe ImageProcessingService resizeImage   # its operations and their parameters
  $ switchboard assign ImageProcessingService resizeImage --param inputPath=a.png --param outputPath=b.png --param width=320
  $ switchboard status <taskId> --endpoint ws://192.168.1.20:8080 --client-id <clientId>
  $ switchboard cancel <taskId> --endpoint ws://192.168.1.20:8080 --client-id <clientId>
  $ switchboard conformance provider ws://192.168.1.20:8080 --level full   # check a provider (docs/conformance.md)
  $ switchboard ui --demo                              # the web UI, with demo services on loopback (docs/ui.md)
  $ switchboard machines --json > machines.json        # the statecharts as XState configs for Stately Studio
  $ switchboard completion bash >> ~/.bashrc          # tab completion (zsh too)
  $ switchboard types Greeter --out greeter.types.ts  # TypeScript types of a service on the network
  $ switchboard doctor                                 # why nothing is found or nothing connects, and the fixes
  $ switchboard simulate scenario.json --runs 100      # the scenario under faults, in virtual time (docs/simulation.md)

--inspect (any command that runs a client or provider) shows its actors in the Stately inspector.
Global options go before or after the command. Every option of every command can also be set
by SWITCHBOARD_<OPTION> (SWITCHBOARD_DISCOVERY_PORT, SWITCHBOARD_TOKEN, ...) or in
./switchboard.config.json ({"discoveryPort": 40001, "discover": {"timeoutMs": 500}}); a flag
beats the variable, which beats the file.
Exit codes: 0 ok, 1 task failed, 2 usage, 3 nothing matched (no provider: SERVICE_UNAVAILABLE,
or none offers the operation: UNKNOWN_OPERATION), 130 interrupted.

Docs (in the package's docs/ folder):
  docs/guide.md      the CLI and the library, with examples
  docs/protocol.md   the wire protocol (normative, with requirement ids)
  docs/errors.md     every error code, who sends it, whether a retry helps`,
  );
}

/** What a commander error (thrown because of exitOverride) means as an exit code. */
function exitCodeOfCommanderError(error: CommanderError): number {
  switch (error.code) {
    case 'commander.helpDisplayed':
    case 'commander.version':
      return ExitCode.ok;
    case 'commander.help':
      // Help shown on purpose (`switchboard help assign`) or because no command was given.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    default:
      return ExitCode.usage;
  }
}

interface Invocation {
  /** The command named on the command line, if any. */
  readonly command: string | undefined;
  readonly version: boolean;
  /** `--config`'s value: a path, false for `--no-config`, undefined when absent. */
  readonly config: string | false | undefined;
}

/**
 * A first look at the command line, before any command is loaded: which command runs, and which
 * config file was asked for. Parsed by a throwaway program that knows only the global options, so
 * that `--discovery-port 5 discover` is told apart from `discover`; anything it cannot make sense
 * of is left for the real parse to report.
 */
function firstLook(argv: readonly string[]): Invocation {
  const look = new Command().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} }).helpOption(false);
  addGlobalOptions(look);
  addConfigOptions(look);
  const args = argv.slice(2);
  const version = args.includes('-v') || args.includes('--version');
  try {
    const { operands } = look.parseOptions(args);
    return { command: operands[0], version, config: look.getOptionValue('config') as string | false | undefined };
  } catch {
    return { command: undefined, version, config: undefined };
  }
}

function commandsFor(invocation: Invocation): string[] {
  const { command } = invocation;
  if (command !== undefined && command in COMMANDS) return NEEDS_ALL.has(command) ? Object.keys(COMMANDS) : [command];
  // `--version` alone needs no command; everything else (help, a typo to suggest a fix for) needs all.
  return command === undefined && invocation.version ? [] : Object.keys(COMMANDS);
}

export interface MainOptions {
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Where switchboard.config.json is looked for. @default process.cwd() */
  readonly cwd?: string;
}

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: readonly string[], io: Io = processIo, options: MainOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const context: CliContext = { io, exitCode: ExitCode.ok };
  try {
    const invocation = firstLook(argv);
    const commands = commandsFor(invocation);
    // `--version` alone reads no config file: it must answer even next to a broken one.
    const configPath = commands.length === 0 ? undefined : configFilePath(invocation.config, env, options.cwd ?? process.cwd());
    const config = configPath === undefined ? undefined : await loadConfigFile(configPath);
    const program = await createProgram(context, { env, config, commands });
    if (argv.length <= 2) {
      program.outputHelp();
      return ExitCode.ok;
    }
    await program.parseAsync([...argv]);
    return context.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return exitCodeOfCommanderError(error);
    const usage = (error as Error | undefined)?.name === 'UsageError';
    printError(io, undefined, error instanceof Error ? error.message : String(error));
    return usage ? ExitCode.usage : ExitCode.failed;
  }
}
