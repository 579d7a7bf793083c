/**
 * The web UI's server (runtime/ui/server.ts) over real HTTP and WebSocket on loopback, with a real
 * provider and client: its API, live updates, /metrics, and its defences: DNS rebinding (Host),
 * cross-origin requests (Origin), the token when bound beyond loopback, bounded and checked bodies.
 */
import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startUiWorld, type UiWorld } from '../runtime/ui/demoWorld.js';
import type { LiveMessage } from '../runtime/ui/rows.js';
import { startUiServer } from '../runtime/ui/server.js';

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

function request(port: number, options: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path ?? '/', headers: { host: `127.0.0.1:${port}`, ...options.headers }, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

const json = { 'content-type': 'application/json' };
const codeOf = (answer: Answer) => (JSON.parse(answer.body) as { error?: { code?: string } }).error?.code;

async function until<T>(read: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let world: UiWorld;
let port: number;

beforeAll(async () => {
  // Its failures on purpose (invalid parameters) are the spec's to check, not to print.
  world = await startUiWorld({ stepDelayMs: 20, log: () => {} });
  port = world.server.port;
  await world.client.waitFor('Previews', { timeoutMs: 5_000 });
});
afterAll(async () => world?.close());

describe('the UI API', () => {
  it('lists the services the client knows, the actors of both systems and the participants', async () => {
    const answer = await request(port, { path: '/api/state' });
    expect(answer.status).toBe(200);
    const state = JSON.parse(answer.body) as { services: Array<{ serviceName: string; health: string; lastHeardMs: number }>; actors: Array<{ kind: string }>; participants: { clientId: string } };
    expect(state.participants.clientId).toBe(world.client.clientId);
    expect(state.services.find((service) => service.serviceName === 'Previews')).toMatchObject({ health: 'alive' });
    for (const kind of ['provider', 'client', 'repository', 'repositoryEntry']) expect(state.actors.map((actor) => actor.kind)).toContain(kind);
  });

  it('assigns from a request, streams the task live, and keeps its full history on both sides', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/api/live`, { headers: { origin: `http://127.0.0.1:${port}` } });
    const messages: LiveMessage[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as LiveMessage));
    await new Promise((resolve) => socket.once('open', resolve));
    const answer = await request(port, { method: 'POST', path: '/api/assign', headers: json, body: JSON.stringify({ serviceName: 'Previews', operation: 'render', params: { width: 32, height: 24, steps: 3 } }) });
    expect(answer.status).toBe(202);
    const { key } = JSON.parse(answer.body) as { key: string };
    socket.send(JSON.stringify({ type: 'watchTask', correlationId: key.slice(key.indexOf(':') + 1) }));
    await until(() => (world.server.model.task(key)?.status === 'Completed' ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.terminate();
    expect(messages[0]?.type).toBe('hello');
    const statuses = messages.flatMap((message) => (message.type === 'delta' ? message.tasks.filter((row) => row.key === key).map((row) => row.status) : []));
    expect(statuses).toContain('Processing');
    expect(statuses.at(-1)).toBe('Completed');
    const detail = JSON.parse((await request(port, { path: `/api/tasks/${encodeURIComponent(key)}` })).body) as { history: Array<{ side: string; title: string }>; result: { kept: boolean; resultData: { image: string } } };
    const titles = detail.history.map((entry) => `${entry.side} ${entry.title}`);
    for (const expected of ['client sent AssignTask', 'client received Ack', 'client received TaskResult', 'provider sent TaskResult', 'provider task.start', 'client Completed', 'provider Completed']) {
      expect(titles, expected).toContain(expected);
    }
    expect(titles).toContain('client active.lifecycle.accepted.processing | active.deadline.none → completed');
    expect(titles).toContain('provider processing → completed');
    expect(detail.result.resultData.image).toMatch(/^data:image\/png;base64,/);
  });

  it('cancels a task it assigned', async () => {
    const answer = await request(port, { method: 'POST', path: '/api/assign', headers: json, body: JSON.stringify({ serviceName: 'Previews', operation: 'render', params: { width: 32, height: 24, steps: 100 } }) });
    const { key } = JSON.parse(answer.body) as { key: string };
    await until(() => (world.server.model.task(key)?.status === 'Processing' ? true : undefined));
    const cancel = await request(port, { method: 'POST', path: `/api/tasks/${encodeURIComponent(key)}/cancel`, headers: json, body: '{}' });
    expect(cancel.status).toBe(202);
    await until(() => (world.server.model.task(key)?.status === 'Cancelled' ? true : undefined));
  });

  it('reports the provider-side refusal of invalid parameters (the provider validates too)', async () => {
    const answer = await request(port, { method: 'POST', path: '/api/assign', headers: json, body: JSON.stringify({ serviceName: 'Previews', operation: 'render', params: { width: 2, height: 24 } }) });
    const { key } = JSON.parse(answer.body) as { key: string };
    const row = await until(() => (world.server.model.task(key)?.endedAtMs !== undefined ? world.server.model.task(key) : undefined));
    expect(row).toMatchObject({ status: 'Failed', errorCode: 'INVALID_PARAMETERS' });
  });

  it('serves Prometheus metrics with task counts and time in state', async () => {
    const answer = await request(port, { path: '/metrics' });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toContain('text/plain');
    expect(answer.body).toMatch(/switchboard_tasks_total\{side="client",service="Previews",operation="render",outcome="Completed"\} [1-9]/);
    expect(answer.body).toMatch(/switchboard_state_seconds_total\{machine="provider",state="online"\} [0-9.]+/);
  });
});

describe('the UI refuses what a hostile page or peer sends', () => {
  it('answers only to its own host name (DNS rebinding)', async () => {
    const answer = await request(port, { path: '/api/state', headers: { host: `attacker.example:${port}` } });
    expect(answer.status).toBe(403);
    expect(codeOf(answer)).toBe('FORBIDDEN');
    expect((await request(port, { path: '/api/state', headers: { host: `localhost:${port}` } })).status).toBe(200);
  });

  it('refuses cross-origin requests that change something, and cross-origin live sockets', async () => {
    const body = JSON.stringify({ serviceName: 'Previews', operation: 'render', params: { width: 32, height: 32 } });
    const answer = await request(port, { method: 'POST', path: '/api/assign', headers: { ...json, origin: 'http://attacker.example' }, body });
    expect(answer.status).toBe(403);
    const socket = new WebSocket(`ws://127.0.0.1:${port}/api/live`, { headers: { origin: 'http://attacker.example' } });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('open', () => resolve('open'));
      socket.once('error', (error) => resolve(error.message));
    });
    expect(outcome).toMatch(/403/);
  });

  it('checks bodies: type, size, JSON, shape', async () => {
    expect((await request(port, { method: 'POST', path: '/api/assign', headers: { 'content-type': 'text/plain' }, body: '{}' })).status).toBe(415);
    const huge = await request(port, { method: 'POST', path: '/api/assign', headers: json, body: Buffer.alloc(300 * 1024, 32) }).catch(() => ({ status: 413 }) as Answer);
    expect(huge.status).toBe(413);
    const malformed = await request(port, { method: 'POST', path: '/api/assign', headers: json, body: '{"serviceName":' });
    expect([malformed.status, codeOf(malformed)]).toEqual([400, 'INVALID_MESSAGE']);
    const wrongParams = await request(port, { method: 'POST', path: '/api/assign', headers: json, body: JSON.stringify({ serviceName: 'Previews', operation: 'render', params: [1] }) });
    expect([wrongParams.status, codeOf(wrongParams)]).toEqual([400, 'INVALID_PARAMETERS']);
    expect((await request(port, { path: '/api/nothing' })).status).toBe(404);
    expect(codeOf(await request(port, { path: '/api/tasks/nope' }))).toBe('TASK_NOT_FOUND');
  });

  it('garbage never gets a 5xx or stops a task in flight (seeded property)', async () => {
    const running = world.client.assign('Previews', 'render', { width: 16, height: 16, steps: 20 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue().map((value) => JSON.stringify(value)), fc.string(), fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes).toString('latin1'))), async (body) => {
        const answer = await request(port, { method: 'POST', path: '/api/assign', headers: json, body });
        expect(answer.status === 202 || (answer.status >= 400 && answer.status < 500)).toBe(true);
        if (answer.status !== 202) expect(typeof codeOf(answer)).toBe('string');
      }),
      { numRuns: 60, seed: 4242 },
    );
    await expect(running.result).resolves.toMatchObject({ width: 16 });
  });
});

