/**
 * Live statecharts: pick any actor (provider, session, connection, repository entry, task...);
 * its machine is drawn from its definition with the layout computed at build time (elkjs), the
 * states it is in are highlighted, and each transition's edge lights up as events arrive.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ActorRow, TransitionNote } from '../rows.js';
import { clock, href } from './format.js';
import { api, store, useStore, watchActor } from './store.js';

interface ChartEdge {
  readonly id: string;
  readonly source: string;
  readonly targets: readonly string[];
  readonly label: string;
  readonly eventType: string;
  readonly guard?: string;
}
interface ChartNode {
  readonly id: string;
  readonly key: string;
  readonly type: string;
  readonly children: readonly ChartNode[];
}
interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}
interface ChartEntry {
  readonly kind: string;
  readonly chart: { readonly machineId: string; readonly root: ChartNode; readonly edges: readonly ChartEdge[] };
  readonly layout: { readonly width: number; readonly height: number; readonly nodes: Record<string, Box>; readonly edges: Record<string, { points: [number, number][]; label?: Box }> };
}

let chartsRequest: Promise<ChartEntry[]> | undefined;
const loadCharts = () => (chartsRequest ??= api<{ charts: ChartEntry[] }>('/api/charts').then((answer) => answer.charts));

/** State ids a state value is in, ancestors and the root included. */
export function activeIds(machineId: string, value: unknown): Set<string> {
  const ids = new Set<string>([machineId]);
  const walk = (item: unknown, prefix: string) => {
    if (typeof item === 'string') ids.add(`${prefix}.${item}`);
    else if (item && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        ids.add(`${prefix}.${key}`);
        walk(child, `${prefix}.${key}`);
      }
    }
  };
  walk(value, machineId);
  return ids;
}

const TASK_KINDS = new Set(['clientTask', 'providerTask']);
const PICKER_TASKS_MAX = 200;

