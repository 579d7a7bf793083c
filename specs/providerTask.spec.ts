/**
 * providerTaskMachine: one task at the provider (docs/protocol.md, "Provider-side task";
 * TASK-9, 10, 11, 14, 15). Pure tests read the returned action objects; actor tests run the
 * machine on a SimulatedClock with the test handlers of support/handlers.ts and a recording
 * parentRef (support/recorder.ts).
 */
import fc from 'fast-check';
import { createActor, initialTransition, SimulatedClock, transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import {
  failureFromThrown,
  providerTaskMachine,
  type HandlerLogic,
  type ProviderTaskInput,
  type ProviderTaskToParentEvent,
} from '../machines/providerTask.js';
import type { TaskOutcome } from '../machines/outcome.js';
import {
  advance,
  createProbe,
  hangingHandler,
  scriptedHandler,
  stepsHandler,
  throwingHandler,
  type HandlerProbe,
  type StepsParams,
} from './support/handlers.js';
import { createRecorder } from './support/recorder.js';

type Parent = ReturnType<typeof createRecorder<ProviderTaskToParentEvent>>;

function inputWith(parent: Parent, extra: Partial<Omit<ProviderTaskInput, 'parentRef'>> = {}): ProviderTaskInput {
  return { clientId: 'client-1', taskId: 'task-1', serviceName: 'Svc', operation: 'op', params: {}, parentRef: parent.ref, ...extra };
}

function runTask(handler: HandlerLogic | undefined, extra: Partial<Omit<ProviderTaskInput, 'parentRef'>> = {}) {
  const clock = new SimulatedClock();
  const parent = createRecorder<ProviderTaskToParentEvent>();
  const logic = handler ? providerTaskMachine.provide({ actors: { handler } }) : providerTaskMachine;
  const actor = createActor(logic, { clock, input: inputWith(parent, extra) });
  actor.start();
  return { clock, parent, actor };
}

const settledOf = (parent: Parent) => parent.ofType('task.settled');
const progressOf = (parent: Parent) => parent.ofType('task.progressed').map((event) => event.progressPercentage);

describe('providerTask: pure transitions', () => {
  const parent = createRecorder<ProviderTaskToParentEvent>();

  it('TASK-14: schedules no timer at all when the task has no deadlineMs', () => {
    const [snapshot, actions] = initialTransition(providerTaskMachine, inputWith(parent));
    expect(snapshot.value).toBe('assigned');
    expect(actions).toEqual([]);
  });

  it('TASK-14: schedules the deadline as a delayed raise of deadlineMs from assignment', () => {
    const [snapshot, actions] = initialTransition(providerTaskMachine, inputWith(parent, { deadlineMs: 5_000 }));
    expect(snapshot.value).toBe('assigned');
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({
      type: 'xstate.raise',
      params: { event: { type: 'task.deadline' }, id: 'deadline', delay: 5_000 },
    });
  });

  it('task.start enters processing, reports task.started and invokes the handler', () => {
    const [assigned] = initialTransition(providerTaskMachine, inputWith(parent, { params: { a: 1 } }));
    const [processing, actions] = transition(providerTaskMachine, assigned, { type: 'task.start' });
    expect(processing.value).toBe('processing');
    expect(actions.map((action) => action.type)).toEqual(['xstate.sendTo', 'xstate.spawnChild']);
    expect(actions[0]?.params).toMatchObject({ to: parent.ref, event: { type: 'task.started', clientId: 'client-1', taskId: 'task-1' } });
    expect(actions[1]?.params).toMatchObject({
      id: 'handler',
      input: { clientId: 'client-1', taskId: 'task-1', serviceName: 'Svc', operation: 'op', params: { a: 1 } },
    });
  });

  it('ignores handler events while still assigned', () => {
    const [assigned] = initialTransition(providerTaskMachine, inputWith(parent));
    const [next, actions] = transition(providerTaskMachine, assigned, { type: 'handler.done', resultData: 1 });
    expect(next.value).toBe('assigned');
    expect(actions).toEqual([]);
  });

  it('TASK-9: clamps progress to [0, 100] and never lowers it', () => {
    const [assigned] = initialTransition(providerTaskMachine, inputWith(parent));
    let [snapshot] = transition(providerTaskMachine, assigned, { type: 'task.start' });
    const reported: number[] = [];
    for (const progressPercentage of [-5, 40, 20, Number.NaN, 140, 99]) {
      const [next, actions] = transition(providerTaskMachine, snapshot, { type: 'handler.progress', progressPercentage });
      snapshot = next;
      reported.push((actions[0]?.params as { event: { progressPercentage: number } }).event.progressPercentage);
    }
    expect(reported).toEqual([0, 40, 40, 40, 100, 100]);
    expect(snapshot.context.progressPercentage).toBe(100);
    expect(snapshot.value).toBe('processing');
  });

  it('TASK-11: task.cancel while assigned ends Cancelled without ever invoking the handler', () => {
    const [assigned] = initialTransition(providerTaskMachine, inputWith(parent));
    const [cancelled, actions] = transition(providerTaskMachine, assigned, { type: 'task.cancel' });
    expect(cancelled.value).toBe('cancelled');
    expect(cancelled.status).toBe('done');
    expect(cancelled.output).toEqual({ status: 'Cancelled' });
    expect(actions.map((action) => action.type)).not.toContain('xstate.spawnChild');
    expect(actions.find((action) => action.type === 'xstate.sendTo')?.params).toMatchObject({
      event: { type: 'task.settled', outcome: { status: 'Cancelled' } },
    });
  });
});

describe('providerTask: with a handler', () => {
  it('runs the handler only once task.start arrives', () => {
    const probe = createProbe();
    const { clock, parent, actor } = runTask(hangingHandler(probe));
    advance(clock, 1_000);
    expect(probe.runs).toHaveLength(0);
    actor.send({ type: 'task.start' });
    expect(probe.runs.map((run) => run.input)).toEqual([
      { clientId: 'client-1', taskId: 'task-1', serviceName: 'Svc', operation: 'op', params: {} },
    ]);
    expect(parent.events.map((event) => event.type)).toEqual(['task.started']);
    actor.send({ type: 'task.start' });
    expect(probe.runs).toHaveLength(1);
  });

  it('TASK-9: reports every progress event, clamped and never decreasing', () => {
    const params: StepsParams = { steps: 5, stepMs: 100, progressPattern: [10, 150, 5, 60, -20] };
    const { clock, parent, actor } = runTask(stepsHandler(), { params });
    actor.send({ type: 'task.start' });
    advance(clock, 250);
    expect(progressOf(parent)).toEqual([10, 100]);
    advance(clock, 250);
    expect(progressOf(parent)).toEqual([10, 100, 100, 100, 100]);
    expect(parent.ofType('task.progressed')[0]).toMatchObject({ clientId: 'client-1', taskId: 'task-1', message: 'step 1 of 5' });
    expect(actor.getSnapshot().value).toBe('completed');
  });

  it('TASK-10: handler.done completes the task with its resultData, settles once, and outputs the outcome', () => {
    const probe = createProbe();
    const { clock, parent, actor } = runTask(stepsHandler(probe), { params: { steps: 2, stepMs: 50, resultData: { out: 'x.jpg' } } });
    actor.send({ type: 'task.start' });
    advance(clock, 99);
    expect(actor.getSnapshot().value).toBe('processing');
    advance(clock, 1);
    const outcome: TaskOutcome = { status: 'Completed', resultData: { out: 'x.jpg' } };
    expect(parent.events.map((event) => event.type)).toEqual(['task.started', 'task.progressed', 'task.progressed', 'task.settled']);
    expect(settledOf(parent)).toEqual([{ type: 'task.settled', clientId: 'client-1', taskId: 'task-1', outcome }]);
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().output).toEqual(outcome);
    expect(probe.runs.map((run) => run.ended)).toEqual(['finished']);
  });

  it('completes with resultData undefined passed through as undefined', () => {
    const { parent, actor } = runTask(scriptedHandler([{ type: 'handler.done', resultData: undefined }]));
    actor.send({ type: 'task.start' });
    expect(actor.getSnapshot().output).toEqual({ status: 'Completed', resultData: undefined });
    expect(settledOf(parent)).toHaveLength(1);
  });

  it("TASK-15: handler.failed keeps a service's own error code", () => {
    const failWith = { code: 'FILE_NOT_FOUND', message: 'Input file not found.', details: "Could not locate 'a.png'." };
    const { clock, parent, actor } = runTask(stepsHandler(), { params: { steps: 1, stepMs: 10, failWith } });
    actor.send({ type: 'task.start' });
    advance(clock, 10);
    expect(actor.getSnapshot().value).toBe('failed');
    expect(actor.getSnapshot().output).toEqual({ status: 'Failed', error: failWith });
    expect(settledOf(parent).map((event) => event.outcome)).toEqual([{ status: 'Failed', error: failWith }]);
  });

  it('TASK-15: a handler that throws a coded error fails the task with that code', () => {
    const { parent, actor } = runTask(throwingHandler(Object.assign(new Error('no such file'), { code: 'FILE_NOT_FOUND' })));
    actor.send({ type: 'task.start' });
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().output).toEqual({ status: 'Failed', error: { code: 'FILE_NOT_FOUND', message: 'no such file' } });
    expect(settledOf(parent)).toHaveLength(1);
  });

  it('TASK-15, SEC-11: a handler that throws without a code fails the task with INTERNAL_ERROR and a generic message', () => {
    const { parent, actor } = runTask(throwingHandler(new TypeError('x is undefined')));
    actor.send({ type: 'task.start' });
    expect(settledOf(parent).map((event) => event.outcome)).toEqual([
      { status: 'Failed', error: { code: 'INTERNAL_ERROR', message: 'An internal error occurred.' } },
    ]);
  });

  it('SEC-21: task.fault (the supervisor caught an error in this task) fails it INTERNAL_ERROR with the errorId', () => {
    const { parent, actor } = runTask(hangingHandler());
    actor.send({ type: 'task.start' });
    actor.send({ type: 'task.fault', errorId: 'e-42' });
    expect(settledOf(parent).map((event) => event.outcome)).toEqual([
      { status: 'Failed', error: { code: 'INTERNAL_ERROR', message: 'An internal error occurred. (errorId e-42)', errorId: 'e-42' } },
    ]);
  });

  it('TASK-15: a task whose handler was never provided fails with INTERNAL_ERROR instead of hanging', () => {
    const { parent, actor } = runTask(undefined);
    actor.send({ type: 'task.start' });
    expect(actor.getSnapshot().value).toBe('failed');
    expect(settledOf(parent)[0]?.outcome).toMatchObject({ status: 'Failed', error: { code: 'INTERNAL_ERROR' } });
  });

  it('TASK-11: task.cancel while processing stops the handler (its cleanup runs) and ends Cancelled', () => {
    const probe = createProbe();
    const { clock, parent, actor } = runTask(stepsHandler(probe), { params: { steps: 10, stepMs: 100 } });
    actor.send({ type: 'task.start' });
    advance(clock, 250);
    actor.send({ type: 'task.cancel' });
    expect(actor.getSnapshot().value).toBe('cancelled');
    expect(actor.getSnapshot().output).toEqual({ status: 'Cancelled' });
    expect(probe.runs.map((run) => run.ended)).toEqual(['stopped']);
    advance(clock, 10_000);
    expect(progressOf(parent)).toEqual([10, 20]);
    expect(settledOf(parent).map((event) => event.outcome)).toEqual([{ status: 'Cancelled' }]);
  });

  it('TASK-11: cancelling a hanging handler runs its cleanup (the abort)', () => {
    const probe = createProbe();
    const { parent, actor } = runTask(hangingHandler(probe));
    actor.send({ type: 'task.start' });
    expect(probe.active()).toHaveLength(1);
    actor.send({ type: 'task.cancel' });
    expect(probe.active()).toHaveLength(0);
    expect(probe.runs[0]?.ended).toBe('stopped');
    expect(settledOf(parent)).toHaveLength(1);
  });

  it('TASK-14: the deadline fails a running task with TIMEOUT at exactly deadlineMs and stops its handler', () => {
    const probe = createProbe();
    const { clock, parent, actor } = runTask(hangingHandler(probe), { deadlineMs: 3_000 });
    advance(clock, 1_000);
    actor.send({ type: 'task.start' });
    advance(clock, 1_999);
    expect(actor.getSnapshot().value).toBe('processing');
    advance(clock, 1);
    expect(actor.getSnapshot().value).toBe('failed');
    expect(actor.getSnapshot().output).toEqual({ status: 'Failed', error: { code: 'TIMEOUT', message: 'The task deadline passed.' } });
    expect(probe.runs[0]?.ended).toBe('stopped');
    expect(settledOf(parent)).toHaveLength(1);
  });

  it('TASK-14: the deadline also runs while the task waits in assigned (queued), and the handler never runs', () => {
    const probe = createProbe();
    const { clock, parent, actor } = runTask(hangingHandler(probe), { deadlineMs: 500 });
    advance(clock, 500);
    expect(actor.getSnapshot().value).toBe('failed');
    expect(settledOf(parent).map((event) => event.outcome)).toEqual([
      { status: 'Failed', error: { code: 'TIMEOUT', message: 'The task deadline passed.' } },
    ]);
    expect(probe.runs).toHaveLength(0);
  });

  it('TASK-14: a task that completes first leaves no deadline behind', () => {
    const { clock, parent, actor } = runTask(stepsHandler(), { deadlineMs: 1_000, params: { steps: 1, stepMs: 100 } });
    actor.send({ type: 'task.start' });
    advance(clock, 100);
    expect(actor.getSnapshot().value).toBe('completed');
    expect(Object.keys(actor.system.getSnapshot()._scheduledEvents)).toEqual([]);
    advance(clock, 5_000);
    expect(settledOf(parent)).toHaveLength(1);
  });

  it('TASK-10: nothing after the final state: later cancels, starts and handler events are ignored', () => {
    const { parent, actor } = runTask(scriptedHandler([{ type: 'handler.done', resultData: 1 }]));
    actor.send({ type: 'task.start' });
    const before = parent.events.length;
    const warn = console.warn;
    console.warn = () => {}; // xstate warns about events sent to a stopped actor
    try {
      actor.send({ type: 'task.cancel' });
      actor.send({ type: 'handler.failed', error: { code: 'X', message: 'late' } });
    } finally {
      console.warn = warn;
    }
    expect(parent.events.length).toBe(before);
    expect(actor.getSnapshot().output).toEqual({ status: 'Completed', resultData: 1 });
  });

  it('TASK-10: a handler that reports twice settles once, with the first report', () => {
    const { parent, actor } = runTask(
      scriptedHandler([
        { type: 'handler.failed', error: { code: 'E1', message: 'first' } },
        { type: 'handler.done', resultData: 'second' },
      ]),
    );
    actor.send({ type: 'task.start' });
    expect(settledOf(parent).map((event) => event.outcome)).toEqual([{ status: 'Failed', error: { code: 'E1', message: 'first' } }]);
  });
});

