/** The page: a skip link, the navigation, and the view the hash names. */
import { useEffect, useState } from 'preact/hooks';
import { Assign } from './Assign.js';
import { Charts } from './Charts.js';
import { Services } from './Services.js';
import { store, useRenderMeasurement, useStore } from './store.js';
import { TaskDetail, Tasks } from './Tasks.js';

function useRoute(): { path: string; query: URLSearchParams } {
  const read = () => {
    const [path = '/services', search = ''] = (location.hash.slice(1) || '/services').split('?');
    return { path, query: new URLSearchParams(search) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const update = () => setRoute(read());
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

const VIEWS = [
  { path: '/services', title: 'Services' },
  { path: '/assign', title: 'Assign' },
  { path: '/tasks', title: 'Tasks' },
  { path: '/charts', title: 'Statecharts' },
] as const;

export function App() {
  const { path, query } = useRoute();
  const connected = useStore(() => store.connected);
  const participants = useStore(() => store.participants);
  useRenderMeasurement();
  const section = `/${path.split('/')[1] ?? ''}`;
  useEffect(() => {
    const title = VIEWS.find((view) => view.path === section)?.title ?? 'switchboard';
    document.title = `${title} · switchboard`;
    // Move focus to the new view so keyboard and screen-reader users land in it (its heading).
    requestAnimationFrame(() => (document.querySelector<HTMLElement>('main h1') ?? document.getElementById('main'))?.focus());
  }, [path]);
  const taskKey = path.startsWith('/tasks/') ? decodeURIComponent(path.slice('/tasks/'.length)) : undefined;
  return (
    <>
      <a class="skip" href="#main" onClick={(event) => (event.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header>
        <span class="brand">switchboard</span>
        <nav aria-label="Views">
          <ul>
            {VIEWS.map((view) => (
              <li key={view.path}>
                <a href={`#${view.path}`} aria-current={section === view.path ? 'page' : undefined}>
                  {view.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {participants.clientId ? <span title="client id">client {participants.clientId}</span> : null}
          {participants.providerId ? <span title="provider id">provider {participants.providerEndpoint ?? participants.providerId}</span> : null}
          <span class={`badge ${connected ? 'live' : 'offline'}`} role="status">
            {connected ? 'live' : 'reconnecting…'}
          </span>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {taskKey !== undefined ? (
          <TaskDetail taskKey={taskKey} />
        ) : section === '/assign' ? (
          <Assign query={query} />
        ) : section === '/tasks' ? (
          <Tasks />
        ) : section === '/charts' ? (
          <Charts query={query} />
        ) : (
          <Services />
        )}
      </main>
    </>
  );
}
