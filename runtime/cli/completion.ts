/**
 * `switchboard completion bash|zsh`: prints a tab-completion script generated from the commander
 * definitions (every command, subcommand and option, including those other files add), so it is
 * never out of date with the CLI that printed it:
 *
 *   source <(switchboard completion bash)          # bash, e.g. in ~/.bashrc
 *   source <(switchboard completion zsh)           # zsh, e.g. in ~/.zshrc
 *
 * It completes command names, options (the command's own and the global ones), the values of
 * options with a fixed set of choices (`--log-level`), and file names for options whose value is a
 * <file>, <dir>, <path> or <module>. The bash script uses compgen, the zsh one compadd and
 * _files (zsh's own completion system, no bashcompinit).
 */
import type { Command, Option } from 'commander';
import { runAction, type CliContext } from './context.js';
import { ExitCode, UsageError } from './options.js';
import { line } from './output.js';

const SHELLS = ['bash', 'zsh'] as const;

interface CommandNode {
  /** Space-separated names below the program ('' for the program itself). */
  readonly path: string;
  readonly command: Command;
}

function nodesOf(command: Command, path = ''): CommandNode[] {
  return [{ path, command }, ...command.commands.flatMap((sub) => nodesOf(sub, path === '' ? sub.name() : `${path} ${sub.name()}`))];
}

const longFlags = (options: readonly Option[]) => options.flatMap((option) => (option.long === undefined ? [] : [option.long]));
const takesValue = (option: Option) => option.required || option.optional;
const wantsFile = (option: Option) => /<(?:file|dir|path|directory|module)[^>]*>/i.test(option.flags);

/** A word list for a double-quoted shell string (command and option names are plain). */
const words = (items: readonly string[]) => [...new Set(items)].join(' ');

/** What the scripts need to know, from the command tree. */
interface Model {
  readonly name: string;
  readonly fn: string;
  /** Every command path ('' the program, 'conformance provider' a subcommand) and what follows it. */
  readonly candidates: readonly { readonly path: string; readonly words: readonly string[] }[];
  /** Options that take a value (their value is skipped when finding the command path). */
  readonly valueFlags: readonly string[];
  readonly choices: ReadonlyMap<string, readonly string[]>;
  readonly fileFlags: readonly string[];
  /** Value options with neither choices nor files: nothing to offer. */
  readonly freeFlags: readonly string[];
}

function modelOf(program: Command): Model {
  const name = program.name();
  const nodes = nodesOf(program);
  const valueOptions = nodes.flatMap((node) => node.command.options).filter(takesValue);
  // One entry per flag, whichever commands declare it: choices merged, a file if any says so.
  const choices = new Map<string, string[]>();
  const files = new Set<string>();
  for (const option of valueOptions) {
    if (option.long === undefined) continue;
    if (option.argChoices !== undefined) choices.set(option.long, [...new Set([...(choices.get(option.long) ?? []), ...option.argChoices])]);
    else if (wantsFile(option)) files.add(option.long);
  }
  const valueFlags = [...new Set(longFlags(valueOptions))];
  return {
    name,
    fn: `_${name.replace(/[^A-Za-z0-9_]/g, '_')}_completion`,
    candidates: nodes.map(({ path, command }) => ({
      path,
      words: [...new Set([...command.commands.map((sub) => sub.name()), ...longFlags(path === '' ? command.options : [...command.options, ...program.options]), '--help'])],
    })),
    valueFlags,
    choices,
    fileFlags: [...files],
    freeFlags: valueFlags.filter((flag) => !choices.has(flag) && !files.has(flag)),
  };
}

