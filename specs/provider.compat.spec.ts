/**
 * The provider's `compat` profile (runtime/compat.ts; docs/protocol.md "The compat profile"): the
 * wire forms of peers built from the seed alone that cannot be liberal defaults. Pure mappings
 * first, then a provider on real sockets (loopback) read by raw sockets as such a peer reads it,
 * by the seed-only client fixture, and by switchboard's own client, which reads every form.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as z from 'zod';
import { CapabilitiesCodec, keyedCapabilities } from '../machines/capabilities.js';
import { decodeFrame } from '../machines/codec.js';
import { toFlatStatus } from '../machines/dialect.js';
import { deviationsOf } from '../runtime/compat.js';
import { createClient, createProvider, defineService, type CompatOption } from '../runtime/index.js';
import { startSeedOnlyClient } from './fixtures/peers/seedOnlyClient.js';
import { allocatePort } from './support/ports.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const echo = defineService({
  name: 'SeedService',
  version: '1.0.0',
  operations: {
    echo: { params: z.object({ text: z.string().default('hi') }), run: async ({ text }) => ({ text }) },
    sleep: {
      params: z.object({ ms: z.number().int().default(300) }),
      run: async ({ ms }, context) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        context.signal.throwIfAborted();
        return { sleptMs: ms };
      },
    },
  },
});

async function startCompat(compat: CompatOption | undefined) {
  const port = await allocatePort();
  const provider = createProvider({ services: [echo], host: '127.0.0.1', discovery: { port, broadcastAddresses: ['127.255.255.255'] }, ...(compat === undefined ? {} : { compat }) });
  cleanups.push(() => provider.stop());
  const { endpoint } = await provider.start();
  return { provider, endpoint, port };
}

/** One unpadded discovery request, as a seed-only client sends it; the advertisement it gets, as parsed. */
async function askForAdvertisement(port: number): Promise<Record<string, any>> {
  const socket = dgram.createSocket('udp4');
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const answer = new Promise<Record<string, any>>((resolve) => socket.once('message', (bytes) => resolve(JSON.parse(bytes.toString('utf8')))));
  socket.send(JSON.stringify({ discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'seed-peer', timestamp: '2025-07-02T11:45:00' }), port, '127.0.0.1');
  return answer;
}

type Json = Record<string, any>;

