/**
 * createClient's per-call options on the simulated network: `signal` cancels a task (aborted
 * before or after assign), and waitFor's refusal names what was waited for and for how long.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import * as z from 'zod';
import { SimulatedNetwork } from '../adapters/simulated/index.js';
import { createClient } from '../runtime/client.js';
import { createProvider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { runFor } from './support/simulatedRun.js';

const started: string[] = [];
const waiter = defineService({
  name: 'Waiter',
  version: '1.0.0',
  operations: {
    wait: {
      params: z.object({}),
      run: (_params, ctx) => {
        started.push(ctx.taskId);
        return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
      },
    },
  },
});

async function setup(seed: number) {
  const clock = new SimulatedClock();
  const net = new SimulatedNetwork({ clock, seed });
  const provider = createProvider({ services: [waiter], network: net.host('10.0.0.1'), clock, port: 8080 });
  const client = createClient({ network: net.host('10.0.0.2'), clock, seed });
  void provider.start();
  await runFor(net, 50);
  return { net, client };
}

describe('createClient: assign options and waitFor', () => {
  it('TASK-11: an AbortSignal that fires while the task runs cancels it: CANCELLED', async () => {
    const { net, client } = await setup(21);
    const controller = new AbortController();
    const task = client.assign('Waiter', 'wait', {}, { taskId: 'later', signal: controller.signal });
    await runFor(net, 100);
    expect(started).toContain('later');
    controller.abort();
    await runFor(net, 100);
    await expect(task.result).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('an already aborted signal cancels the task at once', async () => {
    const { net, client } = await setup(22);
    const task = client.assign('Waiter', 'wait', {}, { taskId: 'aborted', signal: AbortSignal.abort() });
    await runFor(net, 200);
    await expect(task.result).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('DISC-13: waitFor refuses with SERVICE_UNAVAILABLE naming the service, operation and wait', async () => {
    const { net, client } = await setup(23);
    const waited = client.waitFor('Nobody', { operation: 'nothing', timeoutMs: 100 }).catch((error: unknown) => error);
    await runFor(net, 150);
    expect(await waited).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: expect.stringContaining('Nobody.nothing found within 100 ms') });
    await expect(client.waitFor('Waiter', { operation: 'wait' })).resolves.toMatchObject({ serviceName: 'Waiter' });
  });
});
