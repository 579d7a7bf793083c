/**
 * `switchboard describe <service> [operation]`: what a service offers, from its advertisements
 * (DISC-5): its instances, and each operation with its parameters (the advertised settings, and
 * the JSON Schema when the provider sends one: types, required, descriptions). With an operation,
 * that operation's parameters in full. Discovery returns as soon as the service answered
 * (discover's --settle-ms rule); exit 3 when no provider offers the service or the operation.
 */
import type { Command } from 'commander';
import type { Capability } from '../../machines/capabilities.js';
import type { ServiceView } from '../../machines/repository.js';
import { createClient } from '../client.js';
import { runAction, type CliContext } from './context.js';
import { answersIn } from './discover.js';
import { inspectOptionOf } from './inspect.js';
import { describeNetwork, networkChoiceOf } from './natsOptions.js';
import { envOption, ExitCode, globalOptionsOf, integerIn } from './options.js';
import { line, prettyJson, printError, renderTable, stderrLogger, type Io } from './output.js';

interface DescribeFlags {
  timeoutMs: number;
  settleMs: number;
}

interface JsonSchemaProperty {
  readonly type?: unknown;
  readonly description?: unknown;
  readonly enum?: unknown;
  readonly default?: unknown;
  readonly minimum?: unknown;
  readonly maximum?: unknown;
}

/** One parameter of an operation, from its advertised setting and its schema (either may be missing). */
export interface ParameterView {
  readonly name: string;
  readonly type: string;
  readonly required: boolean | undefined;
  readonly description: string | undefined;
}

export interface OperationView {
  readonly name: string;
  /** What the operation does, when the provider advertises it. */
  readonly description: string | undefined;
  /** The operation's own failure codes and what each means, when advertised. */
  readonly errors: Readonly<Record<string, string>> | undefined;
  /** The JSON Schema of its result, when advertised. */
  readonly resultSchema: Record<string, unknown> | undefined;
  readonly parameters: readonly ParameterView[];
  readonly schema: Record<string, unknown> | undefined;
}

const schemaType = (property: JsonSchemaProperty | undefined): string | undefined => {
  if (property === undefined) return undefined;
  if (Array.isArray(property.enum)) return property.enum.map((value) => JSON.stringify(value)).join(' | ');
  if (typeof property.type === 'string') return property.type;
  if (Array.isArray(property.type)) return property.type.join(' | ');
  return undefined;
};

/** The parameters of a capability: its settings in order, then schema properties it has no setting for. */
export function operationView(capability: Capability): OperationView {
  const properties = (capability.schema?.properties ?? {}) as Record<string, JsonSchemaProperty>;
  const required = Array.isArray(capability.schema?.required) ? (capability.schema.required as unknown[]) : undefined;
  const names = [...capability.settings.map((setting) => setting.name)];
  for (const name of Object.keys(properties)) if (!names.includes(name)) names.push(name);
  const parameters = names.map((name) => {
    const setting = capability.settings.find((candidate) => candidate.name === name);
    const property = properties[name];
    return {
      name,
      type: setting?.type ?? schemaType(property) ?? 'unknown',
      required: required === undefined ? undefined : required.includes(name),
      description: typeof property?.description === 'string' ? property.description : undefined,
    };
  });
  return { name: capability.key, description: capability.description, errors: capability.errors, resultSchema: capability.resultSchema, parameters, schema: capability.schema };
}

/** The operations of every instance, first advertisement of each name wins. */
function operationsOf(instances: readonly ServiceView[]): OperationView[] {
  const byName = new Map<string, OperationView>();
  for (const instance of instances) {
    for (const capability of instance.capabilities) if (!byName.has(capability.key)) byName.set(capability.key, operationView(capability));
  }
  return [...byName.values()];
}

const signature = (operation: OperationView): string =>
  `${operation.name}(${operation.parameters.map((p) => `${p.name}${p.required === false ? '?' : ''}: ${p.type}`).join(', ')})`;

function printOperation(io: Io, operation: OperationView): void {
  line(io.stdout, signature(operation));
  if (operation.description !== undefined) line(io.stdout, `  ${operation.description}`);
  const errors = Object.entries(operation.errors ?? {});
  if (errors.length > 0) {
    line(io.stdout);
    line(io.stdout, renderTable(errors, [{ header: 'ITS OWN ERROR CODES', value: ([code]) => code }, { header: 'MEANING', value: ([, meaning]) => meaning }]));
  }
  if (operation.resultSchema !== undefined) {
    line(io.stdout);
    line(io.stdout, 'JSON Schema of the result:');
    line(io.stdout, prettyJson(operation.resultSchema));
  }
  if (operation.parameters.length === 0) return;
  line(io.stdout);
  line(
    io.stdout,
    renderTable(operation.parameters, [
      { header: 'PARAMETER', value: (p) => p.name },
      { header: 'TYPE', value: (p) => p.type },
      { header: 'REQUIRED', value: (p) => (p.required === undefined ? '?' : p.required ? 'yes' : 'no') },
      { header: 'DESCRIPTION', value: (p) => p.description ?? '' },
    ]),
  );
  if (operation.schema !== undefined) {
    line(io.stdout);
    line(io.stdout, 'JSON Schema of the parameters:');
    line(io.stdout, prettyJson(operation.schema));
  }
}

