import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor, initialTransition, SimulatedClock, transition, type ActorRef } from 'xstate';
import {
  clientTaskDefaults,
  clientTaskMachine,
  type ClientTaskEvent,
  type ClientTaskInput,
  type ClientTaskToParentEvent,
  type TaskOutcome,
} from '../machines/clientTask.js';
import { taskStatuses, type ProviderMessage } from '../machines/messages.js';
import { ackOf, errorOf, failedOf, recorder, resultOf, updateOf } from './support/clientTaskFixtures.js';

const CLIENT = 'client-1';
const TASK = 'task-1';
const MESSAGE = 'assign-1';
const ACK_MS = clientTaskDefaults.ackTimeoutMs;
const CANCEL_MS = clientTaskDefaults.cancelTimeoutMs;

type Parent = ActorRef<any, ClientTaskToParentEvent>;

function inputWith(parentRef: Parent, overrides: Partial<ClientTaskInput> = {}): ClientTaskInput {
  return {
    clientId: CLIENT,
    taskId: TASK,
    messageId: MESSAGE,
    serviceName: 'ImageProcessingService',
    operation: 'resizeImage',
    params: { width: 1024 },
    ...clientTaskDefaults,
    ...overrides,
    parentRef,
  };
}

const assignDraft = {
  type: 'AssignTask',
  messageId: MESSAGE,
  payload: { taskId: TASK, serviceName: 'ImageProcessingService', operation: 'resizeImage', taskParameters: { width: 1024 }, callbackClientId: CLIENT },
};
const cancelDraft = { type: 'CancelTask', payload: { taskId: TASK, originalClientId: CLIENT } };
const getResultDraft = { type: 'GetResult', payload: { taskId: TASK, originalClientId: CLIENT } };

function startTask(overrides: Partial<ClientTaskInput> = {}) {
  const clock = new SimulatedClock();
  const parent = recorder<ClientTaskToParentEvent>();
  const actor = createActor(clientTaskMachine, { clock, input: inputWith(parent.ref, overrides) }).start();
  const sent = () => parent.events();
  return {
    clock,
    actor,
    sent,
    send: (event: ClientTaskEvent) => actor.send(event),
    deliver: (message: ProviderMessage) => actor.send({ type: 'task.message', message }),
    drafts: (type?: string) =>
      sent().flatMap((event) => (event.type === 'task.send' && (type === undefined || event.draft.type === type) ? [event.draft] : [])),
    progress: () => sent().flatMap((event) => (event.type === 'task.progress' ? [event] : [])),
    settled: () => sent().flatMap((event) => (event.type === 'task.settled' ? [event.outcome] : [])),
  };
}

function accept(task: ReturnType<typeof startTask>) {
  task.deliver(ackOf(MESSAGE, { taskId: TASK, status: 'Processing' }));
}

const failedWith = (code: string) => ({ status: 'Failed', error: expect.objectContaining({ code }) });

afterEach(() => vi.restoreAllMocks());

