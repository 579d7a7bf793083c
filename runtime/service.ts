/**
 * Service definitions: what a provider hosts, written by application developers.
 *
 * ```ts
 * const greeter = defineService({
 *   name: 'Greeter',
 *   version: '1.0.0',
 *   operations: {
 *     greet: {
 *       params: z.object({ name: z.string() }),
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
 */
import * as z from 'zod';
import type { Capability, Setting } from '../machines/capabilities.js';

export type Logger = (level: 'debug' | 'info' | 'warn' | 'error', message: string, detail?: unknown) => void;

export interface OperationContext {
  readonly taskId: string;
  readonly clientId: string;
  /** Aborted when the task is cancelled or its deadline passes: stop work and return (or throw). */
  readonly signal: AbortSignal;
  /** Reports progress (0..100; a lower value than before is raised to it, TASK-9). */
  progress(percent: number, message?: string, etaSeconds?: number): void;
  readonly log: Logger;
}

export interface OperationDefinition<S extends z.ZodType = z.ZodType> {
  readonly params: S;
  readonly description?: string;
  run(params: z.output<S>, context: OperationContext): unknown;
}

export interface ServiceDefinition<T extends Record<string, z.ZodType> = Record<string, z.ZodType>> {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly operations: { readonly [K in keyof T]: OperationDefinition<T[K]> };
}

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

/**
 * Declares a service. Throws a TypeError at once for a malformed definition (a programmer error),
 * rather than advertising something clients cannot call.
 */
export function defineService<T extends Record<string, z.ZodType>>(definition: ServiceDefinition<T>): ServiceDefinition<T> {
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
  }
  return Object.freeze({ ...definition });
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

/** One capability per operation: settings from the params' top-level properties, plus its schema. */
export function capabilitiesOf(service: ServiceDefinition): Capability[] {
  return Object.entries(service.operations).map(([key, operation]) => {
    const schema = z.toJSONSchema(operation.params, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    const settings: Setting[] = Object.entries(properties).map(([name, property]) => ({ type: settingTypeOf(property), name }));
    return { key, settings, schema };
  });
}
