/**
 * Events under network faults, on the simulated network (EVT-10, EVT-13): a property over random
 * schedules of publications and partitions between subscribers and their provider. Every client
 * is a real `createClient`, the provider a real `createProvider`, all on one SimulatedClock.
 *
 * The property: every event published to an at-least-once subscription reaches the application
 * exactly once and in publication order, whatever the cuts, as long as each cut is shorter than
 * the subscription's linger and the events fit its buffer (both hold by construction here).
 * The whole-network property of `switchboard simulate` (specs/simulate.networks.spec.ts) runs
 * tasks only; this is its counterpart for events, kept apart so that its scenarios stay as they are.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import * as z from 'zod';
import { SimulatedNetwork } from '../adapters/simulated/index.js';
import { createClient } from '../runtime/client.js';
import { createProvider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { runFor } from './support/simulatedRun.js';

const ticker = defineService({
  name: 'Ticker',
  version: '1.0.0',
  operations: { ping: { params: z.object({}), run: () => ({}) } },
  events: { tick: { schema: z.object({ n: z.number().int() }) } },
});

const PROVIDER = '10.0.0.1';
const CLIENTS = ['10.0.0.2', '10.0.0.3'] as const;

/** A step of the schedule: publish the next event, cut one client off for a while, or let time pass. */
type Step = { kind: 'publish' } | { kind: 'cut'; client: 0 | 1; ms: number } | { kind: 'wait'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: 'publish' } as const) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), client: fc.constantFrom(0 as const, 1 as const), ms: fc.integer({ min: 100, max: 1_500 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 10, max: 400 }) }) },
);

async function runSchedule(seed: number, steps: readonly Step[]): Promise<{ received: number[][]; published: number }> {
  const clock = new SimulatedClock();
  const net = new SimulatedNetwork({ clock, seed });
  const quiet = () => {};
  const provider = createProvider({
    services: [ticker],
    network: net.host(PROVIDER),
    clock,
    port: 8080,
    heartbeatIntervalMs: 1_000,
    session: { pingIntervalMs: 300, pongTimeoutMs: 300, closeTimeoutMs: 300 },
    log: quiet,
  });
  void provider.start();
  const clients = CLIENTS.map((address, index) =>
    createClient({
      clientId: `subscriber-${index}`,
      network: net.host(address),
      clock,
      seed: seed + index,
      connection: { pingIntervalMs: 300, pongTimeoutMs: 300, connectTimeoutMs: 500, backoff: { delayMsBase: 50, delayMsMax: 400, attemptsMax: 1_000 } },
      log: quiet,
    }),
  );
  await runFor(net, 100);
  const received: number[][] = clients.map(() => []);
  const subscriptions = clients.map((client, index) =>
    client.subscribe(ticker, 'tick', (data) => received[index]!.push(data.n), { delivery: 'at-least-once', timeoutMs: 5_000 }),
  );
  let opened = 0;
  for (const subscription of subscriptions) void subscription.opened.then(() => opened++);
  for (let waited = 0; opened < subscriptions.length; waited += 50) {
    if (waited > 10_000) throw new Error('the subscriptions did not open');
    await runFor(net, 50);
  }
  let published = 0;
  const heals: (() => void)[] = [];
  for (const step of steps) {
    if (step.kind === 'publish') provider.publish(ticker, 'tick', { n: ++published });
    else if (step.kind === 'wait') await runFor(net, step.ms);
    else {
      const heal = net.partition([CLIENTS[step.client]], [PROVIDER]);
      heals.push(heal);
      await runFor(net, step.ms);
      heal();
    }
  }
  net.heal();
  // Long enough for the slowest reconnect (backoff up to 400 ms after a pong timeout) and the replay.
  await runFor(net, 4_000);
  const stops = [...clients.map((client) => client.stop()), provider.stop()];
  await runFor(net, 3_000);
  await Promise.all(stops);
  return { received, published };
}

describe('events under faults on the simulated network (EVT-10, EVT-13)', () => {
  it('at-least-once: nothing lost within the buffer, nothing twice, order kept, across random cuts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 30 }), fc.array(stepArb, { minLength: 5, maxLength: 30 }), async (seed, steps) => {
        const { received, published } = await runSchedule(seed, steps);
        const all = Array.from({ length: published }, (_, index) => index + 1);
        for (const got of received) expect(got, `seed ${seed}`).toEqual(all);
      }),
      { numRuns: 10 },
    );
  }, 20_000);
});
