/**
 * What a provider message means for one client task, and the drafts a client task sends: pure
 * helpers of machines/clientTask.ts, kept apart so the statechart file stays about states.
 */
import type { ClientTaskInput, TaskFailure } from './clientTask.js';
import { isWellFormedCode } from './errors.js';
import type { Draft, AssignTask, CancelTask, GetResult, GetStatus, ProviderMessage, TaskStatus } from './messages.js';
import type { ProgressReport } from './outcome.js';

/** Error codes that refuse a message for now, not the task: the ack timer re-sends (TASK-3). */
export const transientRefusalCodes: ReadonlySet<string> = new Set(['RATE_LIMITED', 'OVERLOADED']);

/** TaskStatusUpdate statuses that a seed-only provider uses to say the task has finished. */
const finishedStatuses: ReadonlySet<TaskStatus> = new Set<TaskStatus>(['Completed', 'Failed', 'Cancelled']);

export type TaskMessageMeaning =
  /** About another task, or an Ack of another message: nothing to do. */
  | { readonly kind: 'unrelated' }
  /** An Ack of the AssignTask (TASK-2), with the task's state when acknowledged. */
  | { readonly kind: 'acknowledged'; readonly queued: boolean }
  /** A TaskStatusUpdate (TASK-9). `finished`: a seed-style update with a final status (TASK-10). */
  | ({ readonly kind: 'progress'; readonly queued: boolean; readonly finished: boolean } & ProgressReport)
  | { readonly kind: 'completed'; readonly resultData: unknown }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'failed'; readonly error: TaskFailure }
  /** An Error message: never an acknowledgment (TASK-3 notes). */
  | { readonly kind: 'error'; readonly error: TaskFailure };

type TaskIdentity = Pick<ClientTaskInput, 'taskId' | 'messageId'>;

/**
 * A provider's failure report as the application will see it. SEC-12: the code is checked first
 * (shape, length, charset): one that is not well-formed (`constructor`, 200 characters, control
 * characters) becomes INVALID_MESSAGE, naming the offending code (escaped, shortened) in details.
 */
function failure(code: string, message: string, details: string | undefined, errorId: string | undefined): TaskFailure {
  if (!isWellFormedCode(code)) {
    return { code: 'INVALID_MESSAGE', message: 'The provider reported a failure with a malformed error code.', details: `errorCode ${JSON.stringify(String(code).slice(0, 64))}` };
  }
  return { code, message, ...(details === undefined ? {} : { details }), ...(errorId === undefined ? {} : { errorId }) };
}

/** Reads a provider message from the point of view of the task `task`. */
export function meaningOf(message: ProviderMessage, task: TaskIdentity): TaskMessageMeaning {
  switch (message.type) {
    case 'Ack': {
      const { taskId, acknowledgmentId, status } = message.payload;
      const ours = taskId === undefined ? acknowledgmentId === task.messageId : taskId === task.taskId;
      return ours ? { kind: 'acknowledged', queued: status === 'Queued' } : { kind: 'unrelated' };
    }
    case 'TaskStatusUpdate': {
      const { taskId, status, progressPercentage, message: note, estimatedTimeRemainingSeconds } = message.payload;
      if (taskId !== task.taskId) return { kind: 'unrelated' };
      return {
        kind: 'progress',
        queued: status === 'Queued',
        finished: finishedStatuses.has(status),
        progressPercentage,
        message: note,
        estimatedTimeRemainingSeconds,
      };
    }
    case 'TaskResult':
      return message.payload.taskId === task.taskId
        ? { kind: 'completed', resultData: message.payload.resultData }
        : { kind: 'unrelated' };
    case 'TaskFailed': {
      const { taskId, status, errorCode, errorMessage, details, errorId } = message.payload;
      if (taskId !== task.taskId) return { kind: 'unrelated' };
      if (status === 'Cancelled' || errorCode === 'CANCELLED') return { kind: 'cancelled' };
      return { kind: 'failed', error: failure(errorCode, errorMessage, details, errorId) };
    }
    case 'Error': {
      const { taskId, code, message: text, details, errorId } = message.payload;
      if (taskId !== undefined && taskId !== task.taskId) return { kind: 'unrelated' };
      return { kind: 'error', error: failure(code, text, details, errorId) };
    }
    default:
      // Events messages (EVT-2) are about subscriptions, never about a task.
      return { kind: 'unrelated' };
  }
}

export function assignDraft(task: ClientTaskInput): Draft<AssignTask> {
  return {
    type: 'AssignTask',
    messageId: task.messageId,
    payload: {
      taskId: task.taskId,
      serviceName: task.serviceName,
      operation: task.operation,
      taskParameters: task.params,
      callbackClientId: task.clientId,
      ...(task.deadlineMs === undefined ? {} : { deadlineMs: task.deadlineMs }),
    },
  };
}

export function cancelDraft(task: Pick<ClientTaskInput, 'taskId' | 'clientId'>): Draft<CancelTask> {
  return { type: 'CancelTask', payload: { taskId: task.taskId, originalClientId: task.clientId } };
}

export function getResultDraft(task: Pick<ClientTaskInput, 'taskId' | 'clientId'>): Draft<GetResult> {
  return { type: 'GetResult', payload: { taskId: task.taskId, originalClientId: task.clientId } };
}

/** The seed's "GetStatus (Periodic)": asked when a provider has said nothing about the task for a while. */
export function getStatusDraft(task: Pick<ClientTaskInput, 'taskId' | 'clientId'>): Draft<GetStatus> {
  return { type: 'GetStatus', payload: { taskId: task.taskId, originalClientId: task.clientId } };
}
