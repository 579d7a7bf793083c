/**
 * One task at the client, from submission to exactly one terminal state (TASK-16).
 *
 * The task talks only to its connection (`parentRef`): it asks it to send drafts (`task.send`;
 * the connection sends them or holds AssignTask and CancelTask in its outbox, CONN-5) and reports
 * acknowledgment, progress and its outcome. The connection routes every provider message about
 * the task here as `task.message` and tells the task when the socket goes down, comes back up or
 * is given up. See docs/protocol.md, "Client-side task".
 *
 * Retries: AssignTask is re-sent with the same messageId every `ackTimeoutMs` until acknowledged,
 * `assignAttemptsMax` sends in all (TASK-3). While the connection is down the ack timer is paused;
 * the connection's outbox re-sends the AssignTask on reconnect, after which the timer restarts.
 */
import { assign, sendTo, setup, type ActorRef } from 'xstate';
import { assignDraft, cancelDraft, getResultDraft, getStatusDraft, meaningOf, transientRefusalCodes, type TaskMessageMeaning } from './clientTaskMessages.js';
import { errorShape } from './errors.js';
import type { ClientDraft, ProviderMessage } from './messages.js';

import type { TaskFailure, TaskOutcome } from './outcome.js';

export type { TaskFailure, TaskOutcome };

export interface ClientTaskInput {
  clientId: string;
  taskId: string;
  /** The AssignTask's messageId, kept across re-sends (WIRE-10). */
  messageId: string;
  serviceName: string;
  operation: string;
  params: Record<string, unknown>;
  /** Overall deadline from submission (TASK-14); no deadline when absent. */
  deadlineMs?: number;
  /** Time to wait for an Ack (or any task message) before re-sending AssignTask. @default 2_000 */
  ackTimeoutMs: number;
  /** Total AssignTask sends, the first included, before failing with TIMEOUT. @default 5 */
  assignAttemptsMax: number;
  /** Time to wait for the provider's answer to CancelTask before cancelling locally. @default 2_000 */
  cancelTimeoutMs: number;
  /**
   * After acceptance, when nothing about the task has come for this long, ask GetStatus (and
   * again every as long): a provider may deliver outcomes only when asked, as in the seed's
   * sequence diagram ("GetStatus (Periodic)"). @default 5_000
   */
  pollIntervalMs?: number;
  /**
   * A task accepted without an Ack (the seed's "Status (Processing)", no push to expect) is first
   * asked after this much silence, then after twice as long each time, up to `pollIntervalMs`.
   * @default 250
   */
  pollFirstMs?: number;
  /** The connection. */
  parentRef: ActorRef<any, ClientTaskToParentEvent>;
}

export const clientTaskDefaults = {
  ackTimeoutMs: 2_000,
  assignAttemptsMax: 5,
  cancelTimeoutMs: 2_000,
  pollIntervalMs: 5_000,
  pollFirstMs: 250,
} as const satisfies Pick<ClientTaskInput, 'ackTimeoutMs' | 'assignAttemptsMax' | 'cancelTimeoutMs' | 'pollIntervalMs' | 'pollFirstMs'>;

export type ClientTaskEvent =
  /** Any provider message about this task (Ack, TaskStatusUpdate, TaskResult, TaskFailed, Error). */
  | { type: 'task.message'; message: ProviderMessage }
  | { type: 'task.cancel' }
  /** The connection is not open: pause ack re-sends. */
  | { type: 'connection.down' }
  /** Open again; `reconnected` is false only for the connection's first open. */
  | { type: 'connection.up'; reconnected: boolean }
  /** The connection gave up (or was closed): fail with CONNECTION_LOST. */
  | { type: 'connection.lost' }
  /** A message about this task could not be understood (decoding failed): the reason. */
  | { type: 'task.unreadable'; reason: string };

export type ClientTaskToParentEvent =
  | { type: 'task.send'; taskId: string; draft: ClientDraft }
  /** The provider has the task (Ack or any task message). */
  | { type: 'task.acknowledged'; taskId: string }
  | {
      type: 'task.progress';
      taskId: string;
      status: 'Queued' | 'Processing';
      progressPercentage: number;
      message?: string;
      estimatedTimeRemainingSeconds?: number;
    }
  | { type: 'task.settled'; taskId: string; outcome: TaskOutcome };

