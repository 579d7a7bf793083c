/**
 * JSON Schema (what providers advertise: zod 4's `toJSONSchema`, draft 2020-12, or anything a
 * foreign provider sends) to a TypeScript type expression, for `switchboard types`.
 *
 * The schema comes from the network, so it is untrusted input to a file the user compiles:
 * every name is quoted or made an identifier, every literal is written with JSON.stringify, text
 * only ever lands inside a comment with its `*\/` broken, and depth and size are bounded. What
 * cannot be expressed becomes `unknown`, never an error.
 *
 * Choices where TypeScript and JSON Schema differ:
 * - an object without `additionalProperties` is closed (`{ a: string }`), as zod objects are for
 *   the client; `additionalProperties: {}`/`true` or a schema adds an index signature;
 * - `integer` is `number`; formats, minimums and patterns are not types (they go in the comment);
 * - `$ref` to `#/$defs/X` (or `#/definitions/X`) becomes a named type; `#` the root's name.
 */

type Schema = Record<string, unknown>;

export interface RenderOptions {
  /** The type name `#` refers to (recursive schemas). */
  readonly rootName: string;
  /** Names of the types `$defs` become: called with the def's key, returns a unique identifier. */
  readonly nameOfDef: (key: string) => string;
}

/** Beyond this nesting the type is `unknown`: a schema from the network may nest without end. */
const DEPTH_MAX = 24;
/** Beyond this many members in one object, union or tuple the rest are dropped (with a comment). */
const MEMBERS_MAX = 512;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A property name as TypeScript accepts it: bare when an identifier, else a JSON string. */
export const propertyName = (name: string): string => (IDENTIFIER.test(name) ? name : JSON.stringify(name));

/** Text safe inside a block comment: no `*\/`, one line per line, bounded. */
export function commentText(text: string): string {
  return text
    .slice(0, 2_000)
    .replace(/\*\//g, '*\\/')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f\u2028\u2029]/g, ' ');
}

/** A JSDoc block at `indent`, or nothing when there is nothing to say. */
export function docComment(lines: readonly string[], indent: string): string {
  const kept = lines.flatMap((line) => commentText(line).split('\n')).filter((line) => line.trim().length > 0);
  if (kept.length === 0) return '';
  if (kept.length === 1) return `${indent}/** ${kept[0]!.trim()} */\n`;
  return `${indent}/**\n${kept.map((line) => `${indent} * ${line.trimEnd()}`).join('\n')}\n${indent} */\n`;
}

/** A JSON value as a TypeScript literal type (`"a"`, `5`, `true`, `null`), or undefined if it has none. */
function literalType(value: unknown): string | undefined {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number' && Number.isFinite(value)) return JSON.stringify(value);
  return undefined;
}

const union = (members: readonly string[]): string => {
  const unique = [...new Set(members)];
  if (unique.includes('unknown')) return 'unknown';
  return unique.length === 0 ? 'never' : unique.join(' | ');
};

const parenthesised = (type: string): string => (/[|&]/.test(type) ? `(${type})` : type);

/** What the schema says besides its type: shown in the property's comment. */
export function constraintsOf(schema: unknown): string[] {
  if (!isSchema(schema)) return [];
  const notes: string[] = [];
  if (typeof schema.format === 'string') notes.push(`format: ${schema.format}`);
  for (const key of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'multipleOf']) {
    const value = schema[key];
    // zod writes the safe-integer bounds on every int: not worth a line.
    if (typeof value === 'number' && Number.isFinite(value) && Math.abs(value) !== Number.MAX_SAFE_INTEGER) notes.push(`${key}: ${value}`);
  }
  if (typeof schema.pattern === 'string') notes.push(`pattern: ${schema.pattern}`);
  if (schema.default !== undefined) {
    const text = JSON.stringify(schema.default);
    if (text !== undefined) notes.push(`default: ${text.length > 200 ? `${text.slice(0, 200)}...` : text}`);
  }
  return notes;
}

class Renderer {
  constructor(private readonly options: RenderOptions) {}

