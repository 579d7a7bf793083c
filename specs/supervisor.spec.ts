/**
 * SEC-21 (the runtime's supervisor, runtime/supervisor.ts): an unexpected error in any actor is a
 * logged, coded failure of that one session or task, never of the process.
 *
 * Bugs are injected where the machines meet their effects (a handler reporting a progress whose
 * number throws when read, an admission policy answering nonsense, an event no machine expects)
 * on the simulated network, and the specs check: the actor at fault fails alone, with
 * INTERNAL_ERROR and an errorId that the log line about the cause carries too; everything else
 * goes on. Vitest fails a run on any error XState would rethrow at the root (an uncaught
 * exception in a real process), so each spec also proves that none reached it.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, setup, SimulatedClock, type AnyActorRef, type EventObject } from 'xstate';
import * as z from 'zod';
import { SimulatedNetwork } from '../adapters/simulated/index.js';
import { runFor } from './support/simulatedRun.js';
import type { ProviderEmitted } from '../machines/provider.js';
import { providerDefaults } from '../machines/provider.js';
import type { HandlerInput, HandlerLogic } from '../machines/providerTask.js';
import { acceptEveryConnection, composeProvider } from '../runtime/compose.js';
import { createClient } from '../runtime/client.js';
import { createProvider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { createSupervisor, InternalFault } from '../runtime/supervisor.js';
import { TaskError } from '../runtime/taskError.js';
import { decided } from '../runtime/decided.js';

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly detail: Record<string, unknown>;
}

function recordingLog() {
  const lines: LogLine[] = [];
  let n = 0;
  return {
    lines,
    log: (level: string, message: string, detail?: unknown) => void lines.push({ level, message, detail: (detail ?? {}) as Record<string, unknown> }),
    newId: () => `err-${++n}`,
  };
}

/** Stops clients and a provider on simulated time (their close handshakes need the clock to move). */
async function stopAll(net: SimulatedNetwork, clients: readonly { stop(): Promise<void> }[], provider: { stop(): unknown }) {
  const stopped = Promise.all(clients.map((client) => client.stop()));
  await runFor(net, 3_000, 100);
  await stopped;
  provider.stop();
}

describe('supervisor.machine', () => {
  const counter = setup({
    types: { events: {} as { type: 'inc' } | { type: 'boom' } | { type: 'recovered'; errorId: string } },
    actions: {
      explode: () => {
        throw new Error('secret=hunter2');
      },
    },
  }).createMachine({
    context: { count: 0, recovered: [] as string[] },
    on: {
      inc: { actions: ({ context }) => void context.count++ },
      boom: { actions: 'explode' },
      recovered: { actions: ({ context, event }) => void context.recovered.push(event.errorId) },
    },
  });

  it('a throw is logged with a fresh errorId and the event is dropped: the actor lives on', () => {
    const { lines, log, newId } = recordingLog();
    const actor = createActor(createSupervisor({ log, newId }).machine(counter, 'counter')).start();
    actor.send({ type: 'inc' });
    actor.send({ type: 'boom' });
    actor.send({ type: 'inc' });
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().context.count).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', message: 'counter: unexpected error (errorId err-1)', detail: { errorId: 'err-1', event: 'boom' } });
    expect((lines[0]?.detail.error as Error).message).toBe('secret=hunter2');
  });

  it('with a recovery, the actor processes the recovery event instead', () => {
    const { log, newId } = recordingLog();
    const supervised = createSupervisor({ log, newId }).machine(counter, 'counter', (errorId) => ({ type: 'recovered', errorId }));
    const actor = createActor(supervised).start();
    actor.send({ type: 'boom' });
    expect(actor.getSnapshot().context.recovered).toEqual(['err-1']);
  });

  it('keeps the logic recognisable: same machine id (inspection identifies participants by it)', () => {
    const { log, newId } = recordingLog();
    expect(createSupervisor({ log, newId }).machine(counter, 'counter').id).toBe(counter.id);
  });

  it('without a supervisor the same throw fails the actor (what the wrapper prevents)', () => {
    const actor = createActor(counter);
    actor.subscribe({ error: () => {} });
    actor.start();
    actor.send({ type: 'boom' });
    expect(actor.getSnapshot().status).toBe('error');
  });
});

