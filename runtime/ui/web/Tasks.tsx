/** The tasks this process knows (client and provider side), and one task's full history. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { HistoryEntry, TaskRow } from '../rows.js';
import { clock, duration, href, nowMs } from './format.js';
import { api, store, useStore, watchTask } from './store.js';
import { TaskPanel } from './TaskPanel.js';
import { sortRows, VirtualRows, type Column, type Sort } from './VirtualRows.js';

const STATUSES = ['all', 'running', 'Completed', 'Failed', 'Cancelled'] as const;

export function Tasks() {
  const tasks = useStore(() => store.tasks);
  const version = useStore(() => store.version);
  const [filter, setFilter] = useState('');
  const [status, setStatus] = useState<(typeof STATUSES)[number]>('all');
  const [sort, setSort] = useState<Sort>({ key: 'createdAtMs', descending: true });
  const rows = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const all = [...tasks.values()];
    const matching =
      needle === '' && status === 'all'
        ? all
        : all.filter((row) => {
            if (status === 'running' ? row.endedAtMs !== undefined : status !== 'all' && row.status !== status) return false;
            return needle === '' || `${row.taskId} ${row.clientId} ${row.serviceName}.${row.operation} ${row.state} ${row.errorCode ?? ''}`.toLowerCase().includes(needle);
          });
    // Tasks are kept in the order they were created: that order needs no sorting.
    if (sort.key === 'createdAtMs') return sort.descending ? matching.reverse() : matching;
    return sortRows(matching, sort, (row, key) => (key === 'duration' ? (row.endedAtMs ?? nowMs()) - row.createdAtMs : (row as unknown as Record<string, string | number>)[key]));
  }, [tasks, version, filter, status, sort]);
  const columns: Column<TaskRow>[] = [
    { key: 'taskId', title: 'Task', sortable: true, width: 'minmax(9rem, 1fr)', render: (row) => <a href={href(`/tasks/${encodeURIComponent(row.key)}`)}><code class="id">{row.taskId}</code></a> },
    { key: 'side', title: 'Side', sortable: true, width: '5.5rem', render: (row) => row.side },
    { key: 'serviceName', title: 'Operation', sortable: true, width: 'minmax(10rem, 1.2fr)', render: (row) => `${row.serviceName || '?'}.${row.operation || '?'}` },
    { key: 'status', title: 'Status', sortable: true, width: '7.5rem', render: (row) => <span class={`badge task-${row.status.toLowerCase()}`}>{row.status}</span> },
    { key: 'progressPercentage', title: 'Progress', sortable: true, width: '7rem', render: (row) => <progress max={100} value={row.progressPercentage} aria-label={`${Math.round(row.progressPercentage)} percent`} /> },
    { key: 'state', title: 'State', sortable: true, width: 'minmax(10rem, 1.2fr)', render: (row) => <code>{row.state}</code> },
    { key: 'createdAtMs', title: 'Started', sortable: true, width: '7.5rem', render: (row) => clock(row.createdAtMs) },
    { key: 'duration', title: 'Took', sortable: true, width: '6rem', render: (row) => duration((row.endedAtMs ?? nowMs()) - row.createdAtMs) },
    { key: 'errorCode', title: 'Outcome', sortable: true, width: 'minmax(7rem, 1fr)', render: (row) => row.errorCode ?? (row.endedAtMs === undefined ? '' : row.status) },
  ];
  return (
    <section aria-labelledby="tasks-title">
      <div class="toolbar">
        <h1 id="tasks-title" tabIndex={-1}>Tasks</h1>
        <p class="muted" aria-live="polite">
          {rows.length} of {tasks.size}
        </p>
        <label class="field inline">
          <span>Filter</span>
          <input type="search" value={filter} onInput={(event) => setFilter(event.currentTarget.value)} placeholder="task id, operation, error code…" />
        </label>
        <label class="field inline">
          <span>Status</span>
          <select value={status} onChange={(event) => setStatus(event.currentTarget.value as (typeof STATUSES)[number])}>
            {STATUSES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
      </div>
      <VirtualRows label="Tasks" rows={rows} columns={columns} rowKey={(row) => row.key} sort={sort} onSort={setSort} empty="No task yet. Assign one from the Assign view." />
    </section>
  );
}

const KIND_TITLES: Record<HistoryEntry['kind'], string> = {
  state: 'state',
  sent: 'sent',
  received: 'received',
  event: 'event',
  progress: 'progress',
  settled: 'outcome',
};

export function TaskDetail({ taskKey }: { taskKey: string }) {
  const correlationId = taskKey.slice(taskKey.indexOf(':') + 1);
  const history = useStore(() => store.history.get(correlationId) ?? []);
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    let live = true;
    void api<{ history: HistoryEntry[] }>(`/api/tasks/${encodeURIComponent(taskKey)}`).then(
      (detail) => {
        if (!live) return;
        watchTask(correlationId, detail.history);
        setLoaded(true);
      },
      () => setLoaded(true),
    );
    return () => {
      live = false;
      watchTask(null);
    };
  }, [taskKey]);
  const start = history[0]?.atMs;
  return (
    <section aria-labelledby="task-title">
      <p>
        <a href="#/tasks">← All tasks</a>
      </p>
      <h1 id="task-title" tabIndex={-1}>Task history</h1>
      <TaskPanel taskKey={taskKey} />
      <h2>Every message and state change</h2>
      {!loaded ? <p class="muted">Loading…</p> : null}
      <ol class="history" aria-label="Task history, oldest first">
        {history.map((entry, index) => (
          <li key={index} class={`history-${entry.kind} side-${entry.side}`}>
            <span class="at" title={clock(entry.atMs)}>
              +{duration(entry.atMs - (start ?? entry.atMs))}
            </span>
            <span class="side">{entry.side}</span>
            <span class="kind">{KIND_TITLES[entry.kind]}</span>
            <span class="title">{entry.title}</span>
            {entry.detail !== undefined ? (
              <details>
                <summary>details</summary>
                <pre>{JSON.stringify(entry.detail, null, 2)}</pre>
              </details>
            ) : null}
          </li>
        ))}
      </ol>
    </section>
  );
}
