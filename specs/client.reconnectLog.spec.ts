/**
 * CONN-12 through createClient, on the simulated network and clock: a provider whose process dies
 * (its actors stop at once: connections reset, the port then refuses) fails the client's tasks
 * with CONNECTION_LOST well within 2 s with the default settings; every loss and reconnect
 * attempt is logged at debug, one summary at info (runtime/logging/reconnects.ts). The same on
 * real processes: specs/connection.sigkill.slow.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import * as z from 'zod';
import { SimulatedNetwork } from '../adapters/simulated/index.js';
import { backoffDefaults } from '../machines/backoff.js';
import { createClient, type ClientOptions } from '../runtime/client.js';
import { createProvider, type Provider } from '../runtime/provider.js';
import { defineService, type Logger } from '../runtime/service.js';
import { runFor } from './support/simulatedRun.js';

const PROVIDER_HOST = '10.0.0.1';
const ENDPOINT = `ws://${PROVIDER_HOST}:8080`;

const slow = defineService({
  name: 'Slow',
  version: '1.0.0',
  operations: {
    wait: {
      params: z.object({}),
      run: (_params, ctx) =>
        new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
    },
  },
});

interface Line {
  readonly level: string;
  readonly message: string;
  readonly atMs: number;
}

function startProvider(net: SimulatedNetwork, clock: SimulatedClock): Provider {
  const provider = createProvider({ services: [slow], network: net.host(PROVIDER_HOST), clock, port: 8080, log: () => {} });
  void provider.start();
  return provider;
}

async function setup(seed: number, connection?: ClientOptions['connection']) {
  const clock = new SimulatedClock();
  const net = new SimulatedNetwork({ clock, seed });
  const lines: Line[] = [];
  const log: Logger = (level, message) => lines.push({ level, message, atMs: clock.now() });
  const provider = startProvider(net, clock);
  const client = createClient({ network: net.host('10.0.0.2'), clock, seed, log, ...(connection === undefined ? {} : { connection }) });
  await runFor(net, 50);
  return { clock, net, client, provider, lines };
}

/** Stops both on the simulated clock (their close handshakes take simulated time). */
async function stopAll(world: Awaited<ReturnType<typeof setup>>): Promise<void> {
  const stopped = Promise.all([world.client.stop(), world.provider.actor.getSnapshot().status === 'active' ? world.provider.stop() : undefined]);
  await runFor(world.net, 3_000, 50);
  await stopped;
}

/** Two tasks running on the provider, then its process dies: its actors stop, nothing says goodbye. */
async function killMidTask(world: Awaited<ReturnType<typeof setup>>) {
  const outcomes = new Map<string, { code: string; atMs: number }>();
  for (const taskId of ['t1', 't2']) {
    world.client.assign('Slow', 'wait', {}, { taskId }).result.catch((error: { code: string }) => {
      outcomes.set(taskId, { code: error.code, atMs: world.clock.now() });
    });
  }
  await runFor(world.net, 200);
  expect(outcomes.size).toBe(0);
  const killedAtMs = world.clock.now();
  world.provider.actor.stop();
  return { outcomes, killedAtMs };
}

describe('CONN-12: a client notices a provider whose process died, and says what it does', () => {
  it('defaults: every task in flight fails CONNECTION_LOST within 2 s; the loss and each attempt logged at debug, the give-up at info', async () => {
    const world = await setup(31);
    const { outcomes, killedAtMs } = await killMidTask(world);
    await runFor(world.net, 2_000);
    expect([...outcomes.keys()].sort()).toEqual(['t1', 't2']);
    for (const { code, atMs } of outcomes.values()) {
      expect(code).toBe('CONNECTION_LOST');
      expect(atMs - killedAtMs).toBeLessThan(2_000);
    }
    const about = world.lines.filter((line) => line.message.includes(ENDPOINT) && line.atMs >= killedAtMs);
    expect(about.map((line) => line.level)).toEqual(['debug', 'debug', 'debug', 'debug', 'info']);
    expect(about[0]?.message).toMatch(new RegExp(`^connection to ${ENDPOINT} lost: transport closed \\(1006`));
    for (let attempt = 1; attempt <= backoffDefaults.refusalsMax; attempt++) {
      expect(about[attempt]?.message).toMatch(new RegExp(`^reconnecting to ${ENDPOINT}: attempt ${attempt} in \\d+ ms \\(after: transport closed`));
    }
    expect(about[2]?.message).toContain('connection refused');
    expect(about[4]?.message).toMatch(
      new RegExp(`^gave up on ${ENDPOINT} after 3 attempts, \\d+ ms after transport closed .*\\(last: transport closed \\(1006 connection refused\\)\\); its unfinished tasks fail with CONNECTION_LOST$`),
    );
    await stopAll(world);
  });

  it('opted in to ride out restarts (refusalsMax): the provider back on its port, the connection reopens and says so once at info', async () => {
    // Only the field to change: the others keep their defaults.
    const world = await setup(32, { backoff: { refusalsMax: 1_000 } });
    const { killedAtMs } = await killMidTask(world);
    await runFor(world.net, 1_000);
    world.provider = startProvider(world.net, world.clock);
    await runFor(world.net, 3_000);
    const about = world.lines.filter((line) => line.message.includes(ENDPOINT) && line.atMs >= killedAtMs);
    const infos = about.filter((line) => line.level === 'info');
    expect(infos).toHaveLength(1);
    expect(infos[0]?.message).toMatch(new RegExp(`^reconnected to ${ENDPOINT} after \\d+ attempts?, \\d+ ms after transport closed`));
    const attempts = about.filter((line) => line.message.startsWith(`reconnecting to ${ENDPOINT}`));
    expect(attempts.length).toBeGreaterThan(backoffDefaults.refusalsMax);
    expect(infos[0]?.message).toContain(`after ${attempts.length} attempt`);
    await stopAll(world);
  });
});
