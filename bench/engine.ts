/**
 * Micro-benchmark of the compiled engine (machines/engine) against XState's interpreter on the
 * same definitions: one provider task and one client task, each from creation to its final
 * state with the events of a trivial task. Not part of `npm run bench`.
 *
 *   node --import tsx bench/engine.ts [--iterations 20000]
 */
import { createActor, fromCallback, type EventObject } from 'xstate';
import { clientTaskMachine } from '../machines/clientTask.js';
import { compileMachine, type Effect, type EngineSnapshot, type MachineEngine } from '../machines/engine/index.js';
import { hosted } from '../machines/host/hostedMachine.js';
import { providerTaskMachine } from '../machines/providerTask.js';
import { numberArg } from './common.js';
import { clientTaskInput } from './taskInputs.js';

const iterations = numberArg('iterations', 20_000);

function time(label: string, run: (i: number) => void): number {
  for (let i = 0; i < Math.min(5_000, iterations); i++) run(i);
  const start = performance.now();
  for (let i = 0; i < iterations; i++) run(i);
  const us = ((performance.now() - start) * 1_000) / iterations;
  console.log(`${us.toFixed(2).padStart(9)} us  ${label}`);
  return us;
}

const parentRef = { id: 'parent', sessionId: 'parent', send() {}, _send() {} } as never;
const engineOf = (machine: Parameters<typeof compileMachine>[0]): MachineEngine => {
  const compiled = compileMachine(machine);
  if (!compiled.ok) throw new Error(compiled.reasons.join('; '));
  return compiled.engine;
};

// A handler that is done at once: the actor version runs it; the engine version gets its events.
const doneHandler = fromCallback(({ sendBack }) => {
  sendBack({ type: 'handler.done', resultData: { ok: true } });
  return () => {};
});
const providerTask = providerTaskMachine.provide({ actors: { handler: doneHandler as never } });
const providerEngine = engineOf(providerTask);
const providerInput = (i: number) => ({ clientId: 'c', taskId: `t${i}`, serviceName: 'Bench', operation: 'echo', params: {}, parentRef });

const clientEngine = engineOf(clientTaskMachine);
const clientInput = (i: number) => clientTaskInput('c', i, parentRef);
const ackMessage = (i: number) => ({ type: 'Ack', messageId: 'a', timestamp: 0, payload: { acknowledgmentId: `m${i}`, taskId: `t${i}`, status: 'Processing' } });
const resultMessage = (i: number) => ({ type: 'TaskResult', messageId: 'r', timestamp: 0, payload: { taskId: `t${i}`, status: 'Completed', resultData: { ok: true } } });

const self = { id: 'self', sessionId: 'self' };
const scope = { self };
const effects: Effect[] = [];
const step = (engine: MachineEngine, snapshot: EngineSnapshot, event: EventObject) => {
  effects.length = 0;
  return engine.transition(snapshot, event, scope, effects);
};

console.log(`per task, mean of ${iterations}`);
time('providerTask as an XState actor: create, start, task.start, handler done', (i) => {
  const actor = createActor(providerTask, { input: providerInput(i) as never });
  actor.start();
  actor.send({ type: 'task.start' });
});
time('providerTask on the engine: initial, task.start, handler.done', (i) => {
  effects.length = 0;
  let s = providerEngine.initial(providerInput(i), scope, effects);
  s = step(providerEngine, s, { type: 'task.start' });
  s = step(providerEngine, s, { type: 'handler.done', resultData: { ok: true } } as EventObject);
  if (s.status !== 'done') throw new Error('not done');
});
time('clientTask as an XState actor: create, start, Ack, TaskResult', (i) => {
  const actor = createActor(clientTaskMachine, { input: clientInput(i) as never });
  actor.start();
  actor.send({ type: 'task.message', message: ackMessage(i) as never });
  actor.send({ type: 'task.message', message: resultMessage(i) as never });
});
time('clientTask on the engine: initial, Ack, TaskResult', (i) => {
  effects.length = 0;
  let s = clientEngine.initial(clientInput(i), scope, effects);
  s = step(clientEngine, s, { type: 'task.message', message: ackMessage(i) } as EventObject);
  s = step(clientEngine, s, { type: 'task.message', message: resultMessage(i) } as EventObject);
  if (s.status !== 'done') throw new Error('not done');
});
time('clientTask hosted in an XState actor (engine inside): create, start, Ack, TaskResult', (i) => {
  const actor = createActor(hosted(clientTaskMachine), { input: clientInput(i) as never });
  actor.start();
  actor.send({ type: 'task.message', message: ackMessage(i) as never });
  actor.send({ type: 'task.message', message: resultMessage(i) as never });
});
