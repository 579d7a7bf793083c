/**
 * The real WebSocket adapter (adapters/ws.ts) on loopback sockets: the contract of
 * machines/transport.ts as the simulated network implements it (listen, accept and attach with
 * buffering, frames through the codec both ways, ping/pong, the close handshake, terminate,
 * refused and timed-out connects, tokens, malformed input, size limits, many clients, cleanup,
 * TLS and certificate pinning), and outgoing batches (one write per turn's frames, a lone frame
 * at once, TASK-2 Ack coalescing on the provider's side).
 *
 * Every transport runs inside the shared harness (support/transportHarness.ts), which records
 * each event it sends back. Real sockets need real time: every wait polls
 * with a deadline (WAIT_MS) and every test stops what it started (afterEach stops every actor and
 * closes every raw socket and server; it also checks that no transport emitted two transport.closed).
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { WebSocket, type ClientOptions } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AnyEventObject, CallbackActorLogic, EventObject } from 'xstate';
import { createWsMetrics, wsConnect, wsServer, type WsConnectOptions, type WsMetrics, type WsServerOptions } from '../adapters/ws.js';
import { advertisedHostFor, tokenOf } from '../adapters/ws/options.js';
import type { StampSource } from '../machines/codec.js';
import type { WireDraft } from '../machines/messages.js';
import type { ServerEvent, StreamBatch, StreamCommand, StreamEvent, StreamInput } from '../machines/transport.js';
import { allocatePort } from './support/ports.js';
import { runTransport, type Harness as GenericHarness } from './support/transportHarness.js';

const WAIT_MS = 2_000;
const NOW_MS = 1_751_457_600_123;
const LOOPBACK = '127.0.0.1';

// ---- harness ----------------------------------------------------------------------------------

type Recordable = StreamEvent | ServerEvent;

/** The shared harness, with `of` typed by this adapter's events. */
interface Harness<TCommand extends EventObject> extends Omit<GenericHarness<TCommand>, 'of'> {
  of<T extends Recordable['type']>(type: T): Extract<Recordable, { type: T }>[];
}

const harnesses: Harness<EventObject>[] = [];
const cleanups: (() => unknown)[] = [];