describe('clientTask: pure transitions', () => {
  const parent = recorder<ClientTaskToParentEvent>();
  const actionsOf = (actions: readonly unknown[]) => actions as readonly { type: string; params: any }[];

  it('TASK-3: sends AssignTask on entry and schedules the ack timeout as a delayed raise of ackTimeoutMs', () => {
    const [snapshot, actions] = initialTransition(clientTaskMachine, inputWith(parent.ref));
    expect(snapshot.value).toEqual({ active: { lifecycle: { submitting: 'awaitingAck' }, deadline: 'none' } });
    const list = actionsOf(actions);
    expect(list.find((action) => action.type === 'xstate.sendTo')?.params.event).toEqual({ type: 'task.send', taskId: TASK, draft: assignDraft });
    const raises = list.filter((action) => action.type === 'xstate.raise');
    expect(raises).toHaveLength(1);
    expect(raises[0]?.params).toMatchObject({ delay: ACK_MS, id: expect.stringContaining('ackTimeoutMs') });
  });

  it('TASK-3: the ack timeout re-sends the same messageId and taskId and re-arms the timer', () => {
    const [snapshot, actions] = initialTransition(clientTaskMachine, inputWith(parent.ref));
    const timeout = actionsOf(actions).find((action) => action.type === 'xstate.raise')?.params.event;
    const [next, resend] = transition(clientTaskMachine, snapshot, timeout);
    expect(next.context.assignSendsTotal).toBe(2);
    const list = actionsOf(resend);
    expect(list.find((action) => action.type === 'xstate.sendTo')?.params.event.draft).toEqual(assignDraft);
    expect(list.find((action) => action.type === 'xstate.raise')?.params).toMatchObject({ delay: ACK_MS });
  });

  it('TASK-14: a deadline is a delayed raise of deadlineMs; without deadlineMs no timer is scheduled for it', () => {
    const [withDeadline, actions] = initialTransition(clientTaskMachine, inputWith(parent.ref, { deadlineMs: 60_000 }));
    expect(withDeadline.value).toMatchObject({ active: { deadline: 'running' } });
    expect(actionsOf(actions).filter((action) => action.type === 'xstate.raise').map((action) => action.params.delay)).toEqual([ACK_MS, 60_000]);
    expect(actionsOf(actions).find((action) => action.type === 'xstate.sendTo')?.params.event.draft.payload.deadlineMs).toBe(60_000);
  });

  it('TASK-9: a lower progressPercentage is reported as the last one reported', () => {
    const [start] = initialTransition(clientTaskMachine, inputWith(parent.ref));
    const [at60] = transition(clientTaskMachine, start, { type: 'task.message', message: updateOf(TASK, 60) });
    const [at60again, actions] = transition(clientTaskMachine, at60, { type: 'task.message', message: updateOf(TASK, 20) });
    expect(at60again.context.progressPercentage).toBe(60);
    const report = actionsOf(actions).find((action) => action.type === 'xstate.sendTo')?.params.event;
    expect(report).toMatchObject({ type: 'task.progress', status: 'Processing', progressPercentage: 60 });
  });
});

