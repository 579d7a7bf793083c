/**
 * Reading an advertisement's capabilities as the suite needs them: in the seed's list form
 * (`[{key, settings}]`) or keyed by operation (`{op: [...]}` or `{op: {settings, schema, ...}}`),
 * each setting as `{type: name}` or `{name, type}`. And from them: parameters an operation accepts
 * (to pick a test task when the user names none) and parameters it must refuse (TASK-6).
 */
import { member } from './connection.js';

export interface AdvertisedSetting {
  readonly name: string;
  readonly type: string;
}

export interface AdvertisedCapability {
  readonly key: string;
  readonly settings: readonly AdvertisedSetting[];
  /** The `schema` extension (a JSON Schema of the parameters), when present. */
  readonly schema: Record<string, unknown> | undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function settingsOf(value: unknown): AdvertisedSetting[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((setting): AdvertisedSetting[] => {
    if (!isObject(setting)) return [];
    if (typeof setting.name === 'string' && typeof setting.type === 'string') return [{ name: setting.name, type: setting.type }];
    const entries = Object.entries(setting);
    return entries.length === 1 && typeof entries[0]![1] === 'string' ? [{ type: entries[0]![0], name: entries[0]![1] as string }] : [];
  });
}

/** The capabilities of an advertisement (raw JSON), in either form; empty when unreadable. */
export function capabilitiesOf(advertisement: unknown): AdvertisedCapability[] {
  const capabilities = member(advertisement, 'capabilities');
  if (Array.isArray(capabilities)) {
    return capabilities.flatMap((capability) => {
      const key = member(capability, 'key');
      if (typeof key !== 'string') return [];
      const schema = member(capability, 'schema');
      return [{ key, settings: settingsOf(member(capability, 'settings')), schema: isObject(schema) ? schema : undefined }];
    });
  }
  if (!isObject(capabilities)) return [];
  return Object.entries(capabilities).map(([key, value]) => {
    const schema = member(value, 'schema');
    return { key, settings: settingsOf(Array.isArray(value) ? value : member(value, 'settings')), schema: isObject(schema) ? schema : undefined };
  });
}

export const capabilityKeys = (advertisement: unknown): string[] => capabilitiesOf(advertisement).map((capability) => capability.key);

/** A value a schema property (or a seed setting type) accepts; undefined when none can be made. */
const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean']);

function valueFor(property: Record<string, unknown>, tag: string): unknown {
  if ('const' in property) return property.const;
  if (Array.isArray(property.enum) && property.enum.length > 0) return property.enum[0];
  if ('default' in property) return property.default;
  const type = Array.isArray(property.type) ? property.type[0] : property.type;
  const minimum = typeof property.minimum === 'number' ? property.minimum : typeof property.exclusiveMinimum === 'number' ? property.exclusiveMinimum + 1 : undefined;
  switch (type) {
    case 'string': {
      const text = `conformance-${tag}`;
      const min = typeof property.minLength === 'number' ? property.minLength : 0;
      const max = typeof property.maxLength === 'number' ? property.maxLength : Infinity;
      return text.padEnd(min, 'x').slice(0, max);
    }
    case 'integer':
      return Math.ceil(minimum ?? 1);
    case 'number':
      return minimum ?? 1;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object':
      return {};
    default:
      return undefined;
  }
}

const SETTING_TYPES: Record<string, string> = { string: 'string', str: 'string', int: 'integer', integer: 'integer', float: 'number', number: 'number', double: 'number', bool: 'boolean', boolean: 'boolean' };

/**
 * Parameters the operation's schema accepts: every required property gets a plausible value
 * (its const, first enum value, default, or a value of its type within its bounds); optional ones
 * are left out. Without a schema, every seed setting gets a value of its type. undefined when a
 * required parameter's value cannot be made.
 */
export function paramsFor(capability: AdvertisedCapability, tag: string, { optionalScalars = false } = {}): Record<string, unknown> | undefined {
  const properties = member(capability.schema, 'properties');
  if (isObject(properties)) {
    const required = member(capability.schema, 'required');
    const names = Array.isArray(required) ? required.filter((name): name is string => typeof name === 'string') : [];
    const params: Record<string, unknown> = {};
    for (const name of names) {
      const property = properties[name];
      const value = isObject(property) ? valueFor(property, tag) : undefined;
      if (value === undefined) return undefined;
      params[name] = value;
    }
    // A schema may not say everything: "these two together, or that one" is often checked in
    // code only. The second try also fills the optional strings, numbers and booleans.
    if (optionalScalars) {
      for (const [name, property] of Object.entries(properties)) {
        if (name in params || !isObject(property) || !SCALAR_TYPES.has(String(Array.isArray(property.type) ? property.type[0] : property.type))) continue;
        const value = valueFor(property, tag);
        if (value !== undefined) params[name] = value;
      }
    }
    return params;
  }
  const params: Record<string, unknown> = {};
  for (const setting of capability.settings) {
    const type = SETTING_TYPES[setting.type.toLowerCase()];
    if (type === undefined) return undefined;
    params[setting.name] = valueFor({ type }, tag);
  }
  return params;
}

/** How many parameters an operation needs (its schema's required list, else its settings). */
export function requiredCount(capability: AdvertisedCapability): number {
  const required = member(capability.schema, 'required');
  if (Array.isArray(required)) return required.length;
  return isObject(member(capability.schema, 'properties')) ? 0 : capability.settings.length;
}

/** Whether `{}` is valid for the operation by its schema (no required property); undefined when unknown. */
export function acceptsNoParameters(capability: AdvertisedCapability | undefined): boolean | undefined {
  if (capability?.schema === undefined || !isObject(member(capability.schema, 'properties'))) return undefined;
  return requiredCount(capability) === 0;
}

/** A value of a JSON type the setting's type does not allow. */
function wrongValueFor(type: string): unknown {
  return ['array', 'list'].includes(type.toLowerCase()) ? 42 : ['conformance', 'wrong type'];
}

/** Parameters of a wrong JSON type for every declared parameter; undefined when none is declared. */
export function wrongParamsFor(capability: AdvertisedCapability, valid: Readonly<Record<string, unknown>>): { params: Record<string, unknown>; source: string } | undefined {
  const properties = member(capability.schema, 'properties');
  const fromSchema = isObject(properties) ? Object.entries(properties).map(([name, property]) => [name, String(member(property, 'type') ?? 'any')] as const) : [];
  const declared = fromSchema.length > 0 ? fromSchema : capability.settings.map((setting) => [setting.name, setting.type] as const);
  if (declared.length === 0) return undefined;
  const wrong = Object.fromEntries(declared.map(([name, type]) => [name, wrongValueFor(type)]));
  return { params: { ...valid, ...wrong }, source: `derived from the ${fromSchema.length > 0 ? 'schema' : 'settings'} of ${capability.key}` };
}
