/**
 * Files in task parameters and results (FILE-10, FILE-12), as operations declare them:
 *
 * ```ts
 * defineService({ ..., operations: { thumbnail: {
 *   params: z.object({ image: taskFile(), width: z.int() }),
 *   result: z.object({ thumbnail: taskFile() }),
 *   run: async ({ image, width }, ctx) => ({ thumbnail: await ctx.files.add(await shrink(await ctx.files.read(image), width)) }),
 * } } });
 * ```
 *
 * On the wire a task file is a FileRef (content-addressed by SHA-256). A client passes a local
 * file with `fileFrom(path or bytes)` in the parameters; `assign` puts it in the client's cache,
 * offers it (only missing content moves, FILE-3) and sends the FileRef in its place.
 */
import * as z from 'zod';
import { FileRefSchema, type FileRef } from '../../machines/files/fileRef.js';

/** Marks the schemas made by taskFile(), so that a provider finds the file fields of an operation. */
const taskFileSchemas = new WeakSet<z.ZodType>();

/**
 * The schema of a task file: a FileRef (checked by FileRefSchema), advertised as the short
 * `{"type": "object", "format": "switchboard-file"}`: advertisements must stay small (answers to
 * discovery requests are bounded in bytes, DISC-17).
 */
export function taskFile() {
  const schema = z
    // A client's LocalFile (fileFrom) passes too: typed clients check parameters before assign uploads them.
    .custom<FileRef>((value) => value instanceof LocalFile || FileRefSchema.safeParse(value).success, { message: 'a task file is a FileRef {sha256, size, name?, mediaType?}' })
    .meta({ type: 'object', format: 'switchboard-file' });
  taskFileSchemas.add(schema);
  return schema;
}

function isTaskFileSchema(schema: unknown): boolean {
  let current = schema as { def?: { type?: string; innerType?: unknown; element?: unknown } } | undefined;
  // Optional, nullable and default wrappers keep the file-ness of what they wrap.
  for (let depth = 0; depth < 8 && current !== undefined; depth++) {
    if (taskFileSchemas.has(current as z.ZodType)) return true;
    const def = current.def;
    if (def?.type === 'optional' || def?.type === 'nullable' || def?.type === 'default') current = def.innerType as typeof current;
    else return false;
  }
  return false;
}

/** A top-level field that holds a task file, or a list of them. */
export interface FileField {
  readonly key: string;
  readonly list: boolean;
}

/** The file fields of an object schema (top-level keys whose schema is taskFile() or an array of it). */
export function fileFieldsOf(schema: z.ZodType | undefined): readonly FileField[] {
  const shape = (schema as { def?: { shape?: Record<string, unknown> } } | undefined)?.def?.shape;
  if (shape === undefined) return [];
  const fields: FileField[] = [];
  for (const [key, field] of Object.entries(shape)) {
    if (isTaskFileSchema(field)) fields.push({ key, list: false });
    else {
      let inner = field as { def?: { type?: string; innerType?: unknown; element?: unknown } };
      while (inner.def?.type === 'optional' || inner.def?.type === 'nullable' || inner.def?.type === 'default') inner = inner.def.innerType as typeof inner;
      if (inner.def?.type === 'array' && isTaskFileSchema(inner.def.element)) fields.push({ key, list: true });
    }
  }
  return fields;
}

/** The FileRefs a value (params or result) holds in its file fields. */
export function fileRefsIn(value: unknown, fields: readonly FileField[]): FileRef[] {
  if (fields.length === 0 || typeof value !== 'object' || value === null) return [];
  const refs: FileRef[] = [];
  for (const { key, list } of fields) {
    const held = (value as Record<string, unknown>)[key];
    for (const item of list && Array.isArray(held) ? held : [held]) {
      const parsed = FileRefSchema.safeParse(item);
      if (parsed.success) refs.push(parsed.data);
    }
  }
  return refs;
}

/** At most this many files in one task's parameters or result (the wire's `files` bound). */
export const TASK_FILES_MAX = 64;

/** FileRefs anywhere at the top level of a result (a client does not know the result schema): fields and lists. */
export function fileRefsAtTopLevel(value: unknown): FileRef[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const refs: FileRef[] = [];
  for (const held of Object.values(value)) {
    for (const item of Array.isArray(held) ? held : [held]) {
      if (refs.length >= TASK_FILES_MAX) return refs;
      if (typeof item !== 'object' || item === null || !('sha256' in item)) continue;
      const parsed = FileRefSchema.safeParse(item);
      if (parsed.success) refs.push(parsed.data);
    }
  }
  return refs;
}

/** A client's local file for a task parameter: a path, or bytes with a name. */
export class LocalFile {
  constructor(
    readonly source: string | Uint8Array,
    readonly meta: Pick<FileRef, 'name' | 'mediaType'> = {},
  ) {}
}

/** A local file to send as a task parameter: `client.assign(s, op, { image: fileFrom('./cat.png') })`. */
export function fileFrom(source: string | Uint8Array, meta: Pick<FileRef, 'name' | 'mediaType'> = {}): FileRef {
  // Typed as a FileRef: that is what the parameter becomes on the wire, and what the operation's schema wants.
  return new LocalFile(source, meta) as unknown as FileRef;
}

/** Whether params hold any LocalFile at the top level (directly or in a list). */
export function hasLocalFiles(params: Readonly<Record<string, unknown>>): boolean {
  for (const held of Object.values(params)) {
    if (held instanceof LocalFile) return true;
    if (Array.isArray(held) && held.some((item) => item instanceof LocalFile)) return true;
  }
  return false;
}
