/**
 * A provider (the Previews service, and optionally the demo ImageProcessingService) and a client
 * with the web UI, all on loopback with a discovery port of their own: what the UI's browser specs
 * and its screenshot script run against. Development tooling, not part of the built package.
 */
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { UdpDiscoveryOptions } from '../../adapters/udp.js';
import { createClient, type Client } from '../client.js';
import { createMetrics } from '../metrics/metrics.js';
import { createProvider, type Provider } from '../provider.js';
import type { Logger, ServiceDefinition } from '../service.js';
import { previewService } from './previewService.js';
import { startUiServer, type UiOptions, type UiServer } from './server.js';

export interface UiWorld {
  readonly provider: Provider;
  readonly client: Client;
  readonly server: UiServer;
  readonly discovery: UdpDiscoveryOptions;
  readonly endpoint: string;
  close(): Promise<void>;
}

/** The world's logger when one is given (else the library's default). */
const logOf = (options: { log?: Logger }): { log?: Logger } => (options.log === undefined ? {} : { log: options.log });

/** A UDP port in 20000-29999 nobody holds now (checked by binding it alone). */
export async function freeDiscoveryPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const free = await new Promise<boolean>((resolve) => {
      const socket = createSocket({ type: 'udp4', reuseAddr: false });
      socket.once('error', () => resolve(false));
      socket.bind(port, '0.0.0.0', () => socket.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free discovery port in 20000-29999');
}

export async function startUiWorld(
  options: { stepDelayMs?: number; imageService?: boolean; ui?: UiOptions; heartbeatIntervalMs?: number; log?: Logger } = {},
): Promise<UiWorld> {
  const discovery: UdpDiscoveryOptions = { port: await freeDiscoveryPort(), broadcastAddresses: ['127.255.255.255'] };
  const services: ServiceDefinition[] = [previewService({ stepDelayMs: options.stepDelayMs ?? 100 })];
  let workDir: string | undefined;
  if (options.imageService === true) {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-ui-world-'));
    const { imageProcessingService } = await import('../demo/imageService.js');
    const { writeSampleImage } = await import('../demo/sampleImage.js');
    await writeSampleImage(path.join(workDir, 'sample.png'), { width: 800, height: 600 });
    services.push(imageProcessingService({ workDir, stepDelayMs: options.stepDelayMs ?? 100 }) as unknown as ServiceDefinition);
  }
  const metrics = createMetrics();
  const provider = createProvider({ services, host: '127.0.0.1', port: 0, discovery, metrics, heartbeatIntervalMs: options.heartbeatIntervalMs ?? 2_000, ...logOf(options) });
  const client = createClient({ discovery, metrics, ...logOf(options) });
  const server = await startUiServer({ client, provider, metrics }, { port: 0, ...options.ui });
  const { endpoint } = await provider.start();
  return {
    provider,
    client,
    server,
    discovery,
    endpoint,
    close: async () => {
      await server.close();
      await Promise.allSettled([client.stop(), provider.stop()]);
      if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
    },
  };
}
