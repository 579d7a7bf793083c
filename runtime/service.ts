/**
 * Service definitions: what a provider hosts, written by application developers.
 *
 * ```ts
 * const greeter = defineService({
 *   name: 'Greeter',
 *   version: '1.0.0',
 *   operations: {
 *     greet: {
 *       description: 'Greets someone by name.',
 *       params: z.object({ name: z.string() }),
 *       result: z.object({ greeting: z.string() }),   // optional
 *       errors: { SHY: 'The greeter is too shy today.' }, // optional: the operation's own codes
 *       run: async ({ name }, ctx) => {
 *         ctx.progress(50, 'thinking');
 *         return { greeting: `Hello, ${name}` };
 *       },
 *     },
 *   },
 * });
 * ```
 * The advertisement's settings (seed format: `{"string": "name"}`) and the JSON Schema of each
 * operation are derived from the zod schema, so they can never disagree with the validation.
 *
 * Typed end to end: `defineService` keeps each operation's params schema, result and error codes
 * in its type, so `client.service(greeter).greet({ name })` (runtime/typed/) checks the operation
 * name and the parameters at compile time and types the result and the error codes.
 */
import * as z from 'zod';
import type { Capability, Setting } from '../machines/capabilities.js';
import type { AdvertisedEvent } from '../machines/messages.js';
import { describeIssues } from '../machines/codec.js';
import { createLogger } from './logging/logger.js';
import type { DefinitionContract } from './typed/contract.js';
import type { SessionHooks } from './hooks/sessionHooks.js';
import type { TaskFiles } from './files/providerFiles.js';

export type Logger = (level: 'debug' | 'info' | 'warn' | 'error', message: string, detail?: unknown) => void;

/**
 * What a provider or client logs to when the application passes no `log`: warnings and errors on
 * stderr, one text line each (runtime/logging/logger.ts), the rest dropped. Pass `log: () => {}`
 * to silence it, or `createLogger({ level: 'debug' })` to see everything.
 */
export const defaultLogger = (): Logger => createLogger({ level: 'warn' });

export interface OperationContext {
  readonly taskId: string;
  readonly clientId: string;
  /** Aborted when the task is cancelled or its deadline passes: stop work and return (or throw). */
  readonly signal: AbortSignal;
  /** Reports progress (0..100; a lower value than before is raised to it, TASK-9). */
  progress(percent: number, message?: string, etaSeconds?: number): void;
  readonly log: Logger;
  /**
   * The task's files (docs/guide.md, "Task files"): read the files its parameters name, add the
   * files its result names. Only for an operation whose params or result declare `taskFile()`
   * fields; elsewhere using it throws (INTERNAL_ERROR).
   */
  readonly files: TaskFiles;
}

export interface OperationDefinition<S extends z.ZodType = z.ZodType> {
  readonly params: S;
  /** What the operation does, in a sentence: advertised, shown by `discover --json` and `describe`. */
  readonly description?: string;
  /**
   * The schema of the result. Optional: when given, `run` must return its input type (checked at
   * compile time and when the operation returns), it is advertised (`resultSchema`), and the
   * client's result type is its output type.
   */
  readonly result?: z.ZodType;
  /**
   * The operation's own failure codes (TASK-15: a thrown error's `code`), each with what it means.
   * Advertised; the typed client's error type is these plus switchboard's ERROR_CODES.
   */
  readonly errors?: Readonly<Record<string, string>>;
  run(params: z.output<S>, context: OperationContext): unknown;
}

/** An event a service publishes (EVT-1, EVT-3): its data's schema, advertised as JSON Schema. */
export interface EventDeclaration<S extends z.ZodType = z.ZodType> {
  readonly schema: S;
  /** What the event says, in a sentence: advertised with it. */
  readonly description?: string;
}

export interface ServiceDefinition<T extends Record<string, z.ZodType> = Record<string, z.ZodType>> {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly operations: { readonly [K in keyof T]: OperationDefinition<T[K]> };
  /** The events the service publishes (`provider.publish`); clients subscribe to them by name (EVT-1). */
  readonly events?: Readonly<Record<string, EventDeclaration>>;
  /** What the service is told about its provider's sessions, and its veto over a connection (HOOK-1..HOOK-6). */
  readonly hooks?: SessionHooks;
}

/** The type-only key under which a typed definition carries its events' schemas (never set at run time). */
export declare const serviceEvents: unique symbol;

/** The events of a definition made by defineService, by name; any name for another definition. */
export type EventsOf<S> = S extends { readonly [serviceEvents]?: infer E } ? (unknown extends E ? Record<string, z.ZodType> : NonNullable<E>) : Record<string, z.ZodType>;

/** The data of event K of service S, as subscribers receive it (the schema's output). */
export type EventDataOf<S, K extends keyof EventsOf<S>> = EventsOf<S>[K] extends z.ZodType ? z.output<EventsOf<S>[K]> : unknown;

/** The type-only key under which a typed definition carries its contract (never set at run time). */
export declare const serviceContract: unique symbol;

/**
 * What `defineService` returns: the definition, plus (in its type only) the contract the typed
 * client reads: each operation's params, result and error codes.
 */
export type TypedServiceDefinition<T extends Record<string, z.ZodType> = Record<string, z.ZodType>, D = unknown, E = unknown> = ServiceDefinition<T> & {
  readonly [serviceContract]?: DefinitionContract<T, D>;
  readonly [serviceEvents]?: E;
};

