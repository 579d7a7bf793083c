/**
 * The page's copy of what the server knows, kept live over /api/live: a hello, then deltas.
 * Components read it through `useStore`, which re-renders them when the version changes.
 * It also measures itself (window.__switchboardUi): how long each update takes to reach the
 * screen, and how long after the client learned of a service its row appeared.
 */
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import type { ActorRow, HistoryEntry, LiveMessage, LiveRequest, Participants, ServiceRow, TaskRow, TransitionNote } from '../rows.js';

export interface UiStats {
  /** ms from a live message's arrival to the end of the render it caused. */
  readonly updates: number[];
  /** serviceId -> ms from the client learning it to its row being on screen. */
  readonly serviceLatencyMs: Record<string, number>;
  messages: number;
  connected: boolean;
}

declare global {
  interface Window {
    __switchboardUi: UiStats;
  }
}

const stats: UiStats = { updates: [], serviceLatencyMs: {}, messages: 0, connected: false };
window.__switchboardUi = stats;

export const store = {
  version: 0,
  participants: { clientId: undefined, providerId: undefined, providerEndpoint: undefined } as Participants,
  services: new Map<string, ServiceRow>(),
  tasks: new Map<string, TaskRow>(),
  actors: new Map<string, ActorRow>(),
  connected: false,
  /** History of the watched task, by correlation id. */
  history: new Map<string, HistoryEntry[]>(),
  transitionListeners: new Set<(note: TransitionNote) => void>(),
};

const listeners = new Set<() => void>();
let pendingSince: number | undefined;
let newServices: ServiceRow[] = [];
let socket: WebSocket | undefined;
let watching: { actor: string | null; task: string | null } = { actor: null, task: null };

let notifying = false;

/** Tells the views, once per frame however many messages arrived in it. */
function changed(): void {
  store.version++;
  if (notifying) return;
  notifying = true;
  requestAnimationFrame(() => {
    notifying = false;
    for (const listener of listeners) listener();
  });
}

function apply(message: LiveMessage): void {
  stats.messages++;
  pendingSince ??= performance.now();
  if (message.type === 'hello') {
    store.participants = message.participants;
    store.services = new Map(message.services.map((row) => [row.serviceId, row]));
    store.tasks = new Map(message.tasks.map((row) => [row.key, row]));
    store.actors = new Map(message.actors.map((row) => [row.sessionId, row]));
    newServices.push(...message.services);
  } else {
    for (const row of message.services) {
      if (!store.services.has(row.serviceId)) newServices.push(row);
      store.services.set(row.serviceId, row);
    }
    for (const row of message.tasks) store.tasks.set(row.key, row);
    for (const key of message.tasksRemoved) store.tasks.delete(key);
    for (const row of message.actors) store.actors.set(row.sessionId, row);
    for (const id of message.actorsRemoved) store.actors.delete(id);
    for (const { correlationId, entries } of message.history) {
      store.history.set(correlationId, [...(store.history.get(correlationId) ?? []), ...entries]);
    }
    for (const note of message.transitions) store.transitionListeners.forEach((listener) => listener(note));
  }
  changed();
}

/** Called by the app after each commit: closes the measurement the last message opened. */
export function useRenderMeasurement(): void {
  useLayoutEffect(() => {
    if (pendingSince === undefined) return;
    stats.updates.push(performance.now() - pendingSince);
    if (stats.updates.length > 10_000) stats.updates.splice(0, 5_000);
    pendingSince = undefined;
    const now = performance.timeOrigin + performance.now();
    for (const row of newServices) {
      if (stats.serviceLatencyMs[row.serviceId] === undefined && row.endedAtMs === undefined) stats.serviceLatencyMs[row.serviceId] = now - row.learnedAtMs;
    }
    newServices = [];
  });
}

function sendWatch(): void {
  if (socket?.readyState !== WebSocket.OPEN) return;
  const requests: LiveRequest[] = [
    { type: 'watchActor', sessionId: watching.actor },
    { type: 'watchTask', correlationId: watching.task },
  ];
  for (const request of requests) socket.send(JSON.stringify(request));
}

export function watchActor(sessionId: string | null): void {
  watching = { ...watching, actor: sessionId };
  sendWatch();
}

export function watchTask(correlationId: string | null, history: readonly HistoryEntry[] = []): void {
  watching = { ...watching, task: correlationId };
  if (correlationId !== null) store.history.set(correlationId, [...history]);
  sendWatch();
}

export function connect(): void {
  let retryMs = 250;
  const open = () => {
    const next = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/live`);
    socket = next;
    next.onopen = () => {
      retryMs = 250;
      store.connected = stats.connected = true;
      sendWatch();
      changed();
    };
    next.onmessage = (message) => apply(JSON.parse(String(message.data)) as LiveMessage);
    next.onclose = () => {
      store.connected = stats.connected = false;
      changed();
      setTimeout(open, retryMs);
      retryMs = Math.min(retryMs * 2, 5_000);
    };
  };
  open();
}

export function useStore<T>(select: () => T): T {
  const [, setVersion] = useState(store.version);
  useEffect(() => {
    const listener = () => setVersion(store.version);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return select();
}

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await response.json()) as T & { error?: { code: string; message: string } };
  if (!response.ok) throw new ApiError(json.error?.code ?? 'INTERNAL_ERROR', json.error?.message ?? response.statusText);
  return json;
}