describe('clientTask: submitting (TASK-3)', () => {
  it('TASK-3: re-sends AssignTask every ackTimeoutMs with the same messageId, then fails TIMEOUT after assignAttemptsMax sends', () => {
    const task = startTask();
    expect(task.drafts('AssignTask')).toEqual([assignDraft]);
    task.clock.increment(ACK_MS - 1);
    expect(task.drafts('AssignTask')).toHaveLength(1);
    for (let sends = 2; sends <= clientTaskDefaults.assignAttemptsMax; sends++) {
      task.clock.increment(ACK_MS);
      expect(task.drafts('AssignTask')).toHaveLength(sends);
    }
    expect(new Set(task.drafts('AssignTask').map((draft) => JSON.stringify(draft)))).toEqual(new Set([JSON.stringify(assignDraft)]));
    expect(task.settled()).toEqual([]);
    task.clock.increment(ACK_MS);
    expect(task.drafts('AssignTask')).toHaveLength(clientTaskDefaults.assignAttemptsMax);
    expect(task.settled()).toEqual([failedWith('TIMEOUT')]);
    expect(task.actor.getSnapshot().status).toBe('done');
  });

  it('TASK-2: an Ack stops the re-sends and reports task.acknowledged and the Processing state', () => {
    const task = startTask();
    accept(task);
    task.clock.increment(ACK_MS * 10);
    expect(task.drafts('AssignTask')).toHaveLength(1);
    expect(task.sent()).toContainEqual({ type: 'task.acknowledged', taskId: TASK });
    expect(task.progress()).toEqual([{ type: 'task.progress', taskId: TASK, status: 'Processing', progressPercentage: 0 }]);
    expect(task.actor.getSnapshot().matches({ active: { lifecycle: { accepted: 'processing' } } })).toBe(true);
  });

  it('TASK-2: a seed-style Ack without taskId is matched by its acknowledgmentId; an Ack of another message is not', () => {
    const task = startTask();
    task.deliver(ackOf('some-other-message'));
    expect(task.actor.getSnapshot().matches({ active: { lifecycle: 'submitting' } })).toBe(true);
    task.deliver(ackOf(MESSAGE));
    expect(task.actor.getSnapshot().matches({ active: { lifecycle: 'accepted' } })).toBe(true);
  });

  it('TASK-3: any TaskStatusUpdate for the task counts as acknowledgment', () => {
    const task = startTask();
    task.deliver(updateOf(TASK, 10, 'Processing', { message: 'warming up', estimatedTimeRemainingSeconds: 30 }));
    task.clock.increment(ACK_MS * 3);
    expect(task.drafts('AssignTask')).toHaveLength(1);
    expect(task.sent().filter((event) => event.type === 'task.acknowledged')).toHaveLength(1);
    expect(task.progress()).toEqual([
      { type: 'task.progress', taskId: TASK, status: 'Processing', progressPercentage: 10, message: 'warming up', estimatedTimeRemainingSeconds: 30 },
    ]);
  });

  it('TASK-7: an Ack with status Queued reports Queued, and a later Processing update moves the task on', () => {
    const task = startTask();
    task.deliver(ackOf(MESSAGE, { taskId: TASK, status: 'Queued' }));
    expect(task.actor.getSnapshot().matches({ active: { lifecycle: { accepted: 'queued' } } })).toBe(true);
    task.deliver(updateOf(TASK, 0, 'Queued', { message: 'position 3' }));
    task.deliver(updateOf(TASK, 5));
    expect(task.actor.getSnapshot().matches({ active: { lifecycle: { accepted: 'processing' } } })).toBe(true);
    expect(task.progress().map(({ status, progressPercentage }) => [status, progressPercentage])).toEqual([
      ['Queued', 0],
      ['Queued', 0],
      ['Processing', 5],
    ]);
  });

  it('TASK-6: a TaskFailed without Ack (a refusal) fails the task with its code, message and details', () => {
    const task = startTask();
    task.deliver(failedOf(TASK, 'INVALID_PARAMETERS', 'Failed', 'payload.width: expected number'));
    expect(task.settled()).toEqual([
      { status: 'Failed', error: { code: 'INVALID_PARAMETERS', message: 'INVALID_PARAMETERS happened', details: 'payload.width: expected number' } },
    ]);
    expect(task.actor.getSnapshot().output).toEqual(task.settled()[0]);
  });

  it.each(['RATE_LIMITED', 'OVERLOADED'])('SEC-7: an Error %s about the AssignTask keeps waiting; the ack timer re-sends', (code) => {
    const task = startTask();
    task.deliver(errorOf(code, { relatesTo: MESSAGE }));
    expect(task.settled()).toEqual([]);
    task.clock.increment(ACK_MS);
    expect(task.drafts('AssignTask')).toHaveLength(2);
  });

  it('WIRE-8: any other Error before acceptance fails the task with that code', () => {
    const task = startTask();
    task.deliver(errorOf('FORBIDDEN', { relatesTo: MESSAGE }));
    expect(task.settled()).toEqual([failedWith('FORBIDDEN')]);
  });

  it('CONN-5: while the connection is down the ack timer is paused; on connection.up it restarts without a duplicate send', () => {
    const task = startTask();
    task.send({ type: 'connection.down' });
    task.clock.increment(ACK_MS * 20);
    expect(task.drafts('AssignTask')).toHaveLength(1);
    expect(task.settled()).toEqual([]);
    // The connection's outbox re-sends the AssignTask when it opens (CONN-5), so the task does not.
    task.send({ type: 'connection.up', reconnected: true });
    expect(task.drafts('AssignTask')).toHaveLength(1);
    task.clock.increment(ACK_MS - 1);
    expect(task.drafts('AssignTask')).toHaveLength(1);
    task.clock.increment(1);
    expect(task.drafts('AssignTask')).toHaveLength(2);
  });

  it('TASK-11: task.cancel before acceptance sends CancelTask and stops the AssignTask re-sends', () => {
    const task = startTask();
    task.send({ type: 'task.cancel' });
    expect(task.drafts('CancelTask')).toEqual([cancelDraft]);
    task.clock.increment(CANCEL_MS - 1);
    expect(task.drafts('AssignTask')).toHaveLength(1);
    task.clock.increment(1);
    expect(task.settled()).toEqual([{ status: 'Cancelled' }]);
  });
});