/** When an operation declares `result`, its `run` must return that schema's input type. */
type ResultChecks<D> = {
  readonly [K in keyof D]: D[K] extends { readonly result: infer R extends z.ZodType }
    ? { run(params: never, context: OperationContext): z.input<R> | PromiseLike<z.input<R>> }
    : unknown;
};

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

const CODE_PATTERN = /^[A-Z][A-Z0-9_]{1,63}$/;

/**
 * Declares a service. Throws a TypeError at once for a malformed definition (a programmer error),
 * rather than advertising something clients cannot call.
 *
 * Type parameters (inferred, never written): `T` the params schema of each operation, from which
 * `run`'s params are typed; `D` the operations as written, from which the result type (`result`'s
 * output, else what `run` returns) and the error codes are read.
 */
export function defineService<T extends Record<string, z.ZodType>, D, E extends Record<string, z.ZodType> = {}>(
  definition: ServiceDefinition<T> & {
    readonly operations: D & ResultChecks<D>;
    readonly events?: { readonly [K in keyof E]: EventDeclaration<E[K]> };
  },
): TypedServiceDefinition<T, D, E> {
  if (!NAME_PATTERN.test(definition.name)) throw new TypeError(`defineService: invalid service name "${definition.name}"`);
  if (typeof definition.version !== 'string' || definition.version.length === 0) {
    throw new TypeError(`defineService(${definition.name}): version is required`);
  }
  const operations = Object.entries(definition.operations) as [string, OperationDefinition][];
  if (operations.length === 0) throw new TypeError(`defineService(${definition.name}): at least one operation is required`);
  for (const [key, operation] of operations) {
    if (!NAME_PATTERN.test(key)) throw new TypeError(`defineService(${definition.name}): invalid operation name "${key}"`);
    if (!(operation.params instanceof z.ZodType)) {
      throw new TypeError(`defineService(${definition.name}).${key}: params must be a zod schema`);
    }
    if (typeof operation.run !== 'function') throw new TypeError(`defineService(${definition.name}).${key}: run must be a function`);
    if (operation.result !== undefined && !(operation.result instanceof z.ZodType)) {
      throw new TypeError(`defineService(${definition.name}).${key}: result must be a zod schema`);
    }
    for (const code of Object.keys(operation.errors ?? {})) {
      if (!CODE_PATTERN.test(code)) throw new TypeError(`defineService(${definition.name}).${key}: error code "${code}" is not UPPER_SNAKE_CASE`);
    }
  }
  for (const [key, event] of Object.entries(definition.events ?? {}) as [string, EventDeclaration][]) {
    if (!NAME_PATTERN.test(key)) throw new TypeError(`defineService(${definition.name}): invalid event name "${key}"`);
    if (!(event?.schema instanceof z.ZodType)) throw new TypeError(`defineService(${definition.name}).events.${key}: schema must be a zod schema`);
  }
  const checked = Object.fromEntries(operations.map(([key, operation]) => [key, withCheckedResult(definition.name, key, operation)]));
  return Object.freeze({ ...definition, operations: Object.freeze(checked) }) as unknown as TypedServiceDefinition<T, D, E>;
}

/**
 * An operation with a `result` schema returns what the schema parses to, or fails with
 * INTERNAL_ERROR when what `run` returned does not match: the provider's bug, reported as such
 * rather than sent to a client that typed its result by the schema.
 */
function withCheckedResult(serviceName: string, key: string, operation: OperationDefinition): OperationDefinition {
  const schema = operation.result;
  if (schema === undefined) return operation;
  return {
    ...operation,
    run: async (params, context) => {
      const parsed = schema.safeParse(await operation.run(params, context));
      if (parsed.success) return parsed.data;
      throw Object.assign(new Error(`${serviceName}.${key} returned a result that does not match its result schema`), {
        code: 'INTERNAL_ERROR',
        details: describeIssues(parsed.error),
      });
    },
  };
}

/** The seed's setting type for a JSON Schema property: string, int, float, bool, or the JSON type. */
function settingTypeOf(property: Record<string, unknown>): string {
  switch (property.type) {
    case 'string':
      return 'string';
    case 'integer':
      return 'int';
    case 'number':
      return 'float';
    case 'boolean':
      return 'bool';
    case undefined:
      return 'any';
    default:
      return Array.isArray(property.type) ? 'any' : String(property.type);
  }
}

/**
 * One capability per operation: settings from the params' top-level properties, plus its schema,
 * and (when the definition has them) its description, result schema and error codes.
 */
export function capabilitiesOf(service: ServiceDefinition): Capability[] {
  return Object.entries(service.operations as Record<string, OperationDefinition>).map(([key, operation]) => {
    const schema = z.toJSONSchema(operation.params, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    const settings: Setting[] = Object.entries(properties).map(([name, property]) => ({ type: settingTypeOf(property), name }));
    return {
      key,
      settings,
      schema,
      ...(operation.description === undefined ? {} : { description: operation.description }),
      ...(operation.result === undefined
        ? {}
        : { resultSchema: z.toJSONSchema(operation.result, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown> }),
      ...(operation.errors === undefined || Object.keys(operation.errors).length === 0 ? {} : { errors: { ...operation.errors } }),
    };
  });
}

/** EVT-1: the events a service advertises, each with the JSON Schema of its data (as subscribers receive it). */
export function eventsOf(service: ServiceDefinition): AdvertisedEvent[] | undefined {
  const events = Object.entries(service.events ?? {});
  if (events.length === 0) return undefined;
  return events.map(([key, event]) => ({
    key,
    schema: z.toJSONSchema(event.schema, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>,
    ...(event.description === undefined ? {} : { description: event.description }),
  }));
}
