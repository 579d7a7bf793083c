/**
 * DISC-1 on a shared host: a peer built from the seed alone often binds the discovery port without
 * SO_REUSEADDR, and then no other process on the host can bind it. A switchboard provider must say
 * so loudly and must not claim to be discoverable (API: `start()` resolves with
 * `discovery.listening: false`; CLI: "NOT DISCOVERABLE" instead of the discovery line), and a
 * switchboard client on that host still discovers (answers come to its own ephemeral port).
 * Real sockets on loopback; the "seed peer" here is a raw dgram socket bound exclusively. The CLI
 * side (a child process running the build) is discovery.exclusivePort.cli.slow.spec.ts.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createProvider, defineService } from '../runtime/index.js';
import { allocatePort } from './support/ports.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A socket holding `port` the way a seed-only peer does: no SO_REUSEADDR, so nobody else binds it. */
async function holdExclusively(port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: '0.0.0.0', exclusive: true }, () => resolve());
  });
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

const echo = defineService({ name: 'Echo', version: '1.0.0', operations: { echo: { params: z.object({ text: z.string() }), run: ({ text }) => ({ text }) } } });

function startEcho(port: number, lines: string[]) {
  const provider = createProvider({
    services: [echo],
    host: '127.0.0.1',
    discovery: { port, broadcastAddresses: ['127.255.255.255'] },
    log: (level, message) => void lines.push(`${level} ${message}`),
  });
  cleanups.push(() => provider.stop());
  return provider;
}

describe('DISC-1: a discovery port held exclusively by another process', () => {
  it('the provider says so loudly and start() reports it not listening; with the port free it is listening', async () => {
    const port = await allocatePort();
    await holdExclusively(port);
    const lines: string[] = [];
    const provider = startEcho(port, lines);
    const started = await provider.start();
    expect(started.discovery).toMatchObject({ port, listening: false, code: 'EADDRINUSE' });
    expect(provider.discovery?.listening).toBe(false);
    expect(lines.filter((line) => line.startsWith('error ') && line.includes('holds UDP port') && line.includes('exclusively'))).toHaveLength(1);

    const freePort = await allocatePort();
    const free = startEcho(freePort, []);
    expect((await free.start()).discovery).toEqual({ port: freePort, listening: true });
  });

  it('a switchboard client on that host still discovers a provider answering its requests, and completes a task', async () => {
    const port = await allocatePort();
    await holdExclusively(port);
    // The provider on the same port cannot hear requests here; one on another port can, and the
    // client's requests go there through unicastPeers: its answers come to the client's own port.
    const providerPort = await allocatePort();
    const provider = startEcho(providerPort, []);
    await provider.start();
    const lines: string[] = [];
    const client = createClient({
      discovery: { port, broadcastAddresses: ['127.255.255.255'], unicastPeers: [{ host: '127.0.0.1', port: providerPort }] },
      log: (level, message) => void lines.push(`${level} ${message}`),
    });
    cleanups.push(() => client.stop());
    await client.waitFor('Echo', { timeoutMs: 5_000 });
    expect(await client.assign('Echo', 'echo', { text: 'still here' }).result).toEqual({ text: 'still here' });
    expect(lines.some((line) => line.startsWith('error ') && line.includes('exclusively'))).toBe(true);
  });
});