describe('clientTask: accepted', () => {
  it('TASK-9: progress reports never decrease', () => {
    const task = startTask();
    accept(task);
    for (const percentage of [10, 50, 30, 50, 80, 0, 100]) task.deliver(updateOf(TASK, percentage));
    expect(task.progress().map((event) => event.progressPercentage)).toEqual([0, 10, 50, 50, 50, 80, 80, 100]);
  });

  it('TASK-10: a TaskResult completes the task; the outcome is the output and task.settled is sent once', () => {
    const task = startTask();
    accept(task);
    task.deliver(resultOf(TASK, { outputImagePath: '/tmp/out.jpg' }));
    const outcome: TaskOutcome = { status: 'Completed', resultData: { outputImagePath: '/tmp/out.jpg' } };
    expect(task.settled()).toEqual([outcome]);
    expect(task.sent().at(-1)).toEqual({ type: 'task.settled', taskId: TASK, outcome });
    expect(task.actor.getSnapshot().output).toEqual(outcome);
  });

  it('TASK-16: messages after the final state are ignored (the actor is done)', () => {
    // xstate's development build warns about events sent to a stopped actor: expected here.
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const task = startTask();
    accept(task);
    task.deliver(resultOf(TASK, 1));
    const before = task.sent().length;
    task.deliver(resultOf(TASK, 2));
    task.deliver(failedOf(TASK, 'INTERNAL_ERROR'));
    task.deliver(updateOf(TASK, 99));
    task.send({ type: 'connection.lost' });
    expect(task.sent()).toHaveLength(before);
    expect(task.actor.getSnapshot().output).toEqual({ status: 'Completed', resultData: 1 });
  });

  it('TASK-10: a seed-style TaskStatusUpdate Completed does not end the task; the task asks GetResult', () => {
    const task = startTask();
    accept(task);
    task.deliver(updateOf(TASK, 100, 'Completed'));
    expect(task.settled()).toEqual([]);
    expect(task.drafts('GetResult')).toEqual([getResultDraft]);
    task.deliver(resultOf(TASK, 'done'));
    expect(task.settled()).toEqual([{ status: 'Completed', resultData: 'done' }]);
  });

  it('TASK-10: TaskFailed with status Cancelled, or with errorCode CANCELLED, ends the task Cancelled', () => {
    const cancelledByStatus = startTask();
    cancelledByStatus.deliver(failedOf(TASK, 'CANCELLED', 'Cancelled'));
    expect(cancelledByStatus.settled()).toEqual([{ status: 'Cancelled' }]);
    const cancelledByCode = startTask();
    accept(cancelledByCode);
    cancelledByCode.deliver(failedOf(TASK, 'CANCELLED', 'Failed'));
    expect(cancelledByCode.settled()).toEqual([{ status: 'Cancelled' }]);
  });

  it('TASK-15: a TaskFailed with a service code fails the task with that code', () => {
    const task = startTask();
    accept(task);
    task.deliver(failedOf(TASK, 'FILE_NOT_FOUND', 'Failed', "Could not locate 'image.png'."));
    expect(task.settled()).toEqual([
      { status: 'Failed', error: { code: 'FILE_NOT_FOUND', message: 'FILE_NOT_FOUND happened', details: "Could not locate 'image.png'." } },
    ]);
  });

  it('CONN-6: after a reconnect an accepted task sends GetResult; after the first open it does not', () => {
    const task = startTask();
    accept(task);
    task.send({ type: 'connection.down' });
    task.send({ type: 'connection.up', reconnected: false });
    expect(task.drafts('GetResult')).toEqual([]);
    task.send({ type: 'connection.down' });
    task.send({ type: 'connection.up', reconnected: true });
    expect(task.drafts('GetResult')).toEqual([getResultDraft]);
  });

  it('TASK-13: an Error TASK_NOT_FOUND for an accepted task (the provider lost it) fails it with TASK_NOT_FOUND', () => {
    const task = startTask();
    accept(task);
    task.deliver(errorOf('RATE_LIMITED', { taskId: TASK }));
    expect(task.settled()).toEqual([]);
    task.deliver(errorOf('TASK_NOT_FOUND', { taskId: TASK }));
    expect(task.settled()).toEqual([failedWith('TASK_NOT_FOUND')]);
  });

  it('ignores messages about another task', () => {
    const task = startTask();
    task.deliver(updateOf('task-2', 50));
    task.deliver(resultOf('task-2'));
    task.deliver(errorOf('FORBIDDEN', { taskId: 'task-2' }));
    expect(task.sent()).toEqual([{ type: 'task.send', taskId: TASK, draft: assignDraft }]);
    expect(task.actor.getSnapshot().status).toBe('active');
  });
});

