/**
 * A provider and a client of the library API on the simulated network (one SimulatedClock), with
 * a service that succeeds, fails with a code, and waits until cancelled: what the observability
 * specs (inspection, metrics, logs, spans, the UI model) watch.
 */
import { SimulatedClock } from 'xstate';
import * as z from 'zod';
import { SimulatedNetwork } from '../../adapters/simulated/index.js';
import { createClient, type ClientOptions } from '../../runtime/client.js';
import { createProvider, type ProviderOptions } from '../../runtime/provider.js';
import { defineService } from '../../runtime/service.js';

export const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

export async function runFor(net: SimulatedNetwork, ms: number, stepMs = 10): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += stepMs) {
    net.run(stepMs);
    await flush();
  }
}

export const echo = defineService({
  name: 'Echo',
  version: '1.0.0',
  operations: {
    say: {
      params: z.object({ text: z.string().min(1) }),
      run: async ({ text }, ctx) => {
        ctx.log('info', 'saying', { length: text.length });
        ctx.progress(50, 'half');
        return { text };
      },
    },
    fail: {
      params: z.object({}),
      run: () => {
        throw Object.assign(new Error('nothing to say'), { code: 'NOTHING_TO_SAY' });
      },
    },
    wait: {
      params: z.object({}),
      run: (_params, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
    },
  },
});

type Extra = { provider?: Partial<ProviderOptions>; client?: Partial<ClientOptions> };

/** `extra` may depend on the clock (metrics that read it, say). */
export function observedNetwork(seed: number, extraOf: Extra | ((clock: SimulatedClock) => Extra) = {}) {
  const clock = new SimulatedClock();
  const extra = typeof extraOf === 'function' ? extraOf(clock) : extraOf;
  const net = new SimulatedNetwork({ clock, seed });
  const provider = createProvider({ services: [echo], network: net.host('10.0.0.1'), clock, port: 8080, heartbeatIntervalMs: 1_000, providerId: 'provider-1', log: () => {}, ...extra.provider });
  const client = createClient({ network: net.host('10.0.0.2'), clock, seed, clientId: 'client-a', log: () => {}, ...extra.client });
  return { clock, net, provider, client };
}
