/** Every service instance the client's repository knows (and those it recently lost), live. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ServiceRow } from '../rows.js';
import { ago, href, nowMs } from './format.js';
import { store, useStore } from './store.js';
import { sortRows, VirtualRows, type Column, type Sort } from './VirtualRows.js';

function useTicker(ms: number): number {
  const [now, setNow] = useState(nowMs());
  useEffect(() => {
    const timer = setInterval(() => setNow(nowMs()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

const settingsText = (row: ServiceRow) =>
  row.capabilities.map((capability) => `${capability.key}(${capability.settings.map((setting) => `${setting.type} ${setting.name}`).join(', ')})`).join('; ');

export function Services() {
  const services = useStore(() => store.services);
  useStore(() => store.version);
  const [filter, setFilter] = useState('');
  const [showEnded, setShowEnded] = useState(true);
  const [sort, setSort] = useState<Sort>({ key: 'serviceName', descending: false });
  const now = useTicker(1000);
  const rows = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const matching = [...services.values()].filter(
      (row) =>
        (showEnded || row.endedAtMs === undefined) &&
        (needle === '' || `${row.serviceName} ${row.serviceId} ${row.endpoint} ${row.status} ${row.health} ${settingsText(row)}`.toLowerCase().includes(needle)),
    );
    return sortRows(matching, sort, (row, key) => (key === 'lastHeard' ? -(row.lastHeardMs ?? 0) : (row as unknown as Record<string, string | number>)[key]));
  }, [services, store.version, filter, sort, showEnded]);
  const columns: Column<ServiceRow>[] = [
    {
      key: 'serviceName',
      title: 'Service',
      sortable: true,
      width: 'minmax(10rem, 1.2fr)',
      render: (row) => (
        <a href={href('/assign', { service: row.serviceName, instance: row.serviceId })} title={`Assign a task to ${row.serviceName}`}>
          {row.serviceName} <span class="muted">{row.serviceVersion}</span>
        </a>
      ),
    },
    { key: 'status', title: 'Status', sortable: true, width: '7rem', render: (row) => <span class={`badge status-${row.status.toLowerCase()}`}>{row.status}</span> },
    { key: 'health', title: 'Health', sortable: true, width: '6.5rem', render: (row) => <span class={`badge health-${row.health}`}>{row.health}</span> },
    { key: 'load', title: 'Load', sortable: true, width: '7rem', render: (row) => <meter min={0} max={1} value={row.load} aria-label={`load ${row.load}`} title={String(row.load)} /> },
    {
      key: 'capabilities',
      title: 'Operations and settings',
      width: 'minmax(14rem, 2fr)',
      render: (row) => (
        <span class="caps">
          {row.capabilities.map((capability) => (
            <span class="cap" key={capability.key} title={capability.settings.map((setting) => `${setting.type} ${setting.name}`).join(', ')}>
              {capability.key}
              <span class="muted">({capability.settings.map((setting) => `${setting.type} ${setting.name}`).join(', ')})</span>
            </span>
          ))}
        </span>
      ),
    },
    { key: 'endpoint', title: 'Endpoint', sortable: true, width: 'minmax(10rem, 1fr)', render: (row) => <code>{row.endpoint}</code> },
    { key: 'lastHeard', title: 'Last heard', sortable: true, width: '7.5rem', render: (row) => ago(row.lastHeardMs, now) },
    { key: 'serviceId', title: 'Service id', sortable: true, width: 'minmax(8rem, 1fr)', render: (row) => <code class="id">{row.serviceId}</code> },
  ];
  const live = [...services.values()].filter((row) => row.endedAtMs === undefined).length;
  return (
    <section aria-labelledby="services-title">
      <div class="toolbar">
        <h1 id="services-title" tabIndex={-1}>Services</h1>
        <p class="muted" aria-live="polite">
          {live} instance{live === 1 ? '' : 's'} known
        </p>
        <label class="field inline">
          <span>Filter</span>
          <input type="search" value={filter} onInput={(event) => setFilter(event.currentTarget.value)} placeholder="name, endpoint, status, operation…" />
        </label>
        <label class="check">
          <input type="checkbox" checked={showEnded} onChange={(event) => setShowEnded(event.currentTarget.checked)} /> show expired and gone
        </label>
      </div>
      <VirtualRows
        label="Service instances"
        rows={rows}
        columns={columns}
        rowKey={(row) => row.serviceId}
        rowClass={(row) => (row.endedAtMs === undefined ? '' : 'ended')}
        sort={sort}
        onSort={setSort}
        empty={store.participants.clientId === undefined ? 'This process hosts no client, so it discovers nothing.' : 'No service heard yet. Providers answer discovery requests within a moment.'}
      />
    </section>
  );
}
