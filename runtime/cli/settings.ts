/**
 * Where each CLI option gets its value, for every command and every option, generically from the
 * commander definitions (a command file only declares its options):
 *
 *   the command line  >  SWITCHBOARD_<OPTION>  >  switchboard.config.json  >  the option's default
 *
 * - Environment: `--discovery-port` is SWITCHBOARD_DISCOVERY_PORT, `--no-broadcast` is
 *   SWITCHBOARD_NO_BROADCAST. A switch (an option without a value) is on when its variable is set
 *   to anything but '', 0, false, no or off.
 * - Config file: `switchboard.config.json` (or `.js`, `.mjs`, `.ts` exporting the same object as
 *   default) in the current directory, or the file `--config <file>` / SWITCHBOARD_CONFIG names;
 *   `--no-config` / SWITCHBOARD_NO_CONFIG=1 ignores it. Global options are top-level keys, a command's options sit in a
 *   section named after it (a subcommand's in a section inside its parent's), each key the
 *   option's camelCase name:
 *
 *     { "discoveryPort": 40001, "logLevel": "info",
 *       "discover": { "timeoutMs": 500 },
 *       "conformance": { "provider": { "level": "full" } } }
 *
 *   A value goes through the option's own parser, like a flag would (so a bad one is the same
 *   usage error, exit 2, naming the file and the key); an array is the flag repeated; an object is
 *   passed as its JSON text (for `--params-json`); `false` turns a negatable option off. An unknown
 *   key is an error rather than silently ignored (a typo would otherwise change nothing).
 *
 * How: every command is a ConfiguredCommand, whose `_parseOptionsEnv` (the step commander runs
 * right after it parsed the command line, before it checks mandatory options) applies the
 * environment and then the config file to the options the command line left at their default.
 * That method is commander's internal hook (commander is pinned; specs/cli.settings.spec.ts
 * proves the order of precedence).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { envFlag, envName, UsageError } from './options.js';
import { importModule } from './typescript.js';

export const CONFIG_FILE_NAMES = ['switchboard.config.json', 'switchboard.config.js', 'switchboard.config.mjs', 'switchboard.config.ts'] as const;

export interface ConfigFile {
  /** As given or found (for messages). */
  readonly path: string;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface Settings {
  readonly env: NodeJS.ProcessEnv;
  readonly config: ConfigFile | undefined;
  /** Every command the CLI has, loaded or not, so the config file's top-level sections can be checked. */
  readonly commandNames: readonly string[];
}

/** The global options that choose the config file. */
export function addConfigOptions(program: Command): Command {
  return program
    .addOption(new Option('--config <file>', `read option values from this file (default: ./${CONFIG_FILE_NAMES[0]} if present)`))
    .addOption(new Option('--no-config', 'ignore any config file'));
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The config file to read: `choice` is `--config`'s value (false for `--no-config`), else
 * SWITCHBOARD_CONFIG, else the one of CONFIG_FILE_NAMES present in `cwd` (two present is an error).
 */
export function configFilePath(choice: string | false | undefined, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  if (choice === false || envFlag('SWITCHBOARD_NO_CONFIG', env)) return undefined;
  const named = choice ?? (env.SWITCHBOARD_CONFIG?.trim() || undefined);
  if (named !== undefined) return path.resolve(cwd, named);
  let present: string[];
  try {
    present = readdirSync(cwd).filter((name) => (CONFIG_FILE_NAMES as readonly string[]).includes(name));
  } catch {
    return undefined;
  }
  if (present.length > 1) throw new UsageError(`${present.join(' and ')} are both in ${cwd}: keep one`);
  return present[0] === undefined ? undefined : path.join(cwd, present[0]);
}

/** Reads a config file: JSON, or a JavaScript/TypeScript module whose default export is the object. */
export async function loadConfigFile(file: string): Promise<ConfigFile> {
  let values: unknown;
  if (file.endsWith('.json')) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`config file ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
    try {
      values = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`config file ${file} is not valid JSON: ${(error as Error).message}`);
    }
  } else {
    let namespace: Record<string, unknown>;
    try {
      namespace = await importModule(file, pathToFileURL(file).href);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`config file ${file} failed to load: ${(error as Error).message}`);
    }
    values = namespace.default;
  }
  if (!isPlainObject(values)) throw new UsageError(`config file ${file} must hold an object (JSON) or export one as default`);
  return { path: file, values };
}

/** Options no environment variable or config key should set. */
const NOT_SETTINGS = new Set(['--version', '--help', '--config', '--no-config']);

/** Gives every option without an environment variable the one its long flag names. */
export function nameEnvironmentVariables(command: Command): void {
  for (const option of command.options) {
    if (option.envVar === undefined && option.long !== undefined && !NOT_SETTINGS.has(option.long)) option.env(envName(option.long));
  }
  for (const sub of command.commands) nameEnvironmentVariables(sub);
}

/** Set by the command line (or by code), so neither the environment nor the config file may change it. */
function setExplicitly(command: Command, key: string): boolean {
  const source = command.getOptionValueSource(key);
  return command.getOptionValue(key) !== undefined && source !== 'default' && source !== 'implied';
}

const takesValue = (option: Option) => option.required || option.optional;

/**
 * An option's value from texts, as if its flag had been given once per text: each goes through
 * the option's parser with the value so far (a repeatable option accumulates, like on the command
 * line). A parser's refusal becomes a UsageError saying `where` the value came from.
 */
function valueFromTexts(option: Option, texts: readonly (string | string[])[], previous: unknown, where: string): unknown {
  let current = previous;
  for (const text of texts) {
    try {
      if (option.parseArg !== undefined) current = option.parseArg(text as string, current);
      else if (option.variadic) current = [...(Array.isArray(current) && current !== option.defaultValue ? current : []), ...[text].flat()];
      else current = text;
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw new UsageError(`${where}: ${error.message}`);
      throw error;
    }
  }
  return current;
}

function applyEnvironment(command: Command, env: NodeJS.ProcessEnv): void {
  for (const option of command.options) {
    const name = option.envVar;
    const key = option.attributeName();
    if (name === undefined || env[name] === undefined || setExplicitly(command, key)) continue;
    if (takesValue(option)) command.setOptionValueWithSource(key, valueFromTexts(option, [env[name]], command.getOptionValue(key), name), 'env');
    else if (envFlag(name, env)) command.setOptionValueWithSource(key, !option.negate, 'env');
  }
}

/** The names of `command` and its ancestors below the program, outermost first. */
function commandPath(command: Command): string[] {
  const names: string[] = [];
  for (let current: Command | null = command; current?.parent; current = current.parent) names.unshift(current.name());
  return names;
}

function sectionOf(command: Command, config: ConfigFile): Record<string, unknown> | undefined {
  let section: unknown = config.values;
  const names = commandPath(command);
  for (const [index, name] of names.entries()) {
    section = (section as Record<string, unknown>)[name];
    if (section === undefined) return undefined;
    if (!isPlainObject(section)) {
      throw new UsageError(`config file ${config.path}: "${names.slice(0, index + 1).join('.')}" must be an object of that command's options`);
    }
  }
  return section as Record<string, unknown>;
}

