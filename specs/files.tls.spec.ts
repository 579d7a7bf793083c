/**
 * Task files over wss:// (FILE-12 with SEC-1 and SEC-10): a client's file link opens with the
 * TLS options and identity of its task connection to the same endpoint (its CA, its pinned
 * fingerprint, its client certificate, its client proof), and the provider identifies a file
 * link as it identifies a session. Real sockets on loopback, certificates made by openssl.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as z from 'zod';
import { CLIENT_PROOF_HEADER, clientProofFor, type WsConnectOptions } from '../adapters/ws/options.js';
import { createClient, type Client, type ClientOptions } from '../runtime/client.js';
import { fileFrom, taskFile } from '../runtime/files/taskFile.js';
import { createProvider, type Provider, type ProviderOptions } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { freeDiscoveryPort } from './support/udpPort.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const hasOpenssl = spawnSync('openssl', ['version'], { timeout: 5_000 }).status === 0;
const skipped = hasOpenssl ? '' : ' (SKIPPED: openssl not found on PATH, cannot make certificates)';

const reverser = defineService({
  name: 'Reverser',
  version: '1.0.0',
  operations: {
    reverse: {
      params: z.object({ input: taskFile() }),
      result: z.object({ output: taskFile() }),
      run: async ({ input }, ctx) => ({ output: await ctx.files.add(Uint8Array.from(await ctx.files.read(input)).reverse(), { name: 'reversed.bin' }) }),
    },
  },
});
const plain = defineService({ name: 'Plain', version: '1.0.0', operations: { echo: { params: z.object({ text: z.string() }), run: ({ text }) => ({ text }) } } });

interface Pem {
  readonly key: string;
  readonly cert: string;
}

let dir = '';
/** A private CA, the provider's certificate from it, an impostor's from it too, and a client's. */
let ca: Pem;
let server: Pem;
let impostor: Pem;
let clientCert: Pem;

