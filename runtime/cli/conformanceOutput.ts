/**
 * What both conformance commands do with a finished suite: per-check progress lines while it
 * runs (with --log-level info), then the report in the chosen format, on stdout or in a file,
 * and the exit code (1 when any check failed).
 */
import { writeFile } from 'node:fs/promises';
import { renderReport, summaryLine, type ReportFormat } from '../conformance/report.js';
import type { CheckReport, ConformanceLevel, SuiteReport } from '../conformance/types.js';
import { ExitCode, UsageError } from './options.js';
import { line, type Io } from './output.js';

export const progressLine = (report: CheckReport): string =>
  `[${report.status === 'pass' ? 'pass' : report.status === 'fail' ? 'FAIL' : 'n/a '}] ${report.name} (${report.requirements.join(', ')}) ${report.durationMs} ms`;

export interface ReportDestination {
  readonly format: ReportFormat;
  readonly output: string | undefined;
  readonly check: readonly string[] | undefined;
  readonly level: ConformanceLevel;
}

export async function emitSuiteReport(io: Io, report: SuiteReport, destination: ReportDestination): Promise<number> {
  if (report.checks.length === 0) {
    throw new UsageError(`no check matches --check ${(destination.check ?? []).join(', ')} at level ${destination.level}`);
  }
  const width = io.stdout.isTTY === true && destination.output === undefined ? io.stdout.columns : undefined;
  const text = renderReport(report, destination.format, width === undefined ? {} : { width });
  if (destination.output !== undefined) {
    await writeFile(destination.output, text);
    line(io.stdout, `${summaryLine(report)}; ${destination.format} report written to ${destination.output}`);
  } else {
    io.stdout.write(text);
  }
  return report.failed > 0 ? ExitCode.failed : ExitCode.ok;
}