function printService(io: Io, serviceName: string, instances: readonly ServiceView[], operations: readonly OperationView[]): void {
  const versions = [...new Set(instances.map((instance) => instance.serviceVersion))];
  line(io.stdout, `${serviceName} ${versions.join(', ')}`);
  line(io.stdout);
  line(
    io.stdout,
    renderTable(instances, [
      { header: 'ENDPOINT', value: (s) => s.endpoint },
      { header: 'VERSION', value: (s) => s.serviceVersion },
      { header: 'STATUS', value: (s) => (s.health === 'alive' ? s.status : `${s.status} (${s.health})`) },
      { header: 'LOAD', value: (s) => String(s.load) },
      { header: 'SERVICE ID', value: (s) => s.serviceId },
    ]),
  );
  line(io.stdout);
  line(io.stdout, `operations (describe ${serviceName} <operation> for one in full):`);
  for (const operation of operations) {
    line(io.stdout, `  ${signature(operation)}`);
    if (operation.description !== undefined) line(io.stdout, `      ${operation.description}`);
  }
}

async function runDescribe(context: CliContext, serviceName: string, operationName: string | undefined, flags: DescribeFlags, command: Command): Promise<number> {
  const { io } = context;
  const globals = globalOptionsOf(command);
  if (!globals.json) line(io.stderr, `looking for ${serviceName} (${describeNetwork(globals.discovery, networkChoiceOf(command))}) for up to ${flags.timeoutMs} ms...`);
  const client = createClient({
    discovery: globals.discovery,
    trust: globals.trust,
    ...networkChoiceOf(command),
    log: stderrLogger(io, globals.logLevel, globals.logFormat),
    ...inspectOptionOf(globals, io),
  });
  const instances = () =>
    client
      .services()
      .filter((service) => service.serviceName === serviceName)
      .sort((a, b) => a.endpoint.localeCompare(b.endpoint) || a.serviceId.localeCompare(b.serviceId));
  try {
    await answersIn(client, () => instances().length > 0, flags);
  } finally {
    await client.stop();
  }
  const found = instances();
  if (found.length === 0) {
    printError(io, 'SERVICE_UNAVAILABLE', `no provider offers ${serviceName}`);
    return ExitCode.unavailable;
  }
  const operations = operationsOf(found);
  if (operationName === undefined) {
    if (globals.json) line(io.stdout, prettyJson({ serviceName, instances: found, operations }));
    else printService(io, serviceName, found, operations);
    return ExitCode.ok;
  }
  const operation = operations.find((candidate) => candidate.name === operationName);
  if (operation === undefined) {
    printError(io, 'UNKNOWN_OPERATION', `${serviceName} has no operation ${operationName} (it has ${operations.map((o) => o.name).join(', ') || 'none'})`);
    return ExitCode.unavailable;
  }
  if (globals.json) line(io.stdout, prettyJson({ serviceName, ...operation }));
  else printOperation(io, operation);
  return ExitCode.ok;
}

export function registerDescribeCommand(program: Command, context: CliContext): Command {
  return program
    .command('describe')
    .description("show a service's instances and operations, or one operation's parameters")
    .argument('<service>', 'the service name (discover lists them)')
    .argument('[operation]', 'show this operation in full: each parameter, and the JSON Schema')
    .addOption(envOption('--timeout-ms <n>', 'the longest to wait for the service to answer').argParser(integerIn(1, 3_600_000)).default(2_000))
    .addOption(envOption('--settle-ms <n>', 'once it answered, wait this long for more instances').argParser(integerIn(1, 3_600_000)).default(300))
    .addHelpText(
      'after',
      `
Exit codes: 0 found, 3 no provider offers the service (SERVICE_UNAVAILABLE) or the operation
(UNKNOWN_OPERATION).

Examples:
  $ switchboard describe ImageProcessingService
  $ switchboard describe ImageProcessingService resizeImage
  $ switchboard describe ImageProcessingService resizeImage --json`,
    )
    .action((serviceName: string, operationName: string | undefined, flags: DescribeFlags, command: Command) =>
      runAction(context, () => runDescribe(context, serviceName, operationName, flags, command)),
    );
}