describe('providerTask: failureFromThrown (TASK-15)', () => {
  it.each([
    [Object.assign(new Error('m'), { code: 'FILE_NOT_FOUND' }), { code: 'FILE_NOT_FOUND', message: 'm' }],
    [{ code: 'QUOTA', message: 'over', details: 'd' }, { code: 'QUOTA', message: 'over', details: 'd' }],
    // SEC-11: without a well-formed code, nothing of the error's text travels.
    [new Error('plain'), { code: 'INTERNAL_ERROR', message: 'An internal error occurred.' }],
    [{ code: 42, message: 'numeric code' }, { code: 'INTERNAL_ERROR', message: 'An internal error occurred.' }],
    [{ code: '', message: 'empty code' }, { code: 'INTERNAL_ERROR', message: 'An internal error occurred.' }],
    [{ code: 'constructor', message: 'not a code' }, { code: 'INTERNAL_ERROR', message: 'An internal error occurred.' }],
    [{ code: 'INTERNAL_ERROR', message: 'password=hunter2' }, { code: 'INTERNAL_ERROR', message: 'An internal error occurred.' }],
    ['a string', { code: 'INTERNAL_ERROR', message: 'An internal error occurred.' }],
    [undefined, { code: 'INTERNAL_ERROR', message: 'An internal error occurred.' }],
    [
      { code: 'INTERNAL_ERROR', errorId: 'e-7', message: 'secret' },
      { code: 'INTERNAL_ERROR', message: 'An internal error occurred. (errorId e-7)', errorId: 'e-7' },
    ],
  ])('maps %s', (thrown, failure) => {
    expect(failureFromThrown(thrown)).toEqual(failure);
  });
});

