/**
 * SEC-10 attack tests, real sockets on loopback: a session that claims another client's clientId
 * gets FORBIDDEN for every task message and learns nothing (the same answer whether the task
 * exists or not), while the victim keeps receiving its progress and its result.
 *
 * The provider runs in this process (createProvider, 127.0.0.1); the victim is a real
 * switchboard client (createClient: it presents its client proof at every upgrade); the
 * attacker is a raw WebSocket, from another loopback address (127.0.0.2, another host as far as
 * the provider can tell) or from the victim's own, with or without a proof of its own.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { clientProofFor } from '../adapters/ws/options.js';
import { createClient, type Client } from '../runtime/client.js';
import { createProvider, type Provider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { payloadOf, rawSession, type Json, type RawSession } from './support/rawSession.js';
import { freeDiscoveryPort } from './support/udpPort.js';

const work = defineService({
  name: 'Work',
  version: '1.0.0',
  operations: {
    work: {
      params: z.object({ steps: z.number().int().min(1).max(100), stepMs: z.number().int().min(0).max(1_000) }),
      run: async ({ steps, stepMs }, ctx) => {
        for (let step = 1; step <= steps; step++) {
          await delay(stepMs, undefined, { signal: ctx.signal });
          ctx.progress((step * 100) / steps, `step ${step}`);
        }
        return { steps, secret: `result of ${ctx.taskId}` };
      },
    },
  },
});

let counter = 0;
const id = (prefix: string) => `${prefix}-${++counter}`;
const now = () => new Date().toISOString();

const taskMessages = (clientId: string, taskId: string): Json[] => [
  { type: 'GetStatus', messageId: id('m'), timestamp: now(), payload: { taskId, originalClientId: clientId } },
  { type: 'GetResult', messageId: id('m'), timestamp: now(), payload: { taskId, originalClientId: clientId } },
  { type: 'CancelTask', messageId: id('m'), timestamp: now(), payload: { taskId, originalClientId: clientId } },
  {
    type: 'AssignTask',
    messageId: id('m'),
    timestamp: now(),
    payload: { taskId, serviceName: 'Work', operation: 'work', taskParameters: { steps: 1, stepMs: 0 }, callbackClientId: clientId },
  },
];

/** What a session's answers to `messages` say, without the ids that differ by message. */
async function answersTo(session: RawSession, messages: readonly Json[]): Promise<unknown[]> {
  const answers: unknown[] = [];
  for (const message of messages) {
    session.send(message);
    const taskId = (message.payload as Json).taskId;
    const answer = await session.expectFrame(
      (f) => payloadOf(f).relatesTo === message.messageId || (f.type === 'TaskFailed' && payloadOf(f).taskId === taskId),
      `the answer to ${String(message.type)}`,
    );
    const { relatesTo: _r, taskId: _t, ...rest } = payloadOf(answer);
    answers.push({ type: answer.type, ...rest });
  }
  return answers;
}

