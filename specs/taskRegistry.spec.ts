/**
 * The provider's task registry (TASK-2, 4, 5, 6, 7, 8, 10, 11, 12, 14, 15): custom actor logic that
 * owns the ledger and the task actors. Driven on a SimulatedClock with the test handlers of
 * support/handlers.ts; its parent is a recorder (support/recorder.ts) that keeps every
 * `registry.reply`, `registry.load` and `registry.settled`.
 */
import fc from 'fast-check';
import { createActor, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import type { AssignTask, ProviderDraft } from '../machines/messages.js';
import { providerTaskMachine, type HandlerLogic } from '../machines/providerTask.js';
import type { ServiceDescriptor } from '../machines/service.js';
import type { TaskLimits } from '../machines/taskLedger.js';
import { createTaskRegistry, type TaskRegistryToParentEvent } from '../machines/taskRegistry.js';
import {
  advance,
  createProbe,
  hangingHandler,
  stepsHandler,
  throwingHandler,
  type HandlerProbe,
  type StepsParams,
} from './support/handlers.js';
import { createRecorder, draftTaskId, repliesOf, summarize } from './support/recorder.js';

const services: ServiceDescriptor[] = [
  {
    serviceId: 'svc-1',
    serviceName: 'Svc',
    serviceVersion: '1.0.0',
    capabilities: [
      { key: 'work', settings: [] },
      { key: 'other', settings: [] },
    ],
  },
];

const roomy: TaskLimits = { tasksRunningMax: 8, tasksRunningPerClientMax: 8, tasksQueuedMax: 8, ledgerMax: 100 };

interface AssignOptions {
  readonly serviceName?: string;
  readonly operation?: string;
  readonly params?: StepsParams;
  readonly deadlineMs?: number;
  readonly messageId?: string;
}

function startRegistry(options: { handler?: HandlerLogic; limits?: Partial<TaskLimits>; probe?: HandlerProbe } = {}) {
  const probe = options.probe ?? createProbe();
  const handler = options.handler ?? stepsHandler(probe);
  const clock = new SimulatedClock();
  const parent = createRecorder<TaskRegistryToParentEvent>();
  const limits = { ...roomy, ...options.limits };
  const registry = createActor(createTaskRegistry(providerTaskMachine.provide({ actors: { handler } })), {
    clock,
    input: { services, limits, parentRef: parent.ref },
  });
  registry.start();
  let messages = 0;
  const assignMessage = (clientId: string, taskId: string, o: AssignOptions = {}): AssignTask => ({
    type: 'AssignTask',
    messageId: o.messageId ?? `assign-${++messages}`,
    timestamp: 0,
    payload: {
      taskId,
      serviceName: o.serviceName ?? 'Svc',
      operation: o.operation ?? 'work',
      taskParameters: o.params ?? {},
      callbackClientId: clientId,
      ...(o.deadlineMs === undefined ? {} : { deadlineMs: o.deadlineMs }),
    },
  });
  const taskRef = (clientId: string, taskId: string) => ({ taskId, originalClientId: clientId });
  return {
    clock,
    parent,
    probe,
    registry,
    limits,
    assign(clientId: string, taskId: string, o: AssignOptions = {}) {
      const message = assignMessage(clientId, taskId, o);
      registry.send({ type: 'registry.assign', clientId, message });
      return message;
    },
    cancel(clientId: string, taskId: string, messageId = `cancel-${++messages}`) {
      registry.send({ type: 'registry.cancel', clientId, message: { type: 'CancelTask', messageId, timestamp: 0, payload: taskRef(clientId, taskId) } });
    },
    getStatus(clientId: string, taskId: string, messageId = `status-${++messages}`) {
      registry.send({ type: 'registry.query', clientId, message: { type: 'GetStatus', messageId, timestamp: 0, payload: taskRef(clientId, taskId) } });
    },
    getResult(clientId: string, taskId: string, messageId = `result-${++messages}`) {
      registry.send({ type: 'registry.query', clientId, message: { type: 'GetResult', messageId, timestamp: 0, payload: taskRef(clientId, taskId) } });
    },
    /** The replies about one task (or all), summarised: `Ack:Processing`, `TaskResult`, ... */
    replies(taskId?: string): string[] {
      return repliesOf(parent.events, taskId).map((reply) => summarize(reply.draft));
    },
    drafts(taskId?: string): ProviderDraft[] {
      return repliesOf(parent.events, taskId).map((reply) => reply.draft);
    },
    loads() {
      return parent.ofType('registry.load').map(({ running, queued, load }) => ({ running, queued, load }));
    },
    counts() {
      const { ledger, members } = registry.getSnapshot();
      return { running: ledger.running, queued: ledger.queued, members: members.size };
    },
  };
}

const steps = (count: number, stepMs = 100, extra: Partial<StepsParams> = {}): AssignOptions => ({ params: { steps: count, stepMs, ...extra } });

describe('taskRegistry: a task’s messages', () => {
  it('TASK-2, TASK-9, TASK-10: Ack (status Processing), then progress, then one TaskResult', () => {
    const r = startRegistry();
    const message = r.assign('client-A', 't1', steps(2, 100, { resultData: { out: 'x.jpg' } }));
    // Admitted straight to a slot: the Ack says Processing, so no separate Processing update.
    expect(r.replies('t1')).toEqual(['Ack:Processing']);
    expect(r.drafts('t1')[0]).toEqual({ type: 'Ack', payload: { acknowledgmentId: message.messageId, taskId: 't1', status: 'Processing' } });
    advance(r.clock, 100);
    expect(r.replies('t1').slice(1)).toEqual(['TaskStatusUpdate:Processing:50']);
    expect(r.drafts('t1')[1]).toEqual({
      type: 'TaskStatusUpdate',
      payload: { taskId: 't1', status: 'Processing', progressPercentage: 50, message: 'step 1 of 2', originalClientId: 'client-A' },
    });
    advance(r.clock, 1_000);
    expect(r.replies('t1').slice(2)).toEqual(['TaskStatusUpdate:Processing:100', 'TaskResult']);
    expect(r.drafts('t1').at(-1)).toEqual({
      type: 'TaskResult',
      payload: { taskId: 't1', status: 'Completed', resultData: { out: 'x.jpg' }, originalClientId: 'client-A' },
    });
    expect(repliesOf(r.parent.events).every((reply) => reply.clientId === 'client-A')).toBe(true);
    expect(r.parent.ofType('registry.settled')).toEqual([
      { type: 'registry.settled', clientId: 'client-A', taskId: 't1', outcome: { status: 'Completed', resultData: { out: 'x.jpg' } } },
    ]);
    expect(r.counts()).toEqual({ running: 0, queued: 0, members: 0 });
  });

  it('TASK-10: a handler done without a result yields TaskResult with resultData null, never a missing field', () => {
    const r = startRegistry();
    r.assign('c', 't', steps(0, 1, { resultData: undefined }));
    const final = r.drafts('t').at(-1);
    expect(final).toEqual({ type: 'TaskResult', payload: { taskId: 't', status: 'Completed', resultData: null, originalClientId: 'c' } });
    expect(JSON.parse(JSON.stringify(final))).toHaveProperty('payload.resultData', null);
  });

  it("TASK-15: a handler's own failure code reaches the client in TaskFailed", () => {
    const r = startRegistry();
    r.assign('c', 't', steps(1, 10, { failWith: { code: 'FILE_NOT_FOUND', message: 'Input file not found.', details: 'a.png' } }));
    advance(r.clock, 10);
    expect(r.drafts('t').at(-1)).toEqual({
      type: 'TaskFailed',
      payload: { taskId: 't', status: 'Failed', errorMessage: 'Input file not found.', errorCode: 'FILE_NOT_FOUND', details: 'a.png', originalClientId: 'c' },
    });
  });

  it('TASK-15: a handler that throws fails its task and frees its slot for the next one', () => {
    const r = startRegistry({ handler: throwingHandler(new Error('boom')), limits: { tasksRunningMax: 1 } });
    r.assign('c', 't1');
    r.assign('c', 't2');
    expect(r.replies('t1')).toEqual(['Ack:Processing', 'TaskFailed:INTERNAL_ERROR']);
    expect(r.replies('t2')).toEqual(['Ack:Processing', 'TaskFailed:INTERNAL_ERROR']);
    expect(r.counts()).toEqual({ running: 0, queued: 0, members: 0 });
  });

  it('SEC-21: registry.fault fails the one task the faulted event was about, frees its slot, and answers INTERNAL_ERROR with the errorId', () => {
    const r = startRegistry({ handler: hangingHandler(), limits: { tasksRunningMax: 1 } });
    const message = r.assign('c', 't1');
    r.assign('c', 't2');
    r.registry.send({ type: 'registry.fault', errorId: 'e-1', event: { type: 'registry.assign', clientId: 'c', message } } as never);
    expect(r.drafts('t1').at(-1)).toMatchObject({
      type: 'TaskFailed',
      payload: { errorCode: 'INTERNAL_ERROR', errorMessage: 'An internal error occurred. (errorId e-1)', errorId: 'e-1' },
    });
    // t2 waited in the queue for the one slot: it runs now.
    expect(r.replies('t2')).toEqual(['Ack:Queued', 'TaskStatusUpdate:Queued:0', 'TaskStatusUpdate:Processing:0']);
    // A faulted request about a task never admitted is refused without a record; a query gets an Error.
    r.registry.send({ type: 'registry.fault', errorId: 'e-2', event: { type: 'registry.assign', clientId: 'c', message: { ...message, payload: { ...message.payload, taskId: 't9' } } } } as never);
    expect(r.replies('t9')).toEqual(['TaskFailed:INTERNAL_ERROR']);
    expect(r.registry.getSnapshot().ledger.get('c', 't9')).toBeUndefined();
    r.registry.send({ type: 'registry.fault', errorId: 'e-3', event: { type: 'registry.query', clientId: 'c', message: { type: 'GetStatus', messageId: 'q', timestamp: 0, payload: { taskId: 't8', originalClientId: 'c' } } } } as never);
    expect(r.drafts('t8')).toEqual([{ type: 'Error', payload: { code: 'INTERNAL_ERROR', message: 'An internal error occurred. (errorId e-3)', relatesTo: 'q', taskId: 't8', errorId: 'e-3' } }]);
  });

  it('TASK-1: the same taskId from two clients is two tasks, each answered to its own client', () => {
    const r = startRegistry();
    r.assign('a', 'same', steps(1, 10));
    r.assign('b', 'same', steps(1, 20));
    expect(r.probe.runs.map((run) => run.input.clientId)).toEqual(['a', 'b']);
    advance(r.clock, 20);
    const finals = repliesOf(r.parent.events, 'same').filter((reply) => reply.draft.type === 'TaskResult');
    expect(finals.map((reply) => reply.clientId)).toEqual(['a', 'b']);
  });
});

describe('taskRegistry: duplicates (TASK-4)', () => {
  it('answers a duplicate of a running task with Ack + its current progress, and never runs it again', () => {
    const r = startRegistry();
    const first = r.assign('c', 't', steps(4, 100));
    advance(r.clock, 200);
    r.parent.clear();
    r.assign('c', 't', { ...steps(4, 100), messageId: first.messageId });
    expect(r.drafts('t')).toEqual([
      { type: 'Ack', payload: { acknowledgmentId: first.messageId, taskId: 't', status: 'Processing' } },
      { type: 'TaskStatusUpdate', payload: { taskId: 't', status: 'Processing', progressPercentage: 50, message: 'step 2 of 4', originalClientId: 'c' } },
    ]);
    advance(r.clock, 1_000);
    expect(r.probe.runsOf('c', 't')).toHaveLength(1);
    expect(r.replies('t').filter((line) => line === 'TaskResult')).toHaveLength(1);
  });

  it('answers a duplicate of a queued task with Ack Queued + TaskStatusUpdate Queued', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 1 } });
    r.assign('c', 'running', steps(1, 100));
    r.assign('c', 'waiting', steps(1, 100));
    r.parent.clear();
    r.assign('c', 'waiting', steps(1, 100));
    expect(r.replies('waiting')).toEqual(['Ack:Queued', 'TaskStatusUpdate:Queued:0']);
    expect(r.counts()).toMatchObject({ running: 1, queued: 1 });
    advance(r.clock, 1_000);
    expect(r.probe.runsOf('c', 'waiting')).toHaveLength(1);
  });

  it('answers a duplicate of a finished task with Ack + the very same final message', () => {
    const r = startRegistry();
    r.assign('c', 't', steps(1, 10, { resultData: 7 }));
    advance(r.clock, 10);
    const final = r.drafts('t').at(-1);
    r.parent.clear();
    const again = r.assign('c', 't', steps(1, 10));
    expect(r.drafts('t')).toEqual([{ type: 'Ack', payload: { acknowledgmentId: again.messageId, taskId: 't', status: 'Completed' } }, final]);
    advance(r.clock, 1_000);
    expect(r.probe.runsOf('c', 't')).toHaveLength(1);
  });

  it('answers a duplicate of a failed or cancelled task with its TaskFailed again', () => {
    const r = startRegistry();
    r.assign('c', 'f', steps(1, 10, { failWith: { code: 'OWN', message: 'no' } }));
    r.assign('c', 'x', steps(5, 10));
    r.cancel('c', 'x');
    advance(r.clock, 100);
    r.parent.clear();
    r.assign('c', 'f');
    r.assign('c', 'x');
    expect(r.replies()).toEqual(['Ack:Failed', 'TaskFailed:OWN', 'Ack:Cancelled', 'TaskFailed:CANCELLED']);
    expect(r.probe.runs).toHaveLength(2);
  });

  it('TASK-5: once forgotten (ledgerMax), the same taskId is a new task', () => {
    const r = startRegistry({ limits: { ledgerMax: 1 } });
    r.assign('c', 't1', steps(0, 1));
    r.assign('c', 't2', steps(0, 1)); // forgets t1
    r.parent.clear();
    r.assign('c', 't1', steps(0, 1));
    expect(r.replies('t1')).toEqual(['Ack:Processing', 'TaskResult']);
    expect(r.probe.runsOf('c', 't1')).toHaveLength(2);
  });
});

