/**
 * Real UDP on loopback for the discovery specs: a free discovery port, a switchboard provider and
 * client on it, and an attacker's raw socket that may speak from its own loopback address.
 * LOOPBACK ONLY; everything here is closed by `closeAll()`.
 */
import dgram from 'node:dgram';
import * as z from 'zod';
import { createClient, type Client, type ClientOptions } from '../../runtime/client.js';
import { createProvider, type Provider, type ProviderOptions } from '../../runtime/provider.js';
import { defineService } from '../../runtime/service.js';
import { sleep, until as untilWithin } from './processes.js';

export const LOOPBACK = '127.0.0.1';
export const LOOPBACK_BROADCAST = '127.255.255.255';

/**
 * A UDP port in 20000..29999 nobody holds right now (checked by binding it exclusively, then
 * releasing it), never 50001. Until a shared allocator exists, a random draw keeps parallel
 * spec files from colliding.
 */
export async function discoveryPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const free = await new Promise<boolean>((resolve) => {
      const socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind({ port, address: '0.0.0.0', exclusive: true }, () => socket.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('discoveryPort: no free UDP port in 20000..29999 after 50 draws');
}

/** The one service the discovery specs use: `greet` answers with who served it. */
export function greeterService(servedBy: string) {
  return defineService({
    name: 'Greeter',
    version: '1.0.0',
    operations: {
      greet: {
        params: z.object({ name: z.string().max(100) }),
        run: ({ name }) => ({ greeting: `Hello, ${name}`, servedBy }),
      },
    },
  });
}

const closers: (() => Promise<void>)[] = [];
const providerClosers: (() => Promise<void>)[] = [];

/**
 * Stops every client and socket the helpers made, then, once the providers' sessions had time to
 * end, every provider (call in afterEach). Stopping a provider while a session is still ending
 * makes XState warn about an event sent to a stopped actor.
 */
export async function closeAll(): Promise<void> {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await sleep(50);
  for (const close of providerClosers.splice(0).reverse()) await close().catch(() => undefined);
}

export async function startProvider(port: number, options: Partial<ProviderOptions> & { servedBy?: string } = {}): Promise<Provider & { endpoint: string }> {
  const { servedBy = 'real', ...rest } = options;
  const provider = createProvider({
    services: [greeterService(servedBy)],
    host: LOOPBACK,
    port: 0,
    heartbeatIntervalMs: 500,
    log: () => {}, // the attacks provoke warnings on purpose; specs check counters and views
    ...rest,
    discovery: { port, broadcastAddresses: [LOOPBACK_BROADCAST], ...rest.discovery },
  });
  providerClosers.push(() => provider.stop());
  await provider.start();
  return provider as Provider & { endpoint: string };
}

export function startClient(port: number, options: Partial<ClientOptions> = {}): Client {
  const client = createClient({
    log: () => {}, // as the provider's
    ...options,
    discovery: { port, broadcastAddresses: [LOOPBACK_BROADCAST], ...options.discovery },
    connection: { connectTimeoutMs: 1_000, backoff: { delayMsBase: 20, delayMsMax: 200, attemptsMax: 3 }, ...options.connection },
  });
  closers.push(() => client.stop());
  return client;
}

/** A raw UDP socket bound to `address` (any 127.x.y.z is loopback on Linux): the attacker's. */
export async function rawSocket(address = '127.0.0.66', options: { port?: number; reuseAddr?: boolean } = {}) {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: options.reuseAddr ?? false });
  const received: { text: string; from: dgram.RemoteInfo; bytes: number }[] = [];
  socket.on('message', (bytes, from) => received.push({ text: bytes.toString('utf8'), from, bytes: bytes.byteLength }));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.bind({ port: options.port ?? 0, address }, () => resolve()));
  socket.setBroadcast(true);
  closers.push(() => new Promise((resolve) => socket.close(() => resolve())));
  return {
    socket,
    received,
    send: (payload: string | Uint8Array, port: number, host = LOOPBACK_BROADCAST) =>
      new Promise<void>((resolve) => socket.send(payload, port, host, () => resolve())),
  };
}

export { sleep };

/** Polls `check` until it gives a value (processes.ts's `until`, with a default bound). */
export const until = <T>(check: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> => untilWithin(check, what, timeoutMs);
