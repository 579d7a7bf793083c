/**
 * SEC-2 at the WebSocket upgrade, end to end on loopback: a provider that requires a token
 * (`auth: { tokens }` or `auth: { verify }`) refuses a connection that presents a wrong one, in the
 * Authorization header or as `?token=`: Error UNAUTHENTICATED, close 1008, no operation run. The
 * right token gets a working connection (a task completes through the library client).
 */
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createProvider, defineService, type Provider } from '../runtime/index.js';
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

const runs: string[] = [];
const locked = defineService({
  name: 'Locked',
  version: '1.0.0',
  operations: { open: { params: z.object({}), run: async (_params, ctx) => (runs.push(ctx.clientId), { opened: true }) } },
});

const providers: Record<'tokens' | 'verify', { provider: Provider; endpoint: string; discovery: { port: number; broadcastAddresses: string[] } }> = {} as never;

beforeAll(async () => {
  const [tokensPort, verifyPort] = await allocatePorts(2);
  const start = async (port: number, auth: Parameters<typeof createProvider>[0]['auth']) => {
    const discovery = { port, broadcastAddresses: ['127.255.255.255'] };
    const provider = createProvider({ services: [locked], host: '127.0.0.1', discovery, auth });
    const { endpoint } = await provider.start();
    return { provider, endpoint, discovery };
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

  it('accepts the right token: a task completes', async () => {
    const client = createClient({ discovery: providers[kind].discovery, connect: { token: 'right-token' } });
    try {
      await client.waitFor('Locked', { timeoutMs: 5_000 });
      await expect(client.assign('Locked', 'open', {}).result).resolves.toEqual({ opened: true });
    } finally {
      await client.stop();
    }
  });
});
