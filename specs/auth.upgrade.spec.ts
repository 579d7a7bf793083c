/**
 * SEC-2 and SEC-3 on a provider that requires a token (`auth: { tokens }` or `auth: { verify }`),
 * end to end on loopback: a wrong token at the WebSocket upgrade, in the Authorization header or as
 * `?token=`, is refused (Error UNAUTHENTICATED, close 1008, no operation run); the right one gets a
 * working connection (a task completes). A connection without a token
 * is accepted but unauthenticated: its AssignTask fails UNAUTHENTICATED until an Authenticate
 * message with a valid token; a wrong one there is refused too.
 */
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createProvider, defineService, type Provider } from '../runtime/index.js';
import { allocatePorts } from './support/ports.js';

interface Refusal {
  readonly frames: { type: string; payload: { code?: string } }[];
  readonly close: { code: number; reason: string };
}

/** Opens a raw WebSocket and collects what the provider sends until it closes the connection. */
function connectRaw(url: string, headers: Record<string, string> = {}): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const frames: Refusal['frames'] = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${url}: still open after 5 s (not refused)`));
    }, 5_000);
    ws.on('message', (data) => frames.push(JSON.parse(String(data))));
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ frames, close: { code, reason: String(reason) } });
    });
    ws.on('error', () => {});
  });
}

const assignPayload = (taskId: string) => ({ taskId, serviceName: 'Locked', operation: 'open', taskParameters: {}, callbackClientId: 'raw-client' });

interface RawSession {
  send(type: string, messageId: string, payload: unknown): void;
  /** The first frame (from the start) that passes `test`, within 5 s. */
  reply(test: (frame: { type: string }) => boolean): Promise<{ type: string; payload: Record<string, unknown> }>;
  readonly closed: Promise<{ code: number }>;
  /** Closes and waits until the provider closed its end too. */
  close(): Promise<void>;
}

/** A raw WebSocket (presenting no token unless `headers` carry one), open and collecting frames. */
function openRaw(endpoint: string, headers: Record<string, string> = {}): Promise<RawSession> {
  const ws = new WebSocket(endpoint, { headers });
  const frames: { type: string; payload: Record<string, unknown> }[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data))));
  ws.on('error', () => {});
  const closed = new Promise<{ code: number }>((resolve) => ws.on('close', (code) => resolve({ code })));
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        send: (type, messageId, payload) => ws.send(JSON.stringify({ type, messageId, timestamp: new Date().toISOString(), payload })),
        reply: async (test) => {
          const deadline = Date.now() + 5_000;
          for (;;) {
            const found = frames.find(test);
            if (found !== undefined) return found;
            if (Date.now() > deadline) throw new Error(`no such frame; got ${JSON.stringify(frames)}`);
            await new Promise((wait) => setTimeout(wait, 10));
          }
        },
        closed,
        close: async () => {
          ws.close();
          await closed;
        },
      }),
    );
  });
}

const runs: string[] = [];
const locked = defineService({
  name: 'Locked',
  version: '1.0.0',
  operations: { open: { params: z.object({}), run: async (_params, ctx) => (runs.push(ctx.clientId), { opened: true }) } },
});

const providers: Record<'tokens' | 'verify', { provider: Provider; endpoint: string }> = {} as never;

beforeAll(async () => {
  const [tokensPort, verifyPort] = await allocatePorts(2);
  const start = async (port: number, auth: Parameters<typeof createProvider>[0]['auth']) => {
    const discovery = { port, broadcastAddresses: ['127.255.255.255'] };
    const provider = createProvider({ services: [locked], host: '127.0.0.1', discovery, auth });
    const { endpoint } = await provider.start();
    return { provider, endpoint };
  };
  providers.tokens = await start(tokensPort!, { tokens: ['right-token'] });
  providers.verify = await start(verifyPort!, { verify: async (token) => token === 'right-token' });
});

afterAll(async () => {
  await Promise.all(Object.values(providers).map(({ provider }) => provider.stop()));
});

describe.each(['tokens', 'verify'] as const)('SEC-2: a provider with auth.%s', (kind) => {
  it.each([
    ['in the Authorization header', (endpoint: string) => connectRaw(endpoint, { authorization: 'Bearer wrong-token' })],
    ['as ?token=', (endpoint: string) => connectRaw(`${endpoint}/?token=wrong-token`)],
  ])('refuses a wrong token %s: Error UNAUTHENTICATED, then close 1008', async (_where, connect) => {
    const before = runs.length;
    const refusal = await connect(providers[kind].endpoint);
    expect(refusal.frames).toEqual([expect.objectContaining({ type: 'Error', payload: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
    expect(refusal.close.code).toBe(1008);
    expect(runs.length).toBe(before);
  });

  it('SEC-3: without a token the connection opens, but an AssignTask fails UNAUTHENTICATED until Authenticate succeeds', async () => {
    const before = runs.length;
    const session = await openRaw(providers[kind].endpoint);
    try {
      session.send('AssignTask', 'm-early', assignPayload('early'));
      expect(await session.reply((frame) => frame.type === 'TaskFailed')).toMatchObject({ payload: { taskId: 'early', errorCode: 'UNAUTHENTICATED' } });
      session.send('Authenticate', 'm-auth', { clientId: 'raw-client', token: 'right-token' });
      expect(await session.reply((frame) => frame.type === 'Ack' || frame.type === 'Error')).toMatchObject({ type: 'Ack' });
      session.send('AssignTask', 'm-late', assignPayload('late'));
      expect(await session.reply((frame) => frame.type === 'TaskResult')).toMatchObject({ payload: { taskId: 'late', resultData: { opened: true } } });
      expect(runs.length).toBe(before + 1);
    } finally {
      await session.close();
    }
  });

  it('SEC-2: an Authenticate message with a wrong token gets Error UNAUTHENTICATED and close 1008', async () => {
    const session = await openRaw(providers[kind].endpoint);
    session.send('Authenticate', 'm-wrong', { clientId: 'raw-client', token: 'wrong-token' });
    expect(await session.reply((frame) => frame.type === 'Error')).toMatchObject({ payload: { code: 'UNAUTHENTICATED' } });
    expect((await session.closed).code).toBe(1008);
  });

  it('accepts the right token at the upgrade: the session is authenticated and a task completes', async () => {
    const session = await openRaw(providers[kind].endpoint, { authorization: 'Bearer right-token' });
    try {
      session.send('AssignTask', 'm-ok', assignPayload('ok'));
      expect(await session.reply((frame) => frame.type === 'TaskResult' || frame.type === 'TaskFailed')).toMatchObject({
        type: 'TaskResult',
        payload: { taskId: 'ok', resultData: { opened: true } },
      });
    } finally {
      await session.close();
    }
  });
});