describe('taskRegistry: refusals', () => {
  it('TASK-6: an unknown service or operation gets TaskFailed UNKNOWN_OPERATION, no Ack, and nothing runs', () => {
    const r = startRegistry();
    r.assign('c', 'no-service', { serviceName: 'Nope' });
    r.assign('c', 'no-op', { operation: 'nope' });
    expect(r.replies()).toEqual(['TaskFailed:UNKNOWN_OPERATION', 'TaskFailed:UNKNOWN_OPERATION']);
    expect(r.drafts('no-op')[0]).toMatchObject({ payload: { taskId: 'no-op', status: 'Failed', originalClientId: 'c' } });
    advance(r.clock, 1_000);
    expect(r.probe.runs).toHaveLength(0);
    expect(r.counts()).toEqual({ running: 0, queued: 0, members: 0 });
    expect(r.loads()).toEqual([]);
    // A re-sent AssignTask is answered from the ledger with the recorded TaskFailed (TASK-4).
    r.parent.clear();
    r.assign('c', 'no-op', { operation: 'nope' });
    expect(r.replies()).toContain('TaskFailed:UNKNOWN_OPERATION');
    expect(r.probe.runs).toHaveLength(0);
  });

  it('regression: a refused task in the ledger does not hang the registry when the queue moves on', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 1 } });
    r.assign('c', 'bad', { operation: 'nope' });
    r.assign('c', 'first', steps(1, 10));
    r.assign('c', 'second', steps(1, 10));
    advance(r.clock, 100); // first settles, the ledger looks for the next queued task
    expect(r.replies('second')).toEqual(['Ack:Queued', 'TaskStatusUpdate:Queued:0', 'TaskStatusUpdate:Processing:0', 'TaskStatusUpdate:Processing:100', 'TaskResult']);
  });

  it('TASK-7: beyond the running limit a task is queued (Ack Queued + update); beyond the queue, OVERLOADED without Ack', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 1, tasksQueuedMax: 1 } });
    r.assign('c', 't1', steps(1, 100));
    r.assign('c', 't2', steps(1, 100));
    r.assign('c', 't3', steps(1, 100));
    expect(r.replies('t1')).toEqual(['Ack:Processing']);
    expect(r.replies('t2')).toEqual(['Ack:Queued', 'TaskStatusUpdate:Queued:0']);
    expect(r.replies('t3')).toEqual(['TaskFailed:OVERLOADED']);
    expect(r.counts()).toEqual({ running: 1, queued: 1, members: 2 });
    advance(r.clock, 100);
    expect(r.replies('t2').slice(2)).toEqual(['TaskStatusUpdate:Processing:0']);
    // OVERLOADED is not remembered: the same task, sent again later, is accepted.
    r.assign('c', 't3', steps(1, 100));
    expect(r.replies('t3').slice(1)).toEqual(['Ack:Queued', 'TaskStatusUpdate:Queued:0']);
    advance(r.clock, 1_000);
    expect(r.probe.runs.map((run) => run.input.taskId)).toEqual(['t1', 't2', 't3']);
  });

  it('TASK-7: queued tasks start first in, first out as slots free, never above the limits', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 2, tasksRunningPerClientMax: 2, tasksQueuedMax: 10 } });
    for (const taskId of ['a', 'b', 'c', 'd', 'e', 'f']) r.assign('client', taskId, steps(1, taskId === 'a' ? 50 : 100));
    expect(r.counts()).toMatchObject({ running: 2, queued: 4 });
    advance(r.clock, 1_000);
    expect(r.probe.runs.map((run) => run.input.taskId)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(r.probe.maxActive).toBe(2);
  });

  it('TASK-7: a client at its own limit waits while another client’s tasks run', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 3, tasksRunningPerClientMax: 1, tasksQueuedMax: 10 } });
    r.assign('a', 'a1', steps(1, 100));
    r.assign('a', 'a2', steps(1, 100));
    r.assign('b', 'b1', steps(1, 100));
    expect(r.replies('a2')).toEqual(['Ack:Queued', 'TaskStatusUpdate:Queued:0']);
    expect(r.replies('b1')[0]).toBe('Ack:Processing');
    advance(r.clock, 1_000);
    expect(r.probe.maxActivePerClient).toBe(1);
    expect(r.replies('a2').at(-1)).toBe('TaskResult');
  });

  it('TASK-8: a draining registry refuses new tasks with PROVIDER_DRAINING and finishes running and queued ones', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 1 } });
    r.assign('c', 'running', steps(2, 100));
    r.assign('c', 'queued', steps(1, 100));
    r.registry.send({ type: 'registry.drain' });
    r.assign('c', 'new', steps(1, 100));
    expect(r.replies('new')).toEqual(['TaskFailed:PROVIDER_DRAINING']);
    r.parent.clear();
    r.assign('c', 'running'); // a duplicate is still answered from the ledger
    expect(r.replies('running')).toEqual(['Ack:Processing', 'TaskStatusUpdate:Processing:0']); // Ack + current state (TASK-4)
    advance(r.clock, 1_000);
    expect(r.replies('running').at(-1)).toBe('TaskResult');
    expect(r.replies('queued').at(-1)).toBe('TaskResult');
    expect(r.probe.runs.map((run) => run.input.taskId)).toEqual(['running', 'queued']);
    expect(r.loads().at(-1)).toEqual({ running: 0, queued: 0, load: 0 });
  });
});

