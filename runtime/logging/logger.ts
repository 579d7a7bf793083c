/**
 * Loggers for the one logging seam, runtime/service.ts's `Logger` (level, message, detail).
 *
 * `detail` conventions, honoured by both formats: a plain object's fields become fields of the
 * line (`{ taskId, clientId }` add `correlationId: "clientId/taskId"`, the id one task carries in
 * the client's and the provider's logs alike); an Error becomes `error: { name, message, code }`;
 * anything else is `detail`.
 *
 * ```ts
 * const log = createLogger({ format: 'json', level: 'info' });
 * log('info', 'task settled', { taskId, clientId, status: 'Completed' });
 * // {"time":"2026-12-03T10:00:00.000Z","level":"info","message":"task settled","taskId":"...","clientId":"...","correlationId":"client-1/...","status":"Completed"}
 * ```
 */
import type { Logger } from '../service.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  /** @default 'text' */
  readonly format?: LogFormat;
  /** Lines below this level are dropped. @default 'info' */
  readonly level?: LogLevel;
  /** @default process.stderr */
  readonly stream?: { write(chunk: string): unknown };
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Fields added to every line (e.g. `{ providerId }`). */
  readonly fields?: Readonly<Record<string, unknown>>;
}

/** The correlation id of a task: `clientId/taskId` (both sides know both). */
export const correlationIdOf = (clientId: string, taskId: string): string => `${clientId}/${taskId}`;

const RESERVED = new Set(['time', 'level', 'message']);

/** The fields a detail contributes to a log line (see the module comment). */
export function fieldsOf(detail: unknown): Record<string, unknown> {
  if (detail === undefined) return {};
  if (detail instanceof Error) return { error: errorFields(detail) };
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return { detail };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(detail)) {
    fields[RESERVED.has(key) ? `detail.${key}` : key] = value instanceof Error ? errorFields(value) : value;
  }
  if (typeof fields.taskId === 'string' && typeof fields.clientId === 'string' && fields.correlationId === undefined) {
    fields.correlationId = correlationIdOf(fields.clientId, fields.taskId);
  }
  return fields;
}

function errorFields(error: Error): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(code === undefined ? {} : { code }) };
}

function stringify(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? String(item) : item)) ?? 'null';
  } catch {
    return JSON.stringify(String(value));
  }
}

/** One log line: a JSON object, or `time [level] message key=value ...`. */
export function formatLine(format: LogFormat, time: Date, level: string, message: string, fields: Record<string, unknown>): string {
  if (format === 'json') return stringify({ time: time.toISOString(), level, message, ...fields });
  const rest = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : stringify(value)}`)
    .join(' ');
  return `${time.toISOString()} [${level}] ${message}${rest ? ` ${rest}` : ''}`;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? 'text';
  const threshold = LOG_LEVELS.indexOf(options.level ?? 'info');
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => new Date());
  const base = options.fields ?? {};
  return (level, message, detail) => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    stream.write(`${formatLine(format, now(), level, message, { ...base, ...fieldsOf(detail) })}\n`);
  };
}

/** `log` with `fields` merged into every line's detail (a task's ids for its operation's log). */
export function withFields(log: Logger, fields: Readonly<Record<string, unknown>>): Logger {
  return (level, message, detail) => {
    if (detail === undefined) return log(level, message, fields);
    if (typeof detail === 'object' && detail !== null && !Array.isArray(detail) && !(detail instanceof Error)) {
      return log(level, message, { ...fields, ...detail });
    }
    return log(level, message, { ...fields, ...(detail instanceof Error ? { error: detail } : { detail }) });
  };
}