describe('supervisor.effect', () => {
  it('a callback that throws at start fails with an InternalFault naming only the errorId', () => {
    const { lines, log, newId } = recordingLog();
    const effect = createSupervisor({ log, newId }).effect(
      fromCallback(() => {
        throw new Error('db password is hunter2');
      }),
      'handler',
    );
    const actor = createActor(effect);
    let failure: unknown;
    actor.subscribe({ error: (error) => (failure = error) });
    actor.start();
    expect(failure).toBeInstanceOf(InternalFault);
    expect(failure).toMatchObject({ code: 'INTERNAL_ERROR', errorId: 'err-1', message: 'An internal error occurred. (errorId err-1)' });
    expect(String((failure as Error).message)).not.toContain('hunter2');
    expect((lines[0]?.detail.error as Error).message).toBe('db password is hunter2');
  });

  it('a rejected promise is logged and becomes an InternalFault too', async () => {
    const { lines, log, newId } = recordingLog();
    const effect = createSupervisor({ log, newId }).effect(fromPromise(async () => Promise.reject(new Error('token store down'))), 'admission');
    const actor = createActor(effect);
    const failure = new Promise((resolve) => actor.subscribe({ error: resolve }));
    actor.start();
    await expect(failure).resolves.toMatchObject({ code: 'INTERNAL_ERROR', errorId: 'err-1' });
    expect((lines[0]?.detail.error as Error).message).toBe('token store down');
  });
});

// ---- the provider, supervised, on the simulated network ------------------------------------------

const WORK = {
  serviceId: 'work-1',
  serviceName: 'Work',
  serviceVersion: '1.0.0',
  capabilities: [{ key: 'run', settings: [] }, { key: 'bad', settings: [] }],
};

/** `run` completes at once; `bad` reports a progress whose number throws when read (a bug). */
const buggyHandler = fromCallback<EventObject, HandlerInput>(({ input, sendBack }) => {
  if (input.operation === 'bad') {
    const poisoned = { valueOf: () => {
      throw new Error('progress source exploded: key=abc');
    } };
    sendBack({ type: 'handler.progress', progressPercentage: poisoned as unknown as number });
    return;
  }
  sendBack({ type: 'handler.done', resultData: { ok: input.taskId } });
}) as unknown as HandlerLogic;

function supervisedProvider(admission = acceptEveryConnection) {
  const clock = new SimulatedClock();
  const net = new SimulatedNetwork({ clock, seed: 7 });
  const { lines, log, newId } = recordingLog();
  const supervisor = createSupervisor({ log, newId });
  const logic = composeProvider(net.host('10.0.0.1'), 8080, { handler: buggyHandler, admission }, supervisor);
  const provider = createActor(logic, { clock, input: { ...providerDefaults, providerId: 'p', services: [WORK], heartbeatIntervalMs: 1_000 } });
  supervisor.root(provider, 'provider');
  const emitted: ProviderEmitted[] = [];
  provider.on('*', (event) => void emitted.push(event as ProviderEmitted));
  provider.start();
  // The bare composed provider signs nothing (no signer given), so its clients take unsigned advertisements.
  const client = (address: string, clientId: string) =>
    createClient({ network: net.host(address), clock, clientId, seed: 3, trust: { allowUnsigned: true }, log: () => {} });
  return { clock, net, provider, lines, emitted, client };
}

