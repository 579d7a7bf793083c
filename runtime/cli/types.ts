/**
 * `switchboard types <service>`: the TypeScript contract of a service known only from the
 * network, generated from its advertisements (each operation's JSON Schema, result schema,
 * description and error codes: runtime/typed/generateContract.ts), for the typed client:
 * `client.service<Greeter>('Greeter').greet({ name })`.
 *
 * Exit codes: 0 written, 2 usage, 3 no provider offers the service (SERVICE_UNAVAILABLE).
 */
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Capability } from '../../machines/capabilities.js';
import type { ServiceView } from '../../machines/repository.js';
import { createClient } from '../client.js';
import { contractModule } from '../typed/generateContract.js';
import { runAction, type CliContext } from './context.js';
import { answersIn } from './discover.js';
import { describeNetwork, networkChoiceOf } from './natsOptions.js';
import { envOption, ExitCode, globalOptionsOf, integerIn } from './options.js';
import { line, printError, stderrLogger } from './output.js';

interface TypesFlags {
  out?: string;
  typeName?: string;
  timeoutMs: number;
  settleMs: number;
}

/** `1.10.0` after `1.9.2`: versions compared by their numbers, then as text. */
const byVersionDescending = (a: string, b: string) => b.localeCompare(a, 'en', { numeric: true });

/**
 * The newest version's instances, and each operation's capability: the first advertisement of
 * each operation name among them (instances of one version should agree).
 */
export function contractSourceOf(serviceName: string, instances: readonly ServiceView[]) {
  const versions = [...new Set(instances.map((instance) => instance.serviceVersion))].sort(byVersionDescending);
  const serviceVersion = versions[0] ?? '';
  const capabilities = new Map<string, Capability>();
  for (const instance of instances) {
    if (instance.serviceVersion !== serviceVersion) continue;
    for (const capability of instance.capabilities) if (!capabilities.has(capability.key)) capabilities.set(capability.key, capability);
  }
  return { serviceName, serviceVersion, capabilities: [...capabilities.values()], otherVersions: versions.slice(1) };
}

async function runTypes(context: CliContext, serviceName: string, flags: TypesFlags, command: Command): Promise<number> {
  const { io } = context;
  const globals = globalOptionsOf(command);
  line(io.stderr, `looking for ${serviceName} (${describeNetwork(globals.discovery, networkChoiceOf(command))}) for up to ${flags.timeoutMs} ms...`);
  const client = createClient({
    discovery: globals.discovery,
    trust: globals.trust,
    ...networkChoiceOf(command),
    log: stderrLogger(io, globals.logLevel, globals.logFormat),
  });
  const instancesOf = () => client.services().filter((service) => service.serviceName === serviceName);
  let instances: ServiceView[];
  try {
    // Other instances (another version, say) answer the same request a moment later: discover's rule.
    await answersIn(client, () => instancesOf().length > 0, flags);
    instances = instancesOf();
  } finally {
    await client.stop();
  }
  if (instances.length === 0) {
    printError(io, 'SERVICE_UNAVAILABLE', `no provider offers ${serviceName} (heard nothing within ${flags.timeoutMs} ms)`);
    return ExitCode.unavailable;
  }
  const source = contractSourceOf(serviceName, instances);
  if (source.otherVersions.length > 0) {
    line(io.stderr, `${serviceName} ${source.serviceVersion} typed; other versions on the network: ${source.otherVersions.join(', ')}`);
  }
  const commandLine = ['switchboard types', serviceName, ...(flags.typeName === undefined ? [] : ['--type-name', flags.typeName])].join(' ');
  const module = contractModule(source, { ...(flags.typeName === undefined ? {} : { typeName: flags.typeName }), command: commandLine });
  if (flags.out === undefined) {
    io.stdout.write(module);
    return ExitCode.ok;
  }
  // Written beside and renamed, so that a compiler watching the file never sees half of it.
  const target = path.resolve(flags.out);
  const partial = `${target}.${process.pid}.partial`;
  await writeFile(partial, module, 'utf8');
  await rename(partial, target);
  line(io.stderr, `wrote ${target}: ${serviceName} ${source.serviceVersion}, ${source.capabilities.length} operation${source.capabilities.length === 1 ? '' : 's'}`);
  return ExitCode.ok;
}

const TYPE_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;

export function registerTypesCommand(program: Command, context: CliContext): Command {
  return program
    .command('types')
    .description("generate TypeScript types of a service on the network, for the typed client")
    .argument('<service>', 'the service name (discover lists them)')
    .option('--out <file>', 'write the types to this file (default: stdout)')
    .option('--type-name <name>', 'the name of the contract type (default: the service name)', (value: string) => {
      if (!TYPE_NAME.test(value)) throw new InvalidArgumentError(`expected a TypeScript identifier, got "${value}"`);
      return value;
    })
    .addOption(envOption('--timeout-ms <n>', 'the longest to wait for the service to answer').argParser(integerIn(1, 3_600_000)).default(2_000))
    .addOption(envOption('--settle-ms <n>', 'once it answered, wait this long for more instances').argParser(integerIn(1, 60_000)).default(300))
    .addHelpText(
      'after',
      `
Each operation's parameters come from its advertised JSON Schema (the seed's settings when there
is none), its result from the advertised result schema (else unknown), its own error codes from
the advertisement. Use the contract with the typed client:

  import type { Greeter } from './greeter.types.js';
  const task = client.service<Greeter>('Greeter').greet({ name: 'Ada' });

Exit codes: 0 written, 3 no provider offers the service.

Examples:
  $ switchboard types Greeter --out src/greeter.types.ts
  $ switchboard types ImageProcessingService --type-name Images > images.types.ts`,
    )
    .action((serviceName: string, flags: TypesFlags, command: Command) => runAction(context, () => runTypes(context, serviceName, flags, command)));
}
