/**
 * The web UI's server: the page, its JSON API, a live WebSocket, and /metrics, served by the
 * client's or provider's own process (node:http and ws; no internet needed).
 *
 *   GET  /                      the app (built into dist/ui by `npm run build`)
 *   GET  /api/state             services, tasks and actors now
 *   GET  /api/charts            every participant's statechart with its layout
 *   GET  /api/tasks/<key>       one task: its row, full history, result data
 *   POST /api/assign            { serviceName, operation, params, timeoutMs? } -> { taskId, key }
 *   POST /api/tasks/<key>/cancel
 *   GET  /metrics               Prometheus text (501 without prom-client, an optional peer)
 *   WS   /api/live              hello, then batched deltas; { type: 'watchActor' | 'watchTask' }
 *
 * Loopback by default; bound elsewhere it requires a token (see ./guard.ts).
 */
import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../service.js';
import type { TaskHandle } from '../taskHandle.js';
import { MissingPeerError } from '../../adapters/optionalPeer.js';
import { metricsIfInstalled, type SwitchboardMetrics } from '../metrics/metrics.js';
import { bundleDirectory, missingBundleFiles } from './bundle.js';
import { check, isLoopback, newToken, TOKEN_COOKIE, type GuardOptions } from './guard.js';
import { UiModel, type ObservedClient, type ObservedProvider, type UiModelLimits } from './model.js';
import { correlationOfKey, type LiveMessage, type LiveRequest, type TaskRow } from './rows.js';

export interface UiOptions {
  /** @default 0 (any free port); the CLI's default is 4280 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Required on every request. @default none on loopback, a random one elsewhere */
  readonly token?: string;
  /** Batching of live updates, in ms. @default 20 */
  readonly flushMs?: number;
  readonly limits?: Partial<UiModelLimits>;
}

export interface UiClient extends ObservedClient {
  assign(serviceName: string, operation: string, params: Record<string, unknown>, options?: { timeoutMs?: number }): TaskHandle;
}

export interface UiSources {
  readonly client?: UiClient;
  readonly provider?: ObservedProvider;
  /** Served at /metrics. @default metrics of the client and provider given */
  readonly metrics?: SwitchboardMetrics;
  readonly log?: Logger;
}

export interface UiServer {
  /** The URL to open (with `?token=` when a token is required). */
  readonly url: string;
  readonly port: number;
  readonly token: string | undefined;
  readonly model: UiModel;
  close(): Promise<void>;
}

const BODY_BYTES_MAX = 256 * 1024;
const SOCKETS_MAX = 64;
const SOCKET_BUFFER_BYTES_MAX = 16 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const epochMs = () => performance.timeOrigin + performance.now();

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(text);
}

