/**
 * From the rounds' raw figures to the table: medians with min-max over rounds, and each
 * switchboard figure as a ratio to the raw ws floor and to Moleculer, computed per round (the
 * same run) and then summarised the same way.
 */
import { spread, systems, type Spread, type System } from './common.js';
import type { Figures } from './phases.js';

export interface Round {
  readonly load: Partial<Record<System, Figures>>;
  readonly running: Partial<Record<System, Figures>>;
  readonly fresh: Partial<Record<System, Figures>>;
  readonly inFlight: Record<string, Figures>;
  readonly errors: string[];
}

interface RowDef {
  readonly label: string;
  readonly unit: string;
  /** Where the figure is in a round, for one system. */
  readonly pick: (round: Round, system: System) => number | undefined;
  readonly digits: number;
}

export interface Row {
  readonly label: string;
  readonly unit: string;
  readonly digits: number;
  readonly bySystem: Partial<Record<System, Spread>>;
  readonly vsWs: Spread | undefined;
  readonly vsMoleculer: Spread | undefined;
}

function rowDefs(inFlightLevels: readonly number[], inFlightSizes: readonly number[]): RowDef[] {
  const rows: RowDef[] = [
    { label: 'sequential latency p50', unit: 'us', digits: 0, pick: (r, s) => r.load[s]?.p50Us },
    { label: 'sequential latency p99', unit: 'us', digits: 0, pick: (r, s) => r.load[s]?.p99Us },
    ...inFlightLevels.map<RowDef>((k) => ({
      label: `throughput, ${k} in flight`,
      unit: 'tasks/s',
      digits: 0,
      pick: (r, s) => r.load[s]?.[`tp${k}`],
    })),
    // CPU time per task (process.cpuUsage, user + system) in each phase's window, on each side.
    { label: 'CPU per task, sequential: client', unit: 'us', digits: 1, pick: (r, s) => r.load[s]?.latencyClientCpuUs },
    { label: 'CPU per task, sequential: provider', unit: 'us', digits: 1, pick: (r, s) => r.load[s]?.latencyServerCpuUs },
    ...inFlightLevels.flatMap<RowDef>((k) => [
      { label: `CPU per task, ${k} in flight: client`, unit: 'us', digits: 1, pick: (r, s) => r.load[s]?.[`tp${k}ClientCpuUs`] },
      { label: `CPU per task, ${k} in flight: provider`, unit: 'us', digits: 1, pick: (r, s) => r.load[s]?.[`tp${k}ServerCpuUs`] },
    ]),
    { label: 'provider start -> running client sees it', unit: 'ms', digits: 1, pick: (r, s) => r.running[s]?.seenMs },
    { label: 'provider start -> running client first call done', unit: 'ms', digits: 1, pick: (r, s) => r.running[s]?.firstCallMs },
    { label: 'provider process start -> running client sees it', unit: 'ms', digits: 0, pick: (r, s) => r.running[s]?.seenSinceProcessMs },
    { label: 'client start -> knows running provider', unit: 'ms', digits: 1, pick: (r, s) => r.fresh[s]?.knownMs },
    { label: 'client start -> first remote call done', unit: 'ms', digits: 1, pick: (r, s) => r.fresh[s]?.firstCallMs },
    { label: 'client process start -> first remote call done', unit: 'ms', digits: 0, pick: (r, s) => r.fresh[s]?.firstCallSinceProcessMs },
  ];
  for (const size of inFlightSizes) {
    const at = (key: string) => (r: Round, s: System) => (s === 'switchboard' ? r.inFlight[String(size)]?.[key] : undefined);
    const n = size.toLocaleString('en-US');
    rows.push(
      { label: `${n} in flight: heap per task`, unit: 'bytes', digits: 0, pick: at('heapPerTaskBytes') },
      { label: `${n} in flight: admission, first 1,000`, unit: 'us/task', digits: 1, pick: at('admitFirstUs') },
      { label: `${n} in flight: admission, last 1,000`, unit: 'us/task', digits: 1, pick: at('admitLastUs') },
      { label: `${n} in flight: admission, last 5k / first 5k`, unit: 'x', digits: 2, pick: at('admitGrowth') },
      { label: `${n} in flight: same, GC pauses excluded`, unit: 'x', digits: 2, pick: at('admitGrowthNoGc') },
      { label: `${n} in flight: GC share of admission time`, unit: '%', digits: 0, pick: (r, s) => { const v = at('gcShare')(r, s); return v === undefined ? undefined : v * 100; } },
      { label: `${n} in flight: admitted per second`, unit: 'tasks/s', digits: 0, pick: at('admittedPerSecond') },
    );
  }
  return rows;
}

export function summariseRounds(rounds: readonly Round[], inFlightLevels: readonly number[], inFlightSizes: readonly number[]): Row[] {
  const rows = rowDefs(inFlightLevels, inFlightSizes).map((def) => {
    const bySystem: Partial<Record<System, Spread>> = {};
    for (const system of systems) {
      const values = rounds.map((round) => def.pick(round, system)).filter((v): v is number => v !== undefined);
      if (values.length > 0) bySystem[system] = spread(values);
    }
    const ratio = (other: System): Spread | undefined => {
      const values = rounds
        .map((round) => {
          const mine = def.pick(round, 'switchboard');
          const theirs = def.pick(round, other);
          return mine === undefined || theirs === undefined ? undefined : mine / theirs;
        })
        .filter((v): v is number => v !== undefined);
      return values.length > 0 ? spread(values) : undefined;
    };
    return { label: def.label, unit: def.unit, digits: def.digits, bySystem, vsWs: ratio('ws'), vsMoleculer: ratio('moleculer') };
  });
  // Rows nothing was measured for (a phase left out with --only) are not shown.
  return rows.filter((row) => Object.keys(row.bySystem).length > 0);
}

const fmt = (value: number, digits: number): string =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';

export function formatSpread(s: Spread | undefined, digits: number, rounds: number): string {
  if (s === undefined) return '-';
  if (rounds <= 1 || s.values.length <= 1) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}-${fmt(s.max, digits)})`;
}

/** A Markdown table (also readable in a terminal). */
export function formatTable(rows: readonly Row[], rounds: number): string {
  const header = ['metric', 'unit', 'switchboard', 'raw ws', 'Moleculer', 'sb / ws', 'sb / Moleculer'];
  const lines = rows.map((row) => [
    row.label,
    row.unit,
    formatSpread(row.bySystem.switchboard, row.digits, rounds),
    formatSpread(row.bySystem.ws, row.digits, rounds),
    formatSpread(row.bySystem.moleculer, row.digits, rounds),
    formatSpread(row.vsWs, 2, rounds),
    formatSpread(row.vsMoleculer, 2, rounds),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => (line[i] as string).length)));
  const render = (cells: readonly string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] as number)).join(' | ')} |`;
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...lines.map(render)].join('\n');
}
