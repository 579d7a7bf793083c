/**
 * Inspection still sees every task, on both sides, now that tasks are snapshots held by the
 * provider's registry and the client's connection rather than actors (docs/performance.md;
 * contract "Inspection of tasks"): an `inspect` observer gets, for a task, `@xstate.actor` once,
 * `@xstate.event` for each event it processes (with sourceRef and actorRef), `@xstate.snapshot`
 * after each step, to its final state; the actorRef names the task machine (`logic.id`, with its
 * state tree `logic.root`), the hosting actor (`_parent`), and a sessionId unique in the system.
 * The same holds with SWITCHBOARD_INTERPRETER=xstate (real actors), so consumers need not care.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock, type InspectionEvent } from 'xstate';
import * as z from 'zod';
import { SimulatedNetwork } from '../adapters/simulated/index.js';
import type { InterpreterChoice } from '../runtime/interpreter.js';
import { createClient } from '../runtime/client.js';
import { createProvider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

const echo = defineService({
  name: 'Echo',
  version: '1.0.0',
  operations: { say: { params: z.object({ text: z.string() }), run: ({ text }) => ({ text }) } },
});

interface ActorRefView {
  readonly id: string;
  readonly sessionId: string;
  readonly logic?: { readonly id?: string; readonly root?: unknown };
  readonly _parent?: { readonly id: string };
  getSnapshot(): { readonly status: string; readonly value: unknown; readonly context: Record<string, unknown>; readonly output?: unknown };
}

async function runTask(interpreter: InterpreterChoice) {
  const clock = new SimulatedClock();
  const net = new SimulatedNetwork({ clock, seed: 7 });
  const providerEvents: InspectionEvent[] = [];
  const clientEvents: InspectionEvent[] = [];
  const provider = createProvider({ services: [echo], network: net.host('10.0.0.1'), clock, port: 8080, interpreter, inspect: (e) => providerEvents.push(e) });
  const client = createClient({ network: net.host('10.0.0.2'), clock, seed: 7, clientId: 'client-a', interpreter, inspect: (e) => clientEvents.push(e) });
  void provider.start();
  for (let i = 0; i < 5; i++) {
    net.run(10);
    await flush();
  }
  const task = client.assign('Echo', 'say', { text: 'hi' }, { taskId: 'task-1' });
  for (let i = 0; i < 10; i++) {
    net.run(10);
    await flush();
  }
  await expect(task.result).resolves.toEqual({ text: 'hi' });
  const stopped = Promise.all([client.stop(), provider.stop().catch(() => undefined)]);
  for (let i = 0; i < 400; i++) {
    net.run(10);
    await flush();
  }
  await stopped;
  return { providerEvents, clientEvents };
}

/** The inspection events about the task whose machine is `machineId`. */
function ofTask(events: readonly InspectionEvent[], machineId: string) {
  // By the task's own context: with the interpreter a provider task's actor id is the registry's member id.
  const isTask = (ref: unknown) =>
    (ref as ActorRefView | undefined)?.logic?.id === machineId && (ref as ActorRefView).getSnapshot()?.context?.taskId === 'task-1';
  const about = events.filter((e) => isTask(e.actorRef));
  const actorRef = about[0]?.actorRef as unknown as ActorRefView;
  const from = events.filter((e) => e.type === '@xstate.event' && isTask((e as { sourceRef?: unknown }).sourceRef));
  return { about, actorRef, from };
}

describe.each(['engine', 'xstate'] as const)('inspection of tasks (%s)', (interpreter) => {
  it('provider side: the providerTask is created, gets its events, and its snapshots go to the final state', async () => {
    const { providerEvents } = await runTask(interpreter);
    const { about, actorRef, from } = ofTask(providerEvents, 'providerTask');
    expect(about[0]?.type).toBe('@xstate.actor');
    expect(about.filter((e) => e.type === '@xstate.actor')).toHaveLength(1);
    expect(actorRef.logic?.root).toBeDefined();
    expect(actorRef._parent).toBeDefined();
    expect(new Set(providerEvents.map((e) => (e.actorRef as unknown as ActorRefView).sessionId)).has(actorRef.sessionId)).toBe(true);
    const received = about.filter((e) => e.type === '@xstate.event').map((e) => (e as { event: { type: string } }).event.type);
    expect(received).toEqual(expect.arrayContaining(['xstate.init', 'task.start', 'handler.done']));
    const snapshots = about.filter((e) => e.type === '@xstate.snapshot').map((e) => (e as unknown as { snapshot: { status: string; value: unknown } }).snapshot);
    expect(snapshots.at(-1)).toMatchObject({ status: 'done', value: 'completed' });
    expect(actorRef.getSnapshot().output).toEqual({ status: 'Completed', resultData: { text: 'hi' } });
    // What it sends its registry is seen too, with the task as the source.
    expect(from.map((e) => (e as { event: { type: string } }).event.type)).toContain('task.settled');
  });

  it('client side: the clientTask is created, gets its events, and its snapshots go to the final state', async () => {
    const { clientEvents } = await runTask(interpreter);
    const { about, actorRef, from } = ofTask(clientEvents, 'clientTask');
    expect(about[0]?.type).toBe('@xstate.actor');
    expect(actorRef.logic?.root).toBeDefined();
    expect(actorRef._parent).toBeDefined();
    const received = about.filter((e) => e.type === '@xstate.event').map((e) => (e as { event: { type: string } }).event.type);
    expect(received[0]).toBe('xstate.init');
    expect(received).toContain('task.message');
    const snapshots = about.filter((e) => e.type === '@xstate.snapshot').map((e) => (e as unknown as { snapshot: { status: string; value: unknown } }).snapshot);
    expect(snapshots.at(-1)).toMatchObject({ status: 'done', value: 'completed' });
    expect(from.map((e) => (e as { event: { type: string } }).event.type)).toEqual(expect.arrayContaining(['task.send', 'task.settled']));
  });
});