describe('bound beyond loopback', () => {
  it('requires the token: as a bearer, or once in the URL which sets a cookie; the live socket too', async () => {
    const server = await startUiServer({ client: world.client }, { host: '0.0.0.0', port: 0, token: 'let-me-in' });
    try {
      const { port: wide } = server;
      expect(server.url).toBe(`http://127.0.0.1:${wide}/?token=let-me-in`);
      expect((await request(wide, { path: '/api/state' })).status).toBe(401);
      expect(codeOf(await request(wide, { path: '/api/state', headers: { authorization: 'Bearer wrong' } }))).toBe('UNAUTHENTICATED');
      expect((await request(wide, { path: '/metrics' })).status).toBe(401);
      expect((await request(wide, { path: '/api/state', headers: { authorization: 'Bearer let-me-in' } })).status).toBe(200);
      const entry = await request(wide, { path: '/?token=let-me-in' });
      expect(entry.status).toBe(303);
      const cookie = String(entry.headers['set-cookie']).split(';')[0] as string;
      expect(cookie).toBe('switchboard_ui=let-me-in');
      expect(String(entry.headers['set-cookie'])).toContain('HttpOnly');
      expect((await request(wide, { path: '/api/state', headers: { cookie } })).status).toBe(200);
      // The token in the URL of anything but the entry page is not accepted.
      expect((await request(wide, { path: '/api/state?token=let-me-in' })).status).toBe(401);
      const refused = await new Promise<string>((resolve) => {
        const socket = new WebSocket(`ws://127.0.0.1:${wide}/api/live`);
        socket.once('open', () => resolve('open'));
        socket.once('error', (error) => resolve(error.message));
      });
      expect(refused).toMatch(/401/);
      const allowed = new WebSocket(`ws://127.0.0.1:${wide}/api/live`, { headers: { cookie } });
      const hello = await new Promise<LiveMessage>((resolve) => allowed.once('message', (data) => resolve(JSON.parse(String(data)) as LiveMessage)));
      expect(hello.type).toBe('hello');
      allowed.terminate();
    } finally {
      await server.close();
    }
  });

  it('makes up a token when bound elsewhere without one', async () => {
    const server = await startUiServer({ client: world.client }, { host: '0.0.0.0', port: 0 });
    try {
      expect(server.token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect((await request(server.port, { path: '/api/state' })).status).toBe(401);
    } finally {
      await server.close();
    }
  });
});