/** The loop both shells run over the words before the cursor: the command path typed so far. */
function pathLoop(model: Model, wordAt: (index: string) => string, first: number, cursor: string): string {
  const paths = model.candidates.filter((candidate) => candidate.path !== '').map((candidate) => `"${candidate.path}"`);
  return `  local cmdpath="" word next i
  for ((i = ${first}; i < ${cursor}; i++)); do
    word="${wordAt('i')}"
    case "$word" in
      ${model.valueFlags.join('|') || '--never-a-flag'}) ((i++)); continue ;;
      -*) continue ;;
    esac
    if [ -z "$cmdpath" ]; then next="$word"; else next="$cmdpath $word"; fi
    case "$next" in
      ${paths.join('|') || '"-"'}) cmdpath="$next" ;;
    esac
  done`;
}

export function bashCompletionScript(program: Command): string {
  const model = modelOf(program);
  const { name, fn } = model;
  const prevCases = [
    ...[...model.choices].map(([flag, values]) => `    ${flag}) COMPREPLY=($(compgen -W "${words(values)}" -- "$cur")); return 0 ;;`),
    ...(model.fileFlags.length > 0 ? [`    ${model.fileFlags.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;`] : []),
    ...(model.freeFlags.length > 0 ? [`    ${model.freeFlags.join('|')}) COMPREPLY=(); return 0 ;;`] : []),
  ];
  return `# ${name} tab completion for bash (generated by \`${name} completion bash\`).
# Load it with:  source <(${name} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" candidates=""
${pathLoop(model, (index) => `\${COMP_WORDS[${index}]}`, 1, 'COMP_CWORD')}
  case "$prev" in
${prevCases.join('\n')}
  esac
  case "$cmdpath" in
${model.candidates.map((candidate) => `    "${candidate.path}") candidates="${words(candidate.words)}" ;;`).join('\n')}
  esac
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -F ${fn} ${name}
`;
}

/** zsh's own completion (compadd filters by what is typed; _files completes paths). */
export function zshCompletionScript(program: Command): string {
  const model = modelOf(program);
  const { name, fn } = model;
  const prevCases = [
    ...[...model.choices].map(([flag, values]) => `    ${flag}) compadd -- ${words(values)}; return 0 ;;`),
    ...(model.fileFlags.length > 0 ? [`    ${model.fileFlags.join('|')}) _files; return 0 ;;`] : []),
    ...(model.freeFlags.length > 0 ? [`    ${model.freeFlags.join('|')}) return 0 ;;`] : []),
  ];
  return `#compdef ${name}
# ${name} tab completion for zsh (generated by \`${name} completion zsh\`).
# Load it with:  source <(${name} completion zsh)   (after compinit)
${fn}() {
${pathLoop(model, (index) => `\${words[${index}]}`, 2, 'CURRENT')}
  case "\${words[CURRENT-1]}" in
${prevCases.join('\n')}
  esac
  case "$cmdpath" in
${model.candidates.map((candidate) => `    "${candidate.path}") compadd -- ${words(candidate.words)} ;;`).join('\n')}
  esac
}
if (( $+functions[compdef] )); then
  compdef ${fn} ${name}
else
  autoload -U +X compinit && compinit && compdef ${fn} ${name}
fi
`;
}

export function completionScript(program: Command, shell: (typeof SHELLS)[number]): string {
  return shell === 'bash' ? bashCompletionScript(program) : zshCompletionScript(program);
}

export function registerCompletionCommand(program: Command, context: CliContext): Command {
  return program
    .command('completion')
    .description('print a tab-completion script for bash or zsh')
    .argument('<shell>', SHELLS.join(' or '))
    .addHelpText(
      'after',
      `
Examples:
  $ source <(switchboard completion bash)                  # this shell
  $ switchboard completion bash >> ~/.bashrc               # every new bash
  $ switchboard completion zsh > ~/.zsh-switchboard && echo 'source ~/.zsh-switchboard' >> ~/.zshrc`,
    )
    .action((shell: string) =>
      runAction(context, async () => {
        if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`no completion for "${shell}": choose ${SHELLS.join(' or ')}`);
        line(context.io.stdout, completionScript(program, shell as (typeof SHELLS)[number]).trimEnd());
        return ExitCode.ok;
      }),
    );
}
