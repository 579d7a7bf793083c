/**
 * `inspect: 'stately'`: every actor of a client or provider shown in the Stately inspector, from
 * Node. `@statelyai/inspect`'s `createInspector` turns XState's inspection events into the
 * inspector's protocol; the adapter here carries them over a WebSocket to a local relay
 * (./statelyRelay.ts), started by the first process that wants it. A process that finds the port
 * taken joins the relay already there, so a provider and a client started apart with the same
 * port share one inspector page.
 *
 * Unlike the package's own WebSocket adapter, this one never keeps the process alive (its
 * reconnect timer is unref'd), stops for good when asked (the package's reconnects after a close
 * while connecting), and holds at most `bufferMax` events while no relay is reachable.
 *
 * @statelyai/inspect is an optional peer dependency (adapters/optionalPeer.ts): asking for the
 * bridge without it installed throws a MissingPeerError at once, saying what to install. It is
 * loaded (asynchronously, it is an ES module) when the bridge starts; events that come meanwhile
 * are held, as many as `bufferMax`.
 */
import type { InspectionEvent, Observer } from 'xstate';
import { WebSocket } from 'ws';
import { assertPeerInstalled, importPeer } from '../../adapters/optionalPeer.js';
import type { Logger } from '../service.js';
import { startStatelyRelay, type StatelyRelay, type StatelyRelayOptions } from './statelyRelay.js';

export interface StatelyInspectOptions extends StatelyRelayOptions {
  /** Events held while the relay is not reachable. @default 10_000 */
  readonly bufferMax?: number;
  /** Called once with the page to open. @default logged at info level, or one line on stderr without a logger */
  readonly onReady?: (pageUrl: string) => void;
}

export interface StatelyInspection {
  readonly observer: Observer<InspectionEvent>;
  /** Resolves with the bridge page's URL once the relay is known (started here or joined). */
  readonly ready: Promise<{ pageUrl: string }>;
  close(): Promise<void>;
}

/** JSON with cycles cut, depth bounded, actors as their ids and functions as their names. */
export function safeJson(value: unknown, depthMax = 12): string {
  const seen = new WeakSet<object>();
  const visit = (item: unknown, depth: number): unknown => {
    if (typeof item === 'function') return { type: item.name || 'function' };
    if (typeof item === 'bigint') return String(item);
    if (item === null || typeof item !== 'object') return item;
    if (depth >= depthMax) return '[depth]';
    if (seen.has(item)) return '[circular]';
    if (typeof (item as { sessionId?: unknown }).sessionId === 'string' && typeof (item as { send?: unknown }).send === 'function') {
      return { id: (item as { id?: unknown }).id, sessionId: (item as { sessionId: string }).sessionId };
    }
    seen.add(item);
    try {
      if (item instanceof Map) return Object.fromEntries([...item].map(([key, entry]) => [String(key), visit(entry, depth + 1)]));
      if (item instanceof Set) return [...item].map((entry) => visit(entry, depth + 1));
      if (Array.isArray(item)) return item.map((entry) => visit(entry, depth + 1));
      const copy: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(item)) copy[key] = visit(entry, depth + 1);
      return copy;
    } finally {
      seen.delete(item);
    }
  };
  return JSON.stringify(visit(value, 0)) ?? 'null';
}

const RECONNECT_MS = 2_000;

/** The adapter `createInspector` sends converted events to: a WebSocket to the relay. */
function relayAdapter(socketUrl: Promise<string>, bufferMax: number) {
  let socket: WebSocket | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const pending: string[] = [];
  const connect = (url: string) => {
    if (stopped) return;
    const next = new WebSocket(url);
    socket = next;
    next.on('open', () => {
      for (const text of pending.splice(0)) next.send(text);
    });
    next.on('error', () => undefined);
    next.on('close', () => {
      if (stopped || socket !== next) return;
      timer = setTimeout(() => connect(url), RECONNECT_MS);
      timer.unref();
    });
  };
  return {
    start() {
      void socketUrl.then(connect, () => undefined);
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      socket?.terminate();
    },
    send(event: unknown) {
      const text = safeJson(event);
      if (socket?.readyState === WebSocket.OPEN) socket.send(text);
      else if (!stopped) {
        pending.push(text);
        if (pending.length > bufferMax) pending.shift();
      }
    },
  };
}

