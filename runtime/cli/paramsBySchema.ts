/**
 * `assign`'s parameters read the way the service declares them. A `--param key=value` is text;
 * what it becomes follows the operation's advertised JSON Schema (else its seed settings): `2024`
 * stays the string "2024" where the parameter is a string, becomes the number 2024 where it is a
 * number; where nothing is declared, the old guess applies (numbers, true/false/null, JSON).
 * Then the parameters are checked against the same declaration before anything is sent: missing
 * required ones and values of the wrong JSON type fail at once with INVALID_PARAMETERS, listing
 * every problem (the provider would refuse them anyway, one round trip later: TASK-6).
 */
import type { Capability } from '../../machines/capabilities.js';
import { parseParamValue, UsageError } from './options.js';

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'object' | 'array';

type Schema = Record<string, unknown>;
const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

const SETTING_TYPES: Readonly<Record<string, JsonType>> = { string: 'string', int: 'integer', float: 'number', bool: 'boolean' };

function jsonTypeOf(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as JsonType;
}

/** The JSON types a schema admits, or undefined when it does not say (no type, a $ref, ...). */
function typesOf(schema: unknown, depth = 0): Set<JsonType> | undefined {
  if (!isSchema(schema) || depth > 8) return undefined;
  if (typeof schema.type === 'string') return new Set([schema.type as JsonType]);
  if (Array.isArray(schema.type)) return new Set(schema.type as JsonType[]);
  if (Array.isArray(schema.enum)) return new Set(schema.enum.map(jsonTypeOf));
  if ('const' in schema) return new Set([jsonTypeOf(schema.const)]);
  const members = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (members === undefined) return undefined;
  const types = new Set<JsonType>();
  for (const member of members) {
    const memberTypes = typesOf(member, depth + 1);
    if (memberTypes === undefined) return undefined;
    for (const type of memberTypes) types.add(type);
  }
  return types;
}

const admits = (types: ReadonlySet<JsonType>, value: unknown): boolean => {
  const type = jsonTypeOf(value);
  return types.has(type) || (type === 'integer' && types.has('number'));
};

/** What the operation declares about each parameter: its JSON types (when known) and which are required. */
export interface ParameterDeclaration {
  readonly types: ReadonlyMap<string, ReadonlySet<JsonType>>;
  readonly required: readonly string[];
}

export function declarationOf(capability: Capability): ParameterDeclaration {
  const types = new Map<string, ReadonlySet<JsonType>>();
  const properties = isSchema(capability.schema?.properties) ? capability.schema.properties : {};
  for (const [name, property] of Object.entries(properties)) {
    const known = typesOf(property);
    if (known !== undefined) types.set(name, known);
  }
  for (const setting of capability.settings) {
    const type = SETTING_TYPES[setting.type];
    if (!types.has(setting.name) && type !== undefined) types.set(setting.name, new Set([type]));
  }
  // A "required" property whose schema admits anything (zod's z.any(), z.unknown()) may be left
  // out: the provider's own check accepts it missing.
  const admitsAnything = (name: string) => isSchema(properties[name]) && Object.keys(properties[name]).every((key) => key === 'description');
  const required = Array.isArray(capability.schema?.required)
    ? capability.schema.required.filter((name): name is string => typeof name === 'string' && !admitsAnything(name))
    : [];
  return { types, required };
}

/** One `--param` value: the guess when the declaration admits it, else the text where a string is admitted. */
export function paramValue(text: string, types: ReadonlySet<JsonType> | undefined): unknown {
  let guessed: unknown;
  try {
    guessed = parseParamValue(text);
  } catch (error) {
    if (types?.has('string') === true) return text;
    throw error;
  }
  if (types === undefined || admits(types, guessed)) return guessed;
  return types.has('string') ? text : guessed;
}

/** Each `--param key=value` split at its first `=` (a usage error, before anything is sent, without one). */
export function paramPairs(pairs: readonly string[]): [key: string, text: string][] {
  return pairs.map((pair) => {
    const index = pair.indexOf('=');
    if (index <= 0) throw new UsageError(`--param expects key=value, got "${pair}"`);
    return [pair.slice(0, index), pair.slice(index + 1)];
  });
}

/** `--params-json` first, then each `--param key=value` over it, each value read by the declaration. */
export function paramsByDeclaration(
  base: Record<string, unknown>,
  pairs: readonly (readonly [key: string, text: string])[],
  declaration: ParameterDeclaration | undefined,
): Record<string, unknown> {
  const params: Record<string, unknown> = { ...base };
  for (const [key, text] of pairs) params[key] = paramValue(text, declaration?.types.get(key));
  return params;
}

/** Every way the parameters break the declaration: missing required ones, then wrong JSON types. */
export function parameterProblems(params: Readonly<Record<string, unknown>>, declaration: ParameterDeclaration): string[] {
  const missing = declaration.required.filter((name) => !Object.hasOwn(params, name));
  const problems = missing.length === 0 ? [] : [`missing required parameter${missing.length === 1 ? '' : 's'}: ${missing.join(', ')}`];
  for (const [name, value] of Object.entries(params)) {
    const types = declaration.types.get(name);
    if (types !== undefined && !admits(types, value)) problems.push(`${name}: expected ${[...types].join(' or ')}, got ${jsonTypeOf(value)}`);
  }
  return problems;
}