  render(schema: unknown, depth: number, indent: string): string {
    if (schema === true || (isSchema(schema) && Object.keys(schema).every((key) => key === 'description' || key === 'title' || key === '$schema' || key === 'default'))) {
      return 'unknown';
    }
    if (schema === false) return 'never';
    if (!isSchema(schema) || depth > DEPTH_MAX) return 'unknown';
    if (typeof schema.$ref === 'string') return this.reference(schema.$ref);
    if (schema.const !== undefined) return literalType(schema.const) ?? 'unknown';
    if (Array.isArray(schema.enum)) return union(schema.enum.slice(0, MEMBERS_MAX).map((value) => literalType(value) ?? 'unknown'));
    for (const key of ['anyOf', 'oneOf'] as const) {
      const members = schema[key];
      if (Array.isArray(members) && members.length > 0) {
        return union(members.slice(0, MEMBERS_MAX).map((member) => this.render(member, depth + 1, indent)));
      }
    }
    if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
      const parts = schema.allOf.slice(0, MEMBERS_MAX).map((member) => parenthesised(this.render(member, depth + 1, indent)));
      return parts.includes('never') ? 'never' : parts.filter((part) => part !== 'unknown').join(' & ') || 'unknown';
    }
    const types = Array.isArray(schema.type) ? schema.type : typeof schema.type === 'string' ? [schema.type] : this.impliedTypes(schema);
    if (types.length === 0) return 'unknown';
    return union(types.map((type) => this.ofType(String(type), schema, depth, indent)));
  }

  /** No `type`: what the keywords present imply (an object's `properties`, an array's `items`). */
  private impliedTypes(schema: Schema): string[] {
    if (isSchema(schema.properties) || schema.additionalProperties !== undefined) return ['object'];
    if (schema.items !== undefined || Array.isArray(schema.prefixItems)) return ['array'];
    return [];
  }

  private ofType(type: string, schema: Schema, depth: number, indent: string): string {
    switch (type) {
      case 'string':
        return 'string';
      case 'number':
      case 'integer':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'null':
        return 'null';
      case 'array':
        return this.array(schema, depth, indent);
      case 'object':
        return this.object(schema, depth, indent);
      default:
        return 'unknown';
    }
  }

  private array(schema: Schema, depth: number, indent: string): string {
    if (Array.isArray(schema.prefixItems)) {
      const items = schema.prefixItems.slice(0, MEMBERS_MAX).map((item) => this.render(item, depth + 1, indent));
      const rest = schema.items === false || schema.items === undefined ? [] : [`...${parenthesised(this.render(schema.items, depth + 1, indent))}[]`];
      return `[${[...items, ...rest].join(', ')}]`;
    }
    const item = schema.items === undefined ? 'unknown' : this.render(schema.items, depth + 1, indent);
    return `${parenthesised(item)}[]`;
  }

  private object(schema: Schema, depth: number, indent: string): string {
    const inner = `${indent}  `;
    const properties = isSchema(schema.properties) ? Object.entries(schema.properties).slice(0, MEMBERS_MAX) : [];
    const required = new Set(Array.isArray(schema.required) ? schema.required.filter((name): name is string => typeof name === 'string') : []);
    const lines = properties.map(([name, property]) => {
      const description = isSchema(property) && typeof property.description === 'string' ? [property.description] : [];
      const constraints = constraintsOf(property).join(', ');
      const doc = docComment([...description, constraints], inner);
      const optional = required.has(name) ? '' : '?';
      return `${doc}${inner}${propertyName(name)}${optional}: ${this.render(property, depth + 1, inner)};`;
    });
    const extra = schema.additionalProperties;
    if (extra !== undefined && extra !== false) {
      const value = extra === true ? 'unknown' : this.render(extra, depth + 1, inner);
      // An index signature must admit every declared property's type.
      lines.push(`${inner}[key: string]: ${properties.length === 0 || value === 'unknown' ? value : 'unknown'};`);
    }
    if (lines.length === 0) return extra === false ? 'Record<string, never>' : 'Record<string, unknown>';
    return `{\n${lines.join('\n')}\n${indent}}`;
  }

  private reference(ref: string): string {
    if (ref === '#') return this.options.rootName;
    const match = /^#\/(?:\$defs|definitions)\/([^/]+)$/.exec(ref);
    return match === null ? 'unknown' : this.options.nameOfDef(decodeURIComponent(match[1]!.replace(/~1/g, '/').replace(/~0/g, '~')));
  }
}

/** The TypeScript type of `schema` (multi-line for objects, indented by `indent`). */
export function typeOfSchema(schema: unknown, options: RenderOptions, indent = ''): string {
  return new Renderer(options).render(schema, 0, indent);
}

/** The `$defs` (or `definitions`) of a schema, by key. */
export function definitionsOf(schema: unknown): [string, unknown][] {
  if (!isSchema(schema)) return [];
  const defs = isSchema(schema.$defs) ? schema.$defs : isSchema(schema.definitions) ? schema.definitions : {};
  return Object.entries(defs).slice(0, MEMBERS_MAX);
}
