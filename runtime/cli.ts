/**
 * The `switchboard` command line: provider, discover, assign, status, cancel and demo, one file
 * each under ./cli/. Every option also reads an environment variable (SWITCHBOARD_<OPTION>).
 *
 * Exit codes: 0 ok, 1 the task or request failed, 2 usage, 3 no provider (SERVICE_UNAVAILABLE),
 * 130 interrupted.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerAssignCommand } from './cli/assign.js';
import { registerCancelCommand } from './cli/cancel.js';
import { registerConformanceCommand } from './cli/conformance.js';
import type { CliContext } from './cli/context.js';
import { registerDemoCommand } from './cli/demo.js';
import { registerDiscoverCommand } from './cli/discover.js';
import { addGlobalOptions, ExitCode } from './cli/options.js';
import { printError, processIo, type Io } from './cli/output.js';
import { registerProviderCommand } from './cli/provider.js';
import { registerSimulateCommand } from './cli/simulate.js';
import { registerStatusCommand } from './cli/status.js';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
  description: string;
};

export function createProgram(context: CliContext): Command {
  const program = new Command('switchboard')
    .description(packageJson.description)
    .version(packageJson.version, '-v, --version')
    // Set before the commands are added, so each of them inherits it.
    .exitOverride()
    .configureOutput({ writeOut: (text) => context.io.stdout.write(text), writeErr: (text) => context.io.stderr.write(text) })
    .showHelpAfterError('(add --help for usage and examples)')
    .configureHelp({ showGlobalOptions: true });
  addGlobalOptions(program);
  registerProviderCommand(program, context);
  registerDiscoverCommand(program, context);
  registerAssignCommand(program, context);
  registerStatusCommand(program, context);
  registerCancelCommand(program, context);
  registerDemoCommand(program, context);
  registerConformanceCommand(program, context);
  registerSimulateCommand(program, context);
  return program.addHelpText(
    'after',
    `
Examples (one per command):
  $ switchboard demo                                   # the whole round trip on loopback (npm start)
  $ switchboard provider --work-dir ./images           # host the demo ImageProcessingService
  $ switchboard discover --timeout-ms 3000             # list what is on the network
  $ switchboard assign ImageProcessingService resizeImage --param inputPath=a.png --param outputPath=b.png --param width=320
  $ switchboard status <taskId> --endpoint ws://192.168.1.20:8080 --client-id <clientId>
  $ switchboard cancel <taskId> --endpoint ws://192.168.1.20:8080 --client-id <clientId>
  $ switchboard conformance provider ws://192.168.1.20:8080 --level full   # check a provider (docs/conformance.md)

Global options go before or after the command. Every option also reads SWITCHBOARD_<OPTION>
(SWITCHBOARD_DISCOVERY_PORT, SWITCHBOARD_BROADCAST, SWITCHBOARD_TOKEN, ...); a flag wins.
Exit codes: 0 ok, 1 task failed, 2 usage, 3 no provider (SERVICE_UNAVAILABLE), 130 interrupted.

Docs:
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

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const context: CliContext = { io, exitCode: ExitCode.ok };
  const program = createProgram(context);
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return ExitCode.ok;
    }
    await program.parseAsync([...argv]);
    return context.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return exitCodeOfCommanderError(error);
    printError(io, undefined, error instanceof Error ? error.message : String(error));
    return ExitCode.failed;
  }
}