export function Charts({ query }: { query: URLSearchParams }) {
  const actors = useStore(() => store.actors);
  const version = useStore(() => store.version);
  const [charts, setCharts] = useState<ChartEntry[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const selected = query.get('actor') ?? '';
  useEffect(() => {
    loadCharts().then(setCharts, (failure: Error) => setError(failure.message));
  }, []);
  const grouped = useMemo(() => {
    const groups = new Map<string, ActorRow[]>();
    for (const row of actors.values()) groups.set(row.kind, [...(groups.get(row.kind) ?? []), row]);
    for (const [kind, rows] of groups) if (TASK_KINDS.has(kind)) groups.set(kind, rows.slice(-PICKER_TASKS_MAX));
    return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [actors, version]);
  const actor = actors.get(selected);
  useEffect(() => {
    if (selected === '' && grouped.length > 0) {
      const first = grouped.find(([kind]) => kind === 'client' || kind === 'provider')?.[1][0] ?? grouped[0]?.[1][0];
      if (first) location.replace(href('/charts', { actor: first.sessionId }));
    }
  }, [selected, grouped.length]);
  useEffect(() => {
    watchActor(selected || null);
    return () => watchActor(null);
  }, [selected]);
  const entry = charts?.find((candidate) => candidate.kind === actor?.kind);
  return (
    <section aria-labelledby="charts-title" class="charts">
      <div class="toolbar">
        <h1 id="charts-title" tabIndex={-1}>Live statecharts</h1>
        <label class="field inline">
          <span>Actor</span>
          <select value={selected} onChange={(event) => (location.hash = href('/charts', { actor: event.currentTarget.value }))}>
            {selected !== '' && !actor ? <option value={selected}>{selected} (ended)</option> : null}
            {grouped.map(([kind, rows]) => (
              <optgroup key={kind} label={kind}>
                {rows.map((row) => (
                  <option key={row.sessionId} value={row.sessionId}>
                    {kind} {row.label || row.id}
                    {row.status === 'active' ? '' : ` (${row.status})`}
                  </option>
                ))}
              </optgroup>
            ))}
          </select>
        </label>
      </div>
      {error ? <p role="alert" class="error">{error}</p> : null}
      {actor && entry ? <LiveChart key={actor.sessionId} actor={actor} entry={entry} /> : <p class="muted">{actor ? 'Loading the chart…' : 'Pick an actor.'}</p>}
    </section>
  );
}

function LiveChart({ actor, entry }: { actor: ActorRow; entry: ChartEntry }) {
  const machineId = entry.chart.machineId;
  const [value, setValue] = useState<unknown>(actor.value);
  const [log, setLog] = useState<TransitionNote[]>([]);
  const [taken, setTaken] = useState<Set<string>>(new Set());
  const [fit, setFit] = useState(true);
  const previous = useRef(activeIds(machineId, actor.value));
  useEffect(() => {
    const listener = (note: TransitionNote) => {
      if (note.sessionId !== actor.sessionId) return;
      const before = previous.current;
      const after = activeIds(machineId, note.value);
      const lit = new Set<string>();
      for (const edge of entry.chart.edges) {
        if (edge.eventType !== note.event || !before.has(edge.source)) continue;
        for (const target of edge.targets) if (after.has(target)) lit.add(`${edge.id}->${target}`);
      }
      previous.current = after;
      setValue(note.value);
      setLog((items) => [note, ...items].slice(0, 30));
      if (lit.size > 0) {
        setTaken(lit);
        setTimeout(() => setTaken((current) => (current === lit ? new Set() : current)), 1_200);
      }
    };
    store.transitionListeners.add(listener);
    return () => void store.transitionListeners.delete(listener);
  }, [actor.sessionId]);
  const active = activeIds(machineId, value);
  const { layout } = entry;
  const leaves = [...active].filter((id) => ![...active].some((other) => other.startsWith(`${id}.`)));
  return (
    <div class="chart-wrap">
      <div class="chart-facts">
        <p>
          <strong>{actor.kind}</strong> {actor.label || actor.id} · <span class={`badge actor-${actor.status}`}>{actor.status}</span>
        </p>
        <p aria-live="polite" data-testid="current-state">
          In: {leaves.map((id) => id.slice(machineId.length + 1) || machineId).join(', ')}
        </p>
        <button type="button" onClick={() => setFit(!fit)} aria-pressed={!fit}>
          {fit ? 'Actual size' : 'Fit to width'}
        </button>
        {actor.parent && store.actors.has(actor.parent) ? (
          <p>
            <a href={href('/charts', { actor: actor.parent })}>Parent: {store.actors.get(actor.parent)?.kind}</a>
          </p>
        ) : null}
      </div>
      <div class="chart-scroll" tabIndex={0} aria-label={`Statechart of ${actor.kind}; scroll with the arrow keys`}>
        <svg
          role="img"
          aria-label={`Statechart of ${machineId}, current state ${leaves.join(', ')}`}
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          width={fit ? '100%' : layout.width}
          height={fit ? '100%' : layout.height}
          preserveAspectRatio="xMidYMin meet"
          class={fit ? 'chart fit' : 'chart'}
        >
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
            </marker>
          </defs>
          {Object.entries(layout.nodes)
            .sort(([a], [b]) => a.split('.').length - b.split('.').length)
            .map(([id, box]) => (
              <g key={id} class={`state ${active.has(id) ? 'active' : ''} ${id === machineId ? 'root' : ''}`} data-state={id}>
                <rect x={box.x} y={box.y} width={box.width} height={box.height} rx={8} />
                <text x={box.x + 8} y={box.y + 20}>
                  {id === machineId ? id : id.split('.').at(-1)}
                </text>
              </g>
            ))}
          {Object.entries(layout.edges).map(([id, edge]) => (
            <g key={id} class={`edge ${taken.has(id) ? 'taken' : ''}`}>
              <polyline points={edge.points.map((point) => point.join(',')).join(' ')} marker-end="url(#arrow)" />
              {edge.label ? (
                <text x={edge.label.x} y={edge.label.y + 11}>
                  {entry.chart.edges.find((candidate) => id.startsWith(`${candidate.id}->`))?.label}
                </text>
              ) : null}
            </g>
          ))}
        </svg>
      </div>
      <h2>Transitions</h2>
      <ol class="transitions" aria-live="polite" aria-label="Latest transitions, newest first" data-testid="transitions">
        {log.map((note, index) => (
          <li key={`${note.atMs}-${index}`}>
            <span class="at">{clock(note.atMs)}</span> <code>{note.event}</code> → <code>{[...activeIds(machineId, note.value)].filter((id, _i, all) => !all.some((other) => other.startsWith(`${id}.`))).map((id) => id.slice(machineId.length + 1)).join(', ')}</code>
          </li>
        ))}
      </ol>
    </div>
  );
}