/** Runs `logic` in the shared transport harness; afterEach stops it. */
function run<TCommand extends EventObject, TInput>(
  logic: CallbackActorLogic<TCommand, TInput>,
  input: TInput,
  onEvent?: (event: AnyEventObject) => void,
): Harness<TCommand> {
  const harness = runTransport(logic, input, onEvent) as unknown as Harness<TCommand>;
  harnesses.push(harness as unknown as Harness<EventObject>);
  return harness;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` until it holds, failing after `deadlineMs`. */
async function until(what: string, predicate: () => boolean, deadlineMs = WAIT_MS): Promise<void> {
  const startedAt = performance.now();
  for (let polls = 0; !predicate(); polls++) {
    if (performance.now() - startedAt > deadlineMs) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    // Let pending I/O callbacks run first (loopback answers within a few turns), then back off.
    await (polls < 50 ? new Promise<void>((resolve) => setImmediate(resolve)) : sleep(2));
  }
}

/** Waits for the one transport.closed, then a little longer to be sure no second one follows. */
async function closedOnce(harness: Harness<StreamCommand>): Promise<Extract<StreamEvent, { type: 'transport.closed' }>> {
  await until('transport.closed', () => harness.of('transport.closed').length > 0);
  await sleep(30);
  expect(harness.of('transport.closed')).toHaveLength(1);
  expect(harness.events.at(-1)?.type).toBe('transport.closed');
  return harness.of('transport.closed')[0]!;
}

function counterStamp(prefix: string): StampSource {
  let next = 0;
  return { nowMs: () => NOW_MS, newId: () => `${prefix}-${++next}` };
}

const getStatus = (taskId: string, messageId?: string): WireDraft => ({
  type: 'GetStatus',
  ...(messageId === undefined ? {} : { messageId }),
  payload: { taskId, originalClientId: 'client-1' },
});
const ack = (acknowledgmentId: string): WireDraft => ({ type: 'Ack', payload: { acknowledgmentId } });
const taskIds = (harness: Harness<StreamCommand>): string[] =>
  harness.of('transport.message').map((event) => (event.message.payload as { taskId: string }).taskId);

// ---- fixtures: a server, clients, raw sockets ---------------------------------------------------

interface Provider {
  readonly ws: ReturnType<typeof wsServer>;
  readonly server: Harness<{ type: 'server.close' }>;
  readonly endpoint: string;
  readonly metrics: WsMetrics;
  /** Accepted transports attached so far, by connectionId. */
  readonly sessions: Map<string, Harness<StreamCommand>>;
  attach(connectionId: string, onEvent?: (event: AnyEventObject) => void): Harness<StreamCommand>;
}

/** A listening server on 127.0.0.1:0. With `autoAttach`, each accepted socket gets its transport at once. */
async function provider(
  options: Partial<WsServerOptions> & { autoAttach?: boolean; echo?: boolean } = {},
): Promise<Provider> {
  const { autoAttach = true, echo = false, ...serverOptions } = options;
  const metrics = serverOptions.metrics ?? createWsMetrics();
  const ws = wsServer({ port: 0, host: LOOPBACK, stamp: counterStamp('p'), metrics, ...serverOptions });
  const sessions = new Map<string, Harness<StreamCommand>>();
  const attach = (connectionId: string, onEvent?: (event: AnyEventObject) => void) => {
    const session = run(ws.accepted, { connectionId }, onEvent);
    sessions.set(connectionId, session);
    return session;
  };
  const server = run(ws.server, undefined, (event) => {
    if (event.type !== 'server.accepted' || !autoAttach) return;
    const session: Harness<StreamCommand> = attach(event.connectionId as string, (received) => {
      if (echo && received.type === 'transport.message') {
        queueMicrotask(() => session.send({ type: 'transport.send', draft: ack(received.message.messageId) }));
      }
    });
  });
  await until('server.listening', () => server.events.length > 0);
  const listening = server.of('server.listening')[0];
  if (listening === undefined) throw new Error(`server did not listen: ${JSON.stringify(server.events)}`);
  return { ws, server, endpoint: listening.endpoint, metrics, sessions, attach };
}

function client(endpoint: string, options: WsConnectOptions = {}): Harness<StreamCommand> {
  return run(wsConnect({ stamp: counterStamp('c'), ...options }), { endpoint });
}

/** A client connected to `p`, and the provider's attached transport for it. */
async function pair(p: Provider, options: WsConnectOptions = {}) {
  const acceptedBefore = p.server.of('server.accepted').length;
  const c = client(p.endpoint, options);
  await until('transport.opened', () => c.of('transport.opened').length === 1);
  await until('server.accepted', () => p.server.of('server.accepted').length > acceptedBefore);
  const accepted = p.server.of('server.accepted')[acceptedBefore]!;
  await until('attach', () => p.sessions.has(accepted.connectionId));
  return { client: c, session: p.sessions.get(accepted.connectionId)!, accepted };
}

async function rawClient(endpoint: string, options: ClientOptions = {}): Promise<WebSocket> {
  const socket = new WebSocket(endpoint, options);
  socket.on('error', () => {});
  cleanups.push(() => socket.terminate());
  await once(socket, 'open');
  return socket;
}

function track<T extends NetServer | HttpServer>(server: T): T {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return server;
}

async function listenOn(server: NetServer | HttpServer): Promise<number> {
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** A port nothing listens on (drawn from the specs' allocator, which bind-checks it). */
const freePort = allocatePort;

afterEach(async () => {
  for (const harness of harnesses.splice(0)) {
    harness.stop();
    // Exactly one transport.closed per transport, in every scenario (none after a stop).
    expect(harness.of('transport.closed').length).toBeLessThanOrEqual(1);
  }
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

// ---- listening and connecting ---------------------------------------------------------------

describe('wsServer: listening', () => {
  it('emits server.listening with the real port in the endpoint, and port() reports it', async () => {
    const ws = wsServer({ port: 0, host: LOOPBACK });
    expect(ws.port()).toBeUndefined();
    const server = run(ws.server, undefined);
    await until('server.listening', () => server.events.length > 0);
    const port = ws.port();
    expect(port).toBeGreaterThan(0);
    expect(server.events).toEqual([{ type: 'server.listening', endpoint: `ws://127.0.0.1:${port}` }]);
  });

  it('emits server.failed INTERNAL_ERROR naming EADDRINUSE when the port is taken', async () => {
    const first = await provider();
    const second = run(wsServer({ port: first.ws.port()!, host: LOOPBACK }).server, undefined);
    await until('server.failed', () => second.events.length > 0);
    expect(second.events).toHaveLength(1);
    const failed = second.of('server.failed')[0]!;
    expect(failed.error.code).toBe('INTERNAL_ERROR');
    expect(failed.error.message).toContain('EADDRINUSE');
  });

  it('advertises a specific host as itself, localhost as 127.0.0.1, and an unspecified one as an IPv4 address', () => {
    expect(advertisedHostFor('127.0.0.1')).toBe('127.0.0.1');
    expect(advertisedHostFor('localhost')).toBe('127.0.0.1');
    expect(advertisedHostFor('::1')).toBe('[::1]');
    expect(advertisedHostFor('0.0.0.0')).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(wsServer({ port: 0, host: LOOPBACK, advertisedHost: 'provider.lan' }).port()).toBeUndefined();
  });

  it('answers a plain HTTP request with 426 Upgrade Required', async () => {
    const p = await provider();
    const response = await fetch(`http://127.0.0.1:${p.ws.port()}/`);
    expect(response.status).toBe(426);
    await response.text();
  });
});

