/**
 * What a provider's message says about a task, read liberally, so that a peer written from the
 * seed is understood before it is judged: the seed's envelopes (Ack, TaskStatusUpdate, TaskResult,
 * TaskFailed), switchboard's Error, and the forms seen in the field: a flat
 * `{type: "Status", taskId, taskStatus}` (the seed's sequence diagram says "Status (Processing)"),
 * and un-enveloped replies that name the task (`{taskId, status: "NotReady"}`). Judging the form
 * is the wire checks' business (wire.ts); every other check reads meanings.
 */
import { member, type Frame } from './connection.js';

export type Meaning =
  | { readonly kind: 'ack'; readonly acknowledgmentId: unknown; readonly status: unknown }
  /** A state report: TaskStatusUpdate, or a flat Status. `finished` when its status is a final one. */
  | { readonly kind: 'update'; readonly status: string | undefined; readonly progress: number | undefined; readonly finished: boolean; readonly flat: boolean }
  | { readonly kind: 'result' }
  | { readonly kind: 'failed'; readonly status: unknown; readonly errorCode: unknown }
  /** Error TASK_NOT_FOUND, or a flat Status `Unknown`: the provider does not know the task. */
  | { readonly kind: 'notFound' }
  | { readonly kind: 'error'; readonly code: unknown }
  /** Names the task, but in no form above (an un-enveloped "not ready", say). */
  | { readonly kind: 'other' };

const FINISHED_WORDS = new Set(['completed', 'done', 'failed', 'cancelled', 'canceled', 'finished', 'succeeded', 'success']);

export const isFinishedWord = (status: unknown): boolean => typeof status === 'string' && FINISHED_WORDS.has(status.toLowerCase());

/** The task a message is about: `payload.taskId`, else a top-level `taskId` (flat forms). */
export function taskIdIn(frame: Frame): unknown {
  return member(member(frame.json, 'payload'), 'taskId') ?? member(frame.json, 'taskId');
}

export function meaningOf(frame: Frame): Meaning {
  const type = member(frame.json, 'type');
  const payload = member(frame.json, 'payload');
  const field = (key: string) => member(payload, key);
  switch (type) {
    case 'Ack':
      return { kind: 'ack', acknowledgmentId: field('acknowledgmentId'), status: field('status') };
    case 'TaskStatusUpdate': {
      const status = typeof field('status') === 'string' ? (field('status') as string) : undefined;
      const progress = typeof field('progressPercentage') === 'number' ? (field('progressPercentage') as number) : undefined;
      if (status?.toLowerCase() === 'unknown') return { kind: 'notFound' };
      return { kind: 'update', status, progress, finished: isFinishedWord(status), flat: false };
    }
    case 'TaskResult':
      return { kind: 'result' };
    case 'TaskFailed':
      return { kind: 'failed', status: field('status'), errorCode: field('errorCode') };
    case 'Error':
      return field('code') === 'TASK_NOT_FOUND' ? { kind: 'notFound' } : { kind: 'error', code: field('code') };
    case 'Status': {
      const word = member(frame.json, 'taskStatus') ?? member(frame.json, 'status') ?? field('taskStatus') ?? field('status');
      const status = typeof word === 'string' ? word : undefined;
      if (status?.toLowerCase() === 'unknown') return { kind: 'notFound' };
      const progress = member(frame.json, 'progress') ?? member(frame.json, 'progressPercentage');
      return { kind: 'update', status, progress: typeof progress === 'number' ? progress : undefined, finished: isFinishedWord(status), flat: true };
    }
    default:
      return { kind: 'other' };
  }
}

/** A final message: TaskResult or TaskFailed (the only messages that end a task, TASK-10). */
export const isFinal = (frame: Frame): boolean => {
  const kind = meaningOf(frame).kind;
  return kind === 'result' || kind === 'failed';
};