/** A config value as the text a flag would carry. */
const flagText = (value: unknown): string => (typeof value === 'string' ? value : isPlainObject(value) || Array.isArray(value) ? JSON.stringify(value) : String(value));

function applyConfigValue(command: Command, options: readonly Option[], key: string, value: unknown, where: string): void {
  const switches = options.filter((option) => !takesValue(option));
  const valued = options.find(takesValue);
  if (typeof value === 'boolean' && switches.length > 0) {
    // `true` for an option that only has its `--no-` form is its default (on): nothing to set.
    if (value === false || switches.some((option) => !option.negate)) command.setOptionValueWithSource(key, value, 'config');
    return;
  }
  if (valued === undefined) throw new UsageError(`${where} is a switch: use true or false`);
  const items = Array.isArray(value) && !valued.variadic ? value : [value];
  const texts = items.map((item) => (Array.isArray(item) ? item.map(flagText) : flagText(item)));
  command.setOptionValueWithSource(key, valueFromTexts(valued, texts, command.getOptionValue(key), where), 'config');
}

function applyConfigFile(command: Command, settings: Settings): void {
  const { config } = settings;
  if (config === undefined) return;
  const section = sectionOf(command, config);
  if (section === undefined) return;
  const optionsByKey = new Map<string, Option[]>();
  for (const option of command.options) {
    if (option.long !== undefined && NOT_SETTINGS.has(option.long)) continue;
    const key = option.attributeName();
    optionsByKey.set(key, [...(optionsByKey.get(key) ?? []), option]);
  }
  const sections = new Set(command.parent === null ? settings.commandNames : command.commands.map((sub) => sub.name()));
  const prefix = commandPath(command).join('.');
  for (const [key, value] of Object.entries(section)) {
    if (key.startsWith('$') || sections.has(key) || value === undefined || value === null) continue;
    const where = `config file ${config.path}: ${prefix ? `${prefix}.` : ''}${key}`;
    const options = optionsByKey.get(key);
    if (options === undefined) {
      const known = [...optionsByKey.keys(), ...sections].sort().join(', ');
      throw new UsageError(`${where}: no such option for ${prefix ? `\`switchboard ${prefix.replace(/\./g, ' ')}\`` : 'every command'} (known: ${known})`);
    }
    if (setExplicitly(command, key)) continue;
    applyConfigValue(command, options, key, value, where);
  }
}

/** A commander Command whose options also read the environment and the config file (see above). */
export class ConfiguredCommand extends Command {
  readonly #settings: Settings;

  constructor(name: string | undefined, settings: Settings) {
    super(name);
    this.#settings = settings;
  }

  override createCommand(name?: string): Command {
    return new ConfiguredCommand(name, this.#settings);
  }

  /** Commander's step after the command line is parsed (it replaces commander's own env step). */
  _parseOptionsEnv(): void {
    try {
      applyEnvironment(this, this.#settings.env);
      applyConfigFile(this, this.#settings);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      this.error(`error: ${error.message}`, { exitCode: 2, code: 'switchboard.settings' });
    }
  }
}