describe('wsConnect and accepted: opening', () => {
  it('opens the client, then server.accepted names the client address and the transport attaches', async () => {
    const p = await provider();
    const startedAt = performance.now();
    const { client: c, session, accepted } = await pair(p);
    const connectMs = performance.now() - startedAt;
    expect(connectMs).toBeLessThan(WAIT_MS);
    expect(c.events).toEqual([{ type: 'transport.opened' }]);
    expect(accepted).toEqual({ type: 'server.accepted', connectionId: expect.any(String), remoteAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(accepted.connectionId).toMatch(/^[0-9a-f-]{36}$/);
    // As on the simulated network, the accepted side is open from the start: no transport.opened.
    expect(session.events).toEqual([]);
    expect(p.metrics.connectionsAccepted).toBe(1);
  });

  it('CONN-3: transport.ping is answered by the peer, both ways, with transport.pong', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    c.send({ type: 'transport.ping' });
    session.send({ type: 'transport.ping' });
    await until('both pongs', () => c.of('transport.pong').length === 1 && session.of('transport.pong').length === 1);
  });
});

// ---- frames -----------------------------------------------------------------------------------

describe('frames through the codec', () => {
  it('WIRE-2, WIRE-10: stamps messageId and timestamp, keeps a chosen messageId, and decodes on the other side', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    c.send({ type: 'transport.send', draft: getStatus('t1') });
    c.send({ type: 'transport.send', draft: getStatus('t2', 'chosen-id') });
    await until('two messages', () => session.of('transport.message').length === 2);
    expect(session.of('transport.message').map((event) => event.message)).toEqual([
      { type: 'GetStatus', messageId: 'c-1', timestamp: NOW_MS, payload: { taskId: 't1', originalClientId: 'client-1' } },
      { type: 'GetStatus', messageId: 'chosen-id', timestamp: NOW_MS, payload: { taskId: 't2', originalClientId: 'client-1' } },
    ]);
    session.send({ type: 'transport.send', draft: ack('chosen-id') });
    await until('the Ack', () => c.of('transport.message').length === 1);
    expect(c.of('transport.message')[0]!.message).toEqual({
      type: 'Ack',
      messageId: 'p-1',
      timestamp: NOW_MS,
      payload: { acknowledgmentId: 'chosen-id' },
    });
    expect(p.metrics.messagesIn).toBe(2);
    expect(p.metrics.messagesOut).toBe(1);
  });

  it('buffers what arrives before the accepted transport attaches and replays it in order', async () => {
    const p = await provider({ autoAttach: false });
    const c = client(p.endpoint);
    await until('opened', () => c.of('transport.opened').length === 1);
    for (const taskId of ['a', 'b', 'c']) c.send({ type: 'transport.send', draft: getStatus(taskId) });
    c.send({ type: 'transport.ping' });
    await until('server.accepted', () => p.server.of('server.accepted').length === 1);
    await sleep(50); // the frames are in by now, waiting
    const session = p.attach(p.server.of('server.accepted')[0]!.connectionId);
    await until('replay', () => session.of('transport.message').length === 3);
    expect(taskIds(session)).toEqual(['a', 'b', 'c']);
    c.send({ type: 'transport.send', draft: getStatus('d') });
    await until('live after replay', () => session.of('transport.message').length === 4);
    expect(taskIds(session)).toEqual(['a', 'b', 'c', 'd']);
  });

  it.each([
    ['pendingEventsMax: 3', { pendingEventsMax: 3 }],
    ['pendingBytesMax: 400 (about three frames)', { pendingBytesMax: 400 }],
  ])('SEC-6: terminates an accepted socket whose buffer overflows (%s) before it attaches; attaching reports closed', async (_name, bound) => {
    const p = await provider({ autoAttach: false, ...bound });
    const c = client(p.endpoint);
    await until('opened', () => c.of('transport.opened').length === 1);
    for (let i = 0; i < 10; i++) c.send({ type: 'transport.send', draft: getStatus(`t${i}`) });
    expect(await closedOnce(c)).toMatchObject({ graceful: false, code: 1006 });
    const session = p.attach(p.server.of('server.accepted')[0]!.connectionId);
    expect(await closedOnce(session)).toEqual({ type: 'transport.closed', graceful: false, code: 1006, reason: 'terminated' });
    expect(taskIds(session)).toEqual(['t0', 't1', 't2']);
    expect(p.metrics.unattachedTerminated).toBe(1);
  });

  it('SEC-6: terminates an accepted socket no transport attaches to within attachTimeoutMs', async () => {
    const p = await provider({ autoAttach: false, attachTimeoutMs: 50 });
    const c = client(p.endpoint);
    expect(await closedOnce(c)).toMatchObject({ graceful: false, code: 1006 });
    expect(c.of('transport.opened')).toHaveLength(1);
    expect(p.metrics.unattachedTerminated).toBe(1);
    const late = p.attach(p.server.of('server.accepted')[0]!.connectionId);
    expect(await closedOnce(late)).toEqual({ type: 'transport.closed', graceful: false, code: 1006, reason: 'unknown connection' });
  });

  it('closes an accepted transport for an unknown connectionId at once with 1006', async () => {
    const p = await provider();
    const session = p.attach('no-such-connection');
    expect(await closedOnce(session)).toEqual({ type: 'transport.closed', graceful: false, code: 1006, reason: 'unknown connection' });
    expect(session.events).toHaveLength(1);
  });

  it('drops and counts transport.send and transport.ping on a closed socket, without throwing', async () => {
    const metrics = createWsMetrics();
    const p = await provider();
    const { client: c } = await pair(p, { metrics });
    c.send({ type: 'transport.close', code: 1000 });
    await closedOnce(c);
    c.send({ type: 'transport.send', draft: getStatus('late') });
    c.send({ type: 'transport.ping' });
    expect(metrics.messagesDropped).toBe(2);
    expect(c.of('transport.closed')).toHaveLength(1);
  });
});

// ---- closing ----------------------------------------------------------------------------------

// ---- outgoing batches and TASK-2 coalescing ------------------------------------------------------

const taskAck = (taskId: string, status = 'Processing'): WireDraft => ({ type: 'Ack', payload: { acknowledgmentId: `a-${taskId}`, taskId, status } }) as WireDraft;
const taskResult = (taskId: string): WireDraft => ({ type: 'TaskResult', payload: { taskId, status: 'Completed', resultData: { ok: true } } });
const typesSeen = (harness: Harness<StreamCommand>): string[] =>
  harness.of('transport.message').map((event) => `${event.message.type} ${(event.message.payload as { taskId?: string }).taskId ?? ''}`.trim());

