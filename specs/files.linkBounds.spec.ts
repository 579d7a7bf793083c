/**
 * SEC-13 and SEC-16 on file links (attacks): a peer that floods a provider's file link with offers
 * and never reads the answers stops being read, then is dropped, while the provider's memory
 * stays bounded and another client's task with a file still completes; a peer over the frame
 * budget is slowed down, not served at full speed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as z from 'zod';
import { fileFrom, taskFile } from '../runtime/files/taskFile.js';
import { createClient, createProvider, defineService, type Client, type Provider, type ProviderOptions } from '../runtime/index.js';
import { freeDiscoveryPort } from './support/udpPort.js';

// A full collection before each heap reading, so that what is measured is what is kept.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const retainedHeap = () => {
  collect();
  return process.memoryUsage().heapUsed;
};

const sizer = defineService({
  name: 'Sizer',
  version: '1.0.0',
  operations: {
    size: {
      params: z.object({ input: taskFile() }),
      result: z.object({ size: z.number() }),
      run: async ({ input }) => ({ size: input.size }),
    },
  },
});

let dir: string;
let discoveryPort: number;
const providers: Provider[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sb-linkbounds-'));
  discoveryPort = await freeDiscoveryPort();
});

afterAll(async () => {
  for (const client of clients) await client.stop();
  for (const provider of providers) await provider.stop();
  await rm(dir, { recursive: true, force: true });
});

async function startProvider(link: NonNullable<Exclude<ProviderOptions['files'], boolean | undefined>>['link']) {
  const provider = createProvider({
    services: [sizer],
    host: '127.0.0.1',
    advertisedHost: '127.0.0.1',
    discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] },
    files: { dir: path.join(dir, `store-${providers.length}`), ...(link === undefined ? {} : { link }) },
    log: () => {},
  });
  providers.push(provider);
  const { endpoint } = await provider.start();
  return { provider, endpoint };
}

function openLink(endpoint: string, clientId: string): Promise<WebSocket> {
  const url = new URL(endpoint);
  url.pathname = '/files';
  url.searchParams.set('clientId', clientId);
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

const offer = (clientId: string, n: number) =>
  JSON.stringify({ type: 'FileOffer', messageId: `m${n}`, timestamp: Date.now(), payload: { transferId: `t${n}`, clientId, serviceName: 'Sizer', file: { sha256: 'f'.repeat(64), size: 10 } } });

describe('file links under attack (SEC-13, SEC-16)', () => {
  it('SEC-13: a peer that sends offers and never reads the answers stops being read, is dropped, and costs bounded memory; another client still gets its task done', async () => {
    // Small marks, and no frame budget in the way: this is about answers left unread.
    const { provider, endpoint } = await startProvider({ sendBuffer: { pauseBytes: 65_536, bytesMax: 1_048_576, stallMs: 500 }, framesPerSecond: 1_000_000 });
    const socket = await openLink(endpoint, 'never-reads');
    (socket as unknown as { _socket: { pause(): void } })._socket.pause(); // never read a byte
    let closeCode: number | undefined;
    socket.once('close', (code) => (closeCode = code));
    const heapBefore = retainedHeap();
    let heapGrowth = 0;
    let sent = 0;
    // Offers until dropped (at most 20 s: the kernel's socket buffers take a few MB of answers
    // first, which takes longer on a loaded machine); the attacker minds its own send buffer, so
    // what is kept here is the provider's. Without the bound: about 200 bytes of answers kept per
    // offer read (26 MB after 3 s here, and growing).
    const deadline = Date.now() + 20_000;
    while (closeCode === undefined && Date.now() < deadline) {
      if (socket.bufferedAmount < 262_144) for (let i = 0; i < 1_000; i++) socket.send(offer('never-reads', sent++));
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (sent % 20_000 === 0) heapGrowth = Math.max(heapGrowth, retainedHeap() - heapBefore);
    }
    heapGrowth = Math.max(heapGrowth, retainedHeap() - heapBefore);
    for (let waited = 0; closeCode === undefined && waited < 3_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    socket.terminate();
    const counters = provider.files?.linkCounters;
    expect(closeCode, `sent ${sent} offers; counters ${JSON.stringify(counters)}`).toBe(1006); // dropped without a close handshake
    expect(counters?.sendOverflows).toBe(1);
    expect(counters?.readsPaused).toBeGreaterThanOrEqual(1);
    expect(heapGrowth, `retained heap grew by ${heapGrowth} bytes for ${sent} offers`).toBeLessThan(4_000_000);

    const client = createClient({ clientId: 'fair', discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] }, log: () => {} });
    clients.push(client);
    const result = await client.assign('Sizer', 'size', { input: fileFrom(Buffer.alloc(100_000, 7)) }, { waitFor: true }).result;
    expect(result).toEqual({ size: 100_000 });
  }, 40_000);

  it('SEC-16: a peer over the frame budget (5,000 a second by default) is not read until its second ends', async () => {
    const { provider, endpoint } = await startProvider(undefined);
    const socket = await openLink(endpoint, 'flooder');
    let answers = 0;
    socket.on('message', () => answers++);
    const started = Date.now();
    for (let i = 0; i < 12_000; i++) socket.send(offer('flooder', i));
    while (answers < 12_000 && Date.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 20));
    const elapsed = Date.now() - started;
    socket.close();
    expect(answers).toBe(12_000);
    // 12,000 offers at 5,000 a second: read in three windows, so at least two waits.
    expect(elapsed).toBeGreaterThanOrEqual(1_900);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(provider.files?.linkCounters.readsPaused).toBeGreaterThanOrEqual(2);
  }, 30_000);
});
