/**
 * Per machine: the inputs and the alphabet of events the engine-versus-interpreter property
 * draws from (specs/engine.equivalence.spec.ts, and its long run in the slow tier). Alphabets
 * are small on purpose: a handful of ids and values so that events about "this" task, session
 * or endpoint come up often, with strays mixed in, and the internal events XState itself would
 * deliver (done and error events of children, after-timers fire through the harness).
 */
import fc from 'fast-check';
import type { EventObject } from 'xstate';
import { clientTaskMachine } from '../../machines/clientTask.js';
import { providerTaskMachine } from '../../machines/providerTask.js';
import { ackOf, errorOf, failedOf, resultOf, updateOf } from './clientTaskFixtures.js';
import { parentStub, type EquivalenceCase } from './engineEquivalence.js';

const anyValue = fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 4 }), fc.constant({ ok: true }));
const unknownEvent = fc.constantFrom<EventObject>({ type: 'nobody.listens' }, { type: 'xstate.done.actor.stray' });

// ---- providerTask ----------------------------------------------------------------------------

const failure = fc.record(
  { code: fc.constantFrom('TIMEOUT', 'INTERNAL_ERROR', 'E1'), message: fc.string({ maxLength: 5 }), details: fc.string({ maxLength: 3 }) },
  { requiredKeys: ['code', 'message'] },
);

export const providerTaskCase: EquivalenceCase<unknown> = {
  machine: providerTaskMachine,
  input: fc.record(
    {
      clientId: fc.constantFrom('c1', 'c2'),
      taskId: fc.constantFrom('t1', 't2'),
      serviceName: fc.constant('Svc'),
      operation: fc.constant('op'),
      params: fc.constant({ a: 1 }),
      deadlineMs: fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.constant(3_000_000_000)),
      parentRef: fc.constant(parentStub),
    },
    { requiredKeys: ['clientId', 'taskId', 'serviceName', 'operation', 'params', 'parentRef'] },
  ),
  events: fc.oneof(
    fc.constantFrom<EventObject>({ type: 'task.start' }, { type: 'task.cancel' }, { type: 'task.deadline' }),
    fc.record({
      type: fc.constant('handler.progress'),
      progressPercentage: fc.oneof(fc.integer({ min: -10, max: 120 }), fc.constant(Number.NaN)),
      message: fc.option(fc.string({ maxLength: 3 }), { nil: undefined }),
      estimatedTimeRemainingSeconds: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
    }),
    anyValue.map((resultData) => ({ type: 'handler.done', resultData })),
    failure.map((error) => ({ type: 'handler.failed', error })),
    fc.oneof(fc.string({ maxLength: 4 }), fc.constant(new Error('boom')), fc.constant({ code: 'E2', message: 'm' })).map(
      (error) => ({ type: 'xstate.error.actor.handler', error, actorId: 'handler' }) as EventObject,
    ),
    fc.constant<EventObject>({ type: 'xstate.done.actor.handler', output: undefined } as EventObject),
    unknownEvent,
  ),
};

// ---- clientTask ------------------------------------------------------------------------------

const taskIds = fc.constantFrom('t1', 't1', 't2');
const providerMessage = fc.oneof(
  fc.record({ id: fc.constantFrom('m1', 'm2'), taskId: fc.option(taskIds, { nil: undefined }), status: fc.constantFrom(undefined, 'Queued', 'Processing') }).map(
    ({ id, taskId, status }) => ackOf(id, { ...(taskId === undefined ? {} : { taskId }), ...(status === undefined ? {} : { status: status as 'Queued' }) }),
  ),
  fc
    .record({
      taskId: taskIds,
      progress: fc.integer({ min: 0, max: 100 }),
      status: fc.constantFrom('Queued', 'Processing', 'Completed', 'Failed', 'Cancelled'),
      message: fc.option(fc.string({ maxLength: 3 }), { nil: undefined }),
      eta: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
    })
    .map(({ taskId, progress, status, message, eta }) =>
      updateOf(taskId, progress, status as 'Queued', {
        ...(message === undefined ? {} : { message }),
        ...(eta === undefined ? {} : { estimatedTimeRemainingSeconds: eta }),
      }),
    ),
  fc.tuple(taskIds, anyValue).map(([taskId, data]) => resultOf(taskId, data)),
  fc
    .tuple(taskIds, fc.constantFrom('E1', 'CANCELLED', 'TIMEOUT'), fc.constantFrom('Failed', 'Cancelled'))
    .map(([taskId, code, status]) => failedOf(taskId, code, status as 'Failed')),
  fc
    .tuple(fc.constantFrom('RATE_LIMITED', 'OVERLOADED', 'TASK_NOT_FOUND', 'INTERNAL_ERROR'), fc.option(taskIds, { nil: undefined }))
    .map(([code, taskId]) => errorOf(code, taskId === undefined ? {} : { taskId })),
);

export const clientTaskCase: EquivalenceCase<unknown> = {
  machine: clientTaskMachine,
  input: fc.record(
    {
      clientId: fc.constant('c1'),
      taskId: fc.constant('t1'),
      messageId: fc.constant('m1'),
      serviceName: fc.constant('Svc'),
      operation: fc.constant('op'),
      params: fc.constant({}),
      deadlineMs: fc.integer({ min: 1, max: 60_000 }),
      ackTimeoutMs: fc.integer({ min: 1, max: 5_000 }),
      assignAttemptsMax: fc.integer({ min: 1, max: 4 }),
      cancelTimeoutMs: fc.integer({ min: 1, max: 5_000 }),
      parentRef: fc.constant(parentStub),
    },
    { requiredKeys: ['clientId', 'taskId', 'messageId', 'serviceName', 'operation', 'params', 'ackTimeoutMs', 'assignAttemptsMax', 'cancelTimeoutMs', 'parentRef'] },
  ),
  events: fc.oneof(
    { weight: 6, arbitrary: providerMessage.map((message) => ({ type: 'task.message', message })) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.constantFrom<EventObject>({ type: 'task.cancel' }, { type: 'connection.down' }, { type: 'connection.lost' }),
        fc.boolean().map((reconnected) => ({ type: 'connection.up', reconnected })),
      ),
    },
    { weight: 1, arbitrary: unknownEvent },
  ),
};

export const engineCases: Record<string, EquivalenceCase<unknown>> = {
  providerTask: providerTaskCase,
  clientTask: clientTaskCase,
};

