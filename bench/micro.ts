/**
 * Micro-benchmarks of the per-message and per-task building blocks, in one process, to put a
 * price on each proposed change in docs/performance.md. Not part of `npm run bench`.
 *
 *   node --import tsx bench/micro.ts [--iterations 20000]
 */
import { createActor, fromCallback } from 'xstate';
import { decodeFrame, encodeFrame, stampFrame } from '../machines/codec.js';
import type { ProviderDraft, WireDraft } from '../machines/messages.js';
import { providerTaskMachine } from '../machines/providerTask.js';
import { clientTaskMachine } from '../machines/clientTask.js';
import { numberArg } from './common.js';
import { clientTaskInput } from './taskInputs.js';

const iterations = numberArg('iterations', 20_000);

function time(label: string, run: (i: number) => void): number {
  for (let i = 0; i < Math.min(2_000, iterations); i++) run(i); // warm-up
  const start = performance.now();
  for (let i = 0; i < iterations; i++) run(i);
  const us = ((performance.now() - start) * 1_000) / iterations;
  console.log(`${us.toFixed(2).padStart(9)} us  ${label}`);
  return us;
}

const stamp = { nowMs: () => Date.now(), newId: () => crypto.randomUUID() };
const assignText = JSON.stringify({
  type: 'AssignTask',
  messageId: crypto.randomUUID(),
  timestamp: new Date().toISOString(),
  payload: { taskId: crypto.randomUUID(), serviceName: 'Bench', operation: 'echo', taskParameters: {}, callbackClientId: `client-${crypto.randomUUID()}` },
});
const taskId = crypto.randomUUID();
const clientId = `client-${crypto.randomUUID()}`;
const ack: ProviderDraft = { type: 'Ack', payload: { acknowledgmentId: crypto.randomUUID(), taskId, status: 'Processing' } };
const update: ProviderDraft = { type: 'TaskStatusUpdate', payload: { taskId, status: 'Processing', progressPercentage: 0, originalClientId: clientId } };
const result: ProviderDraft = { type: 'TaskResult', payload: { taskId, status: 'Completed', resultData: { ok: true }, originalClientId: clientId } };
const resultText = encodeFrame(stampFrame(result, stamp));

console.log(`per operation, mean of ${iterations}`);
console.log('-- codec');
time('JSON.parse(AssignTask text) (the floor)', () => JSON.parse(assignText));
time('decodeFrame(AssignTask text): JSON.parse + zod decode', () => decodeFrame(assignText));
time('decodeFrame(TaskResult text)', () => decodeFrame(resultText));
const plain = { ...result, messageId: crypto.randomUUID(), timestamp: new Date().toISOString() };
time('JSON.stringify(TaskResult with ISO timestamp) (the floor)', () => JSON.stringify(plain));
time('stampFrame(TaskResult draft)', () => stampFrame(result, stamp));
time('encodeFrame(stamped TaskResult): zod encode + JSON.stringify', () => encodeFrame(stampFrame(result, stamp)));
time('encodeFrame(stamped Ack)', () => encodeFrame(stampFrame(ack as WireDraft, stamp)));
time('encodeFrame(stamped TaskStatusUpdate)', () => encodeFrame(stampFrame(update as WireDraft, stamp)));
time('crypto.randomUUID() (messageId of each reply)', () => crypto.randomUUID());
time('new Date(ms).toISOString()', (i) => new Date(1_750_000_000_000 + i).toISOString());

console.log('-- actors');
const sink = createActor(fromCallback(() => () => {})).start();
const noopHandler = fromCallback(({ sendBack }) => {
  sendBack({ type: 'handler.done', resultData: { ok: true } });
  return () => {};
});
const providerTask = providerTaskMachine.provide({ actors: { handler: noopHandler as never } });
time('providerTask: createActor + start + task.start (handler done at once) + done', (i) => {
  const actor = createActor(providerTask, {
    input: { clientId, taskId: `t${i}`, serviceName: 'Bench', operation: 'echo', params: {}, parentRef: sink as never },
  });
  actor.start();
  actor.send({ type: 'task.start' });
});
time('clientTask: createActor + start (sends AssignTask) + stop', (i) => {
  const actor = createActor(clientTaskMachine, { input: clientTaskInput(clientId, i, sink as never) });
  actor.start();
  actor.stop();
});
process.exit(0);
