/**
 * A manifest and its module made into a service definition (MAN-3, MAN-4): the manifest says what
 * the service is (name, version, operations with their JSON Schemas, events, settings), the module
 * says what each operation does. `switchboard provider --manifest <file>` hosts the result like a
 * service from defineService.
 *
 * The module's default export is the handlers: an object `{ operation: run }`, or a function of
 * the settings returning that object (possibly async), so a handler can read its configuration:
 *
 * ```js
 * export default ({ settings }) => ({
 *   greet: async ({ name }, ctx) => ({ greeting: `${settings.greeting}, ${name}` }),
 * });
 * ```
 * (A named export `operations` is read when there is no default export.)
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as z from 'zod';
import { defineService, type OperationDefinition, type ServiceDefinition } from '../service.js';
import { ManifestError, type ManifestProblem } from './manifestError.js';
import { readManifest, type ParsedManifest } from './parseManifest.js';
import type { Manifest } from './schema.js';

export interface ManifestEventDefinition {
  readonly description?: string | undefined;
  readonly data: z.ZodType;
  /** The JSON Schema as written in the manifest (advertised as is). */
  readonly jsonSchema: Record<string, unknown>;
}

export interface ManifestService {
  readonly file: string;
  readonly manifest: Manifest;
  readonly service: ServiceDefinition;
  readonly events: Readonly<Record<string, ManifestEventDefinition>>;
  /** The settings the handlers were given: defaults, overridden by the values passed in. */
  readonly settings: Readonly<Record<string, unknown>>;
}

export interface LoadManifestOptions {
  /** Setting values that override the manifest's defaults (from `--setting name=value`). */
  readonly settings?: Readonly<Record<string, unknown>>;
}

type Handler = OperationDefinition['run'];

function problemAt(parsed: ParsedManifest, at: readonly PropertyKey[], problem: string, fix: string): ManifestProblem {
  return { path: at.map(String).join('.'), ...parsed.locate(at), problem, fix };
}

/** A problem about a named entry (an operation, a setting): located at its name. */
function problemAtKey(parsed: ParsedManifest, parent: readonly string[], key: string, problem: string, fix: string): ManifestProblem {
  return { path: [...parent, key].join('.'), ...parsed.locate(parent, key), problem, fix };
}

/** The settings the handlers get: defaults, then the given values, each checked by its schema. */
function settingsOf(parsed: ParsedManifest, given: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const declared = parsed.manifest.settings ?? {};
  const problems: ManifestProblem[] = [];
  const values: Record<string, unknown> = Object.create(null);
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(declared, name)) {
      problems.push(problemAt(parsed, ['settings'], `the setting "${name}" given is not declared`, `declare it under "settings:" or correct its name (declared: ${Object.keys(declared).join(', ') || 'none'})`));
    }
  }
  for (const [name, setting] of Object.entries(declared)) {
    const value = Object.hasOwn(given, name) ? given[name] : setting.default;
    if (value === undefined) {
      if (setting.required) problems.push(problemAtKey(parsed, ['settings'], name, `the setting "${name}" is required and has no default`, `pass --setting ${name}=<value>, or give it a "default:"`));
      continue;
    }
    const checked = (parsed.settings.get(name) as z.ZodType).safeParse(value);
    if (checked.success) values[name] = checked.data;
    else problems.push(problemAt(parsed, ['settings', name, 'schema'], `the value ${JSON.stringify(value)} of "${name}" does not satisfy its schema: ${checked.error.issues[0]?.message ?? 'invalid'}`, `pass a value the schema accepts`));
  }
  if (problems.length > 0) throw new ManifestError(parsed.file, problems);
  return values;
}

async function handlersOf(parsed: ParsedManifest, settings: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { manifest, file } = parsed;
  const modulePath = path.resolve(path.dirname(file), manifest.module);
  const info = await stat(modulePath).catch(() => undefined);
  if (info === undefined || !info.isFile()) {
    throw new ManifestError(file, [problemAt(parsed, ['module'], `no module at ${modulePath}`, 'give the path of the handlers module relative to the manifest file')]);
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ManifestError(file, [problemAt(parsed, ['module'], `the module failed to load: ${(error as Error).message}`, 'fix the error in the module (run it with node to see the stack)')]);
  }
  let exported = namespace.default ?? namespace.operations;
  if (typeof exported === 'function') {
    try {
      exported = await (exported as (input: { settings: Record<string, unknown> }) => unknown)({ settings });
    } catch (error) {
      throw new ManifestError(file, [problemAt(parsed, ['module'], `the module's handler factory threw: ${(error as Error).message}`, 'make the default export return the handlers object')]);
    }
  }
  if (typeof exported !== 'object' || exported === null) {
    throw new ManifestError(file, [
      problemAt(parsed, ['module'], 'the module exports no handlers', 'export default { operation: async (params, ctx) => result, ... } or a function of { settings } returning that'),
    ]);
  }
  return exported as Record<string, unknown>;
}

/** MAN-4: the module implements exactly the declared operations. */
function checkHandlers(parsed: ParsedManifest, handlers: Record<string, unknown>): void {
  const declared = Object.keys(parsed.manifest.operations);
  const problems: ManifestProblem[] = [];
  for (const name of declared) {
    if (typeof handlers[name] !== 'function') {
      problems.push(
        problemAtKey(parsed, ['operations'], name, `the module has no handler for "${name}"`, `add "${name}: async (params, ctx) => result" to the handlers the module exports`),
      );
    }
  }
  for (const name of Object.keys(handlers)) {
    if (!declared.includes(name) && typeof handlers[name] === 'function') {
      problems.push(
        problemAt(parsed, ['operations'], `the module has a handler "${name}" that the manifest does not declare`, `declare "${name}" under "operations:", or remove it from the module`),
      );
    }
  }
  if (problems.length > 0) throw new ManifestError(parsed.file, problems);
}

/** Builds the service of an already parsed manifest. */
export async function serviceOfManifest(parsed: ParsedManifest, options: LoadManifestOptions = {}): Promise<ManifestService> {
  const settings = settingsOf(parsed, options.settings ?? {});
  const handlers = await handlersOf(parsed, settings);
  checkHandlers(parsed, handlers);
  const { manifest } = parsed;
  const operations = Object.fromEntries(
    Object.entries(manifest.operations).map(([name, operation]) => [
      name,
      {
        params: parsed.params.get(name) as z.ZodType,
        ...(operation.description === undefined ? {} : { description: operation.description }),
        run: handlers[name] as Handler,
      } satisfies OperationDefinition,
    ]),
  );
  const service = defineService({
    name: manifest.name,
    version: manifest.version,
    ...(manifest.description === undefined ? {} : { description: manifest.description }),
    operations,
  }) as ServiceDefinition;
  const events = Object.fromEntries(
    Object.entries(manifest.events ?? {}).map(([name, event]) => [
      name,
      { description: event.description, data: parsed.events.get(name) as z.ZodType, jsonSchema: event.schema ?? {} },
    ]),
  );
  return { file: parsed.file, manifest, service, events, settings };
}

/** Reads a manifest file and its module (`switchboard provider --manifest <file>`). */
export async function loadManifest(file: string, options: LoadManifestOptions = {}): Promise<ManifestService> {
  return serviceOfManifest(await readManifest(file), options);
}
