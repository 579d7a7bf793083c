/**
 * The service manifest (MAN-1): one service described as data, in YAML or JSON, beside the module
 * that implements its operations.
 *
 * ```yaml
 * name: Greeter
 * version: 1.0.0
 * description: Says hello.
 * module: ./greeter.handlers.js        # relative to this file
 * settings:
 *   greeting: { description: The word used to greet., schema: { type: string }, default: Hello }
 * operations:
 *   greet:
 *     description: Greets someone.
 *     params: { type: object, properties: { name: { type: string, minLength: 1 } }, required: [name] }
 * events:
 *   greeted:
 *     description: Someone was greeted.
 *     schema: { type: object, properties: { name: { type: string } }, required: [name] }
 * ```
 *
 * Field names are strict: an unknown field is an error (a misspelt `operatons` must not silently
 * describe a service without operations).
 */
import * as z from 'zod';

/** Names of services, operations, events and settings: the pattern defineService enforces. */
export const MANIFEST_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

const Name = z.string().regex(MANIFEST_NAME_PATTERN, 'a name starts with a letter, then up to 127 letters, digits, "_", "." or "-"');
const Description = z.string().min(1).max(4096);

/** A JSON Schema, as an object (checked further when it is turned into a validator). */
const JsonSchemaObject = z.record(z.string(), z.unknown());

export const ManifestOperationSchema = z.strictObject({
  description: Description.optional(),
  /** JSON Schema of the task parameters (an object schema). @default { type: object } */
  params: JsonSchemaObject.optional(),
  /** JSON Schema of the result, for people and browsers (not enforced). */
  result: JsonSchemaObject.optional(),
});

export const ManifestEventSchema = z.strictObject({
  description: Description.optional(),
  /** JSON Schema of the event's data. @default {} (any JSON value) */
  schema: JsonSchemaObject.optional(),
});

export const ManifestSettingSchema = z.strictObject({
  description: Description.optional(),
  /** JSON Schema of the setting's value. @default {} (any JSON value) */
  schema: JsonSchemaObject.optional(),
  default: z.unknown().optional(),
  /** A setting without a default must be given (`--setting name=value`). */
  required: z.boolean().optional(),
});

export const ManifestSchema = z.strictObject({
  /** Informational: which revision of this format the file follows. */
  manifestVersion: z.literal(1).optional(),
  name: Name,
  version: z.string().min(1).max(64),
  description: Description.optional(),
  /** The module implementing the operations, relative to the manifest file. */
  module: z.string().min(1).max(4096),
  settings: z.record(Name, ManifestSettingSchema).optional(),
  operations: z.record(Name, ManifestOperationSchema).refine((operations) => Object.keys(operations).length > 0, {
    message: 'at least one operation is required',
  }),
  events: z.record(Name, ManifestEventSchema).optional(),
});

export type Manifest = z.output<typeof ManifestSchema>;
export type ManifestOperation = z.output<typeof ManifestOperationSchema>;
export type ManifestEvent = z.output<typeof ManifestEventSchema>;
export type ManifestSetting = z.output<typeof ManifestSettingSchema>;
