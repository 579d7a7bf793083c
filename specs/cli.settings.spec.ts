/**
 * Every CLI option, of every command, from the command line, SWITCHBOARD_<OPTION> or
 * switchboard.config.json (runtime/cli/settings.ts), in that order of precedence, generically
 * from the commander definitions: a throwaway command tree with every kind of option (integer
 * parser, choices, comma list, repeatable, switch, negatable, mandatory, variadic, a nested
 * subcommand) proves it for options no command file declared on purpose. Then the real `main`,
 * in process, with an injected environment and working directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../runtime/cli.js';
import { integerIn, listOf, repeatable } from '../runtime/cli/options.js';
import type { Io } from '../runtime/cli/output.js';
import { configFilePath, ConfiguredCommand, loadConfigFile, nameEnvironmentVariables, type ConfigFile } from '../runtime/cli/settings.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-settings-'));
  dirs.push(dir);
  return dir;
};

interface Parsed {
  readonly command: string;
  readonly options: Record<string, unknown>;
  readonly sources: Record<string, string | undefined>;
}

/** A tree like the CLI's: global options on the program, `run` and `group sub` below it. */
function tree(settings: { env?: NodeJS.ProcessEnv; config?: Record<string, unknown> }, seen: Parsed[], errors: string[]): Command {
  const config: ConfigFile | undefined = settings.config === undefined ? undefined : { path: 'switchboard.config.json', values: settings.config };
  const program = new ConfiguredCommand('t', { env: settings.env ?? {}, config, commandNames: ['run', 'group'] })
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: (text) => void errors.push(text) })
    .addOption(new Option('--port <n>', 'global integer').argParser(integerIn(1, 65_535)).default(50_001))
    .addOption(new Option('--verbose', 'global switch'));
  const record = (command: Command) => {
    const options = command.optsWithGlobals();
    const sources: Record<string, string | undefined> = {};
    for (let current: Command | null = command; current; current = current.parent) {
      for (const key of Object.keys(current.opts())) sources[key] ??= current.getOptionValueSource(key);
    }
    seen.push({ command: command.name(), options, sources });
  };
  program
    .command('run')
    .addOption(new Option('--timeout-ms <n>').argParser(integerIn(1, 10_000)).default(2_000))
    .addOption(new Option('--level <level>').choices(['core', 'full']).default('core'))
    .addOption(new Option('--peer <host>').argParser(listOf((value) => value)))
    .addOption(new Option('--param <kv>').argParser(repeatable))
    .addOption(new Option('--params-json <json>'))
    .addOption(new Option('--watch'))
    .addOption(new Option('--broadcast <addr>'))
    .addOption(new Option('--no-broadcast'))
    .addOption(new Option('--name <name>').makeOptionMandatory())
    .addOption(new Option('--tag <tags...>'))
    .action((_options, command: Command) => record(command));
  program
    .command('group')
    .command('sub')
    .addOption(new Option('--depth <n>').argParser(integerIn(0, 9)))
    .action((_options, command: Command) => record(command));
  nameEnvironmentVariables(program);
  return program;
}

async function parse(args: readonly string[], settings: { env?: NodeJS.ProcessEnv; config?: Record<string, unknown> } = {}) {
  const seen: Parsed[] = [];
  const errors: string[] = [];
  let thrown: unknown;
  try {
    await tree(settings, seen, errors).parseAsync(['node', 't', ...args]);
  } catch (error) {
    thrown = error;
  }
  return { parsed: seen[0], errors: errors.join(''), exitCode: (thrown as { exitCode?: number } | undefined)?.exitCode };
}

describe('settings: the environment', () => {
  it('names a variable after every option, declared with envOption or not', () => {
    const program = tree({}, [], []);
    const run = program.commands.find((command) => command.name() === 'run')!;
    expect(run.options.map((option) => option.envVar)).toEqual([
      'SWITCHBOARD_TIMEOUT_MS',
      'SWITCHBOARD_LEVEL',
      'SWITCHBOARD_PEER',
      'SWITCHBOARD_PARAM',
      'SWITCHBOARD_PARAMS_JSON',
      'SWITCHBOARD_WATCH',
      'SWITCHBOARD_BROADCAST',
      'SWITCHBOARD_NO_BROADCAST',
      'SWITCHBOARD_NAME',
      'SWITCHBOARD_TAG',
    ]);
    expect(program.options.map((option) => option.envVar)).toEqual(['SWITCHBOARD_PORT', 'SWITCHBOARD_VERBOSE']);
  });

  it('parses each value with the option\'s own parser; a switch is on unless the variable is empty, 0, false, no or off', async () => {
    const env = { SWITCHBOARD_PORT: '4000', SWITCHBOARD_TIMEOUT_MS: '250', SWITCHBOARD_PEER: 'a,b', SWITCHBOARD_NAME: 'n', SWITCHBOARD_WATCH: '1', SWITCHBOARD_VERBOSE: 'off' };
    const { parsed } = await parse(['run'], { env });
    expect(parsed?.options).toMatchObject({ port: 4000, timeoutMs: 250, peer: ['a', 'b'], name: 'n', watch: true });
    expect(parsed?.options.verbose).toBeUndefined();
    expect(parsed?.sources).toMatchObject({ port: 'env', timeoutMs: 'env', level: 'default' });
  });

  it('a bad value is a usage error (exit 2) naming the variable', async () => {
    const { errors, exitCode } = await parse(['run', '--name', 'n'], { env: { SWITCHBOARD_TIMEOUT_MS: 'soon' } });
    expect(exitCode).toBe(2);
    expect(errors).toMatch(/^error: SWITCHBOARD_TIMEOUT_MS: expected an integer in \[1, 10000\], got "soon"/);
  });
});

