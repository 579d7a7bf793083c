/**
 * The provider's answers about a task, as pure functions of the ledger record (TASK-2, 4, 10..12).
 */
import type { ErrorCode } from './errors.js';
import { ERROR_CODES } from './errors.js';
import type { CancelTask, GetResult, GetStatus, ProviderDraft } from './messages.js';
import { cancelledFailure, type TaskOutcome } from './outcome.js';
import type { TaskRecord } from './taskLedger.js';

/** TASK-2: Ack { acknowledgmentId, taskId, status } for an accepted (or duplicate) AssignTask. */
export function ackFor(acknowledgmentId: string, record: TaskRecord): ProviderDraft {
  return { type: 'Ack', payload: { acknowledgmentId, taskId: record.taskId, status: record.state } };
}

export function taskFailed(
  clientId: string,
  taskId: string,
  code: string,
  message: string,
  details?: string,
  errorId?: string,
): ProviderDraft {
  return {
    type: 'TaskFailed',
    payload: {
      taskId,
      status: code === 'CANCELLED' ? 'Cancelled' : 'Failed',
      errorMessage: message,
      errorCode: code,
      ...(details === undefined ? {} : { details }),
      ...(errorId === undefined ? {} : { errorId }),
      originalClientId: clientId,
    },
  };
}

/** The final message for an outcome: TaskResult, or TaskFailed (Cancelled ends as CANCELLED). */
export function finalFor(record: TaskRecord, outcome: TaskOutcome): ProviderDraft {
  switch (outcome.status) {
    case 'Completed':
      return {
        type: 'TaskResult',
        // resultData is required on the wire: `null` when the handler had none (undefined would vanish).
        payload: { taskId: record.taskId, status: 'Completed', resultData: outcome.resultData ?? null, originalClientId: record.clientId },
      };
    case 'Failed':
      return taskFailed(record.clientId, record.taskId, outcome.error.code, outcome.error.message, outcome.error.details, outcome.error.errorId);
    case 'Cancelled':
      return taskFailed(record.clientId, record.taskId, cancelledFailure.code, cancelledFailure.message);
  }
}

/** Where the task is now: its final message, or a TaskStatusUpdate (TASK-12). */
export function stateMessageFor(record: TaskRecord): ProviderDraft {
  if (record.final) return record.final;
  return {
    type: 'TaskStatusUpdate',
    payload: {
      taskId: record.taskId,
      status: record.state,
      progressPercentage: record.progressPercentage,
      ...(record.message === undefined ? {} : { message: record.message }),
      ...(record.estimatedTimeRemainingSeconds === undefined
        ? {}
        : { estimatedTimeRemainingSeconds: record.estimatedTimeRemainingSeconds }),
      originalClientId: record.clientId,
    },
  };
}

/** A TaskStatusUpdate of the record's state, a finished one's final status included (TASK-10's seed-style update). */
export function statusMessageFor(record: TaskRecord): ProviderDraft {
  const final = record.final;
  if (final === undefined || (final.type !== 'TaskResult' && final.type !== 'TaskFailed')) return stateMessageFor(record);
  return {
    type: 'TaskStatusUpdate',
    payload: { taskId: record.taskId, status: final.payload.status, progressPercentage: final.type === 'TaskResult' ? 100 : record.progressPercentage, originalClientId: record.clientId },
  };
}

/** An Error reply about a task message (e.g. TASK_NOT_FOUND), citing the message it answers. */
export function errorFor(message: CancelTask | GetStatus | GetResult, code: ErrorCode): ProviderDraft {
  return {
    type: 'Error',
    payload: { code, message: ERROR_CODES[code], relatesTo: message.messageId, taskId: message.payload.taskId },
  };
}
