/**
 * Task files wired for real (FILE-1..FILE-12): a provider and a client on loopback sockets, real
 * files on disk, the client's uploads and downloads over the file link, and hostile peers that
 * speak the file link by hand.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as z from 'zod';
import { chunkHeader } from '../machines/files/chunkFrame.js';
import { createClient, type Client } from '../runtime/client.js';
import { fileFrom, taskFile } from '../runtime/files/taskFile.js';
import { createProvider, type Provider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import type { TaskProgress } from '../runtime/taskHandle.js';
import { freeDiscoveryPort } from './support/udpPort.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Reverses a file's bytes: a file in, a file out. */
const reverser = defineService({
  name: 'Reverser',
  version: '1.0.0',
  operations: {
    reverse: {
      params: z.object({ input: taskFile(), label: z.string().optional() }),
      result: z.object({ output: taskFile(), inputSize: z.number() }),
      run: async ({ input }, ctx) => {
        const bytes = await ctx.files.read(input);
        const path = ctx.files.path(input);
        ctx.progress(50, `read ${path.length > 0 ? 'from the store' : ''}`);
        const output = await ctx.files.add(Uint8Array.from(bytes).reverse(), { name: `reversed-${input.name ?? 'file'}` });
        return { output, inputSize: bytes.byteLength };
      },
    },
  },
});

const plain = defineService({ name: 'Plain', version: '1.0.0', operations: { echo: { params: z.object({ text: z.string() }), run: ({ text }) => ({ text }) } } });

let dir: string;
let provider: Provider;
let endpoint: string;
let discoveryPort: number;
const clients: Client[] = [];

const newClient = (clientId: string) => {
  const client = createClient({ clientId, discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] }, trust: { allowUnsigned: true }, log: () => {} });
  clients.push(client);
  return client;
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'files-wired-'));
  discoveryPort = await freeDiscoveryPort();
  provider = createProvider({
    services: [reverser, plain],
    host: '127.0.0.1',
    advertisedHost: '127.0.0.1',
    discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] },
    files: { dir: path.join(dir, 'store'), fileBytesMax: 4 * 1024 * 1024, bytesMax: 8 * 1024 * 1024, limits: { idleTimeoutMs: 300, chunkBytes: 65_536 } },
    log: () => {},
  });
  ({ endpoint } = await provider.start());
});

