/**
 * TASK-2's amendment end to end (real provider, real sockets on loopback): a task that ends in the
 * turn it was accepted is answered with its final message alone (the Ack coalesced into it), a
 * task that runs longer gets its Ack at once and its result later, a duplicate of a finished task
 * still gets its Ack with the final status (TASK-4), and `coalesceAcks: false` keeps the seed's
 * behaviour (an Ack for every accepted task). The runtime's own client completes tasks either way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient } from '../runtime/client.js';
import { createProvider, type Provider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { payloadOf, rawSession, type Json, type RawSession } from './support/rawSession.js';
import { freeDiscoveryPort } from './support/udpPort.js';

const service = defineService({
  name: 'Timing',
  version: '1.0.0',
  operations: {
    quick: { params: z.object({}), run: () => ({ ok: true }) },
    slow: { params: z.object({}), run: () => new Promise((resolve) => setTimeout(() => resolve({ ok: true }), 30)) },
  },
});

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function started(coalesceAcks?: boolean): Promise<{ provider: Provider; endpoint: string; port: number }> {
  const port = await freeDiscoveryPort();
  const provider = createProvider({
    services: [service],
    host: '127.0.0.1',
    discovery: { port, broadcastAddresses: ['127.255.255.255'] },
    ...(coalesceAcks === undefined ? {} : { server: { coalesceAcks } }),
  });
  stops.push(() => provider.stop());
  const { endpoint } = await provider.start();
  return { provider, endpoint, port };
}

async function session(endpoint: string): Promise<RawSession> {
  const raw = await rawSession(endpoint);
  stops.push(async () => raw.close());
  return raw;
}

const assign = (operation: string, taskId: string, messageId = `m-${taskId}`): Json => ({
  type: 'AssignTask',
  messageId,
  timestamp: new Date().toISOString(),
  payload: { taskId, serviceName: 'Timing', operation, taskParameters: {}, callbackClientId: 'raw-client' },
});

const about = (raw: RawSession, taskId: string): string[] =>
  raw.frames.filter((frame) => payloadOf(frame).taskId === taskId).map((frame) => `${String(frame.type)}:${String(payloadOf(frame).status)}`);

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('TASK-2: the Ack coalesced with a final message that leaves with it', () => {
  it('a task that ends at once: the final message alone; a slow one: Ack first, result later; a finished duplicate: Ack (final status) and the result again', async () => {
    const { endpoint } = await started();
    const raw = await session(endpoint);
    raw.send(assign('quick', 'q1'));
    await raw.expectFrame((frame) => frame.type === 'TaskResult' && payloadOf(frame).taskId === 'q1', 'the quick result');
    raw.send(assign('slow', 's1'));
    await raw.expectFrame((frame) => frame.type === 'TaskResult' && payloadOf(frame).taskId === 's1', 'the slow result');
    raw.send(assign('quick', 'q1', 'm-again'));
    await raw.expectFrame((frame) => frame.type === 'Ack' && payloadOf(frame).acknowledgmentId === 'm-again', 'the duplicate Ack');
    await settle();
    expect(about(raw, 'q1')).toEqual(['TaskResult:Completed', 'Ack:Completed', 'TaskResult:Completed']);
    expect(about(raw, 's1')).toEqual(['Ack:Processing', 'TaskResult:Completed']);
  });

  it("coalesceAcks: false (--no-ack-coalescing) sends every Ack, as the seed's provider does", async () => {
    const { endpoint } = await started(false);
    const raw = await session(endpoint);
    raw.send(assign('quick', 'q1'));
    await raw.expectFrame((frame) => frame.type === 'TaskResult', 'the result');
    await settle();
    expect(about(raw, 'q1')).toEqual(['Ack:Processing', 'TaskResult:Completed']);
  });

  it("the runtime's client completes quick and slow tasks against a coalescing provider", async () => {
    const { port } = await started();
    const client = createClient({ discovery: { port, broadcastAddresses: ['127.255.255.255'] } });
    stops.push(() => client.stop());
    await client.waitFor('Timing', { timeoutMs: 5_000 });
    const results = await Promise.all([
      ...Array.from({ length: 20 }, () => client.assign('Timing', 'quick', {}).result),
      client.assign('Timing', 'slow', {}).result,
    ]);
    expect(results).toEqual(Array.from({ length: 21 }, () => ({ ok: true })));
  });
});