describe('SEC-10: taking over another client', () => {
  let provider: Provider;
  let endpoint: string;
  let discoveryPort: number;
  const clients: Client[] = [];
  const sessions: RawSession[] = [];

  beforeAll(async () => {
    discoveryPort = await freeDiscoveryPort();
    provider = createProvider({
      services: [work],
      host: '127.0.0.1',
      discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] },
      heartbeatIntervalMs: 1_000,
    });
    ({ endpoint } = await provider.start());
  });

  afterAll(async () => {
    for (const session of sessions) session.close();
    await Promise.all(clients.map((client) => client.stop()));
    await provider.stop();
  });

  const attacker = async (localAddress: string, headers: Record<string, string> = {}) => {
    const session = await rawSession(endpoint, { localAddress, headers });
    sessions.push(session);
    return session;
  };

  it('the attacker gets FORBIDDEN for everything, learns nothing, and the victim gets its progress and result', async () => {
    const victim = createClient({ discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] } });
    clients.push(victim);
    await victim.waitFor('Work', { operation: 'work' });
    const task = victim.assign<{ secret: string }>('Work', 'work', { steps: 10, stepMs: 30 });
    const progress: number[] = [];
    task.onProgress((p) => progress.push(p.progressPercentage));
    await delay(60); // the victim's session is bound and the task runs

    const forbidden = { type: 'Error', code: 'FORBIDDEN', message: 'this clientId belongs to another client (SEC-10)' };
    const forbiddenTask = {
      type: 'TaskFailed',
      status: 'Failed',
      errorCode: 'FORBIDDEN',
      errorMessage: 'this clientId belongs to another client (SEC-10)',
      originalClientId: victim.clientId,
    };
    const expected = [forbidden, forbidden, forbidden, forbiddenTask];
    // From another host, with no proof; from another host with a made-up proof; from the
    // victim's own host without proof: all refused alike, for the real task and a made-up one.
    for (const [address, headers] of [
      ['127.0.0.2', {}],
      ['127.0.0.2', { 'x-switchboard-client-proof': clientProofFor('guess', endpoint) }],
      ['127.0.0.1', {}],
    ] as const) {
      const mallory = await attacker(address, headers);
      expect(await answersTo(mallory, taskMessages(victim.clientId, task.taskId))).toEqual(expected);
      expect(await answersTo(mallory, taskMessages(victim.clientId, 'no-such-task'))).toEqual(expected);
      // Nothing else reached the attacker: no progress, no result of the victim's task.
      expect(mallory.frames.filter((f) => f.type === 'TaskStatusUpdate' || f.type === 'TaskResult')).toEqual([]);
    }

    await expect(task.result).resolves.toEqual({ steps: 10, secret: `result of ${task.taskId}` });
    expect(progress.at(-1)).toBe(100);
    expect(provider.actor.getSnapshot().context.stats).toMatchObject({ bindingsRefused: 3, requestsForbidden: 24 });
  });

  it('a reconnecting switchboard client keeps its clientId (it presents the same proof), from any connection', async () => {
    const secret = 'a-long-random-secret-kept-by-the-client';
    const clientId = id('restarted');
    const first = createClient({ clientId, clientSecret: secret, discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] } });
    clients.push(first);
    await first.waitFor('Work', { operation: 'work' });
    const task = first.assign('Work', 'work', { steps: 1, stepMs: 0 }, { taskId: 'kept' });
    await task.result;
    await first.stop();
    // The same client (same secret) on a new connection reads its result; a raw peer that
    // proves the same secret does too, even from another host.
    const again = await attacker('127.0.0.2', { 'x-switchboard-client-proof': clientProofFor(secret, endpoint) });
    const [status] = taskMessages(clientId, 'kept');
    again.send(status);
    const answer = await again.expectFrame((f) => f.type === 'TaskResult', 'the kept result');
    expect(payloadOf(answer).taskId).toBe('kept');
  });

  it('a seed-only peer (no proof) keeps its clientId from its own host; another host gets FORBIDDEN', async () => {
    const clientId = id('seed-peer');
    const taskId = id('seed-task');
    const seed = await attacker('127.0.0.3');
    const [, , , assign] = taskMessages(clientId, taskId);
    seed.send(assign);
    await seed.expectFrame((f) => f.type === 'TaskResult', 'the seed peer result');
    seed.close();
    // Real seed peers poll GetStatus on a new connection each time: same host, no proof.
    const poll = await attacker('127.0.0.3');
    const [status] = taskMessages(clientId, taskId);
    poll.send(status);
    expect((await poll.expectFrame((f) => f.type === 'TaskResult', 'the polled result')).type).toBe('TaskResult');
    const other = await attacker('127.0.0.4');
    expect(await answersTo(other, [taskMessages(clientId, taskId)[0] as Json])).toEqual([
      { type: 'Error', code: 'FORBIDDEN', message: 'this clientId belongs to another client (SEC-10)' },
    ]);
  });
});

describe('SEC-10 with API keys: a key is bound to the clientIds it uses', () => {
  it('another valid key cannot act for them; a key limited to some clientIds cannot claim others', async () => {
    const discoveryPort = await freeDiscoveryPort();
    const provider = createProvider({
      services: [work],
      host: '127.0.0.1',
      discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] },
      auth: {
        keys: [
          { name: 'alice', key: 'alice-key-0123456789' },
          { name: 'bob', key: 'bob-key-0123456789' },
          { name: 'carol', key: 'carol-key-0123456789', clientIds: ['carol-*'] },
        ],
      },
    });
    const { endpoint } = await provider.start();
    const open: RawSession[] = [];
    const as = async (key: string) => {
      const session = await rawSession(endpoint, { headers: { authorization: `Bearer ${key}` } });
      open.push(session);
      return session;
    };
    try {
      const alice = await as('alice-key-0123456789');
      const [, , , assign] = taskMessages('shared-id', 'a1');
      alice.send(assign);
      await alice.expectFrame((f) => f.type === 'TaskResult', "alice's result");
      const bob = await as('bob-key-0123456789');
      expect(await answersTo(bob, [taskMessages('shared-id', 'a1')[1] as Json])).toEqual([
        { type: 'Error', code: 'FORBIDDEN', message: 'this clientId belongs to another client (SEC-10)' },
      ]);
      const carol = await as('carol-key-0123456789');
      expect(await answersTo(carol, [taskMessages('dave-1', 'x')[0] as Json])).toEqual([
        { type: 'Error', code: 'FORBIDDEN', message: 'this clientId belongs to another client (SEC-10)' },
      ]);
      const carolOwn = await as('carol-key-0123456789');
      expect(await answersTo(carolOwn, [taskMessages('carol-1', 'x')[0] as Json])).toEqual([
        { type: 'Error', code: 'TASK_NOT_FOUND', message: 'No such task.' },
      ]);
    } finally {
      for (const session of open) session.close();
      await provider.stop();
    }
  });
});
