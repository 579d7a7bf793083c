/**
 * What `switchboard doctor` reports: findings, each with what was observed and, when something
 * is wrong, the fix to apply. Rendered as text (one block per finding) or as JSON.
 */

export type Severity = 'ok' | 'info' | 'warning' | 'error';

export interface Finding {
  /** Stable, for scripts and specs: `port.exclusive`, `firewall.drop`, `endpoint.loopback`, ... */
  readonly id: string;
  readonly severity: Severity;
  /** One line: what was found. */
  readonly title: string;
  /** More lines of what was observed. */
  readonly detail?: readonly string[];
  /** What to do about it (errors and warnings). */
  readonly fix?: string;
  /** The observation as data (addresses, pids, rules, milliseconds). */
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface DoctorReport {
  readonly discoveryPort: number;
  /** Where the requests went (broadcast addresses and peers). */
  readonly targets: readonly string[];
  readonly listenedMs: number;
  readonly findings: readonly Finding[];
}

const MARKS: Readonly<Record<Severity, string>> = { ok: 'ok   ', info: 'info ', warning: 'WARN ', error: 'ERROR' };

export function renderReport(report: DoctorReport): string {
  const lines = [`switchboard doctor: discovery UDP ${report.discoveryPort}, requests to ${report.targets.join(', ') || 'nobody'}, listened ${report.listenedMs} ms`, ''];
  for (const finding of report.findings) {
    lines.push(`${MARKS[finding.severity]} ${finding.title}`);
    for (const detail of finding.detail ?? []) lines.push(`      ${detail}`);
    if (finding.fix !== undefined) lines.push(`      fix: ${finding.fix}`);
  }
  const counts = (severity: Severity) => report.findings.filter((finding) => finding.severity === severity).length;
  lines.push('', `${counts('error')} error(s), ${counts('warning')} warning(s)`);
  return lines.join('\n');
}

export const hasErrors = (report: DoctorReport): boolean => report.findings.some((finding) => finding.severity === 'error');
