/** One task's live progress, ETA, outcome, result (images shown) and cancel button. */
import { useEffect, useState } from 'preact/hooks';
import type { TaskRow } from '../rows.js';
import { duration, href, nowMs } from './format.js';
import { imagesIn } from './schema.js';
import { api, store, useStore } from './store.js';

interface Detail {
  readonly result: { kept: boolean; resultData?: unknown };
  readonly cancellable: boolean;
}

export function TaskPanel({ taskKey }: { taskKey: string }) {
  const row = useStore(() => store.tasks.get(taskKey));
  const [detail, setDetail] = useState<Detail | undefined>();
  const [cancelError, setCancelError] = useState<string | undefined>();
  const ended = row?.endedAtMs !== undefined;
  useEffect(() => {
    let live = true;
    void api<Detail>(`/api/tasks/${encodeURIComponent(taskKey)}`).then(
      (next) => live && setDetail(next),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [taskKey, ended]);
  if (!row) return <p class="muted">Waiting for the task to appear…</p>;
  const cancel = () => {
    setCancelError(undefined);
    api(`/api/tasks/${encodeURIComponent(taskKey)}/cancel`, {}).catch((error: Error) => setCancelError(error.message));
  };
  const elapsed = (row.endedAtMs ?? nowMs()) - row.createdAtMs;
  return (
    <div class="task-panel" aria-label={`Task ${row.taskId}`}>
      <div class="task-head">
        <span class={`badge task-${row.status.toLowerCase()}`} data-testid="task-status">
          {row.status}
        </span>
        <strong>
          {row.serviceName}.{row.operation}
        </strong>
        <code class="id">{row.taskId}</code>
      </div>
      <div class="progress-line">
        <progress
          max={100}
          value={row.progressPercentage}
          aria-label={`Progress of task ${row.taskId}`}
          aria-valuetext={`${Math.round(row.progressPercentage)} percent${row.message ? `, ${row.message}` : ''}`}
        />
        <span aria-live="polite" data-testid="task-progress">
          {Math.round(row.progressPercentage)}%{row.message ? ` · ${row.message}` : ''}
        </span>
      </div>
      <p class="muted">
        {ended ? `took ${duration(elapsed)}` : `running for ${duration(elapsed)}`}
        {!ended && row.etaSeconds !== undefined ? ` · about ${duration(row.etaSeconds * 1000)} left` : ''}
        {row.endpoint ? ` · at ${row.endpoint}` : ''}
      </p>
      {!ended && detail?.cancellable ? (
        <button type="button" class="danger" onClick={cancel} disabled={row.status === 'Cancelling'}>
          {row.status === 'Cancelling' ? 'Cancelling…' : 'Cancel task'}
        </button>
      ) : null}
      {cancelError ? <p role="alert" class="error">{cancelError}</p> : null}
      {row.status === 'Failed' ? (
        <p role="alert" class="error">
          <strong>{row.errorCode}</strong>: {row.errorMessage}
        </p>
      ) : null}
      {row.status === 'Completed' && detail ? <ResultView result={detail.result} /> : null}
      <p>
        <a href={href(`/tasks/${encodeURIComponent(row.key)}`)}>Full history</a>
        {row.actor ? (
          <>
            {' · '}
            <a href={href('/charts', { actor: row.actor })}>Statechart</a>
          </>
        ) : null}
      </p>
    </div>
  );
}

export function ResultView({ result }: { result: Detail['result'] }) {
  if (!result.kept) return <p class="muted">The result is no longer kept in the UI (only the latest are).</p>;
  const images = imagesIn(result.resultData);
  return (
    <div class="result">
      <h3>Result</h3>
      {images.map((source, index) => (
        <img key={index} src={source} alt={`Result image ${index + 1}`} class="result-image" />
      ))}
      <pre tabIndex={0} aria-label="Result data as JSON">
        {JSON.stringify(result.resultData, (key, value: unknown) => (typeof value === 'string' && value.length > 200 && images.length > 0 ? `${value.slice(0, 60)}… (${value.length} chars)` : value), 2)}
      </pre>
    </div>
  );
}

export type { TaskRow };
