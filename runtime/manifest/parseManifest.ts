/**
 * Reading a manifest file (MAN-1, MAN-2): YAML or JSON (JSON is YAML, so one parser serves both
 * and gives every value its line), checked against the manifest schema, then every JSON Schema in
 * it turned into a validator. Every problem found is reported at once, each with its file, line,
 * column, path and a fix (ManifestError).
 */
import { readFile } from 'node:fs/promises';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import * as z from 'zod';
import { ManifestError, type ManifestProblem } from './manifestError.js';
import { ManifestSchema, type Manifest } from './schema.js';

type Path = readonly PropertyKey[];

interface Located {
  readonly doc: Document;
  readonly lines: LineCounter;
}

const JSON_SCHEMA_TYPES = 'object, array, string, number, integer, boolean or null';

/** Line and column (1-based) of the deepest node on `path` that exists; of the key itself when `key` is given. */
function locate({ doc, lines }: Located, path: Path, key?: string): { line: number | undefined; column: number | undefined } {
  let node: unknown = doc.contents;
  let found = node as YamlNode | null;
  for (const segment of path) {
    if (!isMap(node)) break;
    const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
    if (pair === undefined) break;
    found = (pair.value ?? pair.key) as YamlNode;
    node = pair.value;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === key);
    if (pair !== undefined) found = pair.key as YamlNode;
  }
  const offset = found?.range?.[0];
  if (offset === undefined) return { line: undefined, column: undefined };
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

const dotted = (path: Path) => path.map(String).join('.');

const KNOWN_FIELDS: Record<string, readonly string[]> = {
  '': ['manifestVersion', 'name', 'version', 'description', 'module', 'settings', 'operations', 'events'],
  operation: ['description', 'params', 'result'],
  event: ['description', 'schema'],
  setting: ['description', 'schema', 'default', 'required'],
};

function knownFieldsAt(path: Path): readonly string[] {
  if (path.length === 0) return KNOWN_FIELDS[''] as readonly string[];
  const kind = { operations: 'operation', events: 'event', settings: 'setting' }[String(path[0])];
  return KNOWN_FIELDS[kind ?? ''] ?? [];
}

/** The value at a path of the parsed document (own members only). */
function valueAt(value: unknown, path: Path): unknown {
  let current = value;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

/** A zod type name as a person reading YAML calls it. */
const kindName = (expected: string) => (expected === 'record' || expected === 'object' ? 'mapping' : expected === 'array' ? 'list' : expected);

/** What to do about a schema issue, in words a person can act on. */
function fixFor(issue: z.core.$ZodIssue, missing: boolean, actual?: unknown): string {
  const path = dotted(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return `remove it or correct its spelling; the fields here are ${knownFieldsAt(issue.path).join(', ')}`;
    case 'invalid_type':
      if (missing) return `add "${String(issue.path.at(-1))}:" with a ${kindName(issue.expected)}`;
      if (issue.expected === 'string' && (typeof actual === 'number' || typeof actual === 'boolean')) {
        return `quote it: "${String(actual)}" (YAML reads an unquoted 1.0 as the number 1)`;
      }
      if (/(params|result|schema)$/.test(path)) return `write a JSON Schema object here, e.g. { type: object, properties: { ... } }`;
      return `write a ${kindName(issue.expected)} here`;
    case 'invalid_format':
    case 'invalid_value':
      return issue.message;
    case 'too_small':
      return `make it longer (${issue.message})`;
    case 'too_big':
      return `make it shorter (${issue.message})`;
    case 'invalid_key':
      return 'names start with a letter, then up to 127 letters, digits, "_", "." or "-"';
    default:
      return path === 'operations' ? 'declare at least one operation under "operations:"' : issue.message;
  }
}

/** Problems of the manifest's shape, each at its place in the file. */
function shapeProblems(located: Located, value: unknown, error: z.ZodError): ManifestProblem[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: dotted([...issue.path, key]),
        ...locate(located, issue.path, key),
        problem: `unknown field "${key}"`,
        fix: fixFor(issue, false),
      }));
    }
    const missing = issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined;
    return [
      {
        path: dotted(issue.path),
        ...(missing ? locate(located, issue.path.slice(0, -1)) : locate(located, issue.path)),
        problem: missing ? `"${String(issue.path.at(-1))}" is required` : issue.message,
        fix: fixFor(issue, missing, valueAt(value, issue.path)),
      },
    ];
  });
}

