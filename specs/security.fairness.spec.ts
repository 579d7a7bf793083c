/**
 * SEC-17 attack test: one host floods a provider PROCESS (4 task slots) with 400 tasks of 100 ms
 * over four connections and clientIds, and with 20,000 GetStatus frames besides; a client on
 * another host still gets each of its tasks done in well under a second. Waiting tasks take
 * turns by source, so the victim's task is next when a slot frees, not 256 tasks (6.4 s) later;
 * the flood's frames are read within its budget, so the event loop stays shared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { note } from './support/notes.js';
import { listeningOf, startProviderProcess, stopTracked, type Listening, type NodeChild } from './support/processes.js';
import { payloadOf, rawSession, type RawSession } from './support/rawSession.js';
import { freeDiscoveryPort } from './support/udpPort.js';

const now = () => new Date().toISOString();
const work = (taskId: string, clientId: string, stepMs: number) => ({
  type: 'AssignTask',
  messageId: `m-${taskId}`,
  timestamp: now(),
  payload: { taskId, serviceName: 'Work', operation: 'work', taskParameters: { steps: 1, stepMs }, callbackClientId: clientId },
});

let provider: NodeChild;
let listening: Listening;

beforeAll(async () => {
  provider = startProviderProcess({ name: 'Fair', discoveryPort: await freeDiscoveryPort(), args: ['--running-max', '4', '--ping-ms', '30000', '--pong-ms', '30000'] });
  listening = await listeningOf(provider);
}, 30_000);

afterAll(async () => {
  await stopTracked();
});

describe('one flood cannot stall other clients (SEC-17)', () => {
  it('a client on another host gets its tasks done within a second while 400 tasks and 20,000 frames flood in', async () => {
    const flood: RawSession[] = [];
    for (let lane = 0; lane < 4; lane++) flood.push(await rawSession(listening.endpoint, { localAddress: '127.0.4.1' }));
    flood.forEach((session, lane) => {
      for (let i = 0; i < 100; i++) session.send(work(`f${lane}-${i}`, `flood-${lane}`, 100));
    });
    // The queue is full of the flood (each of its tasks answered: Ack Queued, or OVERLOADED).
    for (const [lane, session] of flood.entries()) {
      await session.expectFrame((f) => payloadOf(f).taskId === `f${lane}-99`, `the answer to f${lane}-99`, 10_000);
    }
    const chatter = await rawSession(listening.endpoint, { localAddress: '127.0.4.1' });
    for (let i = 0; i < 20_000; i++) {
      chatter.send({ type: 'GetStatus', messageId: `s${i}`, timestamp: now(), payload: { taskId: 'f0-0', originalClientId: 'chatter' } });
    }

    const victim = await rawSession(listening.endpoint, { localAddress: '127.0.4.2' });
    const latencies: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      victim.send(work(`v${i}`, 'victim', 10));
      await victim.expectFrame((f) => f.type === 'TaskResult' && payloadOf(f).taskId === `v${i}`, `victim task v${i}`, 15_000);
      latencies.push(Date.now() - started);
    }
    note(`SEC-17: victim latencies ${latencies.join(', ')} ms under the flood`);
    for (const latency of latencies) expect(latency).toBeLessThan(1_000);
    for (const session of [...flood, chatter, victim]) session.close();
    expect(provider.alive).toBe(true);
  }, 60_000);
});
