/**
 * Capabilities: what operations a service offers and which settings each takes.
 *
 * Wire (seed 4.3): `[{"key": "resizeImage", "settings": [{"int": "width"}, ...]}]`: each setting
 * is a one-key object mapping a type to a setting name. We also accept an object keyed by
 * operation (`{"resizeImage": {"settings": [...]}}` or `{"resizeImage": [...]}`) and settings
 * written as `{"name": "width", "type": "int"}`. Internally every capability is
 * `{ key, settings: [{ type, name }], schema? }`; encoding always writes the seed's list form.
 *
 * Setting types are extensible: `string`, `int`, `float` and `bool` are the ones we produce and
 * check; any other lower-case identifier (`path`, `object`, ...) is carried through unchanged.
 */
import * as z from 'zod';

export const knownSettingTypes = ['string', 'int', 'float', 'bool'] as const;
export type KnownSettingType = (typeof knownSettingTypes)[number];

/** A setting type: one of the known four or an extension identifier. */
export const SettingTypeSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/);

export const SettingSchema = z.object({
  type: SettingTypeSchema,
  name: z.string().min(1).max(256),
});
export type Setting = z.infer<typeof SettingSchema>;

/**
 * Our optional extensions of a capability, ignored by seed-only peers: the operation's
 * description, the JSON Schema of its result, and its own failure codes with what each means.
 */
const CapabilityExtensions = {
  description: z.string().max(2_048).optional(),
  resultSchema: z.record(z.string(), z.unknown()).optional(),
  errors: z
    .record(z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/), z.string().max(1_024))
    .refine((errors) => Object.keys(errors).length <= 128, 'at most 128 error codes')
    .optional(),
};

/**
 * The same, read liberally: a malformed extension (a lower-case code, a description too long) is
 * dropped on its own, and the advertisement is kept (a peer's optional extra must not hide it).
 */
const WireCapabilityExtensions = {
  description: CapabilityExtensions.description.catch(undefined),
  resultSchema: CapabilityExtensions.resultSchema.catch(undefined),
  errors: CapabilityExtensions.errors.catch(undefined),
};

export const CapabilitySchema = z.object({
  key: z.string().min(1).max(256),
  settings: z.array(SettingSchema).max(256),
  /** JSON Schema of the operation's parameters (our extension; ignored by seed-only peers). */
  schema: z.record(z.string(), z.unknown()).optional(),
  ...CapabilityExtensions,
});
export type Capability = z.infer<typeof CapabilitySchema>;

// ---- wire forms -------------------------------------------------------------------------------

const WireSettingOneKey = z
  .record(z.string(), z.string())
  .refine((value) => Object.keys(value).length === 1, 'a setting is a one-key object {type: name}');

const WireSettingNamed = z.object({ name: z.string(), type: z.string() });

const WireSetting = z.union([WireSettingNamed, WireSettingOneKey]);

const WireCapabilityListItem = z.object({
  key: z.string(),
  settings: z.array(WireSetting).default([]),
  schema: z.record(z.string(), z.unknown()).optional(),
  ...WireCapabilityExtensions,
});

const WireCapabilityValue = z.union([
  z.array(WireSetting),
  z.object({ settings: z.array(WireSetting).default([]), schema: z.record(z.string(), z.unknown()).optional(), ...WireCapabilityExtensions }),
]);

const WireCapabilities = z.union([
  z.array(WireCapabilityListItem),
  z.record(z.string(), WireCapabilityValue),
]);

type WireSettingValue = z.infer<typeof WireSetting>;

function toSetting(wire: WireSettingValue): Setting {
  if ('name' in wire && 'type' in wire && typeof wire.name === 'string' && typeof wire.type === 'string') {
    return { type: wire.type, name: wire.name };
  }
  const [type, name] = Object.entries(wire)[0] as [string, string];
  return { type, name };
}

type Optionals = Pick<Capability, 'schema' | 'description' | 'resultSchema' | 'errors'>;

/** The capability with those optional fields that are present (an absent one stays absent, not `undefined`). */
function withOptionals<B extends { readonly key: string }>(base: B, optionals: Optionals): B & Optionals {
  const present = Object.entries(optionals).filter(([, value]) => value !== undefined);
  return present.length === 0 ? base : { ...base, ...Object.fromEntries(present) };
}

const optionalsOf = ({ schema, description, resultSchema, errors }: Optionals): Optionals => ({ schema, description, resultSchema, errors });

function normalise(wire: z.infer<typeof WireCapabilities>): Capability[] {
  if (Array.isArray(wire)) {
    return wire.map((item) => withOptionals({ key: item.key, settings: item.settings.map(toSetting) }, optionalsOf(item)));
  }
  return Object.entries(wire).map(([key, value]) =>
    Array.isArray(value)
      ? { key, settings: value.map(toSetting) }
      : withOptionals({ key, settings: value.settings.map(toSetting) }, optionalsOf(value)),
  );
}

/** The seed's list form, which is what we always send. */
export const EncodedCapabilitiesSchema = z.array(
  z.object({
    key: z.string(),
    settings: z.array(z.record(z.string(), z.string())),
    schema: z.record(z.string(), z.unknown()).optional(),
    ...CapabilityExtensions,
  }),
);

function encode(capabilities: Capability[]): z.infer<typeof EncodedCapabilitiesSchema> {
  return capabilities.map((capability) => {
    const wire = { key: capability.key, settings: capability.settings.map(({ type, name }) => ({ [type]: name })) };
    return withOptionals(wire, optionalsOf(capability));
  });
}

/**
 * The keyed form field peers write, `{op: {status: "available", settings: [...]}}`, from the
 * seed's list as encoded: what the `keyed-capabilities` compat profile advertises
 * (docs/protocol.md). Decoding reads it back to the same capabilities.
 */
export function keyedCapabilities(list: z.infer<typeof EncodedCapabilitiesSchema>): Record<string, { status: 'available'; settings: Record<string, string>[]; schema?: Record<string, unknown> }> {
  const keyed: Record<string, { status: 'available'; settings: Record<string, string>[]; schema?: Record<string, unknown> }> = {};
  for (const { key, settings, schema } of list) {
    // defineProperty: an operation may be called `__proto__` (a Map-like key, never a prototype).
    Object.defineProperty(keyed, key, { value: { status: 'available', settings, ...(schema === undefined ? {} : { schema }) }, enumerable: true, writable: true, configurable: true });
  }
  return keyed;
}

/** Liberal in (list or keyed object), strict out (the seed's list). */
export const CapabilitiesCodec = z.codec(
  WireCapabilities,
  z.array(CapabilitySchema).max(256),
  {
    decode: (wire) => normalise(wire),
    encode: (capabilities) => encode(capabilities),
  },
);

export function findCapability(capabilities: readonly Capability[], operation: string): Capability | undefined {
  return capabilities.find((capability) => capability.key === operation);
}
