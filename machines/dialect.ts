/**
 * The forms real peers built from the seed send, read as what they mean (docs/protocol.md,
 * "Dialects seen in the field"). The seed's sequence diagram answers AssignTask and GetStatus with
 * "Status (Processing)" and "Status (Completed)"; peers write that as a flat
 * `{type: "Status", taskId, taskStatus: "Processing" | "Done" | "Unknown", ...}` message without
 * envelope, and answer GetResult before the end with an un-enveloped `{taskId, status: "NotReady"}`.
 *
 * `fromDialect` turns such an object into the envelope it stands for, before schema decoding:
 * - a status the task is still in (Processing, Running, NotReady, ...) or waiting in (Queued,
 *   Pending) -> TaskStatusUpdate with that status and the progress given (0 when none);
 * - a status saying the task ended (Done, Completed, Failed, Cancelled, ...) -> TaskStatusUpdate
 *   with the seed's word for it: a final status in an update, which makes a client ask GetResult
 *   (TASK-10);
 * - Unknown (NotFound) -> Error TASK_NOT_FOUND about the task.
 * What it cannot read as a status report is left alone (and fails decoding as before).
 * Pure: a missing messageId becomes `dialect:<taskId>` (cut to an Id's 256 characters), a missing timestamp epoch 0.
 */
import type { TaskStatus } from './messages.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Status words seen in the field, lower-cased without spaces, dashes or underscores. */
const WORDS: Readonly<Record<string, TaskStatus | 'Unknown'>> = {
  processing: 'Processing',
  running: 'Processing',
  inprogress: 'Processing',
  started: 'Processing',
  accepted: 'Processing',
  notready: 'Processing',
  busy: 'Processing',
  queued: 'Queued',
  pending: 'Queued',
  waiting: 'Queued',
  done: 'Completed',
  completed: 'Completed',
  complete: 'Completed',
  finished: 'Completed',
  success: 'Completed',
  succeeded: 'Completed',
  ready: 'Completed',
  failed: 'Failed',
  failure: 'Failed',
  error: 'Failed',
  cancelled: 'Cancelled',
  canceled: 'Cancelled',
  unknown: 'Unknown',
  notfound: 'Unknown',
};

/** The task status a word of a dialect means; undefined when it is not one. */
export function statusOfWord(word: unknown): TaskStatus | 'Unknown' | undefined {
  if (typeof word !== 'string' || word.length > 64) return undefined;
  return WORDS[word.toLowerCase().replace(/[\s_-]/g, '')];
}

const isId = (value: unknown): value is string => typeof value === 'string' && value.length >= 1 && value.length <= 256;

/** Where a flat message keeps its fields: at the top, or in a payload. */
function field(value: Json, key: string): unknown {
  return value[key] ?? (isObject(value.payload) ? value.payload[key] : undefined);
}

/**
 * The envelope a dialect form stands for, or undefined when `value` is not one: a `Status`
 * message, or an object without `type` that names a task and a status.
 */
export function fromDialect(value: Json): Json | undefined {
  const flat = value.type === 'Status' || (value.type === undefined && value.payload === undefined);
  if (!flat) return undefined;
  const taskId = field(value, 'taskId');
  const status = statusOfWord(field(value, 'taskStatus') ?? field(value, 'status'));
  if (!isId(taskId) || status === undefined) return undefined;
  // An Id is at most 256 characters: the made-up one must be one too.
  const messageId = isId(value.messageId) ? value.messageId : `dialect:${taskId.slice(0, 256 - 'dialect:'.length)}`;
  const timestamp = typeof value.timestamp === 'string' || typeof value.timestamp === 'number' ? value.timestamp : 0;
  if (status === 'Unknown') {
    return { type: 'Error', messageId, timestamp, payload: { code: 'TASK_NOT_FOUND', message: 'the provider does not know the task (it answered "Unknown")', taskId } };
  }
  const progress = field(value, 'progressPercentage') ?? field(value, 'progress');
  const message = field(value, 'message');
  const percentage = typeof progress === 'number' && Number.isFinite(progress) ? Math.min(100, Math.max(0, progress)) : status === 'Completed' ? 100 : 0;
  return {
    type: 'TaskStatusUpdate',
    messageId,
    timestamp,
    payload: { taskId, status, progressPercentage: percentage, ...(typeof message === 'string' ? { message: message.slice(0, 4_096) } : {}) },
  };
}

// ---- writing: the `flat-status` compat profile (docs/protocol.md, "The compat profile") -------

/** How a flat Status names a task state: the words field peers use (Done for Completed). */
const FLAT_WORDS: Readonly<Record<TaskStatus, string>> = {
  Queued: 'Queued',
  Processing: 'Processing',
  Completed: 'Done',
  Failed: 'Failed',
  Cancelled: 'Cancelled',
};

/** What a provider draft looks like on the wire when this converts it: no envelope, no messageId. */
export interface FlatStatus {
  readonly type: 'Status';
  readonly taskId: string;
  readonly taskStatus: string;
  readonly progress?: number;
  readonly message?: string;
}

/**
 * A provider's answer about a task as a peer built from the seed reads it (the `flat-status`
 * compat profile): an Ack of a task, a TaskStatusUpdate, and an Error TASK_NOT_FOUND about a task
 * become `{type: "Status", taskId, taskStatus}` (Processing, Queued, Done, Failed, Cancelled,
 * Unknown). Anything else (the final messages in the seed's form, other errors) is undefined:
 * sent as it is.
 */
export function toFlatStatus(draft: { readonly type: string; readonly payload: unknown }): FlatStatus | undefined {
  const payload = isObject(draft.payload) ? draft.payload : {};
  const taskId = payload.taskId;
  if (!isId(taskId)) return undefined;
  switch (draft.type) {
    case 'Ack':
      return { type: 'Status', taskId, taskStatus: payload.status === 'Queued' ? 'Queued' : 'Processing' };
    case 'TaskStatusUpdate': {
      const word = FLAT_WORDS[payload.status as TaskStatus] ?? 'Processing';
      const progress = typeof payload.progressPercentage === 'number' ? payload.progressPercentage : undefined;
      return {
        type: 'Status',
        taskId,
        taskStatus: word,
        ...(progress === undefined ? {} : { progress }),
        ...(typeof payload.message === 'string' ? { message: payload.message } : {}),
      };
    }
    case 'Error':
      return payload.code === 'TASK_NOT_FOUND' ? { type: 'Status', taskId, taskStatus: 'Unknown' } : undefined;
    default:
      return undefined;
  }
}