describe('taskRegistry: cancel (TASK-11) and queries (TASK-12)', () => {
  it('cancels a queued task at once: TaskFailed Cancelled, removed from the queue, never run', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 1 } });
    r.assign('c', 'running', steps(1, 100));
    r.assign('c', 'queued', steps(1, 100));
    r.cancel('c', 'queued');
    expect(r.replies('queued').at(-1)).toBe('TaskFailed:CANCELLED');
    expect(r.drafts('queued').at(-1)).toEqual({
      type: 'TaskFailed',
      payload: { taskId: 'queued', status: 'Cancelled', errorMessage: 'The task was cancelled.', errorCode: 'CANCELLED', originalClientId: 'c' },
    });
    expect(r.counts()).toEqual({ running: 1, queued: 0, members: 1 });
    expect(r.loads().at(-1)).toEqual({ running: 1, queued: 0, load: 1 });
    advance(r.clock, 1_000);
    expect(r.probe.runs.map((run) => run.input.taskId)).toEqual(['running']);
    expect(r.replies('queued').filter((line) => line.startsWith('Task'))).toEqual(['TaskStatusUpdate:Queued:0', 'TaskFailed:CANCELLED']);
  });

  it('cancels a running task by stopping its handler (the abort), then starts the next queued one', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 1 } });
    r.assign('c', 'running', steps(10, 100));
    r.assign('c', 'next', steps(1, 100));
    advance(r.clock, 150);
    r.cancel('c', 'running');
    expect(r.probe.runsOf('c', 'running').map((run) => run.ended)).toEqual(['stopped']);
    expect(r.replies('running').slice(-2)).toEqual(['TaskStatusUpdate:Processing:10', 'TaskFailed:CANCELLED']);
    expect(r.replies('next').slice(-1)).toEqual(['TaskStatusUpdate:Processing:0']);
    expect(r.parent.ofType('registry.settled').map((event) => event.outcome)).toEqual([{ status: 'Cancelled' }]);
    advance(r.clock, 10_000);
    expect(r.replies('running').at(-1)).toBe('TaskFailed:CANCELLED'); // nothing follows the final message
  });

  it('answers a cancel of a finished task with its final message, and of an unknown task with TASK_NOT_FOUND', () => {
    const r = startRegistry();
    r.assign('c', 'done', steps(0, 1, { resultData: 'r' }));
    r.parent.clear();
    r.cancel('c', 'done');
    r.cancel('c', 'ghost', 'cancel-ghost');
    r.cancel('someone-else', 'done', 'cancel-foreign'); // a task belongs to its client
    expect(r.drafts()).toEqual([
      { type: 'TaskResult', payload: { taskId: 'done', status: 'Completed', resultData: 'r', originalClientId: 'c' } },
      { type: 'Error', payload: { code: 'TASK_NOT_FOUND', message: 'No such task.', relatesTo: 'cancel-ghost', taskId: 'ghost' } },
      { type: 'Error', payload: { code: 'TASK_NOT_FOUND', message: 'No such task.', relatesTo: 'cancel-foreign', taskId: 'done' } },
    ]);
    expect(repliesOf(r.parent.events).map((reply) => reply.clientId)).toEqual(['c', 'c', 'someone-else']);
  });

  it('answers GetStatus and GetResult: Queued or Processing while unfinished, the final message after', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 1 } });
    r.assign('c', 'running', steps(2, 100, { resultData: 1 }));
    r.assign('c', 'queued', steps(1, 100));
    advance(r.clock, 100);
    r.parent.clear();
    r.getStatus('c', 'running');
    r.getResult('c', 'running');
    r.getStatus('c', 'queued');
    r.getResult('c', 'queued');
    r.getStatus('c', 'ghost', 'status-ghost');
    r.getResult('c', 'ghost', 'result-ghost');
    expect(r.replies()).toEqual([
      'TaskStatusUpdate:Processing:50',
      'TaskStatusUpdate:Processing:50',
      'TaskStatusUpdate:Queued:0',
      'TaskStatusUpdate:Queued:0',
      'Error:TASK_NOT_FOUND',
      'Error:TASK_NOT_FOUND',
    ]);
    expect(r.drafts().at(-1)).toMatchObject({ payload: { relatesTo: 'result-ghost', taskId: 'ghost' } });
    advance(r.clock, 1_000);
    const final = r.drafts('running').at(-1);
    r.parent.clear();
    r.getStatus('c', 'running');
    r.getResult('c', 'running');
    expect(r.drafts()).toEqual([final, final]);
  });

  it('TASK-14: a queued task’s deadline runs from acceptance: it fails with TIMEOUT without ever running', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 1 } });
    r.assign('c', 'long', steps(10, 100));
    r.assign('c', 'impatient', { ...steps(1, 100), deadlineMs: 500 });
    advance(r.clock, 499);
    expect(r.counts()).toMatchObject({ running: 1, queued: 1 });
    advance(r.clock, 1);
    expect(r.replies('impatient')).toEqual(['Ack:Queued', 'TaskStatusUpdate:Queued:0', 'TaskFailed:TIMEOUT']);
    expect(r.counts()).toEqual({ running: 1, queued: 0, members: 1 });
    advance(r.clock, 10_000);
    expect(r.probe.runsOf('c', 'impatient')).toHaveLength(0);
    expect(r.replies('impatient').at(-1)).toBe('TaskFailed:TIMEOUT');
  });

  it('TASK-14: a task started from the queue keeps the deadline it got at acceptance', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 1 } });
    r.assign('c', 'first', steps(3, 100));
    r.assign('c', 'second', { ...steps(5, 100), deadlineMs: 500 });
    advance(r.clock, 300);
    expect(r.replies('second').at(-1)).toBe('TaskStatusUpdate:Processing:0');
    advance(r.clock, 199);
    expect(r.replies('second').at(-1)).not.toBe('TaskFailed:TIMEOUT');
    advance(r.clock, 1);
    expect(r.replies('second').at(-1)).toBe('TaskFailed:TIMEOUT');
    expect(r.probe.runsOf('c', 'second').map((run) => run.ended)).toEqual(['stopped']);
  });

  it('cancelAll ends every unfinished task Cancelled and refuses new ones', () => {
    const probe = createProbe();
    const r = startRegistry({ handler: hangingHandler(probe), probe, limits: { tasksRunningMax: 2 } });
    for (const taskId of ['r1', 'r2', 'q1']) r.assign('c', taskId);
    r.registry.send({ type: 'registry.cancelAll' });
    for (const taskId of ['r1', 'r2', 'q1']) expect(r.replies(taskId).at(-1)).toBe('TaskFailed:CANCELLED');
    expect(probe.active()).toEqual([]);
    expect(probe.runs.map((run) => run.input.taskId)).toEqual(['r1', 'r2']);
    expect(r.counts()).toEqual({ running: 0, queued: 0, members: 0 });
    expect(r.loads().at(-1)).toEqual({ running: 0, queued: 0, load: 0 });
    r.assign('c', 'late');
    expect(r.replies('late')).toEqual(['TaskFailed:PROVIDER_DRAINING']);
  });
});