/** One relay per port per process, shared by every client and provider that asks for it. */
const relays = new Map<string, { relay: Promise<StatelyRelay | undefined>; users: number }>();

async function acquireRelay(options: StatelyRelayOptions): Promise<{ pageUrl: string; socketUrl: string; release(): Promise<void> }> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  const key = `${host}:${port}`;
  let shared = relays.get(key);
  if (shared === undefined || port === 0) {
    const relay = startStatelyRelay(options).catch((error: NodeJS.ErrnoException) => {
      // Another process's relay (or anything else) holds the port: join it.
      if (error.code === 'EADDRINUSE') return undefined;
      throw error;
    });
    shared = { relay, users: 0 };
    if (port !== 0) relays.set(key, shared);
  }
  shared.users++;
  const entry = shared;
  const relay = await entry.relay;
  const origin = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    pageUrl: relay?.pageUrl ?? `http://${origin}/`,
    socketUrl: relay?.socketUrl ?? `ws://${origin}`,
    release: async () => {
      if (--entry.users > 0) return;
      if (relays.get(key) === entry) relays.delete(key);
      await relay?.close();
    },
  };
}

const STATELY_INSPECT = '@statelyai/inspect';
const FEATURE = 'the Stately inspector bridge';
let statelyPackage: Promise<typeof import('@statelyai/inspect')> | undefined;

/** Throws MissingPeerError when @statelyai/inspect is not installed. */
export function statelyInspection(options: StatelyInspectOptions = {}, logger?: Logger): StatelyInspection {
  assertPeerInstalled(STATELY_INSPECT, FEATURE);
  const log: Logger = logger ?? (() => {});
  const bufferMax = options.bufferMax ?? 10_000;
  const acquired = acquireRelay(options);
  const socketUrl = acquired.then((relay) => relay.socketUrl);
  const adapter = relayAdapter(socketUrl, bufferMax);
  let inspector: { inspect: Observer<InspectionEvent>; start(): void } | undefined;
  /** Events observed before the package loaded. */
  const early: InspectionEvent[] = [];
  statelyPackage ??= importPeer(STATELY_INSPECT, FEATURE, () => import('@statelyai/inspect'));
  statelyPackage.then(
    ({ createInspector }) => {
      inspector = createInspector(adapter, { autoStart: true } as never);
      inspector.start();
      for (const event of early.splice(0)) inspector.inspect.next?.(event);
    },
    (error: unknown) => {
      early.length = 0;
      log('error', 'the Stately inspector bridge could not load', error);
    },
  );
  const ready = acquired.then(({ pageUrl }) => {
    if (options.onReady) options.onReady(pageUrl);
    else if (logger) logger('info', `Stately inspector: open ${pageUrl}`, { pageUrl });
    else process.stderr.write(`Stately inspector: open ${pageUrl}\n`);
    return { pageUrl };
  });
  ready.catch((error: unknown) => log('error', 'the Stately inspector relay could not start', error));
  let closed: Promise<void> | undefined;
  return {
    observer: {
      next: (event) => {
        if (inspector !== undefined) inspector.inspect.next?.(event);
        else if (early.push(event) > bufferMax) early.shift();
      },
    },
    ready,
    close: () =>
      (closed ??= (async () => {
        // Let the inspector's deferred conversions (one timer turn) reach the socket first.
        await new Promise((resolve) => setTimeout(resolve, 20));
        adapter.stop();
        await acquired.then((relay) => relay.release(), () => undefined);
      })()),
  };
}
