/**
 * Batched boundaries end to end (real provider and client, real sockets on loopback): the frames
 * of one socket read reach the session as one `transport.batch` event, seen as such by `inspect`,
 * and each frame is still answered as alone: every task's final message in order, a malformed
 * frame in the middle answered with its Error, the metrics counting the batch's frames one by one.
 * The runtime's client, whose connection batches its reads too, completes many tasks at once.
 */
import type { InspectionEvent } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient } from '../runtime/client.js';
import { createMetrics } from '../runtime/metrics/metrics.js';
import { createProvider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { payloadOf, rawSession, type Json } from './support/rawSession.js';
import { freeDiscoveryPort } from './support/udpPort.js';

const service = defineService({
  name: 'Batches',
  version: '1.0.0',
  operations: { quick: { params: z.object({ n: z.number() }), run: ({ n }) => ({ n }) } },
});

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

const assign = (taskId: string, n: number): Json => ({
  type: 'AssignTask',
  messageId: `m-${taskId}`,
  timestamp: new Date().toISOString(),
  payload: { taskId, serviceName: 'Batches', operation: 'quick', taskParameters: { n }, callbackClientId: 'raw-client' },
});

/** Event types the actors of `kind` (by machine id) processed. */
const processedBy = (events: InspectionEvent[], kind: string): string[] =>
  events
    .filter((event) => event.type === '@xstate.event' && (event.actorRef as { logic?: { id?: string } }).logic?.id === kind)
    .map((event) => (event as Extract<InspectionEvent, { type: '@xstate.event' }>).event.type);

describe('batched boundaries: one event per socket read', () => {
  it('a read of several frames is one session event; each frame is answered as alone, a malformed one with its Error', async () => {
    const port = await freeDiscoveryPort();
    const events: InspectionEvent[] = [];
    const metrics = createMetrics();
    const provider = createProvider({
      services: [service],
      host: '127.0.0.1',
      discovery: { port, broadcastAddresses: ['127.255.255.255'] },
      inspect: (event) => events.push(event),
      metrics,
    });
    stops.push(() => provider.stop());
    const { endpoint } = await provider.start();
    const raw = await rawSession(endpoint);
    stops.push(async () => raw.close());
    // One turn of writes: on loopback the provider reads them at once.
    for (let n = 0; n < 4; n++) raw.send(assign(`t${n}`, n));
    raw.send('{"type": "AssignTask", not json');
    for (let n = 4; n < 8; n++) raw.send(assign(`t${n}`, n));
    await raw.expectFrame((frame) => frame.type === 'TaskResult' && payloadOf(frame).taskId === 't7', 'the last result');
    await raw.expectFrame((frame) => frame.type === 'Error', 'the malformed frame answered');

    const results = raw.frames.filter((frame) => frame.type === 'TaskResult').map((frame) => payloadOf(frame).resultData);
    expect(results).toEqual(Array.from({ length: 8 }, (_, n) => ({ n })));
    const session = processedBy(events, 'session');
    expect(session).toContain('transport.batch');
    // However the frames were cut into reads, the session processed nine of them, no more.
    const batches = events.filter((event) => event.type === '@xstate.event' && event.event.type === 'transport.batch');
    const framesInBatches = batches.reduce((sum, event) => sum + (event as unknown as { event: { events: unknown[] } }).event.events.length, 0);
    const lone = session.filter((type) => type === 'transport.message' || type === 'transport.rejected').length;
    expect(framesInBatches + lone).toBe(9);
    // The metrics count the malformed frame inside its batch.
    expect(await metrics.text()).toMatch(/switchboard_errors_total\{side="provider",code="INVALID_MESSAGE",source="rejected"\} 1/);
  });

  it("the runtime's client (its connection batching its reads) completes 200 tasks sent at once", async () => {
    const port = await freeDiscoveryPort();
    const provider = createProvider({ services: [service], host: '127.0.0.1', discovery: { port, broadcastAddresses: ['127.255.255.255'] } });
    stops.push(() => provider.stop());
    await provider.start();
    const events: InspectionEvent[] = [];
    const client = createClient({ discovery: { port, broadcastAddresses: ['127.255.255.255'] }, inspect: (event) => events.push(event) });
    stops.push(() => client.stop());
    await client.waitFor('Batches', { timeoutMs: 5_000 });
    const results = await Promise.all(Array.from({ length: 200 }, (_, n) => client.assign('Batches', 'quick', { n }).result));
    expect(results).toEqual(Array.from({ length: 200 }, (_, n) => ({ n })));
    expect(processedBy(events, 'connection')).toContain('transport.batch');
  });
});