describe('outgoing batches and TASK-2 Ack coalescing', () => {
  it('TASK-2: an Ack whose final message leaves in the same batch is left out, and counted', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    session.send({ type: 'transport.send', draft: taskAck('t1') });
    session.send({ type: 'transport.send', draft: taskResult('t1') });
    await until('the result', () => c.of('transport.message').length === 1);
    await sleep(20);
    expect(typesSeen(c)).toEqual(['TaskResult t1']);
    expect(p.metrics.acksCoalesced).toBe(1);
    expect(p.metrics.messagesOut).toBe(1);
  });

  it("TASK-2: with coalesceAcks false (the seed's behaviour) every Ack is sent", async () => {
    const p = await provider({ coalesceAcks: false });
    const { client: c, session } = await pair(p);
    session.send({ type: 'transport.send', draft: taskAck('t1') });
    session.send({ type: 'transport.send', draft: taskResult('t1') });
    await until('both', () => c.of('transport.message').length === 2);
    expect(typesSeen(c)).toEqual(['Ack t1', 'TaskResult t1']);
    expect(p.metrics.acksCoalesced).toBe(0);
  });

  it("TASK-2, TASK-4: keeps an Ack with a final status, one before another task's result, and one whose result comes later", async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    session.send({ type: 'transport.send', draft: taskAck('done', 'Completed') });
    session.send({ type: 'transport.send', draft: taskResult('done') });
    session.send({ type: 'transport.send', draft: taskAck('t1') });
    session.send({ type: 'transport.send', draft: taskResult('t2') });
    session.send({ type: 'transport.send', draft: taskAck('slow') });
    await until('five', () => c.of('transport.message').length === 5);
    await sleep(20);
    session.send({ type: 'transport.send', draft: taskResult('slow') });
    await until('six', () => c.of('transport.message').length === 6);
    expect(typesSeen(c)).toEqual(['Ack done', 'TaskResult done', 'Ack t1', 'TaskResult t2', 'Ack slow', 'TaskResult slow']);
    expect(p.metrics.acksCoalesced).toBe(0);
  });

  it('frames sent together leave in one write; replies to a read batch leave together at the end of its turn', async () => {
    const p = await provider({ echo: true });
    const metrics = createWsMetrics();
    const { client: c } = await pair(p, { metrics });
    const batchesBefore = p.metrics.batchesOut;
    for (const taskId of ['a', 'b', 'c', 'd', 'e']) c.send({ type: 'transport.send', draft: getStatus(taskId) });
    await until('five echoes', () => c.of('transport.message').length === 5);
    expect(metrics.messagesOut).toBe(5);
    expect(metrics.batchesOut).toBe(1);
    // The five frames arrived in one read on loopback; their five Acks left in one write.
    expect(p.metrics.batchesOut - batchesBefore).toBe(1);
  });

  it('a lone frame outside a read turn is written once the current code and its microtasks are done, not a turn later', async () => {
    const p = await provider();
    const metrics = createWsMetrics();
    const { client: c } = await pair(p, { metrics });
    await sleep(5); // out of any turn with a read
    c.send({ type: 'transport.send', draft: getStatus('lone') });
    expect(metrics.messagesOut).toBe(0);
    await Promise.resolve();
    expect(metrics.messagesOut).toBe(1);
    expect(metrics.batchesOut).toBe(1);
  });
});

// ---- incoming batches (readBatches) -------------------------------------------------------------

describe('incoming batches: one event per socket read (readBatches)', () => {
  const batchedIds = (harness: Harness<StreamCommand>): string[][] =>
    harness.events
      .filter((event) => event.type === 'transport.batch' || event.type === 'transport.message' || event.type === 'transport.rejected')
      .map((event) => (event.type === 'transport.batch' ? (event as unknown as StreamBatch).events : [event as StreamInput]))
      .map((inputs) => inputs.map((input) => (input.type === 'transport.message' ? (input.message.payload as { taskId: string }).taskId : 'rejected')));

  it('the frames of one read arrive as one transport.batch, in order, rejected frames in place', async () => {
    const p = await provider({ readBatches: true });
    const { client: c, session } = await pair(p);
    for (const taskId of ['a', 'b']) c.send({ type: 'transport.send', draft: getStatus(taskId) });
    c.send({ type: 'transport.send', draft: { type: 'NoSuchType', payload: {} } as unknown as WireDraft });
    c.send({ type: 'transport.send', draft: getStatus('c') });
    await until('four frames', () => batchedIds(session).flat().length === 4);
    // Sent in one turn, the four frames left in one write and were read at once on loopback.
    expect(batchedIds(session)).toEqual([['a', 'b', 'rejected', 'c']]);
    expect(p.metrics.messagesIn).toBe(4);
  });

  it('a lone frame arrives as itself, and a later event (the close) after the frames read before it', async () => {
    const p = await provider({ readBatches: true });
    const { client: c, session } = await pair(p);
    c.send({ type: 'transport.send', draft: getStatus('lone') });
    await until('the frame', () => session.of('transport.message').length === 1);
    expect(session.events.some((event) => event.type === 'transport.batch')).toBe(false);
    c.send({ type: 'transport.send', draft: getStatus('x') });
    c.send({ type: 'transport.send', draft: getStatus('y') });
    c.send({ type: 'transport.close', code: 1000, reason: 'bye' });
    await closedOnce(session);
    expect(batchedIds(session)).toEqual([['lone'], ['x', 'y']]);
  });

  it('without readBatches (the default) every frame is its own event', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    for (const taskId of ['a', 'b', 'c']) c.send({ type: 'transport.send', draft: getStatus(taskId) });
    await until('three frames', () => session.of('transport.message').length === 3);
    expect(batchedIds(session)).toEqual([['a'], ['b'], ['c']]);
  });

  it('a client transport batches its reads too', async () => {
    const p = await provider({ echo: true });
    const { client: c } = await pair(p, { readBatches: true });
    for (const taskId of ['a', 'b', 'c']) c.send({ type: 'transport.send', draft: getStatus(taskId) });
    await until('three echoes', () => c.events.filter((event) => event.type === 'transport.batch').length === 1);
    const batch = c.events.find((event) => event.type === 'transport.batch') as unknown as StreamBatch;
    expect(batch.events.map((input) => input.type)).toEqual(['transport.message', 'transport.message', 'transport.message']);
  });
});

