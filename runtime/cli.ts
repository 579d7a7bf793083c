/**
 * The `switchboard` command line. Commands arrive with the runtime (issue 3/5); until then the
 * CLI explains what it is and prints its help.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
  description: string;
};

export function createProgram(): Command {
  return new Command('switchboard')
    .description(packageJson.description)
    .version(packageJson.version, '-v, --version')
    .addHelpText(
      'after',
      `
Docs:
  docs/protocol.md   the wire protocol (normative, with requirement ids)
  docs/errors.md     every error code, who sends it, whether a retry helps`,
    );
}

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = createProgram().exitOverride();
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    const code = (error as { code?: string; exitCode?: number }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version') return 0;
    return (error as { exitCode?: number }).exitCode ?? 1;
  }
}
