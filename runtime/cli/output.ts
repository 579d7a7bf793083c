/**
 * How the CLI writes: results on stdout (a table, pretty JSON, or JSON lines with --json),
 * diagnostics, progress and errors on stderr, so `switchboard assign ... > result.json` works.
 */
import { createLogger, type LogFormat } from '../logging/logger.js';
import type { Logger } from '../service.js';
import { ExitCode, type LogLevel } from './options.js';

export interface OutputStream {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface Io {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr };

export const line = (stream: OutputStream, text = ''): void => void stream.write(`${text}\n`);

/** One JSON value on one line (JSON lines). */
export const jsonLine = (stream: OutputStream, value: unknown): void => line(stream, JSON.stringify(value));

export const prettyJson = (value: unknown): string => JSON.stringify(value, null, 2) ?? 'undefined';

/** A logger that writes at `level` and above to stderr: text, or JSON lines (runtime/logging). */
export function stderrLogger(io: Io, level: LogLevel, format: LogFormat): Logger {
  return createLogger({ format, level, stream: io.stderr });
}

/** "error CODE: message" on stderr, the one shape every command uses for a coded failure. */
export function printError(io: Io, code: string | undefined, message: string): void {
  line(io.stderr, code === undefined ? `error: ${message}` : `error ${code}: ${message}`);
}

/** The exit code for a failure's code (see ExitCode). */
export function exitCodeFor(code: string | undefined): number {
  // Nothing matched: no provider offers the service, or none offers the operation.
  return code === 'SERVICE_UNAVAILABLE' || code === 'UNKNOWN_OPERATION' ? ExitCode.unavailable : ExitCode.failed;
}

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
}

/** A plain-text table, columns padded to their widest cell. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, index) => Math.max(column.header.length, ...cells.map((row) => row[index]!.length)));
  const render = (values: readonly string[]) =>
    values
      .map((value, index) => (index === values.length - 1 ? value : value.padEnd(widths[index]!)))
      .join('  ')
      .trimEnd();
  return [render(columns.map((column) => column.header)), ...cells.map(render)].join('\n');
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