describe('closing', () => {
  it('CONN-7: a close handshake started by the client ends both sides gracefully with its code and reason', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    c.send({ type: 'transport.close', code: 1000, reason: 'bye' });
    const expected = { type: 'transport.closed', graceful: true, code: 1000, reason: 'bye' };
    expect(await closedOnce(c)).toEqual(expected);
    expect(await closedOnce(session)).toEqual(expected);
  });

  it('CONN-7: a close handshake started by the provider (1001 going away) ends both sides gracefully', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    session.send({ type: 'transport.close', code: 1001, reason: 'stopping' });
    const expected = { type: 'transport.closed', graceful: true, code: 1001, reason: 'stopping' };
    expect(await closedOnce(session)).toEqual(expected);
    expect(await closedOnce(c)).toEqual(expected);
  });

  it('CONN-3: terminate ends this side with 1006 "terminated" and the peer sees 1006 graceful=false', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    c.send({ type: 'transport.terminate' });
    expect(await closedOnce(c)).toEqual({ type: 'transport.closed', graceful: false, code: 1006, reason: 'terminated' });
    expect(await closedOnce(session)).toMatchObject({ type: 'transport.closed', graceful: false, code: 1006 });
  });

  it('CONN-3: a provider-side terminate is seen by the client as 1006 graceful=false', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    session.send({ type: 'transport.terminate' });
    expect(await closedOnce(session)).toMatchObject({ graceful: false, code: 1006, reason: 'terminated' });
    expect(await closedOnce(c)).toMatchObject({ graceful: false, code: 1006 });
  });

  it('closes with 1011 instead of throwing when asked for a close code no endpoint may send', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    c.send({ type: 'transport.close', code: 1006 });
    expect(await closedOnce(session)).toMatchObject({ graceful: true, code: 1011 });
    expect(await closedOnce(c)).toMatchObject({ graceful: true, code: 1011 });
  });

  it('stopping the client actor terminates its socket: the provider sees 1006, the client hears nothing more', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    c.stop();
    expect(await closedOnce(session)).toMatchObject({ graceful: false, code: 1006 });
    expect(c.events).toEqual([{ type: 'transport.opened' }]);
  });

  it('stopping an accepted actor terminates its socket: the client sees 1006', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    session.stop();
    expect(await closedOnce(c)).toMatchObject({ graceful: false, code: 1006 });
    expect(session.events).toEqual([]);
  });

  it('stopping a connecting client ends its attempt without an event', async () => {
    const silent = track(createNetServer());
    const port = await listenOn(silent);
    const c = client(`ws://127.0.0.1:${port}`);
    await sleep(20);
    c.stop();
    await sleep(30);
    expect(c.events).toEqual([]);
  });

  it('server.close stops accepting but keeps established connections; stopping the server actor ends them', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p);
    const port = p.ws.port();
    p.server.send({ type: 'server.close' });
    await sleep(20);
    expect(p.ws.port()).toBeUndefined();
    const refused = client(`ws://127.0.0.1:${port}`);
    expect(await closedOnce(refused)).toMatchObject({ graceful: false, code: 1006, reason: 'connection refused' });
    c.send({ type: 'transport.send', draft: getStatus('still-open') });
    await until('message after server.close', () => session.of('transport.message').length === 1);
    p.server.stop();
    expect(await closedOnce(c)).toMatchObject({ graceful: false, code: 1006 });
    expect(await closedOnce(session)).toMatchObject({ graceful: false, code: 1006, reason: 'terminated' });
  });

  it('stopping the server actor closes the listening socket', async () => {
    const p = await provider();
    const port = p.ws.port();
    p.server.stop();
    const refused = client(`ws://127.0.0.1:${port}`);
    expect(await closedOnce(refused)).toMatchObject({ code: 1006, reason: 'connection refused' });
    expect(refused.of('transport.opened')).toHaveLength(0);
  });
});

// ---- connect failures --------------------------------------------------------------------------