function readJson(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
      reject(new HttpError(415, 'INVALID_MESSAGE', 'send application/json'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_BYTES_MAX) {
        reject(new HttpError(413, 'INVALID_MESSAGE', `body larger than ${BODY_BYTES_MAX} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        reject(new HttpError(400, 'INVALID_MESSAGE', `malformed JSON: ${(error as Error).message}`));
      }
    });
    request.on('error', reject);
  });
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>switchboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body><div id="app"></div><noscript>The switchboard UI needs JavaScript.</noscript></body>
</html>`;

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function assignRequestOf(body: unknown): { serviceName: string; operation: string; params: Record<string, unknown>; timeoutMs?: number } {
  const value = body as { serviceName?: unknown; operation?: unknown; params?: unknown; timeoutMs?: unknown } | null;
  if (typeof value !== 'object' || value === null) throw new HttpError(400, 'INVALID_MESSAGE', 'expected a JSON object');
  if (typeof value.serviceName !== 'string' || value.serviceName.length === 0) throw new HttpError(400, 'INVALID_MESSAGE', 'serviceName must be a non-empty string');
  if (typeof value.operation !== 'string' || value.operation.length === 0) throw new HttpError(400, 'INVALID_MESSAGE', 'operation must be a non-empty string');
  if (typeof value.params !== 'object' || value.params === null || Array.isArray(value.params)) throw new HttpError(400, 'INVALID_PARAMETERS', 'params must be a JSON object');
  if (value.timeoutMs !== undefined && (!Number.isSafeInteger(value.timeoutMs) || (value.timeoutMs as number) < 1)) {
    throw new HttpError(400, 'INVALID_PARAMETERS', 'timeoutMs must be a positive integer');
  }
  return {
    serviceName: value.serviceName,
    operation: value.operation,
    params: value.params as Record<string, unknown>,
    ...(value.timeoutMs === undefined ? {} : { timeoutMs: value.timeoutMs as number }),
  };
}

/** Starts the UI server for a client and/or a provider. */
export async function startUiServer(sources: UiSources, options: UiOptions = {}): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? (isLoopback(host) ? undefined : newToken());
  const log = sources.log ?? (() => {});
  const model = new UiModel(options.limits);
  if (sources.client) model.observeClient(sources.client);
  if (sources.provider) model.observeProvider(sources.provider);
  let ownMetrics: (() => void)[] = [];
  // Without prom-client (an optional peer) the UI works and /metrics says what to install.
  const metrics = sources.metrics ?? metricsIfInstalled();
  if (sources.metrics === undefined && !(metrics instanceof MissingPeerError)) {
    if (sources.client) ownMetrics.push(metrics.observe(sources.client, 'client'));
    if (sources.provider) ownMetrics.push(metrics.observe(sources.provider, 'provider'));
  }
  const handles = new Map<string, TaskHandle>();
  const directory = bundleDirectory();
  let port = 0;
  const guard: GuardOptions = { host, port: () => port, token };

  const api = async (request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> => {
    if (request.method === 'GET' && pathname === '/api/state') {
      send(response, 200, { participants: model.participants, services: model.allServices(), tasks: model.allTasks(), actors: model.allActors() });
      return;
    }
    if (request.method === 'GET' && pathname === '/api/charts') {
      const missing = missingBundleFiles(directory);
      if (missing.length > 0) throw new HttpError(503, 'SERVICE_UNAVAILABLE', `the UI is not built (missing ${missing.join(', ')}): run npm run build`);
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(await readFile(path.join(directory, 'charts.json')));
      return;
    }
    const taskMatch = /^\/api\/tasks\/([^/]+)(\/cancel)?$/.exec(pathname);
    if (taskMatch) {
      const key = decodeURIComponent(taskMatch[1] as string);
      const row = model.task(key);
      if (taskMatch[2] === undefined && request.method === 'GET') {
        if (!row) throw new HttpError(404, 'TASK_NOT_FOUND', `no task ${key}`);
        send(response, 200, { task: row, history: model.historyOf(correlationOfKey(key)), result: model.resultOf(key), cancellable: handles.has(key) });
        return;
      }
      if (taskMatch[2] !== undefined && request.method === 'POST') {
        await readJson(request).catch(() => undefined);
        const handle = handles.get(key);
        if (!handle) throw new HttpError(404, 'TASK_NOT_FOUND', row ? 'only tasks assigned from this page can be cancelled here' : `no task ${key}`);
        void handle.cancel();
        send(response, 202, { key, cancelling: true });
        return;
      }
    }
    if (request.method === 'POST' && pathname === '/api/assign') {
      const client = sources.client;
      if (!client) throw new HttpError(503, 'SERVICE_UNAVAILABLE', 'this UI serves a provider only: there is no client to assign from');
      const body = assignRequestOf(await readJson(request));
      const handle = client.assign(body.serviceName, body.operation, body.params, body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs });
      const key = `client:${client.clientId}/${handle.taskId}`;
      model.noteAssigned(client.clientId, handle.taskId, body.serviceName, body.operation, body.params);
      handles.set(key, handle);
      handle.result.then(
        () => handles.delete(key),
        () => handles.delete(key),
      );
      send(response, 202, { taskId: handle.taskId, key });
      return;
    }
    throw new HttpError(404, 'INVALID_MESSAGE', `no such endpoint: ${request.method} ${pathname}`);
  };

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://ui.invalid');
    const changes = request.method !== 'GET' && request.method !== 'HEAD';
    const queryToken = url.searchParams.get('token') ?? undefined;
    const verdict = check(request, guard, changes, url.pathname === '/' ? queryToken : undefined);
    if (!verdict.ok) {
      send(response, verdict.status, { error: { code: verdict.code, message: verdict.message } });
      return;
    }
    void (async () => {
      try {
        if (request.method === 'GET' && url.pathname === '/') {
          const headers: Record<string, string> = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS };
          if (queryToken !== undefined && token !== undefined) {
            // Remember the token in a cookie, then drop it from the address bar.
            response.writeHead(303, { location: '/', 'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/` }).end();
            return;
          }
          response.writeHead(200, headers).end(PAGE);
          return;
        }
        const asset = /^\/assets\/(app\.js|app\.css)$/.exec(url.pathname)?.[1];
        if (request.method === 'GET' && asset !== undefined) {
          const missing = missingBundleFiles(directory);
          if (missing.length > 0) throw new HttpError(503, 'SERVICE_UNAVAILABLE', 'the UI is not built: run npm run build');
          const type = asset.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8';
          response.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', ...SECURITY_HEADERS }).end(await readFile(path.join(directory, asset)));
          return;
        }
        if (request.method === 'GET' && url.pathname === '/metrics') {
          if (metrics instanceof MissingPeerError) throw new HttpError(501, 'SERVICE_UNAVAILABLE', metrics.message);
          response.writeHead(200, { 'content-type': metrics.contentType }).end(await metrics.text());
          return;
        }
        if (url.pathname.startsWith('/api/')) {
          await api(request, response, url.pathname);
          return;
        }
        throw new HttpError(404, 'INVALID_MESSAGE', `not found: ${url.pathname}`);
      } catch (error) {
        if (error instanceof HttpError) send(response, error.status, { error: { code: error.code, message: error.message } });
        else {
          log('error', 'ui: request failed', error);
          send(response, 500, { error: { code: 'INTERNAL_ERROR', message: 'the request failed' } });
        }
      }
    })();
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  // ---- live updates ------------------------------------------------------------------------
  interface Viewer {
    readonly socket: WebSocket;
    actor: string | null;
    task: string | null;
  }
  const viewers = new Set<Viewer>();
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 });
  server.on('upgrade', (request, socket, head) => {
    const url = new URL(request.url ?? '/', 'http://ui.invalid');
    const verdict = url.pathname === '/api/live' ? check(request, guard, true) : ({ ok: false, status: 403, code: 'FORBIDDEN', message: 'no such socket' } as const);
    if (!verdict.ok || viewers.size >= SOCKETS_MAX) {
      socket.end(`HTTP/1.1 ${verdict.ok ? 503 : verdict.status} ${verdict.ok ? 'Busy' : verdict.code}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => {
      const viewer: Viewer = { socket: ws, actor: null, task: null };
      viewers.add(viewer);
      ws.on('close', () => viewers.delete(viewer));
      ws.on('error', () => ws.terminate());
      ws.on('message', (data) => {
        let message: LiveRequest;
        try {
          message = JSON.parse(data.toString()) as LiveRequest;
        } catch {
          return;
        }
        if (message?.type === 'watchActor') viewer.actor = typeof message.sessionId === 'string' ? message.sessionId : null;
        if (message?.type === 'watchTask') viewer.task = typeof message.correlationId === 'string' ? message.correlationId : null;
      });
      const hello: LiveMessage = { type: 'hello', participants: { ...model.participants }, services: model.allServices(), tasks: model.allTasks(), actors: model.allActors(), sentAtMs: epochMs() };
      ws.send(JSON.stringify(hello));
    });
  });

  const flushMs = options.flushMs ?? 20;
  let flushTimer: NodeJS.Timeout | undefined;
  const flush = () => {
    flushTimer = undefined;
    const delta = model.drain();
    if (viewers.size === 0) return;
    const unique = <T>(rows: T[], key: (row: T) => string) => [...new Map(rows.map((row) => [key(row), row])).values()];
    const shared = {
      services: unique(delta.services, (row) => row.serviceId).map((row) => ({ ...row })),
      tasks: unique(delta.tasks, (row: TaskRow) => row.key).map((row) => ({ ...row })),
      tasksRemoved: delta.tasksRemoved,
      actors: unique(delta.actors, (row) => row.sessionId).map((row) => ({ ...row })),
      actorsRemoved: delta.actorsRemoved,
    };
    for (const viewer of viewers) {
      if (viewer.socket.readyState !== WebSocket.OPEN) continue;
      if (viewer.socket.bufferedAmount > SOCKET_BUFFER_BYTES_MAX) {
        // A page that cannot keep up reconnects and starts again from a fresh hello.
        viewer.socket.terminate();
        continue;
      }
      const history = viewer.task === null ? undefined : delta.history.get(viewer.task);
      const message: LiveMessage = {
        type: 'delta',
        ...shared,
        transitions: viewer.actor === null ? [] : delta.transitions.filter((note) => note.sessionId === viewer.actor),
        history: history === undefined || viewer.task === null ? [] : [{ correlationId: viewer.task, entries: history }],
        sentAtMs: epochMs(),
      };
      viewer.socket.send(JSON.stringify(message));
    }
  };
  model.onChange = () => {
    flushTimer ??= setTimeout(flush, flushMs);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}/${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`;
  if (missingBundleFiles(directory).length > 0) log('warn', 'ui: the web app is not built (run npm run build); the API and /metrics work', { directory });
  if (metrics instanceof MissingPeerError) log('info', `ui: /metrics is not served: ${metrics.message}`);
  return {
    url,
    port,
    token,
    model,
    close: async () => {
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      model.close();
      ownMetrics.forEach((stop) => stop());
      ownMetrics = [];
      for (const viewer of viewers) viewer.socket.terminate();
      sockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
