/**
 * The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched).
 *
 * - the verdict, every invariant with its rule, and the throughput;
 * - for a failing run: the seed, the violations, the minimal fault schedule and the replay command;
 * - a timeline of the detailed run, one row per participant: when it was up, the faults that hit
 *   it, its tasks (client: submitted to settled; provider: run to finish), the messages between
 *   rows (lost or cut ones in red) and the violations; hover anything for its details;
 * - the state history of every statechart: which state, when, and the event that led there.
 */
import { INVARIANTS, type Violation } from '../checker.js';
import { formatDuration } from '../duration.js';
import type { Observation } from '../history.js';
import type { Plan } from '../plan.js';
import type { Simulation } from '../run.js';
import type { Fault } from '../scenario.js';
import { faultToInput } from '../shrink.js';

export interface HtmlReportOptions {
  readonly replay?: string | undefined;
  /** Faults the run could only approximate or not reproduce (`--real`), with why. */
  readonly notes?: readonly string[];
  readonly title?: string;
}

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const MESSAGES_MAX = 4_000;
const STATES_PER_PARTICIPANT_MAX = 3_000;
const WIDTH = 1_200;
const LABEL = 120;
const ROW = 34;

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330;max-width:1400px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}
.ok{color:#17803d}.bad{color:#c0262d}code,pre{font:12.5px/1.4 ui-monospace,monospace;background:#f3f4f8;border-radius:4px}
pre{padding:10px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}code{padding:1px 4px}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px;border-bottom:1px solid #eef;text-align:left;vertical-align:top}
th{font-weight:600;background:#f7f7fb}.muted{color:#667}.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px;border-radius:2px}
details{margin:4px 0}summary{cursor:pointer;font-weight:600}svg text{font:11px system-ui,sans-serif;fill:#334}
`;

const FAULT_COLOURS: Record<Fault['type'], string> = {
  partition: '#e5484d',
  heal: '#30a46c',
  link: '#f76b15',
  crash: '#1d2330',
  restart: '#30a46c',
  stall: '#8e4ec6',
  freeze: '#0090ff',
  skew: '#978365',
};

function describeFault(fault: Fault): string {
  return JSON.stringify(faultToInput(fault));
}

/** Who a fault hits, as participant names (for its band on the timeline). */
function faultRows(fault: Fault, plan: Plan): string[] {
  const expand = (name: string) =>
    name === '*' ? plan.participants.map((p) => p.name) : plan.participants.filter((p) => p.name === name || p.spec.name === name).map((p) => p.name);
  switch (fault.type) {
    case 'partition':
      return fault.groups.flat().flatMap(expand);
    case 'link':
      return expand(fault.from);
    case 'heal':
      return [];
    default:
      return expand(fault.target);
  }
}

interface Band {
  readonly row: string;
  readonly from: number;
  readonly to: number;
  readonly colour: string;
  readonly title: string;
}

function timeline(plan: Plan, history: readonly Observation[], violations: readonly Violation[]): string {
  const rows = plan.participants.map((p) => p.name);
  const rowIndex = new Map(rows.map((name, index) => [name, index]));
  const end = Math.max(plan.endMs, history.at(-1)?.t ?? 0);
  const x = (t: number) => LABEL + ((WIDTH - LABEL - 10) * t) / Math.max(1, end);
  const y = (name: string) => 30 + (rowIndex.get(name) ?? 0) * ROW;
  const height = 40 + rows.length * ROW;
  const parts: string[] = [];

  // Axis.
  const tick = [1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000].find((step) => end / step <= 12) ?? 3_600_000;
  for (let t = 0; t <= end; t += tick) {
    const label = x(t) < WIDTH - 40 ? `<text x="${x(t) + 2}" y="14">${formatDuration(t)}</text>` : '';
    parts.push(`<line x1="${x(t)}" y1="18" x2="${x(t)}" y2="${height - 8}" stroke="#eef"/>${label}`);
  }
  const heal = history.find((o) => o.type === 'heal');
  if (heal !== undefined) {
    parts.push(`<line x1="${x(heal.t)}" y1="18" x2="${x(heal.t)}" y2="${height - 8}" stroke="#30a46c" stroke-dasharray="4 3"><title>final heal at ${formatDuration(heal.t)}: liveness phase from here</title></line>`);
  }
  for (const name of rows) parts.push(`<text x="4" y="${y(name) + 4}">${escape(name)}</text>`);

  // Lifelines: up intervals per incarnation.
  const upSince = new Map<string, { t: number; incarnation: number }>();
  const life = (name: string, from: number, to: number, incarnation: number) =>
    parts.push(`<rect x="${x(from)}" y="${y(name) - 2}" width="${Math.max(1, x(to) - x(from))}" height="4" fill="#c9d3e6"><title>${escape(name)}#${incarnation} up ${formatDuration(from)} to ${formatDuration(to)}</title></rect>`);
  for (const o of history) {
    if (o.type === 'up') upSince.set(o.participant, { t: o.t, incarnation: o.incarnation });
    if (o.type === 'down') {
      const since = upSince.get(o.participant);
      if (since !== undefined) life(o.participant, since.t, o.t, since.incarnation);
      upSince.delete(o.participant);
      parts.push(`<text x="${x(o.t) - 4}" y="${y(o.participant) + 4}" fill="#1d2330">✕<title>${escape(o.participant)} crashed at ${formatDuration(o.t)}</title></text>`);
    }
  }
  for (const [name, since] of upSince) life(name, since.t, end, since.incarnation);

  // Fault bands.
  const bands: Band[] = [];
  const open: { fault: Fault; from: number; rows: string[] }[] = [];
  const close = (index: number, t: number) => {
    const [item] = open.splice(index, 1);
    if (item === undefined) return;
    for (const row of item.rows) bands.push({ row, from: item.from, to: t, colour: FAULT_COLOURS[item.fault.type], title: `${describeFault(item.fault)} from ${formatDuration(item.from)} to ${formatDuration(t)}` });
  };
  for (const o of history) {
    if (o.type === 'heal') while (open.length > 0) close(0, o.t);
    if (o.type !== 'fault') continue;
    if (o.fault.type === 'heal') {
      for (let i = open.length - 1; i >= 0; i--) if (['partition', 'link'].includes((open[i] as { fault: Fault }).fault.type)) close(i, o.t);
      continue;
    }
    if (o.undo === true) {
      const index = open.findIndex((item) => item.fault === o.fault || JSON.stringify(item.fault) === JSON.stringify(o.fault));
      if (index >= 0) close(index, o.t);
    } else if (o.fault.type !== 'restart') {
      open.push({ fault: o.fault, from: o.t, rows: faultRows(o.fault, plan) });
    }
  }
  while (open.length > 0) close(0, end);
  for (const band of bands) {
    parts.push(`<rect x="${x(band.from)}" y="${y(band.row) - 13}" width="${Math.max(2, x(band.to) - x(band.from))}" height="26" fill="${band.colour}" fill-opacity="0.16" stroke="${band.colour}" stroke-opacity="0.5"><title>${escape(band.title)}</title></rect>`);
  }

  // Messages between rows.
  const messages = history.filter((o): o is Extract<Observation, { type: 'message' }> => o.type === 'message' && o.outcome !== 'received' && o.kind !== 'ping' && o.kind !== 'pong');
  const stride = Math.max(1, Math.ceil(messages.length / MESSAGES_MAX));
  for (let i = 0; i < messages.length; i += stride) {
    const m = messages[i] as Extract<Observation, { type: 'message' }>;
    const from = m.from.split(':')[0] as string;
    const to = m.to.split(':')[0] as string;
    if (!rowIndex.has(from) || !rowIndex.has(to) || from === to) continue;
    const bad = m.outcome === 'lost' || m.outcome === 'partitioned' || m.outcome === 'dropped' || m.outcome === 'rejected';
    parts.push(
      `<line x1="${x(m.t)}" y1="${y(from)}" x2="${x(m.t)}" y2="${y(to)}" stroke="${bad ? '#e5484d' : '#8b8fa3'}" stroke-opacity="${bad ? 0.8 : 0.35}"><title>${formatDuration(m.t)} ${escape(m.message ?? m.kind)} ${escape(m.from)} → ${escape(m.to)}: ${m.outcome}</title></line>`,
    );
  }

  // Tasks: client bars (submitted to settled), provider bars (run to finish).
  const settledAt = new Map<string, Extract<Observation, { type: 'settled' }>>();
  for (const o of history) if (o.type === 'settled') settledAt.set(`${o.clientId}/${o.taskId}`, o);
  const finishedAt = new Map<string, number>();
  for (const o of history) if (o.type === 'finished') finishedAt.set(`${o.participant}#${o.incarnation}/${o.clientId}/${o.taskId}`, o.t);
  const outcomeColour = (status: string | undefined) => (status === 'Completed' ? '#30a46c' : status === 'Cancelled' ? '#978365' : status === undefined ? '#1d2330' : '#e5484d');
  let lane = 0;
  for (const o of history) {
    if (o.type === 'submitted') {
      const settled = settledAt.get(`${o.clientId}/${o.taskId}`);
      const to = settled?.t ?? end;
      const status = settled?.outcome.status;
      const code = settled?.outcome.status === 'Failed' ? ` ${settled.outcome.code}` : '';
      const offset = 5 + (lane++ % 3) * 3;
      parts.push(`<rect x="${x(o.t)}" y="${y(o.participant) + offset}" width="${Math.max(2, x(to) - x(o.t))}" height="2.5" fill="${outcomeColour(status)}"><title>${escape(o.taskId)}${o.probe === true ? ' (probe)' : ''}: submitted ${formatDuration(o.t)}, ${settled === undefined ? 'never settled' : `${status}${code} at ${formatDuration(to)}`}</title></rect>`);
    } else if (o.type === 'ran') {
      const to = finishedAt.get(`${o.participant}#${o.incarnation}/${o.clientId}/${o.taskId}`) ?? end;
      const offset = 5 + (lane++ % 3) * 3;
      parts.push(`<rect x="${x(o.t)}" y="${y(o.participant) + offset}" width="${Math.max(2, x(to) - x(o.t))}" height="2.5" fill="#0090ff"><title>${escape(o.clientId)}/${escape(o.taskId)} ran on ${escape(o.participant)}#${o.incarnation} from ${formatDuration(o.t)} to ${formatDuration(to)}</title></rect>`);
    }
  }

  for (const violation of violations) {
    const row = violation.participant !== undefined && rowIndex.has(violation.participant) ? violation.participant : rows[0] ?? '';
    parts.push(`<circle cx="${x(violation.t)}" cy="${y(row)}" r="6" fill="#c0262d"><title>${escape(`${violation.rule} ${violation.invariant} at ${formatDuration(violation.t)}: ${violation.message}`)}</title></circle>`);
  }
  return `<svg width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

function stateHistory(plan: Plan, history: readonly Observation[]): string {
  const sections: string[] = [];
  for (const participant of plan.participants) {
    const states = history.filter((o): o is Extract<Observation, { type: 'state' }> => o.type === 'state' && o.participant === participant.name);
    if (states.length === 0) continue;
    const shown = states.slice(0, STATES_PER_PARTICIPANT_MAX);
    const rows = shown
      .map((s) => `<tr><td>${formatDuration(s.t)}</td><td><code>${escape(s.actor)}</code></td><td><code>${escape(s.value)}</code></td><td class="muted">${escape(s.event)}</td></tr>`)
      .join('');
    const machines = [...new Set(states.map((s) => s.machine))].join(', ');
    sections.push(
      `<details><summary>${escape(participant.name)} (${participant.kind}): ${states.length} state changes of ${escape(machines)}</summary><table><tr><th>time</th><th>statechart</th><th>state</th><th>because of</th></tr>${rows}</table>${states.length > shown.length ? `<p class="muted">${states.length - shown.length} more not shown</p>` : ''}</details>`,
    );
  }
  return sections.length === 0 ? '<p class="muted">No state history recorded.</p>' : sections.join('');
}

export function htmlReport(simulation: Simulation, options: HtmlReportOptions = {}): string {
  const { runs, failure, throughput, detailed } = simulation;
  const title = options.title ?? simulation.scenario.name ?? 'switchboard simulate';
  const ok = simulation.ok;
  const counts: Record<string, number> = {};
  for (const run of runs) for (const [id, count] of Object.entries(run.verdict.counts)) counts[id] = (counts[id] ?? 0) + count;
  const invariants = INVARIANTS.map((invariant) => {
    const count = counts[invariant.id] ?? 0;
    return `<tr><td class="${count === 0 ? 'ok' : 'bad'}">${count === 0 ? '✓' : '✗'}</td><td><code>${invariant.rule}</code></td><td>${escape(invariant.title)}</td><td>${count === 0 ? '' : `${count} violation${count === 1 ? '' : 's'}`}</td></tr>`;
  }).join('');
  const parts: string[] = [];
  parts.push(`<h1>${escape(title)}</h1>`);
  if (simulation.scenario.description !== undefined) parts.push(`<p class="muted">${escape(simulation.scenario.description)}</p>`);
  parts.push(
    `<p class="${ok ? 'ok' : 'bad'}"><strong>${ok ? 'No violation' : 'Violations found'}</strong> in ${runs.length} run${runs.length === 1 ? '' : 's'} (seeds ${runs[0]?.seed ?? '-'} to ${runs.at(-1)?.seed ?? '-'}). ${formatDuration(throughput.virtualMs)} of virtual time in ${formatDuration(throughput.realMs)}: ${Math.round(throughput.virtualSecondsPerSecond).toLocaleString('en-US')} virtual seconds per second, ${Math.round(throughput.networksPerMinute).toLocaleString('en-US')} networks per minute.</p>`,
  );
  parts.push(`<h2>Invariants</h2><table><tr><th></th><th>rule</th><th>invariant</th><th></th></tr>${invariants}</table>`);
  if ((options.notes?.length ?? 0) > 0) {
    parts.push(`<h2>Faults not reproduced as such</h2><ul>${(options.notes ?? []).map((note) => `<li>${escape(note)}</li>`).join('')}</ul>`);
  }
  if (failure !== undefined) {
    const violations = failure.verdict.violations
      .map((v) => `<tr><td><code>${v.rule}</code></td><td>${escape(v.invariant)}</td><td>${formatDuration(v.t)}</td><td>${escape(v.message)}</td></tr>`)
      .join('');
    parts.push(`<h2>Failing run: seed ${failure.seed}</h2><table><tr><th>rule</th><th>invariant</th><th>at</th><th>what</th></tr>${violations}</table>`);
    parts.push(
      `<p>Minimal fault schedule: <strong>${failure.shrunk.length}</strong> of ${failure.faults.length} faults (found in ${failure.shrinkRuns} shrinking runs).</p><pre>${escape(failure.shrunk.length === 0 ? '(no fault needed)' : failure.shrunk.map(describeFault).join('\n'))}</pre>`,
    );
    if (options.replay !== undefined) parts.push(`<p>Replay it exactly:</p><pre>${escape(options.replay)}</pre>`);
  }
  if (detailed !== undefined) {
    const which = failure === undefined ? `seed ${detailed.plan.seed}` : `seed ${detailed.plan.seed} with the minimal schedule`;
    parts.push(`<h2>Timeline (${escape(which)})</h2>`);
    parts.push(
      `<p class="legend"><span><i style="background:#c9d3e6"></i>up</span><span><i style="background:#e5484d55"></i>partition</span><span><i style="background:#f76b1555"></i>link fault</span><span><i style="background:#8e4ec655"></i>stopped reading</span><span><i style="background:#0090ff55"></i>frozen</span><span><i style="background:#97836555"></i>clock skew</span><span><i style="background:#30a46c"></i>task completed</span><span><i style="background:#e5484d"></i>failed / message lost</span><span><i style="background:#0090ff"></i>operation running</span><span><i style="background:#c0262d;border-radius:6px"></i>violation</span></p>`,
    );
    parts.push(`<div style="overflow-x:auto">${timeline(detailed.plan, detailed.history, detailed.verdict.violations)}</div>`);
    parts.push(`<h2>State history of every statechart</h2>${stateHistory(detailed.plan, detailed.history)}`);
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title><style>${STYLE}</style></head><body>${parts.join('\n')}</body></html>\n`;
}
