/**
 * TASK-12 with peers built from the seed, which define no payload for GetStatus and GetResult and
 * send `{taskId}` alone, often on a fresh connection per poll: the provider answers for the
 * session's client, else for the one client with a task of that taskId, but only when the asking
 * session may act for that client (SEC-10). Anything else gets what an unknown task gets, so
 * nothing is learned about another client's task. Real sockets on loopback (raw `ws` clients).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as z from 'zod';
import { CLIENT_PROOF_HEADER, clientProofFor } from '../adapters/ws/options.js';
import { createProvider, defineService, type Provider } from '../runtime/index.js';
import { allocatePort } from './support/ports.js';

const service = defineService({
  name: 'Polled',
  version: '1.0.0',
  operations: { echo: { params: z.object({ text: z.string().default('hi') }), run: ({ text }) => ({ text }) } },
});

let provider: Provider;
let endpoint: string;

beforeAll(async () => {
  provider = createProvider({ services: [service], host: '127.0.0.1', discovery: { port: await allocatePort(), broadcastAddresses: ['127.255.255.255'] } });
  ({ endpoint } = await provider.start());
});
afterAll(async () => provider?.stop());

type Json = Record<string, any>;

async function open(proof?: string, localAddress?: string): Promise<{ send: (message: Json) => void; next: (test: (message: Json) => boolean) => Promise<Json>; close: () => void }> {
  const socket = new WebSocket(endpoint, {
    ...(proof === undefined ? {} : { headers: { [CLIENT_PROOF_HEADER]: proof } }),
    ...(localAddress === undefined ? {} : { localAddress }),
  });
  const received: Json[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data) => {
    received.push(JSON.parse(String(data)) as Json);
    for (const wake of [...waiters]) wake();
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  let seen = 0;
  return {
    send: (message) => socket.send(JSON.stringify({ messageId: `m-${Math.random()}`, timestamp: new Date().toISOString(), ...message })),
    next: (test) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no such message; got ${JSON.stringify(received.slice(seen))}`)), 3_000);
        const check = () => {
          const index = received.findIndex((message, at) => at >= seen && test(message));
          if (index < 0) return;
          seen = index + 1;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(received[index]!);
        };
        waiters.add(check);
        check();
      }),
    close: () => socket.close(),
  };
}

const about = (taskId: string) => (message: Json) => message.payload?.taskId === taskId;

async function finishedTask(clientId: string, taskId: string, proof?: string): Promise<void> {
  const connection = await open(proof);
  connection.send({ type: 'AssignTask', payload: { taskId, serviceName: 'Polled', operation: 'echo', taskParameters: { text: taskId }, callbackClientId: clientId } });
  await connection.next((message) => message.type === 'TaskResult' && message.payload.taskId === taskId);
  connection.close();
}

async function unnamed(type: 'GetStatus' | 'GetResult', taskId: string, proof?: string, localAddress?: string): Promise<Json> {
  const connection = await open(proof, localAddress);
  connection.send({ type, payload: { taskId } });
  const answer = await connection.next(about(taskId));
  connection.close();
  return answer;
}

describe('TASK-12: GetStatus and GetResult naming no client', () => {
  it('a fresh connection gets the outcome of the one task with that taskId (a seed client polling per connection)', async () => {
    await finishedTask('seed-client-a', 'poll-1');
    for (const type of ['GetStatus', 'GetResult'] as const) {
      const answer = await unnamed(type, 'poll-1');
      expect(answer).toMatchObject({ type: 'TaskResult', payload: { taskId: 'poll-1', resultData: { text: 'poll-1' }, originalClientId: 'seed-client-a' } });
    }
  });

  it("a bound session's unnamed query is for its own client", async () => {
    await finishedTask('seed-client-b', 'poll-2');
    const connection = await open();
    connection.send({ type: 'GetStatus', payload: { taskId: 'nothing-yet', originalClientId: 'seed-client-b' } });
    await connection.next((message) => message.payload?.code === 'TASK_NOT_FOUND');
    connection.send({ type: 'GetResult', payload: { taskId: 'poll-2' } });
    expect(await connection.next(about('poll-2'))).toMatchObject({ type: 'TaskResult', payload: { originalClientId: 'seed-client-b' } });
    connection.close();
  });

  it('SEC-10: a task of a client that proved its clientId is not read without that proof: the answer an unknown task gets', async () => {
    const proof = clientProofFor('a secret only the client knows', endpoint);
    await finishedTask('proving-client', 'poll-3', proof);
    const stranger = await unnamed('GetResult', 'poll-3');
    const unknown = await unnamed('GetResult', 'poll-never-assigned');
    expect(stranger).toMatchObject({ type: 'Error', payload: { code: 'TASK_NOT_FOUND', taskId: 'poll-3' } });
    expect(unknown.payload.message).toBe(stranger.payload.message);
    expect(await unnamed('GetResult', 'poll-3', proof)).toMatchObject({ type: 'TaskResult', payload: { taskId: 'poll-3' } });
  });

  it('SEC-10: a task of a client that proved nothing is read only from the host it was assigned from', async () => {
    await finishedTask('seed-client-e', 'poll-4');
    expect(await unnamed('GetStatus', 'poll-4', undefined, '127.0.0.2')).toMatchObject({ type: 'Error', payload: { code: 'TASK_NOT_FOUND' } });
    expect(await unnamed('GetStatus', 'poll-4', undefined, '127.0.0.1')).toMatchObject({ type: 'TaskResult', payload: { taskId: 'poll-4' } });
  });

  it('two clients with a task of the same taskId: an unnamed query is ambiguous and reads neither', async () => {
    await finishedTask('seed-client-c', 'poll-shared');
    await finishedTask('seed-client-d', 'poll-shared');
    expect(await unnamed('GetStatus', 'poll-shared')).toMatchObject({ type: 'Error', payload: { code: 'TASK_NOT_FOUND' } });
  });
});
