/**
 * Renders a SuiteReport: a table for terminals, the report itself as JSON, or JUnit XML for CI
 * (one testcase per check; `failure` for fail, `skipped` for not applicable).
 */
import { clip } from './runner.js';
import type { CheckReport, CheckStatus, SuiteReport } from './types.js';

export const REPORT_FORMATS = ['table', 'json', 'junit'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface TableOptions {
  /** Characters of evidence shown per row. @default what `width` leaves, else 72 */
  readonly evidenceChars?: number;
  /** Characters of title shown per row. @default 56 */
  readonly titleChars?: number;
  /** Fit rows into this many columns (a terminal's width) by shortening the evidence. @default no limit */
  readonly width?: number;
}

const STATUS_WORDS: Record<CheckStatus, string> = { pass: 'pass', fail: 'FAIL', 'not-applicable': 'n/a' };

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/** One line: evidence may hold newlines, a table row may not. */
const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim();

export function summaryLine(report: SuiteReport): string {
  const total = report.checks.length;
  return `${total} check${total === 1 ? '' : 's'}: ${report.passed} passed, ${report.failed} failed, ${report.notApplicable} not applicable (${(report.durationMs / 1000).toFixed(1)} s)`;
}

export function renderTable(report: SuiteReport, options: TableOptions = {}): string {
  const titleChars = options.titleChars ?? 56;
  const header = ['STATUS', 'REQUIREMENTS', 'TITLE', 'EVIDENCE'];
  const leading = report.checks.map((check) => [STATUS_WORDS[check.status], check.requirements.join(','), clip(oneLine(check.title), titleChars)]);
  const leadingWidth = [0, 1, 2].reduce((sum, column) => sum + Math.max(header[column]!.length, ...leading.map((row) => row[column]!.length)) + 2, 0);
  const fitted = options.width === undefined ? undefined : Math.max(24, options.width - leadingWidth);
  const evidenceChars = options.evidenceChars ?? fitted ?? 72;
  const rows = report.checks.map((check, index) => [...leading[index]!, clip(oneLine(check.evidence), evidenceChars)]);
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column]!.length)));
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  const lines = [
    `switchboard conformance: ${report.suite} suite, level ${report.level}`,
    `target ${report.target}, started ${report.startedAt}`,
    '',
    render(header),
    ...rows.map(render),
    '',
    summaryLine(report),
  ];
  const failures = report.checks.filter((check) => check.status === 'fail');
  const roots = failures.filter((check) => check.rootCause === undefined);
  const knockOns = failures.filter((check) => check.rootCause !== undefined);
  if (roots.length > 0) {
    lines.push('', 'Failures:');
    for (const check of roots) {
      lines.push(`  ${check.name} (${check.requirements.join(', ')}): ${oneLine(check.evidence)}`);
      if (check.seed !== undefined && check.level === 'core') lines.push(`    the seed: "${oneLine(check.seed)}"`);
    }
  }
  if (knockOns.length > 0) {
    lines.push('', 'Knock-on failures (they follow from a failure above; fix that one first):');
    for (const check of knockOns) lines.push(`  ${check.name} (${check.requirements.join(', ')}) follows from ${check.rootCause}: ${oneLine(check.evidence)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderJson(report: SuiteReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Characters XML 1.0 cannot hold at all (even escaped): most C0 controls, lone surrogates, U+FFFE/U+FFFF. */
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escapes text for XML content and attribute values; invalid characters become U+FFFD. */
export function escapeXml(text: string): string {
  return text
    .replace(XML_INVALID, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const attributes = (values: Record<string, string | number>): string =>
  Object.entries(values)
    .map(([key, value]) => ` ${key}="${escapeXml(String(value))}"`)
    .join('');

/** `provider.discovery.reply` -> `switchboard.conformance.provider.discovery`. */
function classNameOf(report: SuiteReport, check: CheckReport): string {
  const parts = check.name.split('.');
  const area = parts.length > 2 ? parts.slice(0, -1).join('.') : check.name;
  return `switchboard.conformance.${area.startsWith(`${report.suite}.`) ? area : `${report.suite}.${area}`}`;
}

function testcase(report: SuiteReport, check: CheckReport): string {
  const open = `    <testcase${attributes({
    classname: classNameOf(report, check),
    name: `${check.name} [${check.requirements.join(', ')}] ${check.title}`,
    time: seconds(check.durationMs),
  })}>`;
  const properties = [
    '      <properties>',
    `        <property${attributes({ name: 'requirements', value: check.requirements.join(',') })}/>`,
    `        <property${attributes({ name: 'level', value: check.level })}/>`,
    ...(check.rootCause === undefined ? [] : [`        <property${attributes({ name: 'rootCause', value: check.rootCause })}/>`]),
    ...(check.seed === undefined ? [] : [`        <property${attributes({ name: 'seed', value: check.seed })}/>`]),
    '      </properties>',
  ];
  const outcome: string[] = [];
  if (check.status === 'fail') {
    outcome.push(
      `      <failure${attributes({ message: clip(oneLine(check.evidence), 500), type: check.requirements.join(',') || 'conformance' })}>${escapeXml(check.evidence)}</failure>`,
    );
  } else if (check.status === 'not-applicable') {
    outcome.push(`      <skipped${attributes({ message: clip(oneLine(check.evidence), 500) })}/>`);
  } else {
    outcome.push(`      <system-out>${escapeXml(check.evidence)}</system-out>`);
  }
  return [open, ...properties, ...outcome, '    </testcase>'].join('\n');
}

export function renderJUnit(report: SuiteReport): string {
  const counts = {
    tests: report.checks.length,
    failures: report.failed,
    errors: 0,
    skipped: report.notApplicable,
    time: seconds(report.durationMs),
  };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attributes({ name: 'switchboard conformance', ...counts })}>`,
    `  <testsuite${attributes({ name: `switchboard.conformance.${report.suite}.${report.level}`, ...counts, timestamp: report.startedAt })}>`,
    '    <properties>',
    `      <property${attributes({ name: 'target', value: report.target })}/>`,
    `      <property${attributes({ name: 'level', value: report.level })}/>`,
    '    </properties>',
    ...report.checks.map((check) => testcase(report, check)),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

export function renderReport(report: SuiteReport, format: ReportFormat, table?: TableOptions): string {
  switch (format) {
    case 'json':
      return renderJson(report);
    case 'junit':
      return renderJUnit(report);
    case 'table':
      return renderTable(report, table);
  }
}
