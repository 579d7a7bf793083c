/**
 * NATS connection security passed through: a server that requires a token, and one that serves
 * TLS with a certificate of its own (made here with openssl). A host without the right secret or
 * CA gets no NATS connection: the provider fails to start with a clear error, tasks never run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '../runtime/client.js';
import { createProvider } from '../runtime/provider.js';
import { greeter, uniquePrefix } from './support/natsFixtures.js';
import { NATS_SERVER_MISSING, startNatsNode, type NatsNode } from './support/natsServer.js';

const OPENSSL = spawnSync('openssl', ['version']).status === 0;
const describeNats = NATS_SERVER_MISSING === undefined ? describe : describe.skip;
if (NATS_SERVER_MISSING !== undefined) console.warn(`adapters.nats.security.spec.ts skipped: ${NATS_SERVER_MISSING}`);

const dir = mkdtempSync(join(tmpdir(), 'sb-nats-sec-'));
const nodes: NatsNode[] = [];
afterAll(async () => {
  for (const node of nodes) await node.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function roundTrip(nats: Record<string, unknown>): Promise<unknown> {
  const prefix = uniquePrefix();
  const provider = createProvider({ services: [greeter], lan: false, log: () => {}, nats: { ...nats, subjectPrefix: prefix } });
  const client = createClient({ lan: false, log: () => {}, nats: { ...nats, subjectPrefix: prefix } });
  try {
    await provider.start();
    await client.waitFor('Greeter', { timeoutMs: 5_000 });
    return await client.assign('Greeter', 'greet', { name: 'secure' }).result;
  } finally {
    await client.stop();
    await provider.stop();
  }
}

describeNats('NATS adapter: credentials and TLS towards the NATS servers', () => {
  it('a server token: the right one connects and runs a task; none at all cannot start a provider', async () => {
    const node = await startNatsNode({ config: 'authorization { token: "s3cret-token" }' });
    nodes.push(node);
    await expect(roundTrip({ servers: node.url, token: 's3cret-token' })).resolves.toEqual({ hello: 'secure' });
    const refused = createProvider({ services: [greeter], lan: false, log: () => {}, nats: { servers: node.url, subjectPrefix: uniquePrefix() } });
    await expect(refused.start()).rejects.toThrow(/cannot connect to NATS/);
  });

  it.skipIf(!OPENSSL)('TLS: with the server certificate as CA it connects; without it the provider cannot start', async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
    ], { stdio: 'ignore' });
    const node = await startNatsNode({ config: `tls { cert_file: "${cert}", key_file: "${key}" }` });
    nodes.push(node);
    const url = `tls://127.0.0.1:${node.port}`;
    await expect(roundTrip({ servers: url, tls: { caFile: cert } })).resolves.toEqual({ hello: 'secure' });
    const untrusted = createProvider({ services: [greeter], lan: false, log: () => {}, nats: { servers: url, subjectPrefix: uniquePrefix() } });
    await expect(untrusted.start()).rejects.toThrow(/cannot connect to NATS/);
  });
});
