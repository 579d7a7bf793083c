/**
 * Session hooks over real sockets (HOOK-1..HOOK-6): a service's veto over connections, what it is
 * told about sessions authenticating and ending, and the client's view of how a connection ended.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, type Client } from '../runtime/client.js';
import type { ConnectInfo } from '../runtime/hooks/sessionHooks.js';
import { createProvider, type Provider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { rawSession, payloadOf } from './support/rawSession.js';
import { until } from './support/eventFixtures.js';
import { freeDiscoveryPort } from './support/udpPort.js';

const quiet = () => {};
type Ended = { connectionId: string; clientId: string | undefined; graceful: boolean; reason: string };

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

async function start(hooks: Parameters<typeof defineService>[0]['hooks'], answerDelayMs = 1_000) {
  const echo = defineService({
    name: 'Echo',
    version: '1',
    operations: { echo: { params: z.object({ text: z.string() }), run: ({ text }) => ({ text }) } },
    ...(hooks === undefined ? {} : { hooks }),
  });
  const port = await freeDiscoveryPort();
  const provider: Provider = createProvider({
    services: [echo],
    host: '127.0.0.1',
    discovery: { port, broadcastAddresses: ['127.255.255.255'] },
    session: { answerDelayMs },
    log: quiet,
  });
  const { endpoint } = await provider.start();
  stops.push(() => provider.stop());
  const newClient = (clientId: string): Client => {
    const client = createClient({ clientId, discovery: { port, broadcastAddresses: ['127.255.255.255'] }, connection: { backoff: { delayMsBase: 20, delayMsMax: 50, attemptsMax: 2 } }, log: quiet });
    stops.push(() => client.stop());
    return client;
  };
  return { provider, endpoint, newClient };
}

describe('HOOK-1: a service may veto a connection, within the answer delay', () => {
  it('a veto is an Error with its code and reason, then close 1008 with a readable reason (HOOK-5)', async () => {
    const asked: ConnectInfo[] = [];
    const { endpoint } = await start({
      connect: (info) => {
        asked.push(info);
        return asked.length === 1 ? { accept: false, code: 'FORBIDDEN', reason: 'closed for maintenance' } : true;
      },
    });
    const refused = await rawSession(endpoint);
    const error = await refused.expectFrame((f) => f.type === 'Error', 'the refusal');
    expect(payloadOf(error)).toMatchObject({ code: 'FORBIDDEN', message: 'closed for maintenance' });
    await until(() => refused.closed() !== undefined, 'the close');
    expect(refused.closed()).toEqual({ code: 1008, reason: 'closed for maintenance' });
    expect(asked[0]).toMatchObject({ remoteAddress: expect.stringContaining('127.0.0.1'), authenticated: false });
    // The second is accepted: it may talk.
    const accepted = await rawSession(endpoint);
    accepted.send({ type: 'AssignTask', messageId: 'm1', timestamp: new Date().toISOString(), payload: { taskId: 't1', serviceName: 'Echo', operation: 'echo', taskParameters: { text: 'hi' }, callbackClientId: 'c1' } });
    await accepted.expectFrame((f) => f.type === 'TaskResult', 'the result');
    accepted.close();
  });

  it('a hook that throws, or answers after answerDelayMs, vetoes', async () => {
    let calls = 0;
    const { endpoint } = await start(
      {
        connect: async () => {
          calls++;
          if (calls === 1) throw new Error('database down');
          await new Promise((resolve) => setTimeout(resolve, 600));
          return true;
        },
      },
      200,
    );
    const thrown = await rawSession(endpoint);
    await thrown.expectFrame((f) => f.type === 'Error' && payloadOf(f).code === 'FORBIDDEN', 'FORBIDDEN for a throwing hook');
    const late = await rawSession(endpoint);
    const error = await late.expectFrame((f) => f.type === 'Error', 'the refusal of a late answer');
    expect(payloadOf(error).code).toBe('UNAUTHENTICATED');
    await until(() => late.closed() !== undefined, 'the close');
    expect(late.closed()?.code).toBe(1008);
  });

  it('HOOK-6: a slow connect hook for one connection does not delay another session', async () => {
    let calls = 0;
    const { endpoint } = await start(
      {
        connect: async () => {
          calls++;
          if (calls === 1) await new Promise((resolve) => setTimeout(resolve, 700));
          return true;
        },
      },
      1_000,
    );
    const slow = await rawSession(endpoint);
    const fast = await rawSession(endpoint);
    const began = Date.now();
    fast.send({ type: 'AssignTask', messageId: 'm2', timestamp: new Date().toISOString(), payload: { taskId: 't2', serviceName: 'Echo', operation: 'echo', taskParameters: { text: 'quick' }, callbackClientId: 'fast' } });
    await fast.expectFrame((f) => f.type === 'TaskResult', 'the fast result');
    expect(Date.now() - began).toBeLessThan(600);
    slow.close();
    fast.close();
  });
});

describe('HOOK-2, HOOK-3, HOOK-4: told about sessions, graceful vs brutal on both sides', () => {
  it('authenticate once per session with the clientId; disconnect exactly once, graceful or not', async () => {
    const bound: string[] = [];
    const ended: Ended[] = [];
    const { endpoint } = await start({
      authenticate: ({ clientId }) => bound.push(clientId),
      disconnect: (info) => {
        ended.push(info);
        throw new Error('an observing hook that fails changes nothing (HOOK-6)');
      },
    });
    const assign = (clientId: string, taskId: string) => ({
      type: 'AssignTask',
      messageId: `m-${taskId}`,
      timestamp: new Date().toISOString(),
      payload: { taskId, serviceName: 'Echo', operation: 'echo', taskParameters: { text: taskId }, callbackClientId: clientId },
    });
    const polite = await rawSession(endpoint);
    polite.send(assign('polite', 'p1'));
    polite.send(assign('polite', 'p2'));
    await polite.expectFrame((f) => f.type === 'TaskResult' && payloadOf(f).taskId === 'p2', 'the results');
    polite.socket.close(1000, 'bye');
    const rude = await rawSession(endpoint);
    rude.send(assign('rude', 'r1'));
    await rude.expectFrame((f) => f.type === 'TaskResult', 'the result');
    rude.socket.terminate();
    await until(() => ended.length === 2, 'two disconnects');
    expect(bound).toEqual(['polite', 'rude']);
    expect(ended.find((e) => e.clientId === 'polite')).toMatchObject({ graceful: true, reason: 'closed by client (1000: bye)' });
    expect(ended.find((e) => e.clientId === 'rude')).toMatchObject({ graceful: false });
  });

  it('HOOK-4: the client is told a lost connection (no close frame) and a graceful one (1001 provider stopping)', async () => {
    const { provider, newClient } = await start(undefined);
    const client = newClient('watcher');
    const downs: { graceful: boolean; code?: number | undefined; closeReason?: string | undefined }[] = [];
    client.on('connection.down', ({ graceful, code, closeReason }) => downs.push({ graceful, code, closeReason }));
    await client.waitFor('Echo', { timeoutMs: 4_000 });
    expect(await client.assign('Echo', 'echo', { text: 'a' }).result).toEqual({ text: 'a' });
    const [connectionId] = [...provider.actor.getSnapshot().context.sessions.keys()];
    (provider.actor.getSnapshot().children.server as { send(event: unknown): void }).send({ type: 'server.drop', connectionId });
    await until(() => downs.length === 1, 'the lost connection');
    expect(downs[0]).toEqual({ graceful: false });
    // It reconnects; then the provider stops: a close frame with a readable reason.
    expect(await client.assign('Echo', 'echo', { text: 'b' }).result).toEqual({ text: 'b' });
    await provider.stop();
    await until(() => downs.length === 2, 'the graceful close');
    expect(downs[1]).toEqual({ graceful: true, code: 1001, closeReason: 'provider stopping' });
  });
});