describe('taskRegistry: load and lifetime', () => {
  it('DISC-5, DISC-6: registry.load reports the changes the provider acts on, not every task', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 2, tasksQueuedMax: 4 } });
    r.assign('c', 't1', steps(1, 100));
    r.assign('c', 't2', steps(1, 200));
    r.assign('c', 't3', steps(1, 100));
    advance(r.clock, 100);
    expect(r.loads()).toEqual([
      { running: 1, queued: 0, load: 0.5 }, // no longer idle
      { running: 2, queued: 0, load: 1 }, // saturated (Busy)
      // t3 queued, then t1 done and t3 started: the load stays 1, nothing to report
    ]);
    advance(r.clock, 1_000);
    expect(r.loads().slice(2)).toEqual([
      { running: 1, queued: 0, load: 0.5 }, // relieved (Online again)
      { running: 0, queued: 0, load: 0 }, // idle
    ]);
  });

  it('DISC-5: load steps of 0.05 or more are reported; smaller ones are not', () => {
    const r = startRegistry({ limits: { tasksRunningMax: 100, tasksRunningPerClientMax: 100 } });
    for (let i = 0; i < 12; i++) r.assign('c', `t${i}`, steps(1, 1_000));
    expect(r.loads().map((load) => load.running)).toEqual([1, 6, 11]);
  });

  it('stopping the registry stops every task actor: every handler’s cleanup runs', () => {
    const probe = createProbe();
    const r = startRegistry({ handler: hangingHandler(probe), probe, limits: { tasksRunningMax: 3 } });
    for (const taskId of ['a', 'b', 'c', 'queued']) r.assign('client', taskId, { deadlineMs: 1_000 });
    const members = [...r.registry.getSnapshot().members.values()].map((member) => member.actor);
    expect(members).toHaveLength(4);
    r.parent.clear();
    r.registry.stop();
    expect(probe.active()).toEqual([]);
    expect(probe.runs.map((run) => run.ended)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(members.every((actor) => actor.getSnapshot().status === 'stopped')).toBe(true);
    advance(r.clock, 5_000); // their deadlines were cancelled with them
    expect(r.parent.events).toEqual([]);
  });

  it('keeps task actors out of snapshots and forgets them once they finish', () => {
    const r = startRegistry();
    for (const taskId of ['a', 'b', 'c']) r.assign('client', taskId, steps(1, 100));
    const snapshot = r.registry.getSnapshot();
    expect(snapshot.members.size).toBe(3);
    expect(snapshot.spawnedTotal).toBe(3);
    expect(r.registry.getPersistedSnapshot()).toEqual({ status: 'active', running: 3, queued: 0 });
    advance(r.clock, 100);
    expect(r.registry.getSnapshot().members.size).toBe(0);
    expect(r.registry.getSnapshot().memberIds.size).toBe(0);
  });

  it('regression (100,000 scale): 20,000 never-ending tasks in one registry keep exact counts', () => {
    const probe = createProbe();
    const r = startRegistry({
      handler: hangingHandler(probe),
      probe,
      limits: { tasksRunningMax: 12_000, tasksRunningPerClientMax: 1_000, tasksQueuedMax: 10_000, ledgerMax: 10, tasksQueuedPerSourceMax: 10_000 },
    });
    for (let i = 0; i < 20_000; i++) r.assign(`client-${i % 20}`, `task-${i}`);
    expect(r.counts()).toEqual({ running: 12_000, queued: 8_000, members: 20_000 });
    expect(probe.runs).toHaveLength(12_000);
    expect(probe.maxActivePerClient).toBe(600);
    expect(r.loads().at(-1)).toEqual({ running: 12_000, queued: 0, load: 1 }); // saturated; the queue does not change the status
    expect(r.registry.getSnapshot().ledger.size).toBe(20_000); // unfinished tasks are never forgotten
    r.cancel('client-0', 'task-0');
    expect(r.counts()).toEqual({ running: 12_000, queued: 7_999, members: 19_999 });
    expect(r.replies('task-0').at(-1)).toBe('TaskFailed:CANCELLED');
    r.registry.send({ type: 'registry.cancelAll' });
    expect(r.counts()).toEqual({ running: 0, queued: 0, members: 0 });
    expect(probe.active()).toHaveLength(0);
    expect(r.registry.getSnapshot().ledger.size).toBe(10);
  });
});