describe('wsConnect: failures end in transport.closed 1006 without transport.opened', () => {
  it('connection refused (CONN-4: flagged `refused`, nothing listens there; timeouts and HTTP refusals below are not)', async () => {
    const metrics = createWsMetrics();
    const c = client(`ws://127.0.0.1:${await freePort()}`, { metrics });
    expect(await closedOnce(c)).toEqual({ type: 'transport.closed', graceful: false, code: 1006, reason: 'connection refused', refused: true });
    expect(c.events).toHaveLength(1);
    expect(metrics.connectFailures).toBe(1);
  });

  it('handshake timeout against a TCP server that accepts and never answers', async () => {
    const silent = track(createNetServer());
    const port = await listenOn(silent);
    const startedAt = performance.now();
    const c = client(`ws://127.0.0.1:${port}`, { handshakeTimeoutMs: 150 });
    expect(await closedOnce(c)).toEqual({ type: 'transport.closed', graceful: false, code: 1006, reason: 'handshake timed out' });
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(140);
    expect(c.events).toHaveLength(1);
  });

  it.each([401, 403])('an upgrade answered with HTTP %i', async (status) => {
    const refusing = track(createHttpServer());
    refusing.on('upgrade', (_request, socket: Socket) => {
      socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
    const port = await listenOn(refusing);
    const c = client(`ws://127.0.0.1:${port}`);
    expect(await closedOnce(c)).toEqual({ type: 'transport.closed', graceful: false, code: 1006, reason: `upgrade refused: HTTP ${status}` });
    expect(c.events).toHaveLength(1);
  });

  it('an endpoint that is not a WebSocket URL', async () => {
    const c = client('http://127.0.0.1:1');
    expect(await closedOnce(c)).toMatchObject({ graceful: false, code: 1006, reason: expect.stringMatching(/^invalid endpoint/) });
  });
});

// ---- tokens -----------------------------------------------------------------------------------

describe('SEC-2: the token presented at the upgrade', () => {
  it('is read from Authorization: Bearer', async () => {
    const p = await provider();
    const { accepted } = await pair(p, { token: 'secret-1' });
    expect(accepted.token).toBe('secret-1');
  });

  it('is read from ?token=', async () => {
    const p = await provider();
    const before = p.server.of('server.accepted').length;
    const c = client(`${p.endpoint}/?token=secret-2`);
    await until('accepted', () => p.server.of('server.accepted').length > before);
    expect(p.server.of('server.accepted')[before]!.token).toBe('secret-2');
    await until('opened', () => c.of('transport.opened').length === 1);
  });

  it('is absent (no token key) when none is presented, and the header wins over the query', async () => {
    const p = await provider();
    const { accepted } = await pair(p);
    expect('token' in accepted).toBe(false);
    const request = { headers: { authorization: 'bearer from-header' }, url: '/?token=from-query' } as never;
    expect(tokenOf(request)).toBe('from-header');
    expect(tokenOf({ headers: { authorization: 'Basic abc' }, url: '/?token=q' } as never)).toBe('q');
  });
});

// ---- malformed input and size limits -------------------------------------------------------------

const sentAsText = (text: string) => ({ data: text, binary: false });
const sentAsBytes = (bytes: Uint8Array) => ({ data: Buffer.from(bytes), binary: true });

/** A provider with a raw `ws` client connected to it and the attached transport of that socket. */
async function rawPair(options: Partial<WsServerOptions> = {}) {
  const p = await provider(options);
  const raw = await rawClient(p.endpoint);
  await until('attach', () => p.sessions.size === 1);
  const session = [...p.sessions.values()][0]!;
  const inputs = () => session.events.filter((event) => event.type === 'transport.message' || event.type === 'transport.rejected');
  return { p, raw, session, inputs };
}

const validGetStatus = (messageId: string) =>
  JSON.stringify({
    type: 'GetStatus',
    messageId,
    timestamp: '2025-07-02T12:00:00.123Z',
    payload: { taskId: 't-valid', originalClientId: 'client-1' },
  });

describe('WIRE-6..9, SEC-9: malformed input from a raw ws client', () => {
  it('rejects each kind with its code and messageId, counts it, keeps the socket open, and still takes a valid message', async () => {
    const { p, raw, session, inputs } = await rawPair({ limits: { frameBytesMax: 1024 } });
    const cases = [
      { frame: sentAsText('not json'), code: 'INVALID_MESSAGE', messageId: undefined },
      { frame: sentAsText('[1,2,3]'), code: 'INVALID_MESSAGE', messageId: undefined },
      { frame: sentAsText('{"messageId":"m-1"}'), code: 'INVALID_MESSAGE', messageId: 'm-1' },
      { frame: sentAsText('{"type":"Nope","messageId":"m-2"}'), code: 'UNSUPPORTED_MESSAGE', messageId: 'm-2' },
      {
        frame: sentAsText('{"type":"GetStatus","messageId":"m-3","timestamp":0,"payload":{"taskId":5,"originalClientId":"c"}}'),
        code: 'INVALID_MESSAGE',
        messageId: 'm-3',
      },
      { frame: sentAsBytes(new Uint8Array([0xff, 0xfe, 0xfd])), code: 'INVALID_MESSAGE', messageId: undefined },
      { frame: sentAsText(`{"pad":"${'x'.repeat(2_000)}"}`), code: 'MESSAGE_TOO_LARGE', messageId: undefined },
    ] as const;
    for (const { frame } of cases) raw.send(frame.data, { binary: frame.binary });
    raw.send(validGetStatus('valid-1'));
    await until('every input', () => inputs().length === cases.length + 1);
    const rejected = session.of('transport.rejected');
    expect(rejected.map((event) => [event.error.code, event.messageId])).toEqual(cases.map((c) => [c.code, c.messageId]));
    expect(rejected[4]!.error.details).toContain('payload.taskId');
    expect(session.of('transport.message').map((event) => event.message.messageId)).toEqual(['valid-1']);
    expect(p.metrics.rejected).toEqual({ INVALID_MESSAGE: 5, UNSUPPORTED_MESSAGE: 1, MESSAGE_TOO_LARGE: 1 });
    expect(p.metrics.messagesIn).toBe(cases.length + 1);
    expect(raw.readyState).toBe(WebSocket.OPEN);
    expect(session.of('transport.closed')).toHaveLength(0);
  });

  it('WIRE-9: any text or bytes give exactly one event, equal to what the codec says of the bytes sent (200 runs)', async () => {
    const { raw, session, inputs } = await rawPair();
    const messageTypes = ['AssignTask', 'CancelTask', 'GetStatus', 'GetResult', 'Authenticate', 'Ack', 'TaskResult', 'Error'];
    const shaped = fc
      .record(
        {
          type: fc.oneof(fc.constantFrom(...messageTypes), fc.string({ maxLength: 80 })),
          messageId: fc.oneof(fc.string({ maxLength: 300 }), fc.nat()),
          timestamp: fc.oneof(fc.nat(), fc.string({ maxLength: 30 })),
          payload: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: [] },
      )
      .map((value) => JSON.stringify(value));
    const frames = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }).map(sentAsText),
      fc.jsonValue({ maxDepth: 3 }).map((value) => sentAsText(JSON.stringify(value) ?? 'null')),
      shaped.map(sentAsText),
      fc.uint8Array({ maxLength: 200 }).map(sentAsBytes),
    );
    const { decodeFrame } = await import('../machines/codec.js');
    await fc.assert(
      fc.asyncProperty(frames, async (frame) => {
        const before = inputs().length;
        raw.send(frame.data, { binary: frame.binary });
        await until('the event of one frame', () => inputs().length === before + 1);
        // What went over the wire: a string becomes UTF-8 (lone surrogates turn into U+FFFD).
        const bytes = typeof frame.data === 'string' ? Buffer.from(frame.data) : frame.data;
        const expected = decodeFrame(frame.binary ? bytes : bytes.toString('utf8'));
        const event = inputs()[before]!;
        if (expected.ok) {
          expect(event).toEqual({ type: 'transport.message', message: expected.message });
        } else {
          expect(event).toEqual({ type: 'transport.rejected', error: expected.error.toShape(), messageId: expected.messageId });
          expect(['INVALID_MESSAGE', 'UNSUPPORTED_MESSAGE', 'MESSAGE_TOO_LARGE']).toContain(expected.error.code);
        }
      }),
      { numRuns: 200 },
    );
    raw.send(validGetStatus('after-garbage'));
    await until('the valid message', () => session.of('transport.message').some((event) => event.message.messageId === 'after-garbage'));
    expect(raw.readyState).toBe(WebSocket.OPEN);
    expect(session.of('transport.closed')).toHaveLength(0);
  });

  it('WIRE-6, SEC-6: a frame above maxPayload makes ws close 1009; the sender is told so and the server keeps serving', async () => {
    const p = await provider({ maxPayload: 1024, echo: true });
    const { client: big, session } = await pair(p);
    big.send({ type: 'transport.send', draft: { type: 'Authenticate', payload: { clientId: 'c', token: 'x'.repeat(2_000) } } });
    expect(await closedOnce(big)).toEqual({ type: 'transport.closed', graceful: true, code: 1009, reason: '' });
    expect(await closedOnce(session)).toMatchObject({ graceful: false, code: 1006, reason: 'message too big' });
    expect(session.of('transport.message')).toHaveLength(0);
    const { client: next } = await pair(p);
    next.send({ type: 'transport.send', draft: getStatus('small', 'm-small') });
    await until('the echo', () => next.of('transport.message').length === 1);
    expect(next.of('transport.message')[0]!.message.payload).toEqual({ acknowledgmentId: 'm-small' });
  });

  it('WIRE-6: a client closes 1009 on a frame above its own maxPayload', async () => {
    const p = await provider();
    const { client: c, session } = await pair(p, { maxPayload: 512 });
    session.send({ type: 'transport.send', draft: { type: 'TaskResult', payload: { taskId: 't', status: 'Completed', resultData: 'y'.repeat(1_000) } } });
    expect(await closedOnce(session)).toMatchObject({ graceful: true, code: 1009 });
    expect(await closedOnce(c)).toMatchObject({ graceful: false, code: 1006, reason: 'message too big' });
  });
});