describe('providerTask: properties', () => {
  const scenario = fc.record({
    steps: fc.integer({ min: 0, max: 6 }),
    stepMs: fc.integer({ min: 1, max: 50 }),
    progressPattern: fc.array(fc.oneof(fc.integer({ min: -50, max: 150 }), fc.constant(Number.NaN)), { maxLength: 6 }),
    fail: fc.boolean(),
    deadlineMs: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
    startAtMs: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
    cancelAtMs: fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
  });

  it('TASK-9, TASK-10: one task.settled whatever the timing; progress monotone in [0, 100]; output is the outcome', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const probe: HandlerProbe = createProbe();
        const params: StepsParams = {
          steps: s.steps,
          stepMs: s.stepMs,
          progressPattern: s.progressPattern,
          ...(s.fail ? { failWith: { code: 'OWN_CODE', message: 'no' } } : {}),
        };
        const { clock, parent, actor } = runTask(stepsHandler(probe), { params, deadlineMs: s.deadlineMs });
        const moments = [
          ...(s.startAtMs === undefined ? [] : [{ at: s.startAtMs, event: { type: 'task.start' as const } }]),
          ...(s.cancelAtMs === undefined ? [] : [{ at: s.cancelAtMs, event: { type: 'task.cancel' as const } }]),
        ].sort((a, b) => a.at - b.at);
        let now = 0;
        const warn = console.warn;
        console.warn = () => {};
        try {
          for (const { at, event } of moments) {
            advance(clock, at - now);
            now = at;
            actor.send(event);
          }
          advance(clock, 1_000);
        } finally {
          console.warn = warn;
        }
        const settled = settledOf(parent);
        const ends = s.startAtMs !== undefined || s.cancelAtMs !== undefined || s.deadlineMs !== undefined;
        expect(settled).toHaveLength(ends ? 1 : 0);
        if (settled[0]) expect(parent.events.at(-1)).toBe(settled[0]); // nothing follows the settle
        const progress = progressOf(parent);
        for (const [i, value] of progress.entries()) {
          expect(value).toBeGreaterThanOrEqual(i === 0 ? 0 : (progress[i - 1] as number));
          expect(value).toBeLessThanOrEqual(100);
        }
        expect(probe.runs.length).toBeLessThanOrEqual(1);
        expect(probe.active()).toEqual([]);
        if (settled[0]) {
          expect(actor.getSnapshot().output).toEqual(settled[0].outcome);
          const run = probe.runs[0];
          if (run) {
            const byHandler = settled[0].outcome.status === 'Completed' || (settled[0].outcome.status === 'Failed' && settled[0].outcome.error.code === 'OWN_CODE');
            expect(run.ended).toBe(byHandler ? 'finished' : 'stopped');
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