describe('a supervised provider (SEC-21)', () => {
  it('a task whose actor throws fails alone with INTERNAL_ERROR and the errorId of the logged cause', async () => {
    const { net, provider, lines, client } = supervisedProvider();
    const alice = client('10.0.0.2', 'alice');
    const bob = client('10.0.0.3', 'bob');
    await runFor(net, 100);
    const broken = alice.assign('Work', 'bad', {});
    const fine = [bob.assign('Work', 'run', {}), alice.assign('Work', 'run', {})];
    await runFor(net, 300);
    const error = (await broken.result.catch((e: unknown) => e)) as TaskError;
    expect(error).toBeInstanceOf(TaskError);
    expect(error.code).toBe('INTERNAL_ERROR');
    const logged = lines.find((line) => line.message.startsWith('providerTask: unexpected error'));
    expect(logged?.detail.errorId).toBeDefined();
    expect(error.message).toContain(String(logged?.detail.errorId));
    expect(error.message).not.toContain('key=abc');
    await expect(Promise.all(fine.map((task) => task.result))).resolves.toHaveLength(2);
    expect(provider.getSnapshot().status).toBe('active');
    await stopAll(net, [alice, bob], provider);
  });

  it('a session that throws closes itself with Error INTERNAL_ERROR and 1011; other sessions go on', async () => {
    // The admission policy's answer for 10.0.0.3 is malformed (null): reading it throws in the session.
    const admission = decided<unknown, { remoteAddress: string }>(({ remoteAddress }) =>
      remoteAddress === '10.0.0.3' ? null : { accept: true, authenticated: false },
    );
    const { net, provider, lines, emitted, client } = supervisedProvider(admission as never);
    const alice = client('10.0.0.2', 'alice');
    const mallory = client('10.0.0.3', 'mallory');
    await runFor(net, 100);
    const doomed = mallory.assign('Work', 'run', {});
    const fine = alice.assign('Work', 'run', {});
    await runFor(net, 3_000, 20);
    await expect(fine.result).resolves.toEqual({ ok: fine.taskId });
    const logged = lines.find((line) => line.message.startsWith('session: unexpected error'));
    expect(logged).toBeDefined();
    const ended = emitted.filter((e): e is Extract<ProviderEmitted, { type: 'session.ended' }> => e.type === 'session.ended');
    expect(ended.some((e) => e.reason.startsWith(`internal error (errorId ${String(logged?.detail.errorId)})`))).toBe(true);
    expect(provider.getSnapshot().status).toBe('active');
    void doomed.result.catch(() => {});
    await stopAll(net, [alice, mallory], provider);
  });

  it('an event the provider itself cannot handle is dropped and logged; the provider keeps serving', async () => {
    const { net, provider, lines, client } = supervisedProvider();
    const alice = client('10.0.0.2', 'alice');
    await runFor(net, 100);
    // A malformed internal event (as a bug elsewhere could send): reading its message throws.
    (provider as AnyActorRef).send({ type: 'session.request', connectionId: 'c-x', clientId: 'alice', message: null });
    expect(lines.some((line) => line.message.startsWith('provider: unexpected error'))).toBe(true);
    expect(provider.getSnapshot().status).toBe('active');
    const task = alice.assign('Work', 'run', {});
    await runFor(net, 200);
    await expect(task.result).resolves.toEqual({ ok: task.taskId });
    await stopAll(net, [alice], provider);
  });
});

describe('createProvider and createClient (SEC-21)', () => {
  it("an application listener that throws is logged; the provider and the task go on", async () => {
    const clock = new SimulatedClock();
    const net = new SimulatedNetwork({ clock, seed: 9 });
    const { lines, log } = recordingLog();
    const service = defineService({ name: 'Echo', version: '1', operations: { echo: { params: z.object({ text: z.string() }), run: ({ text }) => text } } });
    const provider = createProvider({ services: [service], network: net.host('10.0.0.1'), clock, port: 8080, heartbeatIntervalMs: 1_000, log });
    provider.on('task.settled', () => {
      throw new Error('listener bug');
    });
    void provider.start();
    const client = createClient({ network: net.host('10.0.0.2'), clock, seed: 1, log: () => {} });
    client.on('task.settled', () => {
      throw new Error('client listener bug');
    });
    await runFor(net, 100);
    const task = client.assign('Echo', 'echo', { text: 'hi' });
    await runFor(net, 200);
    await expect(task.result).resolves.toBe('hi');
    expect(lines.some((line) => line.message === 'task.settled listener: unexpected error (errorId ' + String(line.detail.errorId) + ')')).toBe(true);
    await stopAll(net, [client], { stop: () => void provider.actor.stop() });
  });

  it('SEC-11: an operation that throws without a code reaches the client as INTERNAL_ERROR with an errorId, the cause only in the log', async () => {
    const clock = new SimulatedClock();
    const net = new SimulatedNetwork({ clock, seed: 10 });
    const { lines, log, newId } = recordingLog();
    const service = defineService({
      name: 'Vault',
      version: '1',
      operations: {
        open: {
          params: z.object({}),
          run: () => {
            throw new Error('cannot connect to postgres://admin:hunter2@db');
          },
        },
      },
    });
    const provider = createProvider({ services: [service], network: net.host('10.0.0.1'), clock, port: 8080, heartbeatIntervalMs: 1_000, log, newId });
    void provider.start();
    const client = createClient({ network: net.host('10.0.0.2'), clock, seed: 1, log: () => {} });
    await runFor(net, 100);
    const task = client.assign('Vault', 'open', {});
    await runFor(net, 200);
    const error = (await task.result.catch((e: unknown) => e)) as TaskError;
    expect(error.code).toBe('INTERNAL_ERROR');
    // From the injected id source (which also names the provider and its services: err-1, err-2).
    expect(error.errorId).toBe('err-3');
    expect(error.message).toBe('An internal error occurred. (errorId err-3)');
    const line = lines.find((l) => l.detail.errorId === 'err-3');
    expect(line?.detail).toMatchObject({ taskId: task.taskId, clientId: client.clientId });
    expect((line?.detail.error as Error).message).toContain('hunter2');
    await stopAll(net, [client], { stop: () => void provider.actor.stop() });
  });
});
