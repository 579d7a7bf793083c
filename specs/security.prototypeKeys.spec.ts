/**
 * SEC-9, SEC-12: no frame whose strings are names of Object.prototype crashes a provider or a
 * client, or stops it answering. Real processes on loopback (specs/fixtures/processes): the
 * provider and client of the real-network specs, run with their `fatal` line and exit code 70 on
 * any uncaught exception.
 *
 * Provider: every string field of every client message (and of the provider-only types a client
 * may send anyway) is set to each prototype name, in one session per name (its clientIds all
 * that name, so the session binds it); after each batch the same session must still answer a
 * GetStatus. Then a fast-check property mixes names, fields, messages and extra members named
 * `__proto__` / `constructor` across fresh sessions. Before the fix, the first AssignTask whose
 * callbackClientId was `constructor` killed the provider (a plain-object lookup).
 * Client: a scripted provider answers each AssignTask with a provider message whose string
 * field is a prototype name, then the genuine result: every task settles exactly once, any
 * failure code the application sees is well-formed (never the injected name), and the client
 * process lives.
 */
import dgram from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WELL_FORMED_CODE } from '../machines/errors.js';
import { listeningOf, startClientProcess, startProviderProcess, stopTracked, type Listening, type NodeChild } from './support/processes.js';
import { payloadOf, rawSession, type Json } from './support/rawSession.js';
import { freeDiscoveryPort } from './support/udpPort.js';

const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
] as const;

const now = () => new Date().toISOString();
let counter = 0;
const fresh = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

/** A genuine message of each type a client could send, acting for `clientId`. */
function templates(clientId: string): Record<string, Json> {
  const taskId = fresh('t');
  return {
    AssignTask: { type: 'AssignTask', messageId: fresh('m'), timestamp: now(), payload: { taskId, serviceName: 'Work', operation: 'echo', taskParameters: { text: 'x' }, callbackClientId: clientId } },
    CancelTask: { type: 'CancelTask', messageId: fresh('m'), timestamp: now(), payload: { taskId, originalClientId: clientId } },
    GetStatus: { type: 'GetStatus', messageId: fresh('m'), timestamp: now(), payload: { taskId, originalClientId: clientId } },
    GetResult: { type: 'GetResult', messageId: fresh('m'), timestamp: now(), payload: { taskId, originalClientId: clientId } },
    Authenticate: { type: 'Authenticate', messageId: fresh('m'), timestamp: now(), payload: { clientId, token: 'tok' } },
    Ack: { type: 'Ack', messageId: fresh('m'), timestamp: now(), payload: { acknowledgmentId: fresh('m'), taskId, status: 'Queued' } },
    TaskStatusUpdate: { type: 'TaskStatusUpdate', messageId: fresh('m'), timestamp: now(), payload: { taskId, status: 'Processing', progressPercentage: 5, message: 'm', originalClientId: clientId } },
    TaskResult: { type: 'TaskResult', messageId: fresh('m'), timestamp: now(), payload: { taskId, status: 'Completed', resultData: { a: 1 }, originalClientId: clientId } },
    TaskFailed: { type: 'TaskFailed', messageId: fresh('m'), timestamp: now(), payload: { taskId, status: 'Failed', errorMessage: 'e', errorCode: 'X_Y', originalClientId: clientId } },
    Error: { type: 'Error', messageId: fresh('m'), timestamp: now(), payload: { code: 'X_Y', message: 'e', relatesTo: fresh('m'), taskId } },
  };
}

/** Paths of the string-valued fields of a message (the ones the specs set to prototype names). */
function stringPaths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value === 'string') return [prefix];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => stringPaths(child, [...prefix, key]));
}