export interface ClientTaskContext extends ClientTaskInput {
  /** AssignTask sends so far, the first included (TASK-3). */
  readonly assignSendsTotal: number;
  /** The highest progress reported so far: reports never go below it (TASK-9). */
  readonly progressPercentage: number;
  /** Set by the transition into a final state. */
  readonly outcome: TaskOutcome | undefined;
  /** Why the last message about the task could not be understood, if one could not. */
  readonly unreadable: string | undefined;
  /** The silence after which GetStatus is asked next (see `pollFirstMs`). */
  readonly pollDelayMs: number;
}

const unrelated: TaskMessageMeaning = { kind: 'unrelated' };

/**
 * What a message means to this task. The guards of one transition ask up to seven times for the
 * same event, so the last answer is kept (a pure function of the message and the task's ids).
 */
let lastMeaning: { message: ProviderMessage; taskId: string; messageId: string; meaning: TaskMessageMeaning } | undefined;
function meaningOfEvent(context: ClientTaskContext, event: ClientTaskEvent): TaskMessageMeaning {
  if (event.type !== 'task.message') return unrelated;
  const last = lastMeaning;
  if (last !== undefined && last.message === event.message && last.taskId === context.taskId && last.messageId === context.messageId) return last.meaning;
  const meaning = meaningOf(event.message, context);
  lastMeaning = { message: event.message, taskId: context.taskId, messageId: context.messageId, meaning };
  return meaning;
}

function outcomeOf(context: ClientTaskContext): TaskOutcome {
  if (context.outcome === undefined) throw new Error(`clientTask ${context.taskId}: final state without an outcome`);
  return context.outcome;
}

const toParent = ({ context }: { context: ClientTaskContext }) => context.parentRef;

const pollIntervalOf = (context: ClientTaskContext): number => context.pollIntervalMs ?? clientTaskDefaults.pollIntervalMs;

