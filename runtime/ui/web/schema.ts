/**
 * Forms from an operation's JSON Schema (what zod's toJSONSchema writes: object properties with
 * type, enum, minimum/maximum, exclusive bounds, minLength/maxLength, pattern, format, default,
 * description), and the browser-side validation of what the user typed. The provider validates
 * again with the operation's own zod schema (TASK-6): the page only catches mistakes early.
 */

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  default?: unknown;
  description?: string;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
}

export type FieldKind = 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'json';

export interface Field {
  readonly name: string;
  readonly kind: FieldKind;
  readonly required: boolean;
  readonly schema: JsonSchema;
  readonly options: readonly string[];
}

function typeOf(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((type) => type !== 'null');
  return schema.type;
}

export function fieldsOf(schema: JsonSchema | undefined): Field[] {
  const properties = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const type = typeOf(property);
    const options = property.enum?.every((value) => typeof value === 'string') ? (property.enum as string[]) : [];
    const kind: FieldKind =
      options.length > 0 ? 'enum' : type === 'string' ? 'string' : type === 'integer' ? 'integer' : type === 'number' ? 'number' : type === 'boolean' ? 'boolean' : 'json';
    return { name, kind, required: required.has(name), schema: property, options };
  });
}

/** The initial text of a field: its default, else empty. */
export function initialText(field: Field): string {
  const value = field.schema.default;
  if (value === undefined) return field.kind === 'boolean' ? 'false' : '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A field's text as a value, or an error message. Empty optional fields are left out (undefined). */
export function parseField(field: Field, text: string): { value?: unknown; error?: string } {
  const trimmed = text.trim();
  if (trimmed === '' && field.kind !== 'string') return field.required ? { error: 'required' } : {};
  if (trimmed === '' && field.kind === 'string' && !field.required && field.schema.default === undefined) return {};
  switch (field.kind) {
    case 'integer':
    case 'number': {
      const value = Number(trimmed);
      if (!Number.isFinite(value)) return { error: 'a number is expected' };
      if (field.kind === 'integer' && !Number.isInteger(value)) return { error: 'a whole number is expected' };
      return checkValue(field.schema, value);
    }
    case 'boolean':
      return { value: trimmed === 'true' };
    case 'json':
      try {
        return checkValue(field.schema, JSON.parse(trimmed));
      } catch {
        return { error: 'valid JSON is expected' };
      }
    default:
      return checkValue(field.schema, text);
  }
}

/** The schema's constraints on one value (the subset above). */
export function checkValue(schema: JsonSchema, value: unknown): { value?: unknown; error?: string } {
  if (schema.enum && !schema.enum.some((option) => option === value)) return { error: `one of ${schema.enum.map((option) => JSON.stringify(option)).join(', ')}` };
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return { error: `at least ${schema.minimum}` };
    if (schema.maximum !== undefined && value > schema.maximum) return { error: `at most ${schema.maximum}` };
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return { error: `more than ${schema.exclusiveMinimum}` };
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) return { error: `less than ${schema.exclusiveMaximum}` };
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) return { error: schema.minLength === 1 ? 'required' : `at least ${schema.minLength} characters` };
    if (schema.maxLength !== undefined && value.length > schema.maxLength) return { error: `at most ${schema.maxLength} characters` };
    if (schema.pattern !== undefined) {
      try {
        if (!new RegExp(schema.pattern, 'u').test(value)) return { error: `must match ${schema.pattern}` };
      } catch {
        // A pattern the browser cannot compile is left to the provider.
      }
    }
  }
  return { value };
}

/** The form's texts as params, or the errors by field name. */
export function paramsOf(fields: readonly Field[], texts: Readonly<Record<string, string>>): { params: Record<string, unknown>; errors: Record<string, string> } {
  const params: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const parsed = parseField(field, texts[field.name] ?? '');
    if (parsed.error !== undefined) errors[field.name] = parsed.error;
    else if ('value' in parsed && parsed.value !== undefined) params[field.name] = parsed.value;
  }
  return { params, errors };
}

/** An image to show for a result value: a data: URL, or { mimeType|contentType: 'image/*', data|base64 }. */
export function imagesIn(value: unknown, found: string[] = [], depth = 0): string[] {
  if (found.length >= 8 || depth > 5) return found;
  if (typeof value === 'string') {
    if (/^data:image\/(png|jpeg|gif|webp|avif);base64,[A-Za-z0-9+/=]+$/.test(value)) found.push(value);
    return found;
  }
  if (value === null || typeof value !== 'object') return found;
  const record = value as Record<string, unknown>;
  const type = record.mimeType ?? record.contentType;
  const data = record.data ?? record.base64;
  if (typeof type === 'string' && /^image\/(png|jpeg|gif|webp|avif)$/.test(type) && typeof data === 'string' && /^[A-Za-z0-9+/=]+$/.test(data)) {
    found.push(`data:${type};base64,${data}`);
    return found;
  }
  for (const item of Array.isArray(value) ? value : Object.values(record)) imagesIn(item, found, depth + 1);
  return found;
}