// ---- many clients -------------------------------------------------------------------------------

describe('many clients', () => {
  it('SEC-9: 50 clients at once each get their own messages and only those', async () => {
    const p = await provider({ echo: true });
    const count = 50;
    const startedAt = performance.now();
    const clients = Array.from({ length: count }, () => client(p.endpoint));
    await until('all opened', () => clients.every((c) => c.of('transport.opened').length === 1), 5_000);
    const openedMs = performance.now() - startedAt;
    clients.forEach((c, i) => {
      c.send({ type: 'transport.send', draft: getStatus(`task-${i}`, `m-${i}`) });
      c.send({ type: 'transport.send', draft: getStatus(`task-${i}`, `m-${i}-bis`) });
    });
    await until('all echoes', () => clients.every((c) => c.of('transport.message').length === 2), 5_000);
    clients.forEach((c, i) => {
      expect(c.of('transport.message').map((event) => (event.message.payload as { acknowledgmentId: string }).acknowledgmentId)).toEqual([
        `m-${i}`,
        `m-${i}-bis`,
      ]);
    });
    const ids = p.server.of('server.accepted').map((event) => event.connectionId);
    expect(new Set(ids).size).toBe(count);
    expect(p.metrics.connectionsAccepted).toBe(count);
    expect(openedMs).toBeLessThan(5_000);
    clients.forEach((c) => c.send({ type: 'transport.close', code: 1000 }));
    await until('all closed', () => [...p.sessions.values()].every((s) => s.of('transport.closed').length === 1));
    for (const session of p.sessions.values()) expect(session.of('transport.closed')).toEqual([{ type: 'transport.closed', graceful: true, code: 1000, reason: '' }]);
  });
});