describe('settings: the config file', () => {
  it('sets global options at the top, a command\'s in its section, a subcommand\'s in a section inside its parent\'s', async () => {
    const config = { port: 4001, verbose: true, run: { timeoutMs: 300, name: 'from-file', level: 'full' }, group: { sub: { depth: 3 } } };
    const run = await parse(['run'], { config });
    expect(run.parsed?.options).toMatchObject({ port: 4001, verbose: true, timeoutMs: 300, name: 'from-file', level: 'full' });
    expect(run.parsed?.sources).toMatchObject({ port: 'config', timeoutMs: 'config', name: 'config' });
    const sub = await parse(['group', 'sub'], { config });
    expect(sub.parsed?.options).toMatchObject({ port: 4001, depth: 3 });
  });

  it('an array is the flag repeated, an object its JSON text, false turns a negatable option off', async () => {
    const config = { run: { name: 'n', peer: ['a,b', 'c'], param: ['x=1', 'y=a,b'], paramsJson: { width: 3 }, broadcast: false, tag: ['t1', 't2'] } };
    const { parsed } = await parse(['run'], { config });
    expect(parsed?.options).toMatchObject({ peer: ['a', 'b', 'c'], param: ['x=1', 'y=a,b'], paramsJson: '{"width":3}', broadcast: false, tag: ['t1', 't2'] });
    const on = await parse(['run'], { config: { run: { name: 'n', broadcast: '127.255.255.255' } } });
    expect(on.parsed?.options.broadcast).toBe('127.255.255.255');
  });

  it('the command line beats the environment, which beats the file, which beats the default', async () => {
    const config = { port: 1111, run: { timeoutMs: 1111, level: 'full', name: 'file', peer: ['file'] } };
    const env = { SWITCHBOARD_TIMEOUT_MS: '2222', SWITCHBOARD_PEER: 'env' };
    const { parsed } = await parse(['run', '--timeout-ms', '3333', '--peer', 'cli'], { config, env });
    expect(parsed?.options).toMatchObject({ timeoutMs: 3333, peer: ['cli'], port: 1111, level: 'full', name: 'file' });
    expect(parsed?.sources).toMatchObject({ timeoutMs: 'cli', peer: 'cli', port: 'config', level: 'config' });
    const envOverFile = await parse(['run'], { config, env });
    expect(envOverFile.parsed?.options).toMatchObject({ timeoutMs: 2222, peer: ['env'] });
  });

  it('a mandatory option may come from the file or the environment', async () => {
    expect((await parse(['run'], { config: { run: { name: 'x' } } })).parsed?.options.name).toBe('x');
    expect((await parse(['run'], { env: { SWITCHBOARD_NAME: 'y' } })).parsed?.options.name).toBe('y');
    const missing = await parse(['run']);
    expect(missing.errors).toMatch(/required option '--name <name>' not specified/);
  });

  it.each([
    [{ run: { name: 'n', timeout: 5 } }, /run\.timeout: no such option for `switchboard run` \(known: .*timeoutMs/],
    [{ nosuch: 1 }, /nosuch: no such option for every command/],
    [{ run: { name: 'n', timeoutMs: 'soon' } }, /run\.timeoutMs: expected an integer in \[1, 10000\], got "soon"/],
    [{ run: { name: 'n', level: 'max' } }, /run\.level: Allowed choices are core, full/],
    [{ run: { name: 'n', watch: 'yes' } }, /run\.watch is a switch: use true or false/],
    [{ run: 7 }, /"run" must be an object of that command's options/],
  ])('%j is a usage error (exit 2) naming the file and the key', async (config, message) => {
    const { errors, exitCode } = await parse(['run', '--name', 'n'], { config });
    expect(exitCode).toBe(2);
    expect(errors).toMatch(/^error: config file switchboard\.config\.json: /);
    expect(errors).toMatch(message);
  });

  it('skips $-keys ($schema) and the sections of commands that did not run', async () => {
    const { parsed, exitCode } = await parse(['group', 'sub'], { config: { $schema: 'x', run: { nonsense: true }, group: { sub: { depth: 1 } } } });
    expect(exitCode).toBeUndefined();
    expect(parsed?.options.depth).toBe(1);
  });
});

describe('settings: finding and reading the file', () => {
  it('finds switchboard.config.json (or .js/.mjs/.ts) in the directory; --config, SWITCHBOARD_CONFIG and --no-config choose', () => {
    const dir = tempDir();
    expect(configFilePath(undefined, {}, dir)).toBeUndefined();
    writeFileSync(path.join(dir, 'switchboard.config.json'), '{}');
    expect(configFilePath(undefined, {}, dir)).toBe(path.join(dir, 'switchboard.config.json'));
    expect(configFilePath('other.json', {}, dir)).toBe(path.join(dir, 'other.json'));
    expect(configFilePath(undefined, { SWITCHBOARD_CONFIG: 'env.json' }, dir)).toBe(path.join(dir, 'env.json'));
    expect(configFilePath(false, {}, dir)).toBeUndefined();
    expect(configFilePath(undefined, { SWITCHBOARD_NO_CONFIG: '1' }, dir)).toBeUndefined();
    writeFileSync(path.join(dir, 'switchboard.config.mjs'), 'export default {}');
    expect(() => configFilePath(undefined, {}, dir)).toThrow(/switchboard\.config\.json and switchboard\.config\.mjs are both in/);
  });

  it('reads JSON, and JavaScript and TypeScript modules by their default export; says what is wrong with a bad one', async () => {
    const dir = tempDir();
    const write = (name: string, text: string) => {
      writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    expect((await loadConfigFile(write('a.json', '{"discover": {"timeoutMs": 5}}'))).values).toEqual({ discover: { timeoutMs: 5 } });
    expect((await loadConfigFile(write('b.mjs', 'export default { logLevel: "info" };'))).values).toEqual({ logLevel: 'info' });
    const typed = write('c.ts', 'const port: number = 40_001;\nexport default { discoveryPort: port };\n');
    expect((await loadConfigFile(typed)).values).toEqual({ discoveryPort: 40_001 });
    await expect(loadConfigFile(write('d.json', '{ nope'))).rejects.toThrow(/d\.json is not valid JSON/);
    await expect(loadConfigFile(write('e.json', '[1]'))).rejects.toThrow(/must hold an object/);
    await expect(loadConfigFile(path.join(dir, 'missing.json'))).rejects.toThrow(/missing\.json: no such file/);
    await expect(loadConfigFile(write('f.mjs', 'throw new Error("boom")'))).rejects.toThrow(/f\.mjs failed to load: boom/);
  });
});

describe('main: the real CLI, in process', () => {
  const capture = () => {
    const out = { stdout: '', stderr: '' };
    const io: Io = { stdout: { write: (text) => ((out.stdout += text), true) }, stderr: { write: (text) => ((out.stderr += text), true) } };
    return { io, out };
  };

  it('--version answers without loading any command, even beside a broken config file', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'switchboard.config.json'), '{ broken');
    const { io, out } = capture();
    expect(await main(['node', 'switchboard', '--version'], io, { env: {}, cwd: dir })).toBe(0);
    expect(out.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('a broken config file is a usage error for a command (exit 2), and --no-config sidesteps it', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'switchboard.config.json'), '{ broken');
    const broken = capture();
    expect(await main(['node', 'switchboard', 'discover', '--help'], broken.io, { env: {}, cwd: dir })).toBe(2);
    expect(broken.out.stderr).toMatch(/^error: config file .*switchboard\.config\.json is not valid JSON/);
    const ignored = capture();
    expect(await main(['node', 'switchboard', '--no-config', 'discover', '--help'], ignored.io, { env: {}, cwd: dir })).toBe(0);
  });

  it('every option of every command shows its variable in the help', async () => {
    const { io, out } = capture();
    expect(await main(['node', 'switchboard', 'describe', '--help'], io, { env: {}, cwd: tempDir() })).toBe(0);
    expect(out.stdout).toMatch(/--timeout-ms <n>[\s\S]*env:\s+SWITCHBOARD_TIMEOUT_MS/);
    expect(out.stdout).toMatch(/--json[\s\S]*env:\s+SWITCHBOARD_JSON/);
    expect(out.stdout).not.toMatch(/SWITCHBOARD_VERSION|SWITCHBOARD_CONFIG/);
  });

  it('a bad value in the file for the command that runs is exit 2, before anything is sent', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'switchboard.config.json'), JSON.stringify({ discover: { settleMs: -1 } }));
    const { io, out } = capture();
    expect(await main(['node', 'switchboard', 'discover'], io, { env: {}, cwd: dir })).toBe(2);
    expect(out.stderr).toMatch(/discover\.settleMs: expected an integer/);
    expect(out.stderr).not.toMatch(/discovering/);
  });
});
