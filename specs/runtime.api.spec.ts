/**
 * The library API (createProvider, createClient, defineService) running on the simulated network:
 * the same calls as on real sockets, with `network` and `clock` passed in.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import * as z from 'zod';
import { SimulatedNetwork } from '../adapters/simulated/index.js';
import { flush, runFor } from './support/simulatedRun.js';
import { createClient } from '../runtime/client.js';
import { createProvider } from '../runtime/provider.js';
import { capabilitiesOf, defineService } from '../runtime/service.js';
import { TaskError } from '../runtime/taskError.js';


const greeter = defineService({
  name: 'Greeter',
  version: '1.0.0',
  operations: {
    greet: {
      params: z.object({ name: z.string().min(1), excited: z.boolean().optional() }),
      run: async ({ name, excited }, ctx) => {
        ctx.progress(50, 'composing');
        return { greeting: `Hello, ${name}${excited ? '!' : '.'}` };
      },
    },
    fail: {
      params: z.object({}),
      run: () => {
        throw Object.assign(new Error('no such file'), { code: 'FILE_NOT_FOUND', details: 'x.png' });
      },
    },
    wait: {
      params: z.object({}),
      run: (_params, ctx) =>
        new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
    },
  },
});

function setup(seed: number) {
  const clock = new SimulatedClock();
  const net = new SimulatedNetwork({ clock, seed });
  // Silent: 'fail' fails on purpose, and the default logger would print that warning.
  const log = () => {};
  const provider = createProvider({ services: [greeter], network: net.host('10.0.0.1'), clock, port: 8080, heartbeatIntervalMs: 1_000, log });
  const client = createClient({ network: net.host('10.0.0.2'), clock, seed, clientId: 'client-a', log });
  return { clock, net, provider, client };
}

describe('the library API on the simulated network', () => {
  it('DISC-4: start() resolves with the advertised endpoint and the client sees the service', async () => {
    const { net, provider, client } = setup(1);
    const started = provider.start();
    await runFor(net, 20);
    await expect(started).resolves.toEqual({ endpoint: 'ws://10.0.0.1:8080' });
    const found = client.waitFor('Greeter', { operation: 'greet', timeoutMs: 1_000 });
    await runFor(net, 20);
    await expect(found).resolves.toMatchObject({ serviceName: 'Greeter', endpoint: 'ws://10.0.0.1:8080' });
    expect(client.services()[0]?.capabilities.find((c) => c.key === 'greet')?.settings).toEqual([
      { type: 'string', name: 'name' },
      { type: 'bool', name: 'excited' },
    ]);
  });

  it('TASK-9, TASK-10: assign streams progress and resolves with the result', async () => {
    const { net, provider, client } = setup(2);
    void provider.start();
    await runFor(net, 50);
    const task = client.assign('Greeter', 'greet', { name: 'Ada', excited: true });
    const seen: number[] = [];
    task.onProgress((progress) => seen.push(progress.progressPercentage));
    await runFor(net, 200);
    await expect(task.result).resolves.toEqual({ greeting: 'Hello, Ada!' });
    expect(seen).toContain(50);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it('TASK-6, SEC-5: invalid parameters fail with INVALID_PARAMETERS naming the field', async () => {
    const { net, provider, client } = setup(3);
    void provider.start();
    await runFor(net, 50);
    const task = client.assign('Greeter', 'greet', { name: 42 });
    await runFor(net, 200);
    const error = await task.result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskError);
    expect((error as TaskError).code).toBe('INVALID_PARAMETERS');
    expect((error as TaskError).details).toContain('name');
  });

  it("TASK-15: a service's own error code reaches the client", async () => {
    const { net, provider, client } = setup(4);
    void provider.start();
    await runFor(net, 50);
    const task = client.assign('Greeter', 'fail', {});
    await runFor(net, 200);
    await expect(task.result).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', details: 'x.png' });
  });

  it('TASK-11: cancel() aborts the operation and the result rejects with CANCELLED', async () => {
    const { net, provider, client } = setup(5);
    void provider.start();
    await runFor(net, 50);
    const task = client.assign('Greeter', 'wait', {});
    await runFor(net, 100);
    const cancelled = task.cancel();
    await runFor(net, 100);
    await cancelled;
    await expect(task.result).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('TASK-14: timeoutMs ends a task with TIMEOUT', async () => {
    const { net, provider, client } = setup(6);
    void provider.start();
    await runFor(net, 50);
    const task = client.assign('Greeter', 'wait', {}, { timeoutMs: 300 });
    await runFor(net, 600);
    await expect(task.result).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('DISC-13: assigning a service nobody offers rejects with SERVICE_UNAVAILABLE', async () => {
    const { net, client } = setup(7);
    await runFor(net, 20);
    const task = client.assign('Nobody', 'nothing', {});
    await expect(task.result).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    const waited = client.waitFor('Nobody', { timeoutMs: 100 }).catch((error: unknown) => error);
    await runFor(net, 150);
    expect(await waited).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it('DISC-7: stop() says goodbye, so the client forgets the provider at once', async () => {
    const { net, provider, client } = setup(8);
    void provider.start();
    await runFor(net, 50);
    expect(client.services()).toHaveLength(1);
    const stopped = provider.stop();
    await runFor(net, 50);
    await stopped;
    expect(client.services()).toHaveLength(0);
    const clientStopped = client.stop();
    await runFor(net, 50);
    await clientStopped;
    expect(client.actor.getSnapshot().status).not.toBe('active');
  });

  it('async iteration yields progress and ends when the task settles', async () => {
    const { net, provider, client } = setup(9);
    void provider.start();
    await runFor(net, 50);
    const task = client.assign('Greeter', 'greet', { name: 'Lin' });
    const collected: number[] = [];
    const iterating = (async () => {
      for await (const progress of task) collected.push(progress.progressPercentage);
    })();
    await runFor(net, 200);
    await iterating;
    expect(collected.at(-1)).toBe(50);
  });
});

describe('defineService', () => {
  it('refuses malformed definitions at once', () => {
    expect(() => defineService({ name: 'bad name', version: '1', operations: { x: { params: z.object({}), run: () => 1 } } })).toThrow(TypeError);
    expect(() => defineService({ name: 'S', version: '', operations: { x: { params: z.object({}), run: () => 1 } } })).toThrow(/version/);
    expect(() => defineService({ name: 'S', version: '1', operations: {} })).toThrow(/operation/);
    expect(() => defineService({ name: 'S', version: '1', operations: { x: { params: {} as never, run: () => 1 } } })).toThrow(/zod/);
  });

  it('DISC-5: derives seed-style settings and a JSON Schema per operation from the zod schema', () => {
    const service = defineService({
      name: 'S',
      version: '1',
      operations: {
        op: {
          params: z.object({ path: z.string(), width: z.int(), scale: z.number(), keep: z.boolean(), tags: z.array(z.string()) }),
          run: () => null,
        },
      },
    });
    const [capability] = capabilitiesOf(service);
    expect(capability?.key).toBe('op');
    expect(capability?.settings).toEqual([
      { type: 'string', name: 'path' },
      { type: 'int', name: 'width' },
      { type: 'float', name: 'scale' },
      { type: 'bool', name: 'keep' },
      { type: 'array', name: 'tags' },
    ]);
    expect(capability?.schema).toMatchObject({ type: 'object', required: ['path', 'width', 'scale', 'keep', 'tags'] });
  });
});

describe('the service handler', () => {
  it('TASK-11: ctx.signal read only after the task was cancelled is already aborted (the controller is made lazily)', async () => {
    const { createActor } = await import('xstate');
    const { createServiceHandler } = await import('../runtime/handler.js');
    let abortedLater: (() => boolean) | undefined;
    const service = defineService({
      name: 'Lazy',
      version: '1',
      operations: {
        op: {
          params: z.object({}),
          run: (_params, ctx) =>
            new Promise(() => {
              abortedLater = () => ctx.signal.aborted; // never touched the signal while running
            }),
        },
      },
    });
    const handler = createActor(createServiceHandler([service]), {
      input: { clientId: 'c', taskId: 't', serviceName: 'Lazy', operation: 'op', params: {} },
    }).start();
    await flush();
    expect(abortedLater).toBeDefined();
    handler.stop(); // what cancelling the task does to its handler
    expect(abortedLater!()).toBe(true);
  });
});