// ---- IPv6 loopback ------------------------------------------------------------------------------

const hasIpv6Loopback = Object.values(networkInterfaces()).some((addresses) => addresses?.some((a) => a.address === '::1'));

describe('IPv6 loopback', () => {
  it.skipIf(!hasIpv6Loopback)('listens on ::1, advertises ws://[::1]:port and carries messages', async () => {
    const p = await provider({ host: '::1' });
    expect(p.endpoint).toBe(`ws://[::1]:${p.ws.port()}`);
    const { client: c, session, accepted } = await pair(p);
    expect(accepted.remoteAddress).toMatch(/^\[::1\]:\d+$/);
    c.send({ type: 'transport.send', draft: getStatus('v6') });
    await until('message', () => session.of('transport.message').length === 1);
  });
});

// ---- TLS ----------------------------------------------------------------------------------------

const hasOpenssl = spawnSync('openssl', ['version'], { timeout: 5_000 }).status === 0;

describe(`SEC-1: wss:// with a self-signed certificate${hasOpenssl ? '' : ' (SKIPPED: openssl not found on PATH, cannot generate a certificate)'}`, () => {
  let dir = '';
  let key = '';
  let cert = '';
  let fingerprint = '';

  beforeAll(() => {
    if (!hasOpenssl) return;
    dir = mkdtempSync(join(tmpdir(), 'switchboard-wss-'));
    const generated = spawnSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
        '-subj', '/CN=switchboard-test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { timeout: 20_000, encoding: 'utf8' },
    );
    if (generated.status !== 0) throw new Error(`openssl failed: ${generated.stderr}`);
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    fingerprint = new X509Certificate(cert).fingerprint256;
  });

  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  const tlsProvider = () => provider({ tls: { key, cert } });
  const otherFingerprint = () => fingerprint.replace(/^(..)/, (hex) => (hex === 'AA' ? 'BB' : 'AA'));

  it.skipIf(!hasOpenssl)('serves wss:// and carries messages to a client that trusts the certificate (ca)', async () => {
    const p = await tlsProvider();
    expect(p.endpoint).toBe(`wss://127.0.0.1:${p.ws.port()}`);
    const { client: c, session } = await pair(p, { tls: { ca: cert } });
    c.send({ type: 'transport.send', draft: getStatus('over-tls') });
    await until('message', () => session.of('transport.message').length === 1);
  });

  it.skipIf(!hasOpenssl)('refuses the self-signed certificate without ca or pin: closed 1006, never opened', async () => {
    const p = await tlsProvider();
    const c = client(p.endpoint);
    expect(await closedOnce(c)).toMatchObject({ graceful: false, code: 1006, reason: expect.stringContaining('SELF_SIGNED') });
    expect(c.of('transport.opened')).toHaveLength(0);
  });

  it.skipIf(!hasOpenssl)('accepts the certificate whose fingerprint is pinned, without ca', async () => {
    const p = await tlsProvider();
    const { client: c } = await pair(p, { tls: { fingerprint256: fingerprint }, token: 'secret' });
    expect(c.of('transport.opened')).toHaveLength(1);
  });

  it.skipIf(!hasOpenssl)('refuses a certificate whose fingerprint differs from the pin: closed 1006, never opened', async () => {
    const p = await tlsProvider();
    const metrics = createWsMetrics();
    const c = client(p.endpoint, { tls: { fingerprint256: otherFingerprint() }, metrics });
    expect(await closedOnce(c)).toEqual({ type: 'transport.closed', graceful: false, code: 1006, reason: 'certificate fingerprint mismatch' });
    expect(c.of('transport.opened')).toHaveLength(0);
    expect(p.server.of('server.accepted')).toHaveLength(0);
    expect(metrics.connectFailures).toBe(1);
  });

  it.skipIf(!hasOpenssl)('checks the pin before the first HTTP byte: a mismatched peer never sees the token', async () => {
    const received = { mismatched: '', pinned: '' };
    let current: keyof typeof received = 'mismatched';
    const raw = track(createTlsServer({ key, cert }, (socket) => {
      const into = current;
      socket.on('data', (data: Buffer) => (received[into] += data.toString('latin1')));
      socket.on('error', () => {});
    }));
    const port = await listenOn(raw);
    const endpoint = `wss://127.0.0.1:${port}`;
    const refused = client(endpoint, { tls: { fingerprint256: otherFingerprint() }, token: 'secret' });
    expect(await closedOnce(refused)).toMatchObject({ code: 1006, reason: 'certificate fingerprint mismatch' });
    await sleep(30);
    expect(received.mismatched).toBe('');
    // Control: with the right pin the request (and its token) does go out.
    current = 'pinned';
    const pinned = client(endpoint, { tls: { fingerprint256: fingerprint }, token: 'secret', handshakeTimeoutMs: 300 });
    await until('the upgrade request', () => received.pinned.includes('\r\n\r\n'));
    expect(received.pinned.toLowerCase()).toContain('authorization: bearer secret');
    pinned.stop();
  });

  it.skipIf(!hasOpenssl)('refuses a pin on a ws:// endpoint, and a pin that is not a SHA-256 fingerprint', async () => {
    const c = client('ws://127.0.0.1:1', { tls: { fingerprint256: fingerprint } });
    expect(await closedOnce(c)).toMatchObject({ code: 1006, reason: 'a certificate is pinned but the endpoint is not wss://' });
    expect(() => wsConnect({ tls: { fingerprint256: 'AB:CD' } })).toThrow(TypeError);
  });
});