/** A raw WebSocket that collects every frame as parsed JSON. */
async function rawSocket(endpoint: string) {
  const socket = new WebSocket(endpoint);
  cleanups.push(() => socket.terminate());
  const frames: Json[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as Json);
    for (const wake of [...waiters]) wake();
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return {
    send: (type: string, payload: Json) => socket.send(JSON.stringify({ type, messageId: `m-${frames.length}-${Math.random()}`, timestamp: '2025-07-02T11:50:00Z', payload })),
    next: (test: (frame: Json) => boolean, from: number) =>
      new Promise<Json>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no such frame in ${JSON.stringify(frames.slice(from))}`)), 3_000);
        const check = () => {
          const found = frames.slice(from).find(test);
          if (found === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        check();
      }),
    count: () => frames.length,
  };
}

describe('compat profile (WIRE-12): the pure mappings', () => {
  it('flat-status: Ack, TaskStatusUpdate and TASK_NOT_FOUND about a task become {type: "Status", taskId, taskStatus}; the rest is left alone', () => {
    expect(toFlatStatus({ type: 'Ack', payload: { acknowledgmentId: 'm1', taskId: 't1', status: 'Queued' } })).toEqual({ type: 'Status', taskId: 't1', taskStatus: 'Queued' });
    expect(toFlatStatus({ type: 'Ack', payload: { acknowledgmentId: 'm1' } })).toBeUndefined();
    expect(toFlatStatus({ type: 'TaskStatusUpdate', payload: { taskId: 't1', status: 'Processing', progressPercentage: 40, message: 'half' } })).toEqual({
      type: 'Status',
      taskId: 't1',
      taskStatus: 'Processing',
      progress: 40,
      message: 'half',
    });
    expect(toFlatStatus({ type: 'TaskStatusUpdate', payload: { taskId: 't1', status: 'Completed', progressPercentage: 100 } })?.taskStatus).toBe('Done');
    expect(toFlatStatus({ type: 'Error', payload: { code: 'TASK_NOT_FOUND', message: 'x', taskId: 't1' } })).toEqual({ type: 'Status', taskId: 't1', taskStatus: 'Unknown' });
    expect(toFlatStatus({ type: 'Error', payload: { code: 'FORBIDDEN', message: 'x', taskId: 't1' } })).toBeUndefined();
    expect(toFlatStatus({ type: 'TaskResult', payload: { taskId: 't1', status: 'Completed', resultData: 1 } })).toBeUndefined();
  });

  it('flat-status: what it writes, switchboard reads back as what it meant (machines/dialect.ts)', () => {
    const written = toFlatStatus({ type: 'TaskStatusUpdate', payload: { taskId: 't1', status: 'Completed', progressPercentage: 100 } });
    const read = decodeFrame(JSON.stringify(written));
    expect(read.ok && read.message).toMatchObject({ type: 'TaskStatusUpdate', payload: { taskId: 't1', status: 'Completed', progressPercentage: 100 } });
  });

  it('keyed-capabilities: the keyed form decodes to the same capabilities as the list; an operation named __proto__ stays a key', () => {
    const list = [
      { key: 'resizeImage', settings: [{ int: 'width' }], schema: { type: 'object' } },
      { key: 'applyFilter', settings: [{ string: 'filterType' }] },
    ];
    const keyed = keyedCapabilities(list);
    expect(keyed['resizeImage']).toEqual({ status: 'available', settings: [{ int: 'width' }], schema: { type: 'object' } });
    expect(z.decode(CapabilitiesCodec, JSON.parse(JSON.stringify(keyed)) as never)).toEqual(z.decode(CapabilitiesCodec, list as never));
    const odd = keyedCapabilities([{ key: '__proto__', settings: [] }]);
    expect(Object.keys(odd)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(odd)).toBe(Object.prototype);
  });

  it('names: field is every deviation; an unknown one is refused', () => {
    expect([...deviationsOf('field')]).toEqual(['keyed-capabilities', 'flat-status']);
    expect([...deviationsOf(['flat-status'])]).toEqual(['flat-status']);
    expect(() => deviationsOf(['flat' as never])).toThrow(/unknown deviation "flat"/);
  });
});

describe('compat profile (WIRE-12): a provider on loopback', () => {
  it('keyed-capabilities: the advertisement a seed peer gets is keyed by operation (and signed all the same)', async () => {
    const keyed = await startCompat(['keyed-capabilities']);
    const advertisement = await askForAdvertisement(keyed.port);
    expect(Object.keys(advertisement.capabilities)).toEqual(['echo', 'sleep']);
    expect(advertisement.capabilities.echo).toMatchObject({ status: 'available', settings: [{ string: 'text' }] });
    expect(advertisement.signature).toBeDefined();
    const plain = await startCompat(undefined);
    expect(Array.isArray((await askForAdvertisement(plain.port)).capabilities)).toBe(true);
  });

  it('flat-status: AssignTask -> Status Processing; GetStatus -> Status Done; GetResult -> TaskResult; an unknown task -> Status Unknown', async () => {
    const { endpoint } = await startCompat(['flat-status']);
    const peer = await rawSocket(endpoint);
    peer.send('AssignTask', { taskId: 'flat-1', serviceName: 'SeedService', operation: 'echo', taskParameters: { text: 'flat' }, callbackClientId: 'seed-peer' });
    expect(await peer.next(() => true, 0)).toEqual({ type: 'Status', taskId: 'flat-1', taskStatus: 'Processing' });
    await peer.next((frame) => frame.type === 'TaskResult', 0); // pushed too, in the seed's form
    let from = peer.count();
    peer.send('GetStatus', { taskId: 'flat-1' });
    expect(await peer.next(() => true, from)).toEqual({ type: 'Status', taskId: 'flat-1', taskStatus: 'Done', progress: 100 });
    from = peer.count();
    peer.send('GetResult', { taskId: 'flat-1' });
    expect(await peer.next(() => true, from)).toMatchObject({ type: 'TaskResult', payload: { taskId: 'flat-1', resultData: { text: 'flat' } } });
    from = peer.count();
    peer.send('GetStatus', { taskId: 'never-assigned' });
    expect(await peer.next(() => true, from)).toEqual({ type: 'Status', taskId: 'never-assigned', taskStatus: 'Unknown' });
  });

  it('field: the seed-only client gets its result, and so does a switchboard client (which reads every form) with a cancel in between', async () => {
    const { port } = await startCompat('field');
    const seed = startSeedOnlyClient({ discoveryPort: port, serviceName: 'SeedService', operation: 'echo', params: { text: 'from a seed peer' }, pollMs: 100 });
    cleanups.push(() => seed.stop());
    expect(await seed.outcome).toMatchObject({ status: 'Completed', resultData: { text: 'from a seed peer' } });

    const client = createClient({ discovery: { port, broadcastAddresses: ['127.255.255.255'] } });
    cleanups.push(() => client.stop());
    await client.waitFor('SeedService', { operation: 'echo', timeoutMs: 5_000 });
    expect(await client.assign('SeedService', 'echo', { text: 'from switchboard' }).result).toEqual({ text: 'from switchboard' });
    const slow = client.assign('SeedService', 'sleep', { ms: 2_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await slow.cancel();
    await expect(slow.result).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});