function withValue(message: Json, path: readonly string[], value: unknown): Json {
  const copy = structuredClone(message);
  let node = copy as Record<string, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  Object.defineProperty(node, path.at(-1) as string, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** Adds a member named `key` (an own property, even `__proto__`) at `where` in the message. */
function withMember(message: Json, where: 'top' | 'payload' | 'params', key: string): Json {
  const copy = structuredClone(message);
  const payload = copy.payload as Record<string, unknown> | undefined;
  const target = where === 'top' ? copy : where === 'payload' ? payload : (payload?.taskParameters as Record<string, unknown> | undefined);
  if (target !== undefined) Object.defineProperty(target, key, { value: { polluted: true, [key]: key }, enumerable: true, writable: true, configurable: true });
  return copy;
}

const clientIdFields = new Set(['callbackClientId', 'originalClientId', 'clientId']);


describe('a provider process fed prototype names (SEC-9)', () => {
  let provider: NodeChild;
  let listening: Listening;

  beforeAll(async () => {
    provider = startProviderProcess({ name: 'Proto', discoveryPort: await freeDiscoveryPort() });
    listening = await listeningOf(provider);
  }, 30_000);

  afterAll(async () => {
    await stopTracked();
  });

  /** A GetStatus on a fresh session gets its TASK_NOT_FOUND: the provider still answers. */
  async function expectAnswering(): Promise<void> {
    const control = await rawSession(listening.endpoint);
    const probe = templates(fresh('control')).GetStatus as Json;
    control.send(probe);
    const answer = await control.expectFrame((f) => payloadOf(f).relatesTo === probe.messageId, 'the control GetStatus answer');
    expect(payloadOf(answer).code).toBe('TASK_NOT_FOUND');
    control.close();
    expect(provider.alive).toBe(true);
    expect(provider.of('fatal')).toEqual([]);
  }

  it('every string field of every message, set to each prototype name, in a session bound to that name', async () => {
    for (const key of PROTO_KEYS) {
      const session = await rawSession(listening.endpoint);
      for (const [type, message] of Object.entries(templates(key))) {
        for (const path of stringPaths(message)) {
          if (clientIdFields.has(path.at(-1) as string)) continue; // already `key` in this session
          session.send(withValue(message, path, key));
        }
        for (const where of ['top', 'payload', 'params'] as const) session.send(withMember(message, where, key));
        void type;
      }
      // The session still answers, in order, for the clientId it is bound to.
      const probe = templates(key).GetStatus as Json;
      session.send(probe);
      const answer = await session.expectFrame((f) => payloadOf(f).relatesTo === probe.messageId, `the GetStatus answer in the ${key} session`);
      expect(payloadOf(answer).code).toBe('TASK_NOT_FOUND');
      // The genuine AssignTask of that session ran: its clientId is an ordinary key now.
      const assign = templates(key).AssignTask as Json;
      session.send(assign);
      const result = await session.expectFrame((f) => f.type === 'TaskResult' && payloadOf(f).taskId === payloadOf(assign).taskId, `the echo result for ${key}`);
      expect(payloadOf(result).resultData).toMatchObject({ text: 'x' });
      session.close();
    }
    await expectAnswering();
  }, 60_000);

  it('property: random mixes of names, fields and members on fresh sessions never stop the provider', async () => {
    const types = Object.keys(templates('x'));
    const mutation = fc.record({
      type: fc.constantFrom(...types),
      clientId: fc.constantFrom(...PROTO_KEYS, 'alice'),
      key: fc.constantFrom(...PROTO_KEYS),
      field: fc.nat(),
      member: fc.option(fc.constantFrom('top', 'payload', 'params') as fc.Arbitrary<'top' | 'payload' | 'params'>, { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 12 }), async (mutations) => {
        const session = await rawSession(listening.endpoint);
        for (const m of mutations) {
          let message = templates(m.clientId)[m.type] as Json;
          const paths = stringPaths(message);
          message = withValue(message, paths[m.field % paths.length] as string[], m.key);
          if (m.member !== undefined) message = withMember(message, m.member, m.key);
          session.send(message);
        }
        session.close();
        await expectAnswering();
      }),
      { numRuns: 40, seed: Number(process.env.FC_SEED ?? 20_250_901), verbose: 1 },
    );
  }, 120_000);
});

// ---- the client ----------------------------------------------------------------------------------

/** A scripted provider: advertises itself to the client's discovery port and answers tasks by script. */
async function scriptedProvider(discoveryPort: number, answer: (assign: Json, send: (message: Json) => void) => void) {
  const http: Server = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as Json;
      if (message.type === 'AssignTask') answer(message, (reply) => socket.send(JSON.stringify(reply)));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const endpoint = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const udp = dgram.createSocket('udp4');
  const advertise = () =>
    udp.send(
      JSON.stringify({
        discoveryType: 'ServiceAdvertisement',
        serviceId: 'scripted-1',
        serviceName: 'Scripted',
        serviceVersion: '1.0.0',
        endpoint,
        capabilities: [{ key: 'run', settings: [] }],
        status: 'Online',
        load: 0,
        timestamp: now(),
        heartbeatIntervalMs: 10_000,
      }),
      discoveryPort,
      '127.0.0.1',
    );
  advertise();
  const timer = setInterval(advertise, 500);
  return {
    close: async () => {
      clearInterval(timer);
      udp.close();
      for (const socket of wss.clients) socket.terminate();
      wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

describe('a client process answered with prototype names (SEC-9, SEC-12)', () => {
  it('every string field of every provider message, set to each prototype name: each task settles once, codes well-formed', async () => {
    const discoveryPort = await freeDiscoveryPort();
    /** taskId -> the injected message, for the failure report. */
    const injected = new Map<string, { path: string; key: string; type: string }>();
    const plan: { type: string; path: string[]; key: string }[] = [];
    for (const key of PROTO_KEYS) {
      for (const [type, message] of Object.entries(templates('c'))) {
        if (!['Ack', 'TaskStatusUpdate', 'TaskResult', 'TaskFailed', 'Error'].includes(type)) continue;
        for (const path of stringPaths(message)) plan.push({ type, path, key });
      }
    }
    let next = 0;
    const scripted = await scriptedProvider(discoveryPort, (assign, send) => {
      const step = plan[next++ % plan.length] as (typeof plan)[number];
      const taskId = String(payloadOf(assign).taskId);
      const clientId = String(payloadOf(assign).callbackClientId);
      injected.set(taskId, { path: step.path.join('.'), key: step.key, type: step.type });
      // The injected message is about this very task (taskId, messageId and clientId as the real ones).
      const base = templates(clientId)[step.type] as Json;
      const aboutTask = withValue(withValue(base, ['payload', step.type === 'Ack' ? 'acknowledgmentId' : 'taskId'], step.type === 'Ack' ? String(assign.messageId) : taskId), ['payload', 'taskId'], taskId);
      send(withValue(aboutTask, step.path, step.key));
      send({ type: 'TaskResult', messageId: fresh('r'), timestamp: now(), payload: { taskId, status: 'Completed', resultData: { done: taskId }, originalClientId: clientId } });
    });
    // The scripted provider is unsigned, like a seed-only peer (SEC-8).
    const client = startClientProcess('proto client', discoveryPort, ['--allow-unsigned']);
    try {
      await client.waitFor((e) => e.event === 'services' && (e.services as unknown[]).length > 0, { what: 'the scripted provider', timeoutMs: 20_000 });
      const taskIds = plan.map((_, i) => `task-${i}`);
      for (const taskId of taskIds) client.send({ cmd: 'assign', taskId, service: 'Scripted', operation: 'run', params: {} });
      await client.waitFor(() => client.of('settled').length >= taskIds.length, { what: `${taskIds.length} settled tasks`, timeoutMs: 30_000 });
      const settled = client.of('settled');
      for (const taskId of taskIds) {
        const outcomes = settled.filter((e) => e.taskId === taskId);
        const why = JSON.stringify({ taskId, injected: injected.get(taskId), outcomes });
        expect(outcomes, why).toHaveLength(1);
        const outcome = outcomes[0] as unknown as { ok: boolean; code?: string };
        if (!outcome.ok) {
          expect(outcome.code, why).toMatch(WELL_FORMED_CODE);
          expect(PROTO_KEYS as readonly string[], why).not.toContain(outcome.code);
        }
      }
      expect(client.alive).toBe(true);
      expect(client.of('fatal')).toEqual([]);
    } finally {
      await scripted.close();
      await stopTracked();
    }
  }, 90_000);
});
