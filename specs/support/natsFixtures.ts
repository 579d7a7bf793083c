/**
 * Shared pieces of the NATS specs: a test service, the transport harness (transportHarness.ts), a unique subject prefix per test (deployments scoped by prefix), and
 * the suite frame (a nats-server per file; providers, clients and raw connections on it).
 */
import * as z from 'zod';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { NatsHostOptions } from '../../adapters/nats.js';
import { createClient, type Client, type ClientOptions } from '../../runtime/client.js';
import { createProvider, type Provider, type ProviderOptions } from '../../runtime/provider.js';
import { defineService } from '../../runtime/service.js';
import { NATS_SERVER_MISSING, startNatsNode, type NatsNode, type NatsNodeOptions } from './natsServer.js';

let prefixes = 0;
/** A subject prefix no other test (or concurrent run) uses. */
export function uniquePrefix(): string {
  return `sbtest.p${process.pid}x${++prefixes}x${Math.floor(Math.random() * 1e6)}`;
}

export const greeter = defineService({
  name: 'Greeter',
  version: '1.0.0',
  operations: {
    greet: {
      params: z.object({ name: z.string(), delayMs: z.number().int().min(0).max(60_000).optional() }),
      run: async ({ name, delayMs }, ctx) => {
        if (delayMs !== undefined && delayMs > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delayMs);
            ctx.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
        ctx.progress(50, 'half way');
        return { hello: name };
      },
    },
    fail: {
      params: z.object({}),
      run: async () => {
        throw Object.assign(new Error('asked to fail'), { code: 'ASKED_TO_FAIL' });
      },
    },
  },
});

export { runTransport, type Harness } from './transportHarness.js';

export interface NatsSuite {
  node(): NatsNode;
  /** Runs `cleanup` after the current test (cleanups in reverse order). */
  defer(cleanup: () => unknown): void;
  /** NATS options for this suite's server and `prefix`. */
  options(prefix: string, extra?: NatsHostOptions): NatsHostOptions;
  /** A started provider, stopped after the test (heartbeat 1 s unless given). */
  startProvider(options: ProviderOptions): Promise<Provider>;
  /** A client, stopped after the test. */
  startClient(options: ClientOptions): Client;
  /** A plain NATS connection to the suite's server (an attacker's, or a tool's), closed after the test. */
  rawConnection(): Promise<NatsConnection>;
}

/**
 * The usual frame of a NATS spec file: one nats-server for the file (when the binary exists),
 * cleanups run after each test in reverse order, and providers, clients and raw connections on
 * it that are cleaned up after their test.
 */
export function natsSuite(nodeOptions: NatsNodeOptions = {}): NatsSuite {
  let node: NatsNode | undefined;
  const cleanups: (() => unknown)[] = [];
  beforeAll(async () => {
    if (NATS_SERVER_MISSING === undefined) node = await startNatsNode(nodeOptions);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await node?.stop();
  });
  const suite: NatsSuite = {
    node: () => {
      if (node === undefined) throw new Error('no nats-server for this suite');
      return node;
    },
    defer: (cleanup) => void cleanups.push(cleanup),
    options: (prefix, extra = {}) => ({ servers: suite.node().url, subjectPrefix: prefix, ...extra }),
    async startProvider(options) {
      // Quiet unless a spec passes `log`: failures made on purpose would print warnings.
      const provider = createProvider({ heartbeatIntervalMs: 1_000, log: () => {}, ...options });
      suite.defer(() => provider.stop());
      await provider.start();
      return provider;
    },
    startClient(options) {
      const client = createClient({ log: () => {}, ...options });
      suite.defer(() => client.stop());
      return client;
    },
    async rawConnection() {
      const nc = await connect({ servers: suite.node().url });
      suite.defer(() => nc.close());
      return nc;
    },
  };
  return suite;
}
