/**
 * The typed client at run time (its compile-time side is specs/types/typedClient.test-d.ts), the
 * `waitFor` option of assign, the client-local error codes the library shares with the CLI, and
 * the default logger: on the simulated network, with real handlers.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import * as z from 'zod';
import { SimulatedNetwork } from '../adapters/simulated/index.js';
import { createClient } from '../runtime/client.js';
import { createProvider } from '../runtime/provider.js';
import { capabilitiesOf, defaultLogger, defineService, type Logger } from '../runtime/service.js';
import { runFor } from './support/simulatedRun.js';

const runs: string[] = [];

const greeter = defineService({
  name: 'Greeter',
  version: '1.0.0',
  operations: {
    greet: {
      description: 'Greets someone by name.',
      params: z.object({ name: z.string().min(1), times: z.number().int().default(1) }),
      errors: { SHY: 'The greeter is too shy today.' },
      run: async ({ name, times }) => {
        runs.push(name);
        if (name === 'Shy') throw Object.assign(new Error('too shy'), { code: 'SHY' });
        return { greeting: `Hello, ${name}`.repeat(times) };
      },
    },
    add: {
      params: z.object({ a: z.number(), b: z.number() }),
      result: z.object({ sum: z.number() }),
      // The result schema is there to catch this: a provider bug, not the client's problem.
      run: ({ a, b }) => ({ sum: a + b > 100 ? (String(a + b) as unknown as number) : a + b }),
    },
  },
});

function world(seed: number) {
  const clock = new SimulatedClock();
  const net = new SimulatedNetwork({ clock, seed });
  const logged: Parameters<Logger>[] = [];
  const log: Logger = (...entry) => void logged.push(entry);
  const provider = createProvider({ services: [greeter], network: net.host('10.0.0.1'), clock, port: 8080, heartbeatIntervalMs: 1_000, log });
  const client = createClient({ network: net.host('10.0.0.2'), clock, seed, clientId: 'client-a', log });
  const assigned: string[] = [];
  client.on('task.submitted', (event) => void assigned.push(event.taskId));
  return { net, provider, client, assigned, logged };
}

describe('client.service(definition): the typed client', () => {
  it('calls the operation by name and resolves with its result; settled never rejects', async () => {
    const { net, provider, client } = world(1);
    void provider.start();
    await runFor(net, 50);
    const greeterClient = client.service(greeter);
    expect(Object.keys(greeterClient).sort()).toEqual(['add', 'greet']);
    const task = greeterClient.greet({ name: 'Ada', times: 2 });
    await runFor(net, 200);
    await expect(task.result).resolves.toEqual({ greeting: 'Hello, AdaHello, Ada' });
    await expect(task.settled).resolves.toEqual({ ok: true, result: { greeting: 'Hello, AdaHello, Ada' } });
    const sum = greeterClient.add({ a: 2, b: 3 });
    await runFor(net, 200);
    await expect(sum.result).resolves.toEqual({ sum: 5 });
  });

  it("TASK-15: the operation's own code arrives in settled.error.code", async () => {
    const { net, provider, client } = world(2);
    void provider.start();
    await runFor(net, 50);
    const task = client.service(greeter).greet({ name: 'Shy' });
    await runFor(net, 200);
    const settled = await task.settled;
    expect(settled.ok).toBe(false);
    if (!settled.ok) expect(settled.error).toMatchObject({ name: 'TaskError', code: 'SHY', taskId: task.taskId });
  });

  it('TASK-6: parameters that fail the schema fail at once with INVALID_PARAMETERS, and nothing is sent', async () => {
    const { net, provider, client, assigned } = world(3);
    void provider.start();
    await runFor(net, 50);
    runs.length = 0;
    // What the types would refuse, arriving from JSON at run time.
    const fromJson = JSON.parse('{"name": 42}') as { name: string };
    const task = client.service(greeter).greet(fromJson, { taskId: 'local-1' });
    const settled = await task.settled;
    expect(settled).toMatchObject({ ok: false, error: { code: 'INVALID_PARAMETERS', taskId: 'local-1' } });
    if (!settled.ok) {
      expect(settled.error.details).toMatch(/^name: /);
      // The details once, not repeated in the message's tail and again after it.
      expect(settled.error.message.split(settled.error.details!)).toHaveLength(2);
    }
    await runFor(net, 200);
    expect(assigned).toEqual([]);
    expect(runs).toEqual([]);
  });

  it('a result that does not match the declared result schema fails INTERNAL_ERROR on the provider', async () => {
    const { net, provider, client, logged } = world(4);
    void provider.start();
    await runFor(net, 50);
    const task = client.service(greeter).add({ a: 100, b: 1 });
    await runFor(net, 200);
    await expect(task.result).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
    // SEC-11: the client learns only an errorId; the provider logs the mismatch under it.
    const [, message, detail] = logged.find(([level]) => level === 'error') ?? [];
    expect(message).toMatch(/operation threw \(errorId /);
    expect((detail as { error: { details: string } }).error.details).toBe('sum: Invalid input: expected number, received string');
  });

  it('by name: any operation, sent as written (the provider checks)', async () => {
    const { net, provider, client } = world(5);
    void provider.start();
    await runFor(net, 50);
    const remote = client.service<{ greet: { params: { name: string }; result: { greeting: string }; errors: 'SHY' } }>('Greeter');
    const task = remote.greet({ name: 'Lin' });
    await runFor(net, 200);
    await expect(task.result).resolves.toEqual({ greeting: 'Hello, Lin' });
    expect((remote as unknown as { then?: unknown }).then).toBeUndefined();
  });

  it('advertises each operation with its description, result schema and own error codes', () => {
    const [greet, add] = capabilitiesOf(greeter);
    expect(greet).toMatchObject({ key: 'greet', description: 'Greets someone by name.', errors: { SHY: 'The greeter is too shy today.' } });
    expect(greet).not.toHaveProperty('resultSchema');
    expect(add).toMatchObject({ key: 'add', resultSchema: { type: 'object', properties: { sum: { type: 'number' } }, required: ['sum'] } });
    expect(add).not.toHaveProperty('description');
    expect(add).not.toHaveProperty('errors');
  });

  it('refuses malformed result schemas and error codes at definition time', () => {
    const base = { params: z.object({}), run: () => 1 };
    const notASchema = { parse: () => 1 } as unknown as z.ZodNumber;
    expect(() => defineService({ name: 'S', version: '1', operations: { x: { ...base, result: notASchema } } })).toThrow(/result must be a zod schema/);
    expect(() => defineService({ name: 'S', version: '1', operations: { x: { ...base, errors: { 'not-a-code': 'x' } } } })).toThrow(/UPPER_SNAKE_CASE/);
  });
});

describe('assign with waitFor', () => {
  it('a task assigned before its provider is known waits, then runs', async () => {
    const { net, provider, client, assigned } = world(6);
    await runFor(net, 20);
    const task = client.assign('Greeter', 'greet', { name: 'Early' }, { waitFor: { timeoutMs: 2_000 } });
    await runFor(net, 300);
    expect(assigned).toEqual([]);
    void provider.start();
    await runFor(net, 300);
    await expect(task.result).resolves.toEqual({ greeting: 'Hello, Early' });
  });

  it('without waitFor the same assignment fails at once with SERVICE_UNAVAILABLE', async () => {
    const { net, client } = world(7);
    await runFor(net, 20);
    await expect(client.assign('Greeter', 'greet', { name: 'Early' }).result).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it('no provider within the timeout: SERVICE_UNAVAILABLE, and nothing was sent', async () => {
    const { net, client, assigned } = world(8);
    const task = client.assign('Greeter', 'greet', { name: 'Late' }, { waitFor: { timeoutMs: 500 } });
    await runFor(net, 400);
    expect(task.progress).toBeNull();
    await runFor(net, 200);
    await expect(task.result).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: expect.stringContaining('500 ms') });
    expect(assigned).toEqual([]);
  });

  it('cancel while waiting settles Cancelled at once; the task is never sent, even when the provider comes', async () => {
    const { net, provider, client, assigned } = world(9);
    const task = client.assign('Greeter', 'greet', { name: 'Never' }, { waitFor: true });
    await runFor(net, 50);
    const cancelled = task.cancel();
    await runFor(net, 10);
    await cancelled;
    await expect(task.result).rejects.toMatchObject({ code: 'CANCELLED' });
    void provider.start();
    await runFor(net, 300);
    expect(assigned).toEqual([]);
  });

  it('TASK-16: stop() while a task waits ends it with CONNECTION_LOST', async () => {
    const { net, client } = world(10);
    const task = client.assign('Greeter', 'greet', { name: 'Stopped' }, { waitFor: { timeoutMs: 10_000 } });
    await runFor(net, 50);
    const stopped = client.stop();
    await runFor(net, 100);
    await stopped;
    await expect(task.result).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
  });
});

describe('one code for one problem, in the library and the CLI', () => {
  it('DISC-13: an operation the known service lacks is UNKNOWN_OPERATION, from assign and from waitFor', async () => {
    const { net, provider, client } = world(11);
    void provider.start();
    await runFor(net, 50);
    await expect(client.assign('Greeter', 'greett', {}).result).rejects.toMatchObject({
      code: 'UNKNOWN_OPERATION',
      message: 'Greeter has no operation "greett" (it offers: greet, add)',
    });
    const waited = client.waitFor('Greeter', { operation: 'greett', timeoutMs: 200 }).catch((error: unknown) => error);
    await runFor(net, 250);
    expect(await waited).toMatchObject({ code: 'UNKNOWN_OPERATION' });
  });
});

describe('the default logger', () => {
  it('writes warnings and errors to stderr, with their detail, and drops debug and info', () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((text: string) => void written.push(text)) as never;
    try {
      const log = defaultLogger();
      log('debug', 'reconnecting');
      log('info', 'connected');
      log('warn', 'operation failed', Object.assign(new Error('no such file'), { code: 'FILE_NOT_FOUND' }));
      log('error', 'datagram rejected', { from: '10.0.0.9', bytes: 70_000 });
    } finally {
      process.stderr.write = write;
    }
    expect(written).toHaveLength(2);
    expect(written[0]).toMatch(/^\S+ \[warn\] operation failed error=\{"name":"Error","message":"no such file","code":"FILE_NOT_FOUND"\}\n$/);
    expect(written[1]).toMatch(/^\S+ \[error\] datagram rejected from=10\.0\.0\.9 bytes=70000\n$/);
  });
});