describe('clientTask: cancelling (TASK-11)', () => {
  function cancelling() {
    const task = startTask();
    accept(task);
    task.send({ type: 'task.cancel' });
    expect(task.drafts('CancelTask')).toEqual([cancelDraft]);
    return task;
  }

  it('TASK-11: TaskFailed Cancelled ends the task Cancelled', () => {
    const task = cancelling();
    task.deliver(failedOf(TASK, 'CANCELLED', 'Cancelled'));
    expect(task.settled()).toEqual([{ status: 'Cancelled' }]);
  });

  it('TASK-11: a TaskResult that crossed the CancelTask ends the task Completed', () => {
    const task = cancelling();
    task.deliver(resultOf(TASK, 42));
    expect(task.settled()).toEqual([{ status: 'Completed', resultData: 42 }]);
  });

  it('TASK-11: a TaskFailed Failed that crossed the CancelTask ends the task Failed', () => {
    const task = cancelling();
    task.deliver(failedOf(TASK, 'INTERNAL_ERROR'));
    expect(task.settled()).toEqual([failedWith('INTERNAL_ERROR')]);
  });

  it('TASK-11: Error TASK_NOT_FOUND in answer to CancelTask ends the task Cancelled', () => {
    const task = cancelling();
    task.deliver(errorOf('TASK_NOT_FOUND', { taskId: TASK }));
    expect(task.settled()).toEqual([{ status: 'Cancelled' }]);
  });

  it('TASK-11: without an answer within cancelTimeoutMs the task is cancelled locally', () => {
    const task = cancelling();
    task.clock.increment(CANCEL_MS - 1);
    expect(task.settled()).toEqual([]);
    task.clock.increment(1);
    expect(task.settled()).toEqual([{ status: 'Cancelled' }]);
  });

  it('TASK-11: a second cancel sends nothing more', () => {
    const task = cancelling();
    task.send({ type: 'task.cancel' });
    expect(task.drafts('CancelTask')).toHaveLength(1);
  });
});

describe('clientTask: deadline and connection loss', () => {
  it('TASK-14: the deadline fails the task with TIMEOUT and sends a best-effort CancelTask', () => {
    const task = startTask({ deadlineMs: 5_000 });
    accept(task);
    task.clock.increment(4_999);
    expect(task.settled()).toEqual([]);
    task.clock.increment(1);
    expect(task.drafts('CancelTask')).toEqual([cancelDraft]);
    expect(task.settled()).toEqual([failedWith('TIMEOUT')]);
  });

  it('TASK-14: the deadline counts from submission, also while submitting', () => {
    const task = startTask({ deadlineMs: 2_500, assignAttemptsMax: 100 });
    task.clock.increment(2_000);
    task.clock.increment(500);
    expect(task.settled()).toEqual([failedWith('TIMEOUT')]);
  });

  it('TASK-14: without deadlineMs an accepted task waits indefinitely', () => {
    const task = startTask();
    accept(task);
    for (let hour = 0; hour < 24; hour++) task.clock.increment(3_600_000);
    expect(task.actor.getSnapshot().status).toBe('active');
    // Only the AssignTask, then the periodic GetStatus of a task nothing is heard about (the seed's pull flow).
    const drafts = task.sent().flatMap((event) => (event.type === 'task.send' ? [event.draft.type] : []));
    expect(drafts[0]).toBe('AssignTask');
    expect(new Set(drafts.slice(1))).toEqual(new Set(['GetStatus']));
  });

  it.each([
    ['submitting', () => startTask()],
    ['accepted', () => { const task = startTask(); accept(task); return task; }],
    ['cancelling', () => { const task = startTask(); task.send({ type: 'task.cancel' }); return task; }],
  ])('CONN-4: connection.lost fails a %s task with CONNECTION_LOST', (_state, make) => {
    const task = make();
    task.send({ type: 'connection.lost' });
    expect(task.settled()).toEqual([failedWith('CONNECTION_LOST')]);
  });
});

// ---- property ---------------------------------------------------------------------------------

const OTHER_TASK = 'task-2';

