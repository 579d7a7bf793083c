/**
 * ClientOptions.retry on the simulated network: a task that fails with a listed code is assigned
 * again (same taskId) to an instance it has not failed on yet (the exclusion), at most `attempts`
 * more times (the budget), and only for the listed codes. Three providers of one service, each
 * on its own host, each failing or not as the test says; a selection policy that always takes the
 * best candidate, so that without the exclusion a retry would go back to the instance that failed.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import * as z from 'zod';
import { SimulatedNetwork } from '../adapters/simulated/index.js';
import { candidatesFor, type SelectionPolicy } from '../machines/selection.js';
import { createClient, type ClientOptions } from '../runtime/client.js';
import { createProvider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { runFor } from './support/simulatedRun.js';


/** Always the first candidate (best rank, then serviceId order): never rotates on its own. */
const firstCandidate: SelectionPolicy = (services, request, state) => ({ service: candidatesFor(services, request)[0], state });

type Behaviour = { readonly fails: string } | { readonly succeeds: true };

/**
 * Providers on 10.0.0.1-3, and a client that sees all three. `byRank[i]` is what the instance the
 * policy takes i-th does (serviceIds are random, so the ranks are known only once discovered).
 * Every run is recorded as `<rank>:<taskId>`.
 */
async function ranked(byRank: readonly [Behaviour, Behaviour, Behaviour], retry: ClientOptions['retry'], seed: number) {
  const clock = new SimulatedClock();
  const net = new SimulatedNetwork({ clock, seed });
  const runs: string[] = [];
  const rankOfHost = new Map<string, number>();
  const hosts = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
  const providers = hosts.map((host) =>
    createProvider({
      services: [
        defineService({
          name: 'Flaky',
          version: '1.0.0',
          operations: {
            work: {
              params: z.object({}),
              run: async (_params, ctx) => {
                const rank = rankOfHost.get(host)!;
                runs.push(`${rank}:${ctx.taskId}`);
                const behaviour = byRank[rank]!;
                if ('fails' in behaviour) throw Object.assign(new Error(`rank ${rank} failed`), { code: behaviour.fails });
                return { rank };
              },
            },
          },
        }),
      ],
      network: net.host(host),
      clock,
      port: 8080,
      log: () => {}, // the failures are on purpose
    }),
  );
  const client = createClient({ network: net.host('10.0.1.1'), clock, seed, log: () => {}, selectionPolicy: firstCandidate, ...(retry === undefined ? {} : { retry }) });
  for (const provider of providers) void provider.start();
  await runFor(net, 100);
  const order = candidatesFor(client.services(), { serviceName: 'Flaky', operation: 'work' });
  expect(order).toHaveLength(3);
  order.forEach((service, rank) => rankOfHost.set(new URL(service.endpoint).hostname, rank));
  return { net, client, runs };
}

describe('client retry (ClientOptions.retry)', () => {
  it('retries on an instance it has not failed on: first fails, second fails, third completes', async () => {
    const world = await ranked([{ fails: 'FLAKY' }, { fails: 'FLAKY' }, { succeeds: true }], { codes: ['FLAKY'], attempts: 2 }, 11);
    const task = world.client.assign('Flaky', 'work', {}, { taskId: 't1' });
    await runFor(world.net, 500);
    await expect(task.result).resolves.toEqual({ rank: 2 });
    // Each instance ran the task once, in selection order: never the failed one again.
    expect(world.runs).toEqual(['0:t1', '1:t1', '2:t1']);
  });

  it('spends at most `attempts` retries: with 1, two instances run it and the second failure is the outcome', async () => {
    const world = await ranked([{ fails: 'FLAKY' }, { fails: 'FLAKY' }, { succeeds: true }], { codes: ['FLAKY'], attempts: 1 }, 12);
    const task = world.client.assign('Flaky', 'work', {}, { taskId: 't2' });
    await runFor(world.net, 500);
    await expect(task.result).rejects.toMatchObject({ code: 'FLAKY', message: 'rank 1 failed' });
    expect(world.runs).toEqual(['0:t2', '1:t2']);
  });

  it('the budget is per task: a second task gets its own retries, starting again from the best instance', async () => {
    const world = await ranked([{ fails: 'FLAKY' }, { succeeds: true }, { succeeds: true }], { codes: ['FLAKY'], attempts: 1 }, 13);
    const first = world.client.assign('Flaky', 'work', {}, { taskId: 'one' });
    await runFor(world.net, 400);
    const second = world.client.assign('Flaky', 'work', {}, { taskId: 'two' });
    await runFor(world.net, 400);
    await expect(first.result).resolves.toEqual({ rank: 1 });
    await expect(second.result).resolves.toEqual({ rank: 1 });
    expect(world.runs).toEqual(['0:one', '1:one', '0:two', '1:two']);
  });

  it('does not retry a code it was not given, nor without the option', async () => {
    const other = await ranked([{ fails: 'OTHER' }, { succeeds: true }, { succeeds: true }], { codes: ['FLAKY'], attempts: 2 }, 14);
    const refused = other.client.assign('Flaky', 'work', {}, { taskId: 't3' });
    await runFor(other.net, 400);
    await expect(refused.result).rejects.toMatchObject({ code: 'OTHER' });
    expect(other.runs).toEqual(['0:t3']);

    const off = await ranked([{ fails: 'FLAKY' }, { succeeds: true }, { succeeds: true }], undefined, 15);
    const once = off.client.assign('Flaky', 'work', {}, { taskId: 't4' });
    await runFor(off.net, 400);
    await expect(once.result).rejects.toMatchObject({ code: 'FLAKY' });
    expect(off.runs).toEqual(['0:t4']);
  });
});