afterAll(async () => {
  for (const client of clients) await client.stop();
  await provider.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A hand-driven file link: what a hostile or broken client can send. */
async function rawLink(clientId: string) {
  const url = new URL(endpoint);
  url.pathname = '/files';
  url.searchParams.set('clientId', clientId);
  const socket = new WebSocket(url);
  const received: Array<Record<string, any>> = [];
  const waiters: Array<() => void> = [];
  socket.on('message', (data, isBinary) => {
    if (isBinary) received.push({ type: 'chunk', bytes: (data as Buffer).byteLength });
    else received.push(JSON.parse(data.toString()));
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  let n = 0;
  return {
    socket,
    received,
    send(type: string, payload: Record<string, unknown>) {
      socket.send(JSON.stringify({ type, messageId: `m-${++n}`, timestamp: new Date().toISOString(), payload }));
    },
    async next(match: (message: Record<string, any>) => boolean, timeoutMs = 3_000): Promise<Record<string, any>> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching message; got ${JSON.stringify(received).slice(0, 500)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
    close: () => socket.close(),
  };
}

describe('task files over real sockets', () => {
  it('FILE-12, FILE-2: a task takes a local file and returns a file; the client fetches it and saves it; progress covers both transfers', async () => {
    const client = newClient('files-a');
    const input = path.join(dir, 'input.bin');
    const bytes = randomBytes(300_000);
    await writeFile(input, bytes);
    const task = client.assign('Reverser', 'reverse', { input: fileFrom(input) }, { waitFor: true });
    const phases: TaskProgress[] = [];
    task.onProgress((progress) => phases.push(progress));
    const result = (await task.result) as { output: { sha256: string; size: number; name: string }; inputSize: number };
    expect(result.inputSize).toBe(bytes.byteLength);
    expect(result.output.sha256).toBe(sha256(Uint8Array.from(bytes).reverse()));
    const saved = await client.files.save(result.output, path.join(dir, 'out'));
    expect(path.basename(saved)).toBe('reversed-input.bin');
    expect(Buffer.compare(await readFile(saved), Buffer.from(Uint8Array.from(bytes).reverse()))).toBe(0);
    expect(phases.some((p) => p.phase === 'upload' && p.bytes === bytes.byteLength)).toBe(true);
    expect(phases.some((p) => p.phase === 'download' && p.bytes === bytes.byteLength)).toBe(true);
    expect(client.files.counters.bytesSent).toBe(bytes.byteLength);
    expect(client.files.counters.bytesReceived).toBe(bytes.byteLength);
  });

  it('FILE-2, FILE-4: files of more chunks than the window arrive intact both ways, in reused frames and through the write-behind', async () => {
    const client = newClient('files-window');
    // 24 chunks of 64 KiB against a window of 16: later runs of chunks go out in reused frames,
    // masked by the client and (the download) sent unmasked by the provider. On loopback the
    // kernel takes each frame at once, so an early reuse would not show here: the link that
    // writes behind in files.transfers.spec.ts is what catches that; this is the real path end to end.
    const bytes = randomBytes(24 * 65_536 - 100);
    const result = (await client.assign('Reverser', 'reverse', { input: fileFrom(bytes, { name: 'window.bin' }) }, { waitFor: true }).result) as {
      output: { sha256: string; size: number };
      inputSize: number;
    };
    expect(result.inputSize).toBe(bytes.byteLength);
    expect(result.output.sha256).toBe(sha256(Uint8Array.from(bytes).reverse()));
    expect(Buffer.compare(Buffer.from(await client.files.read(result.output)), Buffer.from(Uint8Array.from(bytes).reverse()))).toBe(0);
    expect(client.files.counters.bytesSent).toBe(bytes.byteLength);
    expect(client.files.counters.bytesReceived).toBe(bytes.byteLength);
  });

  it('FILE-3: a second task with the same file sends no content byte (FileHave)', async () => {
    const client = newClient('files-b');
    const bytes = randomBytes(200_000);
    const first = await client.assign('Reverser', 'reverse', { input: fileFrom(bytes, { name: 'same.bin' }) }, { waitFor: true }).result;
    const sent = client.files.counters.bytesSent;
    expect(sent).toBe(bytes.byteLength);
    const second = await client.assign('Reverser', 'reverse', { input: fileFrom(bytes, { name: 'same.bin' }) }).result;
    expect(second).toEqual(first);
    expect(client.files.counters.bytesSent).toBe(sent);
    // The result was in the cache already: nothing fetched the second time either.
    expect(client.files.counters.bytesReceived).toBe(bytes.byteLength);
  });

  it('FILE-8, FILE-10 (attack): a client cannot use, fetch or confirm a file another client sent, even knowing its hash', async () => {
    const victim = newClient('files-victim');
    const secret = randomBytes(50_000);
    const result = (await victim.assign('Reverser', 'reverse', { input: fileFrom(secret, { name: 'secret.bin' }) }, { waitFor: true }).result) as { output: { sha256: string; size: number } };
    const learned = { sha256: sha256(secret), size: secret.byteLength };
    // A task naming the victim's file fails before the handler runs.
    const thief = newClient('files-thief');
    await thief.waitFor('Reverser');
    const stolen = await thief.assign('Reverser', 'reverse', { input: learned }).settled;
    expect(stolen.ok).toBe(false);
    expect(!stolen.ok && stolen.error.code).toBe('FILE_NOT_FOUND');
    // A FileRequest for the victim's input or result: FILE_NOT_FOUND, as for a file that is not here.
    const link = await rawLink('files-thief-raw');
    link.send('FileRequest', { transferId: 'steal-1', clientId: 'files-thief-raw', serviceName: 'Reverser', sha256: learned.sha256 });
    link.send('FileRequest', { transferId: 'steal-2', clientId: 'files-thief-raw', serviceName: 'Reverser', sha256: result.output.sha256 });
    for (const transferId of ['steal-1', 'steal-2']) {
      const answer = await link.next((m) => m.payload?.transferId === transferId);
      expect(answer).toMatchObject({ type: 'FileFailed', payload: { code: 'FILE_NOT_FOUND' } });
    }
    // Offering the same hash does not confirm it is here: FileNeed, not FileHave.
    link.send('FileOffer', { transferId: 'probe-1', clientId: 'files-thief-raw', serviceName: 'Reverser', file: learned });
    expect(await link.next((m) => m.payload?.transferId === 'probe-1')).toMatchObject({ type: 'FileNeed' });
    // Transfers for another clientId on this link are refused.
    link.send('FileRequest', { transferId: 'steal-3', clientId: 'files-victim', serviceName: 'Reverser', sha256: learned.sha256 });
    expect(await link.next((m) => m.payload?.transferId === 'steal-3')).toMatchObject({ type: 'FileFailed', payload: { code: 'FORBIDDEN' } });
    link.close();
  });

  it('FILE-2 (hostile sender): chunks that do not hash to the offer are refused FILE_HASH_MISMATCH and nothing is kept', async () => {
    const link = await rawLink('files-hostile');
    const claimed = randomBytes(10_000);
    const sent = randomBytes(10_000);
    const file = { sha256: sha256(claimed), size: claimed.byteLength };
    link.send('FileOffer', { transferId: 'lie-1', clientId: 'files-hostile', serviceName: 'Reverser', file });
    const need = await link.next((m) => m.type === 'FileNeed');
    expect(need.payload.chunkBytes).toBe(65_536);
    link.socket.send(Buffer.concat([chunkHeader('lie-1', 0), sent]));
    const verdict = await link.next((m) => m.payload?.transferId === 'lie-1' && m.type !== 'FileNeed');
    expect(verdict).toMatchObject({ type: 'FileFailed', payload: { code: 'FILE_HASH_MISMATCH' } });
    expect(provider.files?.store.has(file.sha256)).toBe(false);
    expect(provider.files?.store.has(sha256(sent))).toBe(false);
    link.close();
  });

  it('FILE-6: an offer larger than fileBytesMax is refused FILE_TOO_LARGE before any chunk; beyond the store bound FILE_STORE_FULL', async () => {
    const link = await rawLink('files-big');
    link.send('FileOffer', { transferId: 'big-1', clientId: 'files-big', serviceName: 'Reverser', file: { sha256: 'a'.repeat(64), size: 5 * 1024 * 1024 } });
    expect(await link.next((m) => m.payload?.transferId === 'big-1')).toMatchObject({ type: 'FileFailed', payload: { code: 'FILE_TOO_LARGE' } });
    // Two offers of 4 MiB reserve the 8 MiB store while they wait for chunks; a third finds no room.
    for (const [id, fill] of [['room-1', 'b'], ['room-2', 'c'], ['room-3', 'd']] as const) {
      link.send('FileOffer', { transferId: id, clientId: 'files-big', serviceName: 'Reverser', file: { sha256: fill.repeat(64), size: 4 * 1024 * 1024 - 1 } });
    }
    expect(await link.next((m) => m.payload?.transferId === 'room-3')).toMatchObject({ type: 'FileFailed', payload: { code: 'FILE_STORE_FULL' } });
    link.close();
  });

  it('FILE-7: a transfer that hears nothing for transferIdleMs fails TIMEOUT on the side that waited', async () => {
    const link = await rawLink('files-idle');
    link.send('FileOffer', { transferId: 'idle-1', clientId: 'files-idle', serviceName: 'Reverser', file: { sha256: 'e'.repeat(64), size: 1000 } });
    await link.next((m) => m.type === 'FileNeed');
    const failed = await link.next((m) => m.payload?.transferId === 'idle-1' && m.type === 'FileFailed', 2_000);
    expect(failed.payload.code).toBe('TIMEOUT');
    link.close();
  });

  it('FILE-11: cancelling a task while its file uploads ends it Cancelled; the provider keeps nothing of it', async () => {
    const client = newClient('files-cancel');
    await client.waitFor('Reverser');
    const bytes = randomBytes(3 * 1024 * 1024);
    const task = client.assign('Reverser', 'reverse', { input: fileFrom(bytes, { name: 'big.bin' }) });
    const cancelled = new Promise<void>((resolve) => task.onProgress((progress) => progress.phase === 'upload' && progress.bytes! > 0 && resolve()));
    await cancelled;
    await task.cancel();
    const settled = await task.settled;
    expect(settled.ok).toBe(false);
    expect(!settled.ok && settled.error.code).toBe('CANCELLED');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(provider.files?.store.has(sha256(bytes))).toBe(false);
  });

  it('FILE-1, FILE-5: garbage on the file link (binary and text) is answered with coded Errors, counted, and never stops another client\'s task', async () => {
    const link = await rawLink('files-garbage');
    const before = link.received.length;
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 300 }).map((bytes) => ({ binary: true, bytes })),
          fc.string({ maxLength: 200 }).map((text) => ({ binary: false, bytes: Buffer.from(text) })),
          fc.record({ type: fc.constantFrom('FileOffer', 'FileNeed', 'FileCredit', 'FileDone', 'FileHave', 'FileRequest', 'Nope'), payload: fc.anything() }).map((value) => ({ binary: false, bytes: Buffer.from(JSON.stringify({ ...value, messageId: 'x', timestamp: 1 })) })),
        ),
        async ({ binary, bytes }) => {
          link.socket.send(bytes, { binary });
          sent++;
        },
      ),
      { numRuns: 200, seed: 15 },
    );
    // Another client's task runs meanwhile, and the provider answered every piece of garbage.
    const client = newClient('files-bystander');
    const echoed = await client.assign('Plain', 'echo', { text: 'still here' }, { waitFor: true }).result;
    expect(echoed).toEqual({ text: 'still here' });
    await link.next(() => link.received.length - before >= sent, 5_000);
    const errors = link.received.slice(before).filter((m) => m.type === 'Error' || m.type === 'FileFailed' || m.type === 'FileNeed');
    expect(errors.length).toBe(sent);
    for (const error of errors.filter((m) => m.type === 'Error')) expect(['INVALID_MESSAGE', 'UNSUPPORTED_MESSAGE', 'MESSAGE_TOO_LARGE']).toContain(error.payload.code);
    expect(link.socket.readyState).toBe(WebSocket.OPEN);
    link.close();
  });

  it('FILE-9: the ACL decides file:put as it decides operations: refused, FileFailed FORBIDDEN', async () => {
    const guarded = createProvider({
      services: [reverser],
      host: '127.0.0.1',
      advertisedHost: '127.0.0.1',
      discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] },
      acl: { default: 'allow', rules: [{ effect: 'deny', clientIds: ['files-denied'], operations: ['file:put'] }] },
      files: { dir: path.join(dir, 'guarded') },
      log: () => {},
    });
    const { endpoint: guardedEndpoint } = await guarded.start();
    try {
      const open = async (clientId: string) => {
        const url = new URL(guardedEndpoint);
        url.pathname = '/files';
        url.searchParams.set('clientId', clientId);
        const socket = new WebSocket(url);
        const answer = new Promise<Record<string, any>>((resolve) => socket.once('message', (data) => resolve(JSON.parse(data.toString()))));
        await new Promise((resolve) => socket.once('open', resolve));
        socket.send(JSON.stringify({ type: 'FileOffer', messageId: 'm1', timestamp: Date.now(), payload: { transferId: 't1', clientId, serviceName: 'Reverser', file: { sha256: 'f'.repeat(64), size: 10 } } }));
        const got = await answer;
        socket.close();
        return got;
      };
      expect(await open('files-denied')).toMatchObject({ type: 'FileFailed', payload: { code: 'FORBIDDEN' } });
      expect(await open('files-allowed')).toMatchObject({ type: 'FileNeed' });
    } finally {
      await guarded.stop();
    }
  });

  it('SEC-2 on file links: with authentication required, a link without a valid key is closed 1008; the client\'s key opens it', async () => {
    // A network of its own: the keyed client must find this provider, not the one of the other tests.
    const ownPort = await freeDiscoveryPort();
    const guarded = createProvider({
      services: [reverser],
      host: '127.0.0.1',
      advertisedHost: '127.0.0.1',
      discovery: { port: ownPort, broadcastAddresses: ['127.255.255.255'] },
      auth: { tokens: ['files-key'] },
      files: { dir: path.join(dir, 'authed') },
      log: () => {},
    });
    const { endpoint: guardedEndpoint } = await guarded.start();
    try {
      const closeOf = async (headers: Record<string, string>) => {
        const url = new URL(guardedEndpoint);
        url.pathname = '/files';
        url.searchParams.set('clientId', 'files-anon');
        const socket = new WebSocket(url, { headers });
        socket.on('open', () => socket.send(JSON.stringify({ type: 'FileOffer', messageId: 'm1', timestamp: Date.now(), payload: { transferId: 't1', clientId: 'files-anon', serviceName: 'Reverser', file: { sha256: 'f'.repeat(64), size: 10 } } })));
        return new Promise<{ code: number; reason: string; messages: number }>((resolve) => {
          let messages = 0;
          socket.on('message', () => messages++);
          socket.once('close', (code, reason) => resolve({ code, reason: reason.toString(), messages }));
          setTimeout(() => socket.close(1000), 1_000);
        });
      };
      // Without a key, or with a wrong one: closed before any file message is answered.
      expect(await closeOf({})).toEqual({ code: 1008, reason: 'rejected: UNAUTHENTICATED', messages: 0 });
      expect(await closeOf({ authorization: 'Bearer wrong' })).toEqual({ code: 1008, reason: 'rejected: UNAUTHENTICATED', messages: 0 });
      const keyed = createClient({ clientId: 'files-keyed', discovery: { port: ownPort, broadcastAddresses: ['127.255.255.255'] }, connect: { token: 'files-key' }, log: () => {} });
      clients.push(keyed);
      const task = keyed.assign('Reverser', 'reverse', { input: fileFrom(Buffer.from('abc'), { name: 'abc.txt' }) }, { waitFor: true });
      const settled = await task.settled;
      expect(settled.ok, JSON.stringify(settled)).toBe(true);
      await keyed.stop();

    } finally {
      await guarded.stop();
    }
  });

  it('FILE-1: the provider announces "files"; a client does not send files to an operation that takes none', async () => {
    const client = newClient('files-plain');
    const service = await client.waitFor('Reverser');
    expect(service.capabilities.find((c) => c.key === 'reverse')?.schema).toMatchObject({ properties: { input: { format: 'switchboard-file' } } });
    const refused = await client.assign('Plain', 'echo', { text: fileFrom(Buffer.from('x')) as never }, { waitFor: true }).settled;
    expect(!refused.ok && refused.error.code).toBe('UNSUPPORTED_MESSAGE');
    expect(client.files.counters.started).toBe(0);
  });
});