const messageArb: fc.Arbitrary<ProviderMessage> = fc.oneof(
  fc
    .record({
      acknowledgmentId: fc.constantFrom(MESSAGE, 'another-message'),
      taskId: fc.option(fc.constantFrom(TASK, OTHER_TASK), { nil: undefined }),
      status: fc.option(fc.constantFrom(...taskStatuses), { nil: undefined }),
    })
    .map(({ acknowledgmentId, taskId, status }) =>
      ackOf(acknowledgmentId, { ...(taskId === undefined ? {} : { taskId }), ...(status === undefined ? {} : { status }) }),
    ),
  fc
    .tuple(fc.constantFrom(TASK, TASK, TASK, OTHER_TASK), fc.double({ min: 0, max: 100, noNaN: true }), fc.constantFrom(...taskStatuses))
    .map(([taskId, percentage, status]) => updateOf(taskId, percentage, status)),
  fc.tuple(fc.constantFrom(TASK, OTHER_TASK), fc.jsonValue()).map(([taskId, data]) => resultOf(taskId, data)),
  fc
    .tuple(
      fc.constantFrom(TASK, OTHER_TASK),
      fc.constantFrom('CANCELLED', 'TIMEOUT', 'INTERNAL_ERROR', 'FILE_NOT_FOUND', 'OVERLOADED'),
      fc.constantFrom('Failed' as const, 'Cancelled' as const),
    )
    .map(([taskId, code, status]) => failedOf(taskId, code, status)),
  fc
    .tuple(
      fc.constantFrom('RATE_LIMITED', 'OVERLOADED', 'TASK_NOT_FOUND', 'INVALID_MESSAGE', 'FORBIDDEN'),
      fc.constantFrom<{ taskId?: string; relatesTo?: string }>({ taskId: TASK }, { relatesTo: MESSAGE }, { taskId: OTHER_TASK }),
    )
    .map(([code, about]) => errorOf(code, about)),
);

type Step =
  | { readonly kind: 'message'; readonly index: number }
  | { readonly kind: 'event'; readonly event: ClientTaskEvent }
  | { readonly kind: 'advance'; readonly fractionOfTenAcks: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.nat({ max: 15 }).map((index): Step => ({ kind: 'message', index })) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'event', event: { type: 'task.cancel' } }) },
  { weight: 2, arbitrary: fc.constant<Step>({ kind: 'event', event: { type: 'connection.down' } }) },
  { weight: 2, arbitrary: fc.boolean().map((reconnected): Step => ({ kind: 'event', event: { type: 'connection.up', reconnected } })) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'event', event: { type: 'connection.lost' } }) },
  { weight: 4, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((fractionOfTenAcks): Step => ({ kind: 'advance', fractionOfTenAcks })) },
);

describe('clientTask: properties', () => {
  it('TASK-16, TASK-9: any sequence of messages, cancels, connection events and time gives exactly one task.settled, last, and monotone progress', () => {
    fc.assert(
      fc.property(
        fc.record({
          ackTimeoutMs: fc.integer({ min: 1, max: 3_000 }),
          assignAttemptsMax: fc.integer({ min: 1, max: 6 }),
          cancelTimeoutMs: fc.integer({ min: 1, max: 3_000 }),
          deadlineMs: fc.option(fc.integer({ min: 1, max: 30_000 }), { nil: undefined }),
        }),
        fc.array(messageArb, { minLength: 1, maxLength: 16 }),
        fc.array(stepArb, { maxLength: 60 }),
        (options, messages, steps) => {
          const task = startTask({ ...options, ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }) });
          const done = () => task.actor.getSnapshot().status === 'done';
          for (const step of steps) {
            if (done()) break;
            if (step.kind === 'message') task.deliver(messages[step.index % messages.length] as ProviderMessage);
            else if (step.kind === 'event') task.send(step.event);
            else {
              // In slices, so that timers re-armed by a firing timer start from when it fired.
              let remainingMs = Math.round(step.fractionOfTenAcks * 10 * options.ackTimeoutMs);
              while (remainingMs > 0) {
                const sliceMs = Math.min(remainingMs, Math.max(1, Math.floor(options.ackTimeoutMs / 4)));
                task.clock.increment(sliceMs);
                remainingMs -= sliceMs;
              }
            }
          }
          if (!done()) task.send({ type: 'connection.lost' });

          const sent = task.sent();
          const settledAt = sent.findIndex((event) => event.type === 'task.settled');
          expect(task.settled()).toHaveLength(1);
          expect(settledAt).toBe(sent.length - 1);
          expect(task.actor.getSnapshot().output).toEqual(task.settled()[0]);

          const percentages = task.progress().map((event) => event.progressPercentage);
          percentages.forEach((percentage, index) => expect(percentage).toBeGreaterThanOrEqual(percentages[index - 1] ?? 0));
          expect(sent.filter((event) => event.type === 'task.acknowledged').length).toBeLessThanOrEqual(1);
          const assigns = task.drafts('AssignTask');
          expect(assigns.length).toBeLessThanOrEqual(options.assignAttemptsMax);
          for (const draft of assigns) expect(draft).toMatchObject({ messageId: MESSAGE, payload: { taskId: TASK } });
        },
      ),
      { numRuns: 500 },
    );
  });
});
