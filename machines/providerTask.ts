/**
 * A task at the provider (TASK-9..11, 14, 15): `assigned -> processing -> completed | failed |
 * cancelled`. The handler (the service's operation) is an invoked placeholder the runtime
 * provides; stopping it (on cancel or deadline) aborts its AbortSignal. Progress never decreases.
 * Members of the provider's task registry: created when the task is accepted, so a queued task
 * waits in `assigned` (where its deadline already runs, TASK-14) until the registry starts it.
 */
import { assign, enqueueActions, sendTo, setup, type ActorRef, type CallbackActorLogic, type Snapshot } from 'xstate';
import { errorIdOf, internalFailure, isWellFormedCode } from './errors.js';
import type { ProgressReport, TaskFailure, TaskOutcome } from './outcome.js';
import { placeholder } from './placeholder.js';

export interface HandlerInput {
  readonly clientId: string;
  readonly taskId: string;
  readonly serviceName: string;
  readonly operation: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** What a handler reports (sendBack) while it runs. */
export type HandlerEvent =
  | ({ readonly type: 'handler.progress' } & ProgressReport)
  | { readonly type: 'handler.done'; readonly resultData: unknown }
  | { readonly type: 'handler.failed'; readonly error: TaskFailure };

export type HandlerLogic = CallbackActorLogic<HandlerEvent, HandlerInput>;

export type ProviderTaskToParentEvent =
  | { readonly type: 'task.started'; readonly clientId: string; readonly taskId: string }
  | ({ readonly type: 'task.progressed'; readonly clientId: string; readonly taskId: string } & ProgressReport)
  | { readonly type: 'task.settled'; readonly clientId: string; readonly taskId: string; readonly outcome: TaskOutcome };

export interface ProviderTaskInput extends HandlerInput {
  /** Overall deadline from assignment, in ms (TASK-14); none when absent. */
  readonly deadlineMs?: number | undefined;
  readonly parentRef: ActorRef<Snapshot<unknown>, ProviderTaskToParentEvent>;
}

export type ProviderTaskEvent =
  | { readonly type: 'task.start' }
  | { readonly type: 'task.cancel' }
  /** Internal: raised by the task itself when its deadline passes (TASK-14). */
  | { readonly type: 'task.deadline' }
  /** SEC-21: the runtime's supervisor caught an unexpected error in this task: it fails INTERNAL_ERROR. */
  | { readonly type: 'task.fault'; readonly errorId: string }
  | HandlerEvent;

interface ProviderTaskContext extends ProviderTaskInput {
  readonly progressPercentage: number;
  /** Set on the transition into a final state; the final states report it. */
  readonly outcome: TaskOutcome | undefined;
}

/** 2^31-1 ms is the largest delay a real clock accepts (the wire allows at most 7 days). */
const DEADLINE_MS_MAX = 2_147_483_647;

/**
 * TASK-15: what a handler threw, as a failure: its own code (and message) when it carries a
 * well-formed one; anything else is INTERNAL_ERROR with a generic message (SEC-11: an error's own
 * text may hold secrets), keeping the errorId the runtime logged the cause with, if any.
 */
export function failureFromThrown(thrown: unknown): TaskFailure {
  const { code, message, details } = (typeof thrown === 'object' && thrown !== null ? thrown : {}) as Record<string, unknown>;
  if (!isWellFormedCode(code) || code === 'INTERNAL_ERROR') return internalFailure(errorIdOf(thrown));
  return {
    code,
    message: typeof message === 'string' ? message.slice(0, 65_536) : code,
    ...(typeof details === 'string' ? { details: details.slice(0, 65_536) } : {}),
  };
}

const settle = (outcome: (event: ProviderTaskEvent) => TaskOutcome) =>
  assign<ProviderTaskContext, ProviderTaskEvent, undefined, ProviderTaskEvent, never>({
    outcome: ({ event }) => outcome(event),
  });

export const providerTaskMachine = setup({
  types: {
    input: {} as ProviderTaskInput,
    context: {} as ProviderTaskContext,
    events: {} as ProviderTaskEvent,
    output: {} as TaskOutcome,
  },
  actors: { handler: placeholder<HandlerLogic>('handler') },
  delays: {
    deadlineMs: ({ context }) => Math.min(context.deadlineMs ?? DEADLINE_MS_MAX, DEADLINE_MS_MAX),
  },
  actions: {
    // TASK-14: only a task with a deadline schedules a timer (none at all without one).
    scheduleDeadline: enqueueActions(({ context, enqueue }) => {
      if (context.deadlineMs !== undefined) enqueue.raise({ type: 'task.deadline' }, { id: 'deadline', delay: 'deadlineMs' });
    }),
    reportStarted: sendTo(
      ({ context }) => context.parentRef,
      ({ context }) => ({ type: 'task.started' as const, clientId: context.clientId, taskId: context.taskId }),
    ),
    raiseProgress: assign({
      // TASK-9: clamp to [0, 100] and never below what was already reported.
      progressPercentage: ({ context, event }) =>
        event.type === 'handler.progress'
          ? Math.max(context.progressPercentage, Math.min(100, Math.max(0, event.progressPercentage || 0)))
          : context.progressPercentage,
    }),
    reportProgress: sendTo(
      ({ context }) => context.parentRef,
      ({ context, event }) => ({
        type: 'task.progressed' as const,
        clientId: context.clientId,
        taskId: context.taskId,
        progressPercentage: context.progressPercentage,
        message: event.type === 'handler.progress' ? event.message : undefined,
        estimatedTimeRemainingSeconds: event.type === 'handler.progress' ? event.estimatedTimeRemainingSeconds : undefined,
      }),
    ),
    reportSettled: sendTo(
      ({ context }) => context.parentRef,
      ({ context }) => ({
        type: 'task.settled' as const,
        clientId: context.clientId,
        taskId: context.taskId,
        outcome: context.outcome as TaskOutcome,
      }),
    ),
  },
}).createMachine({
  id: 'providerTask',
  context: ({ input }) => ({ ...input, progressPercentage: 0, outcome: undefined }),
  initial: 'assigned',
  // TASK-14: the deadline runs from assignment (acceptance), in every non-final state.
  entry: 'scheduleDeadline',
  on: {
    'task.deadline': {
      target: '.failed',
      actions: settle(() => ({ status: 'Failed', error: { code: 'TIMEOUT', message: 'The task deadline passed.' } })),
    },
    'task.fault': {
      target: '.failed',
      actions: settle((event) => ({ status: 'Failed', error: internalFailure(event.type === 'task.fault' ? event.errorId : undefined) })),
    },
  },
  states: {
    assigned: {
      on: {
        'task.start': 'processing',
        'task.cancel': { target: 'cancelled', actions: settle(() => ({ status: 'Cancelled' })) },
      },
    },
    processing: {
      entry: 'reportStarted',
      invoke: {
        id: 'handler',
        src: 'handler',
        input: ({ context }) => ({
          clientId: context.clientId,
          taskId: context.taskId,
          serviceName: context.serviceName,
          operation: context.operation,
          params: context.params,
        }),
        // TASK-15: a handler that throws (or was never provided) fails the task; it must not
        // take the task actor down with it, or the task would never send its final message.
        onError: {
          target: 'failed',
          actions: assign({ outcome: ({ event }) => ({ status: 'Failed' as const, error: failureFromThrown(event.error) }) }),
        },
      },
      on: {
        'handler.progress': { actions: ['raiseProgress', 'reportProgress'] },
        'handler.done': {
          target: 'completed',
          actions: settle((event) => ({
            status: 'Completed',
            resultData: event.type === 'handler.done' ? event.resultData : undefined,
          })),
        },
        'handler.failed': {
          target: 'failed',
          actions: settle((event) => ({
            status: 'Failed',
            error: event.type === 'handler.failed' ? event.error : { code: 'INTERNAL_ERROR', message: 'unknown' },
          })),
        },
        // TASK-11: leaving `processing` stops the handler actor, which aborts its signal.
        'task.cancel': { target: 'cancelled', actions: settle(() => ({ status: 'Cancelled' })) },
      },
    },
    completed: { type: 'final', entry: 'reportSettled' },
    failed: { type: 'final', entry: 'reportSettled' },
    cancelled: { type: 'final', entry: 'reportSettled' },
  },
  output: ({ context }) => context.outcome as TaskOutcome,
});