/** A JSON Schema turned into a validator, or the problem with it. */
export function schemaOf(located: Located | undefined, path: Path, schema: unknown): { ok: true; schema: z.ZodType } | { ok: false; problem: ManifestProblem } {
  try {
    return { ok: true, schema: z.fromJSONSchema(schema as z.core.JSONSchema.JSONSchema) };
  } catch (error) {
    const message = (error as Error).message;
    const fix = /Unsupported type/.test(message)
      ? `use a JSON Schema type: ${JSON_SCHEMA_TYPES}`
      : /Reference not found/.test(message)
        ? 'define what "$ref" points to in the same schema (under "$defs"), or write the schema inline'
        : 'write a JSON Schema (draft 2020-12) this field can be checked with';
    const where = located === undefined ? { line: undefined, column: undefined } : locate(located, path);
    return { ok: false, problem: { path: dotted(path), ...where, problem: message, fix } };
  }
}

export interface ParsedManifest {
  readonly file: string;
  readonly manifest: Manifest;
  /** Validators from the manifest's JSON Schemas. */
  readonly params: ReadonlyMap<string, z.ZodType>;
  readonly events: ReadonlyMap<string, z.ZodType>;
  readonly settings: ReadonlyMap<string, z.ZodType>;
  /** Where a path is in the file, for problems found later (the module, setting values). */
  locate(path: Path, key?: string): { line: number | undefined; column: number | undefined };
}

/** Parses and checks manifest text; throws a ManifestError listing every problem. */
export function parseManifestText(text: string, file: string): ParsedManifest {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ManifestError(
      file,
      doc.errors.map((error) => {
        const { line, col } = lines.linePos(error.pos[0]);
        const duplicate = error.code === 'DUPLICATE_KEY';
        return {
          path: '',
          line,
          column: col,
          problem: error.message.split('\n')[0] as string,
          fix: duplicate ? 'keep one of the two entries with this name' : 'correct the YAML (or JSON) syntax at this place',
        };
      }),
    );
  }
  const located: Located = { doc, lines };
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ManifestError(file, [
      { path: '', line: 1, column: 1, problem: 'a manifest is a mapping of fields', fix: 'start with "name:", "version:", "module:" and "operations:"' },
    ]);
  }
  const parsed = ManifestSchema.safeParse(value);
  if (!parsed.success) throw new ManifestError(file, shapeProblems(located, value, parsed.error));
  const manifest = parsed.data;

  const problems: ManifestProblem[] = [];
  const collect = (into: Map<string, z.ZodType>, name: string, path: Path, schema: unknown) => {
    const result = schemaOf(located, path, schema);
    if (result.ok) into.set(name, result.schema);
    else problems.push(result.problem);
  };
  const params = new Map<string, z.ZodType>();
  for (const [name, operation] of Object.entries(manifest.operations)) {
    const schema = operation.params ?? { type: 'object' };
    if (schema.type !== undefined && schema.type !== 'object') {
      problems.push({
        path: `operations.${name}.params.type`,
        ...locate(located, ['operations', name, 'params', 'type']),
        problem: `task parameters are a JSON object, not ${JSON.stringify(schema.type)}`,
        fix: 'use "type: object" and list the parameters under "properties:"',
      });
      continue;
    }
    collect(params, name, ['operations', name, 'params'], schema);
    if (operation.result !== undefined) {
      const result = schemaOf(located, ['operations', name, 'result'], operation.result);
      if (!result.ok) problems.push(result.problem);
    }
  }
  const events = new Map<string, z.ZodType>();
  for (const [name, event] of Object.entries(manifest.events ?? {})) collect(events, name, ['events', name, 'schema'], event.schema ?? {});
  const settings = new Map<string, z.ZodType>();
  for (const [name, setting] of Object.entries(manifest.settings ?? {})) {
    collect(settings, name, ['settings', name, 'schema'], setting.schema ?? {});
    const validator = settings.get(name);
    if (validator !== undefined && setting.default !== undefined) {
      const checked = validator.safeParse(setting.default);
      if (!checked.success) {
        problems.push({
          path: `settings.${name}.default`,
          ...locate(located, ['settings', name, 'default']),
          problem: `the default does not satisfy the setting's schema: ${checked.error.issues[0]?.message ?? 'invalid'}`,
          fix: "change the default, or the setting's schema",
        });
      }
    }
  }
  if (problems.length > 0) throw new ManifestError(file, problems);
  return { file, manifest, params, events, settings, locate: (path, key) => locate(located, path, key) };
}

/** Reads and checks a manifest file. */
export async function readManifest(file: string): Promise<ParsedManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ManifestError(file, [
      {
        path: '',
        line: undefined,
        column: undefined,
        problem: code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (error as Error).message})`,
        fix: code === 'ENOENT' ? 'check the path given to --manifest (relative paths start at the current directory)' : 'check the file permissions',
      },
    ]);
  }
  return parseManifestText(text, file);
}