export const clientTaskMachine = setup({
  types: {
    context: {} as ClientTaskContext,
    input: {} as ClientTaskInput,
    events: {} as ClientTaskEvent,
    output: {} as TaskOutcome,
  },
  delays: {
    ackTimeoutMs: ({ context }) => context.ackTimeoutMs,
    cancelTimeoutMs: ({ context }) => context.cancelTimeoutMs,
    pollDelayMs: ({ context }) => context.pollDelayMs,
    deadlineMs: ({ context }) => context.deadlineMs ?? 0,
  },
  guards: {
    hasDeadline: ({ context }) => context.deadlineMs !== undefined,
    assignAttemptsLeft: ({ context }) => context.assignSendsTotal < context.assignAttemptsMax,
    reconnected: ({ event }) => event.type === 'connection.up' && event.reconnected,
    isCompleted: ({ context, event }) => meaningOfEvent(context, event).kind === 'completed',
    isCancelled: ({ context, event }) => meaningOfEvent(context, event).kind === 'cancelled',
    isFailed: ({ context, event }) => meaningOfEvent(context, event).kind === 'failed',
    isError: ({ context, event }) => meaningOfEvent(context, event).kind === 'error',
    isTransientRefusal: ({ context, event }) => {
      const meaning = meaningOfEvent(context, event);
      return meaning.kind === 'error' && transientRefusalCodes.has(meaning.error.code);
    },
    isTaskNotFound: ({ context, event }) => {
      const meaning = meaningOfEvent(context, event);
      return meaning.kind === 'error' && meaning.error.code === 'TASK_NOT_FOUND';
    },
    /** Ack or TaskStatusUpdate: the provider has the task (TASK-3). */
    isAcceptance: ({ context, event }) => {
      const kind = meaningOfEvent(context, event).kind;
      return kind === 'acknowledged' || kind === 'progress';
    },
    isQueuedAcceptance: ({ context, event }) => {
      const meaning = meaningOfEvent(context, event);
      return (meaning.kind === 'acknowledged' || meaning.kind === 'progress') && meaning.queued;
    },
    isQueuedProgress: ({ context, event }) => {
      const meaning = meaningOfEvent(context, event);
      return meaning.kind === 'progress' && meaning.queued;
    },
    isRunningProgress: ({ context, event }) => {
      const meaning = meaningOfEvent(context, event);
      return meaning.kind === 'progress' && !meaning.queued;
    },
    /** An Ack, or an Error that does not end the task: the provider is there (resets the poll timer). */
    isNewsOfRunningTask: ({ context, event }) => {
      const meaning = meaningOfEvent(context, event);
      return meaning.kind === 'acknowledged' || (meaning.kind === 'error' && meaning.error.code !== 'TASK_NOT_FOUND');
    },
    isFinishedProgress: ({ context, event }) => {
      const meaning = meaningOfEvent(context, event);
      return meaning.kind === 'progress' && meaning.finished;
    },
  },
  actions: {
    countAssignSend: assign({ assignSendsTotal: ({ context }) => context.assignSendsTotal + 1 }),
    sendAssign: sendTo(toParent, ({ context }) => ({ type: 'task.send', taskId: context.taskId, draft: assignDraft(context) })),
    sendCancel: sendTo(toParent, ({ context }) => ({ type: 'task.send', taskId: context.taskId, draft: cancelDraft(context) })),
    askResult: sendTo(toParent, ({ context }) => ({ type: 'task.send', taskId: context.taskId, draft: getResultDraft(context) })),
    askStatus: sendTo(toParent, ({ context }) => ({ type: 'task.send', taskId: context.taskId, draft: getStatusDraft(context) })),
    /**
     * Acknowledged with an Ack: the provider pushes (TASK-10), a poll only covers a silence of
     * `pollIntervalMs`. Accepted by a status instead: maybe the seed's pull flow, so ask soon.
     */
    choosePolling: assign({
      pollDelayMs: ({ context, event }) => (meaningOfEvent(context, event).kind === 'acknowledged' ? pollIntervalOf(context) : Math.min(context.pollFirstMs ?? clientTaskDefaults.pollFirstMs, pollIntervalOf(context))),
    }),
    pollLater: assign({ pollDelayMs: ({ context }) => Math.min(context.pollDelayMs * 2, pollIntervalOf(context)) }),
    noteUnreadable: assign({ unreadable: ({ event }) => (event.type === 'task.unreadable' ? event.reason : undefined) }),
    /** TASK-3: no Ack within the sends allowed; "not understood" when answers came that could not be read. */
    failUnanswered: assign({
      outcome: ({ context }): TaskOutcome => ({
        status: 'Failed',
        error: errorShape('TIMEOUT', context.unreadable === undefined ? 'AssignTask was not acknowledged' : `answer not understood: ${context.unreadable}`),
      }),
    }),
    acknowledge: sendTo(toParent, ({ context }) => ({ type: 'task.acknowledged', taskId: context.taskId })),
    /** TASK-9: a lower value is raised to the last one reported. */
    recordProgress: assign({
      progressPercentage: ({ context, event }) => {
        const meaning = meaningOfEvent(context, event);
        return meaning.kind === 'progress' ? Math.max(context.progressPercentage, meaning.progressPercentage) : context.progressPercentage;
      },
    }),
    reportProgress: sendTo(toParent, ({ context, event }, params: { status: 'Queued' | 'Processing' }) => {
      const meaning = meaningOfEvent(context, event);
      const note = meaning.kind === 'progress' ? meaning : undefined;
      return {
        type: 'task.progress' as const,
        taskId: context.taskId,
        status: params.status,
        progressPercentage: context.progressPercentage,
        ...(note?.message === undefined ? {} : { message: note.message }),
        ...(note?.estimatedTimeRemainingSeconds === undefined ? {} : { estimatedTimeRemainingSeconds: note.estimatedTimeRemainingSeconds }),
      };
    }),
    fail: assign({ outcome: (_, params: TaskFailure): TaskOutcome => ({ status: 'Failed', error: params }) }),
    /** The outcome a TaskResult, TaskFailed or Error decides. */
    concludeFromMessage: assign({
      outcome: ({ context, event }): TaskOutcome => {
        const meaning = meaningOfEvent(context, event);
        if (meaning.kind === 'completed') return { status: 'Completed', resultData: meaning.resultData };
        if (meaning.kind === 'failed' || meaning.kind === 'error') return { status: 'Failed', error: meaning.error };
        return { status: 'Cancelled' };
      },
    }),
    concludeCancelled: assign({ outcome: (): TaskOutcome => ({ status: 'Cancelled' }) }),
    settle: sendTo(toParent, ({ context }) => ({ type: 'task.settled', taskId: context.taskId, outcome: outcomeOf(context) })),
  },
}).createMachine({
  id: 'clientTask',
  // Written out, not `{ ...input, assignSendsTotal: 0, ... }`: on Node 20 every key added after
  // a spread costs about a microsecond, and every task starts here.
  context: ({ input }) => ({
    clientId: input.clientId,
    taskId: input.taskId,
    messageId: input.messageId,
    serviceName: input.serviceName,
    operation: input.operation,
    params: input.params,
    deadlineMs: input.deadlineMs,
    ackTimeoutMs: input.ackTimeoutMs,
    assignAttemptsMax: input.assignAttemptsMax,
    cancelTimeoutMs: input.cancelTimeoutMs,
    pollIntervalMs: input.pollIntervalMs,
    pollFirstMs: input.pollFirstMs,
    parentRef: input.parentRef,
    assignSendsTotal: 0,
    progressPercentage: 0,
    outcome: undefined,
    unreadable: undefined,
    pollDelayMs: input.pollIntervalMs ?? clientTaskDefaults.pollIntervalMs,
  }),
  // The machine's output is the output of the final state it ends in.
  output: ({ event }) => event.output as TaskOutcome,
  initial: 'active',
  states: {
    active: {
      type: 'parallel',
      on: {
        // TASK-10, TASK-16: the first final message decides; the actor is done after it.
        'task.message': [
          { guard: 'isCompleted', target: 'completed', actions: 'concludeFromMessage' },
          { guard: 'isCancelled', target: 'cancelled', actions: 'concludeFromMessage' },
          { guard: 'isFailed', target: 'failed', actions: 'concludeFromMessage' },
        ],
        // CONN-4: the connection gave up.
        'connection.lost': { target: 'failed', actions: { type: 'fail', params: errorShape('CONNECTION_LOST') } },
        'task.unreadable': { actions: 'noteUnreadable' },
      },
      states: {
        lifecycle: {
          initial: 'submitting',
          states: {
            submitting: {
              entry: ['countAssignSend', 'sendAssign'],
              initial: 'awaitingAck',
              on: {
                'task.message': [
                  {
                    guard: 'isFinishedProgress',
                    target: 'accepted.processing',
                    actions: ['acknowledge', 'choosePolling', 'recordProgress', { type: 'reportProgress', params: { status: 'Processing' } }, 'askResult'],
                  },
                  {
                    guard: 'isQueuedAcceptance',
                    target: 'accepted.queued',
                    actions: ['acknowledge', 'choosePolling', 'recordProgress', { type: 'reportProgress', params: { status: 'Queued' } }],
                  },
                  {
                    guard: 'isAcceptance',
                    target: 'accepted.processing',
                    actions: ['acknowledge', 'choosePolling', 'recordProgress', { type: 'reportProgress', params: { status: 'Processing' } }],
                  },
                  // RATE_LIMITED / OVERLOADED refuse this copy, not the task: the ack timer re-sends.
                  { guard: 'isTransientRefusal' },
                  { guard: 'isError', target: '#clientTask.failed', actions: 'concludeFromMessage' },
                ],
                'task.cancel': 'cancelling',
              },
              states: {
                awaitingAck: {
                  after: {
                    ackTimeoutMs: [
                      // TASK-3: same messageId and taskId.
                      { guard: 'assignAttemptsLeft', target: 'awaitingAck', reenter: true, actions: ['countAssignSend', 'sendAssign'] },
                      { target: '#clientTask.failed', actions: 'failUnanswered' },
                    ],
                  },
                  on: { 'connection.down': 'paused' },
                },
                // The AssignTask waits in the connection's outbox, which re-sends it when the
                // connection opens (CONN-5); the ack timer then starts afresh.
                paused: { on: { 'connection.up': 'awaitingAck' } },
              },
            },
            accepted: {
              initial: 'processing',
              on: {
                // The provider lost the task (a restart): nothing will ever come.
                'task.message': { guard: 'isTaskNotFound', target: '#clientTask.failed', actions: 'concludeFromMessage' },
                'task.cancel': 'cancelling',
                // CONN-6: fetch an outcome reached while the connection was down.
                'connection.up': { guard: 'reconnected', actions: 'askResult' },
              },
              states: {
                // Every message about the task re-enters its state, so the poll timer counts silence only.
                queued: {
                  after: { pollDelayMs: { target: 'queued', reenter: true, actions: ['askStatus', 'pollLater'] } },
                  on: {
                    'task.message': [
                      {
                        guard: 'isFinishedProgress',
                        target: 'processing',
                        actions: ['recordProgress', { type: 'reportProgress', params: { status: 'Processing' } }, 'askResult'],
                      },
                      { guard: 'isQueuedProgress', target: 'queued', reenter: true, actions: ['recordProgress', { type: 'reportProgress', params: { status: 'Queued' } }] },
                      {
                        guard: 'isAcceptance',
                        target: 'processing',
                        actions: ['recordProgress', { type: 'reportProgress', params: { status: 'Processing' } }],
                      },
                      { guard: 'isNewsOfRunningTask', target: 'queued', reenter: true },
                    ],
                  },
                },
                processing: {
                  after: { pollDelayMs: { target: 'processing', reenter: true, actions: ['askStatus', 'pollLater'] } },
                  on: {
                    'task.message': [
                      {
                        guard: 'isFinishedProgress',
                        target: 'processing',
                        reenter: true,
                        actions: ['recordProgress', { type: 'reportProgress', params: { status: 'Processing' } }, 'askResult'],
                      },
                      {
                        guard: 'isRunningProgress',
                        target: 'processing',
                        reenter: true,
                        actions: ['recordProgress', { type: 'reportProgress', params: { status: 'Processing' } }],
                      },
                      { guard: 'isNewsOfRunningTask', target: 'processing', reenter: true },
                    ],
                  },
                },
              },
            },
            // TASK-11: the provider's answer decides; a TaskResult or TaskFailed that crossed the
            // CancelTask wins (handled by `active`).
            cancelling: {
              entry: 'sendCancel',
              on: {
                'task.message': [
                  { guard: 'isTaskNotFound', target: '#clientTask.cancelled', actions: 'concludeCancelled' },
                  // A seed-style answer "Status (Cancelled)" (or Completed): the final message says which.
                  { guard: 'isFinishedProgress', actions: 'askResult' },
                ],
              },
              after: { cancelTimeoutMs: { target: '#clientTask.cancelled', actions: 'concludeCancelled' } },
            },
          },
        },
        // TASK-14: the client's own deadline; no timer at all without deadlineMs.
        deadline: {
          initial: 'choosing',
          states: {
            choosing: { always: [{ guard: 'hasDeadline', target: 'running' }, { target: 'none' }] },
            running: {
              after: {
                deadlineMs: {
                  target: '#clientTask.failed',
                  actions: ['sendCancel', { type: 'fail', params: errorShape('TIMEOUT', 'the task deadline passed') }],
                },
              },
            },
            none: {},
          },
        },
      },
    },
    completed: { type: 'final', entry: 'settle', output: ({ context }) => outcomeOf(context) },
    failed: { type: 'final', entry: 'settle', output: ({ context }) => outcomeOf(context) },
    cancelled: { type: 'final', entry: 'settle', output: ({ context }) => outcomeOf(context) },
  },
});
