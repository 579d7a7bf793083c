/**
 * A local relay between Node processes and the Stately inspector, bound to loopback.
 *
 * In a browser, `@statelyai/inspect` posts events to the inspector's window; in Node there is no
 * window (hence "Window does not exist"), so events travel over a WebSocket instead: each
 * process's `createWebSocketInspector` connects here, and a page served here embeds the Stately
 * inspector in an iframe and forwards every event to it with postMessage (the handshake the
 * inspector expects: it announces `@statelyai.connected`, then takes events).
 *
 * The package ships such a relay (`@statelyai/inspect/server`), but it listens on every
 * interface, opens a browser, crashes the process when its port is taken, and replays only the
 * last 200 events, so a page opened later misses the long-lived actors. This one listens on
 * 127.0.0.1, keeps every live actor's creation event (bounded) plus the latest events for late
 * pages, and reports a taken port as an error the caller handles.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

export interface StatelyRelayOptions {
  /** @default 8080 (the port `createWebSocketInspector` uses by default) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** The inspector page embedded by the bridge page. @default 'https://stately.ai/inspect' */
  readonly inspectorUrl?: string;
  /** Recent events replayed to a page that connects late. @default 2_000 */
  readonly replayMax?: number;
  /** Actor-creation events kept for late pages. @default 10_000 */
  readonly actorsMax?: number;
}

export interface StatelyRelay {
  /** The bridge page to open in a browser. */
  readonly pageUrl: string;
  /** Where inspectors connect (`createWebSocketInspector({ url })`). */
  readonly socketUrl: string;
  close(): Promise<void>;
}

export const DEFAULT_INSPECTOR_URL = 'https://stately.ai/inspect';

function bridgePage(inspectorUrl: string): string {
  const src = JSON.stringify(inspectorUrl);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>switchboard: Stately inspector</title>
<style>html,body,iframe{margin:0;border:0;width:100%;height:100%}</style></head>
<body><iframe id="inspector" title="Stately inspector"></iframe>
<script>
  const frame = document.getElementById('inspector');
  frame.src = ${src};
  const pending = [];
  let ready = false;
  addEventListener('message', (message) => {
    if (message.data && message.data.type === '@statelyai.connected') {
      ready = true;
      for (const event of pending.splice(0)) frame.contentWindow.postMessage(event, '*');
    }
  });
  const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/relay');
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (ready) frame.contentWindow.postMessage(event, '*');
    else pending.push(event);
  };
</script></body></html>`;
}

/** Starts the relay; rejects (EADDRINUSE, EACCES, ...) when it cannot listen. */
export function startStatelyRelay(options: StatelyRelayOptions = {}): Promise<StatelyRelay> {
  const host = options.host ?? '127.0.0.1';
  const replayMax = options.replayMax ?? 2_000;
  const actorsMax = options.actorsMax ?? 10_000;
  const page = bridgePage(options.inspectorUrl ?? DEFAULT_INSPECTOR_URL);
  const actors = new Map<string, string>(); // sessionId -> its @xstate.actor event
  const recent: string[] = [];
  const server = http.createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '/').split('?')[0] !== '/') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page);
  });
  const sockets = new WebSocketServer({ server, maxPayload: 4 * 1024 * 1024 });
  // ws re-emits the HTTP server's errors (a taken port); the listen promise below reports them.
  sockets.on('error', () => undefined);
  const remember = (text: string) => {
    let parsed: { type?: unknown; sessionId?: unknown; snapshot?: { status?: unknown } } | undefined;
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      return false;
    }
    if (parsed?.type === '@xstate.actor' && typeof parsed.sessionId === 'string') {
      if (actors.size >= actorsMax) actors.delete(actors.keys().next().value as string);
      actors.set(parsed.sessionId, text);
      return true;
    }
    if (parsed?.type === '@xstate.snapshot' && typeof parsed.sessionId === 'string' && parsed.snapshot?.status !== 'active') {
      actors.delete(parsed.sessionId);
    }
    recent.push(text);
    if (recent.length > replayMax) recent.shift();
    return true;
  };
  // Pages (the bridge page, any other viewer) connect to /relay and only listen; inspectors
  // connect to / and only send.
  const pages = new Set<WebSocket>();
  sockets.on('connection', (socket, request) => {
    socket.on('error', () => socket.terminate());
    if ((request.url ?? '').startsWith('/relay')) {
      pages.add(socket);
      socket.on('close', () => pages.delete(socket));
      for (const text of actors.values()) socket.send(text);
      for (const text of recent) socket.send(text);
      return;
    }
    socket.on('message', (data) => {
      const text = data.toString();
      if (!remember(text)) return;
      for (const page of pages) if (page.readyState === WebSocket.OPEN) page.send(text);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      const { port } = server.address() as AddressInfo;
      const origin = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      resolve({
        pageUrl: `http://${origin}/`,
        socketUrl: `ws://${origin}`,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets.clients) socket.terminate();
            sockets.close();
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
