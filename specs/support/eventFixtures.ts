/** What the events and hooks specs share: a service that publishes events, a loopback provider of it, and a wait. */
import * as z from 'zod';
import { createProvider, type Provider, type ProviderOptions } from '../../runtime/provider.js';
import { defineService } from '../../runtime/service.js';
import { freeDiscoveryPort } from './udpPort.js';

export const news = defineService({
  name: 'News',
  version: '1.0.0',
  operations: { ping: { params: z.object({}), run: () => ({ pong: true }) } },
  events: {
    headline: { schema: z.object({ title: z.string(), desk: z.string() }), description: 'A new headline.' },
    tick: { schema: z.object({ n: z.number().int() }) },
  },
});

/** A provider on loopback with a discovery port of its own, silent; `port` is that discovery port. */
export async function startLoopbackProvider(options: Partial<ProviderOptions> = {}): Promise<{ provider: Provider; endpoint: string; port: number }> {
  const port = await freeDiscoveryPort();
  const provider = createProvider({ services: [news], host: '127.0.0.1', discovery: { port, broadcastAddresses: ['127.255.255.255'] }, log: () => {}, ...options });
  const { endpoint } = await provider.start();
  return { provider, endpoint, port };
}

/** Polls `test` every 5 ms; throws naming `what` after `timeoutMs`. */
export async function until(test: () => boolean, what: string, timeoutMs = 4_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