function openssl(args: string[]): void {
  const run = spawnSync('openssl', args, { timeout: 20_000, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr}`);
}

/** A key and a certificate for 127.0.0.1 issued by the test CA. */
function issue(name: string): Pem {
  const file = (ext: string) => path.join(dir, `${name}.${ext}`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('key'), '-out', file('csr'), '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1']);
  openssl(['x509', '-req', '-in', file('csr'), '-CA', path.join(dir, 'ca.pem'), '-CAkey', path.join(dir, 'ca.key'), '-CAcreateserial', '-days', '1', '-copy_extensions', 'copy', '-out', file('pem')]);
  return { key: readFileSync(file('key'), 'utf8'), cert: readFileSync(file('pem'), 'utf8') };
}

beforeAll(() => {
  if (!hasOpenssl) return;
  dir = mkdtempSync(path.join(tmpdir(), 'files-tls-'));
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', path.join(dir, 'ca.key'), '-out', path.join(dir, 'ca.pem'), '-subj', '/CN=switchboard test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  ca = { key: readFileSync(path.join(dir, 'ca.key'), 'utf8'), cert: readFileSync(path.join(dir, 'ca.pem'), 'utf8') };
  server = issue('provider');
  impostor = issue('impostor');
  clientCert = issue('client');
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

const running: Array<Provider | Client> = [];
afterEach(async () => {
  for (const participant of running.splice(0).reverse()) await participant.stop();
});

async function startProvider(name: string, certificate: Pem, extra: Partial<ProviderOptions> = {}) {
  const discoveryPort = await freeDiscoveryPort();
  const provider = createProvider({
    services: [reverser, plain],
    host: '127.0.0.1',
    advertisedHost: '127.0.0.1',
    discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] },
    server: { tls: { key: certificate.key, cert: certificate.cert, clientCa: ca.cert } },
    files: { dir: path.join(dir, `store-${name}`) },
    log: () => {},
    ...extra,
  });
  running.push(provider);
  const { endpoint } = await provider.start();
  return { provider, endpoint, discoveryPort };
}

function startClient(clientId: string, discoveryPort: number, connect: WsConnectOptions, extra: Partial<ClientOptions> = {}): Client {
  const client = createClient({
    clientId,
    discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] },
    trust: { allowUnsigned: true },
    connect,
    log: () => {},
    ...extra,
  });
  running.push(client);
  return client;
}

/** Opens a file link by hand; resolves with how it ended: opened, or closed with a code and reason. */
function rawLink(endpoint: string, clientId: string, headers: Record<string, string>, certificate?: Pem): Promise<{ opened: boolean; code?: number; reason?: string }> {
  const url = new URL(endpoint);
  url.pathname = '/files';
  url.searchParams.set('clientId', clientId);
  const socket = new WebSocket(url, { ca: ca.cert, headers, ...(certificate === undefined ? {} : certificate) });
  return new Promise((resolve) => {
    let opened = false;
    socket.on('error', () => undefined);
    socket.once('open', () => {
      opened = true;
      // A link the provider accepted stays open: give a refusal time to arrive, then leave.
      setTimeout(() => socket.close(), 200);
    });
    socket.once('close', (code, reason) => resolve(opened && code !== 1008 ? { opened } : { opened, code, reason: reason.toString() }));
  });
}

describe(`file links over wss:// use the task connection's TLS and identity${skipped}`, () => {
  it.skipIf(!hasOpenssl)('SEC-1, FILE-12: with a private CA, a task with an input file and an output file completes', async () => {
    const { endpoint, discoveryPort, provider } = await startProvider('ca', server);
    expect(endpoint).toMatch(/^wss:\/\//);
    const client = startClient('files-tls-ca', discoveryPort, { tls: { ca: ca.cert } });
    const bytes = randomBytes(100_000);
    const result = (await client.assign('Reverser', 'reverse', { input: fileFrom(bytes, { name: 'in.bin' }) }, { waitFor: true }).result) as { output: { sha256: string } };
    const reversed = Uint8Array.from(bytes).reverse();
    expect(result.output.sha256).toBe(sha256(reversed));
    expect(Buffer.compare(Buffer.from(await client.files.read(result.output as never)), Buffer.from(reversed))).toBe(0);
    expect(provider.files?.store.has(sha256(bytes))).toBe(true);
    expect(client.files.counters).toMatchObject({ bytesSent: bytes.byteLength, bytesReceived: bytes.byteLength, failed: 0 });
  });

  it.skipIf(!hasOpenssl)('SEC-1, FILE-12: with a pinned fingerprint (no CA), the same task completes', async () => {
    const { discoveryPort } = await startProvider('pin', server);
    const client = startClient('files-tls-pin', discoveryPort, { tls: { fingerprint256: new X509Certificate(server.cert).fingerprint256 } });
    const bytes = randomBytes(20_000);
    const result = (await client.assign('Reverser', 'reverse', { input: fileFrom(bytes) }, { waitFor: true }).result) as { output: { sha256: string } };
    expect(result.output.sha256).toBe(sha256(Uint8Array.from(bytes).reverse()));
  });

  it.skipIf(!hasOpenssl)('SEC-1, FILE-12: the fingerprint a signed advertisement binds pins the file link too: no CA, no configured pin', async () => {
    const { discoveryPort, provider } = await startProvider('advertised', server);
    const client = startClient('files-tls-advertised', discoveryPort, {}, { trust: { pinned: [`Reverser=${provider.publicKey}`] } });
    const service = await client.waitFor('Reverser', { timeoutMs: 5_000 });
    expect(service.tlsFingerprint256).toBe(new X509Certificate(server.cert).fingerprint256.replace(/:/g, ''));
    const bytes = randomBytes(20_000);
    const result = (await client.assign('Reverser', 'reverse', { input: fileFrom(bytes) }).result) as { output: { sha256: string } };
    expect(result.output.sha256).toBe(sha256(Uint8Array.from(bytes).reverse()));
  });

  it.skipIf(!hasOpenssl)('SEC-1 (attack): a provider whose certificate is not the pinned one gets no byte of a file, even one the machine trusts', async () => {
    // The impostor's certificate comes from a CA this machine trusts (as a public CA would be):
    // every TLS connection made without its own CA list trusts it too. Only the pin tells it apart.
    const trustingConnect = tls.connect;
    const trusted = [...tls.rootCertificates, ca.cert];
    tls.connect = ((options: tls.ConnectionOptions, ...rest: unknown[]) =>
      (trustingConnect as (...args: unknown[]) => tls.TLSSocket)({ ...options, ca: options.ca ?? trusted }, ...rest)) as typeof tls.connect;
    try {
      const { provider, discoveryPort } = await startProvider('impostor', impostor);
      const client = startClient('files-tls-victim', discoveryPort, { tls: { ca: ca.cert, fingerprint256: new X509Certificate(server.cert).fingerprint256 } });
      const secret = randomBytes(30_000);
      const settled = await client.assign('Reverser', 'reverse', { input: fileFrom(secret, { name: 'secret.bin' }) }, { waitFor: true }).settled;
      // Nothing reached the impostor: no file link, no byte, nothing in its store.
      expect(provider.files?.linkCounters.links).toBe(0);
      expect(client.files.counters.bytesSent).toBe(0);
      expect(provider.files?.store.has(sha256(secret))).toBe(false);
      expect(provider.files?.store.stats()).toMatchObject({ files: 0 });
      // The upload was refused before the AssignTask, with a code and the reason.
      expect(settled.ok).toBe(false);
      if (settled.ok) return;
      expect(settled.error.code).toBe('CONNECTION_LOST');
      expect(settled.error.message).toContain('certificate fingerprint mismatch');
    } finally {
      tls.connect = trustingConnect;
    }
  });

  it.skipIf(!hasOpenssl)('SEC-10: a file link presents the client certificate; a provider that authenticates by certificate serves it without a token', async () => {
    const { endpoint, discoveryPort, provider } = await startProvider('cert', server, { auth: { certificates: [{ fingerprint256: new X509Certificate(clientCert.cert).fingerprint256, name: 'client' }] } });
    const client = startClient('files-tls-cert', discoveryPort, { tls: { ca: ca.cert, cert: clientCert.cert, key: clientCert.key } });
    const bytes = randomBytes(10_000);
    const result = (await client.assign('Reverser', 'reverse', { input: fileFrom(bytes) }, { waitFor: true }).result) as { output: { sha256: string } };
    expect(result.output.sha256).toBe(sha256(Uint8Array.from(bytes).reverse()));
    expect(provider.files?.linkCounters).toMatchObject({ links: 1, refused: 0 });
    // Without the certificate (and without a key), a file link is not served.
    expect(await rawLink(endpoint, 'files-tls-anonymous', {})).toMatchObject({ opened: true, code: 1008, reason: 'rejected: UNAUTHENTICATED' });
    // Another certificate of the same CA that the provider does not know is no credential either.
    expect(await rawLink(endpoint, 'files-tls-anonymous', {}, impostor)).toMatchObject({ code: 1008, reason: 'rejected: UNAUTHENTICATED' });
  });

  it.skipIf(!hasOpenssl)('SEC-10 (attack): a file link naming a clientId another identity owns is refused, whether a file link or a session made it its', async () => {
    const { endpoint, discoveryPort, provider } = await startProvider('owners', server);
    const secret = randomBytes(32).toString('hex');
    const proofOf = (key: string) => ({ [CLIENT_PROOF_HEADER]: clientProofFor(key, endpoint) });
    // The owner's file link made its clientId its (with its proof) while its task ran.
    const owner = startClient('files-tls-owner', discoveryPort, { tls: { ca: ca.cert } }, { clientSecret: secret });
    await owner.assign('Reverser', 'reverse', { input: fileFrom(randomBytes(1_000)) }, { waitFor: true }).result;
    // A session alone made this one its: no file link was ever opened for it.
    const sessionOnly = startClient('files-tls-session', discoveryPort, { tls: { ca: ca.cert } }, { clientSecret: secret });
    await sessionOnly.assign('Plain', 'echo', { text: 'hello' }, { waitFor: true }).result;
    const other = randomBytes(32).toString('hex');
    for (const clientId of ['files-tls-owner', 'files-tls-session']) {
      // Another proof, and no proof at all, from the same host: refused.
      expect(await rawLink(endpoint, clientId, proofOf(other))).toMatchObject({ code: 1008, reason: expect.stringContaining('rejected: FORBIDDEN') });
      expect(await rawLink(endpoint, clientId, {})).toMatchObject({ code: 1008, reason: expect.stringContaining('rejected: FORBIDDEN') });
      // The owner's proof: served.
      expect(await rawLink(endpoint, clientId, proofOf(secret))).toEqual({ opened: true });
    }
    expect(provider.files?.linkCounters.refused).toBe(4);
  });
});