describe('taskRegistry: properties', () => {
  type Command =
    | {
        kind: 'assign';
        client: number;
        task: number;
        unknown: boolean;
        steps: number;
        stepMs: number;
        pattern: number[];
        fail: boolean;
        deadlineMs: number | undefined;
      }
    | { kind: 'cancel'; client: number; task: number }
    | { kind: 'query'; client: number; task: number; result: boolean }
    | { kind: 'drain' }
    | { kind: 'advance'; ms: number };

  const command = (clients: number): fc.Arbitrary<Command> => {
    const client = fc.integer({ min: 0, max: clients - 1 });
    const task = fc.integer({ min: 0, max: 4 });
    return fc.oneof(
      { weight: 6, arbitrary: fc.record({
        kind: fc.constant('assign' as const),
        client,
        task,
        unknown: fc.integer({ min: 0, max: 9 }).map((n) => n === 0), // one in ten: UNKNOWN_OPERATION
        steps: fc.integer({ min: 0, max: 3 }),
        stepMs: fc.integer({ min: 1, max: 40 }),
        pattern: fc.array(fc.integer({ min: -20, max: 120 }), { maxLength: 3 }),
        fail: fc.boolean(),
        deadlineMs: fc.option(fc.integer({ min: 1, max: 150 }), { nil: undefined, freq: 3 }),
      }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), client, task }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('query' as const), client, task, result: fc.boolean() }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'drain' as const }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 80 }) }) },
    );
  };

  const scenario = fc
    .record({
      clients: fc.integer({ min: 1, max: 3 }),
      limits: fc.record({
        tasksRunningMax: fc.integer({ min: 1, max: 3 }),
        tasksRunningPerClientMax: fc.integer({ min: 1, max: 2 }),
        tasksQueuedMax: fc.integer({ min: 0, max: 3 }),
        ledgerMax: fc.integer({ min: 2, max: 5 }),
      }),
    })
    .chain(({ clients, limits }) => fc.record({ limits: fc.constant(limits), commands: fc.array(command(clients), { maxLength: 40 }) }));

  interface Incarnation {
    readonly key: string;
    acked: boolean;
    final: ProviderDraft | undefined;
    progress: number;
    readonly runsBefore: number;
  }

  it('TASK-4, 7, 9, 10: at most one run per remembered task, one final message each, limits and monotone progress hold', () => {
    fc.assert(
      fc.property(scenario, ({ limits, commands }) => {
        const probe = createProbe();
        const r = startRegistry({ probe, limits });
        const { ledger } = r.registry.getSnapshot();
        const current = new Map<string, Incarnation>();
        const all: Incarnation[] = [];
        let seen = 0;
        const open = (clientId: string, taskId: string) => {
          const key = `${clientId}/${taskId}`;
          const incarnation: Incarnation = { key, acked: false, final: undefined, progress: 0, runsBefore: probe.runsOf(clientId, taskId).length };
          current.set(key, incarnation);
          all.push(incarnation);
        };
        const check = () => {
          const replies = repliesOf(r.parent.events).slice(seen);
          seen += replies.length;
          for (const { clientId, draft } of replies) {
            if (draft.type === 'Error') continue;
            const key = `${clientId}/${draftTaskId(draft)}`;
            const incarnation = current.get(key);
            expect(incarnation, `a reply about ${key}, never assigned`).toBeDefined();
            if (!incarnation) continue;
            switch (draft.type) {
              case 'Ack':
                incarnation.acked = true;
                break;
              case 'TaskStatusUpdate':
                expect(incarnation.final, `TaskStatusUpdate after the final message of ${key}`).toBeUndefined();
                expect(draft.payload.progressPercentage).toBeGreaterThanOrEqual(incarnation.progress);
                expect(draft.payload.progressPercentage).toBeLessThanOrEqual(100);
                if (draft.payload.status === 'Queued') expect(draft.payload.progressPercentage).toBe(0);
                incarnation.progress = draft.payload.progressPercentage;
                break;
              case 'TaskResult':
              case 'TaskFailed':
                if (draft.type === 'TaskFailed') expect(draft.payload.status === 'Cancelled').toBe(draft.payload.errorCode === 'CANCELLED');
                if (incarnation.final === undefined) incarnation.final = draft;
                else expect(draft, `a second, different final message for ${key}`).toEqual(incarnation.final);
                break;
            }
          }
          for (const incarnation of current.values()) {
            const [clientId, taskId] = incarnation.key.split('/') as [string, string];
            expect(probe.runsOf(clientId, taskId).length - incarnation.runsBefore).toBeLessThanOrEqual(incarnation.acked ? 1 : 0);
          }
          expect(ledger.running).toBeLessThanOrEqual(limits.tasksRunningMax);
          expect(ledger.queued).toBeLessThanOrEqual(limits.tasksQueuedMax);
          expect(probe.maxActive).toBeLessThanOrEqual(limits.tasksRunningMax);
          expect(probe.maxActivePerClient).toBeLessThanOrEqual(limits.tasksRunningPerClientMax);
          expect(probe.active().length).toBe(ledger.running);
        };
        for (const c of commands) {
          switch (c.kind) {
            case 'assign': {
              const clientId = `c${c.client}`;
              const taskId = `t${c.task}`;
              if (!ledger.get(clientId, taskId)) open(clientId, taskId);
              r.assign(clientId, taskId, {
                operation: c.unknown ? 'nope' : 'work',
                params: {
                  steps: c.steps,
                  stepMs: c.stepMs,
                  progressPattern: c.pattern,
                  ...(c.fail ? { failWith: { code: 'OWN', message: 'no' } } : {}),
                },
                deadlineMs: c.deadlineMs,
              });
              break;
            }
            case 'cancel':
              r.cancel(`c${c.client}`, `t${c.task}`);
              break;
            case 'query':
              if (c.result) r.getResult(`c${c.client}`, `t${c.task}`);
              else r.getStatus(`c${c.client}`, `t${c.task}`);
              break;
            case 'drain':
              r.registry.send({ type: 'registry.drain' });
              break;
            case 'advance':
              advance(r.clock, c.ms);
              break;
          }
          check();
        }
        advance(r.clock, 100_000);
        check();
        for (const incarnation of all) {
          if (incarnation.acked) expect(incarnation.final, `no final message for ${incarnation.key}`).toBeDefined();
        }
        expect(r.counts()).toEqual({ running: 0, queued: 0, members: 0 });
        expect(probe.active()).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
