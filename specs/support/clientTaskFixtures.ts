/**
 * Fixtures for the client-side task and connection specs: provider messages in their decoded
 * (internal) shape, and a recording actor to stand in for a parentRef.
 */
import { createActor, fromTransition, type ActorRef, type EventObject } from 'xstate';
import type { Ack, ErrorMessage, TaskFailed, TaskResult, TaskStatus, TaskStatusUpdate } from '../../machines/messages.js';

let messageSeq = 0;
const envelope = () => ({ messageId: `provider-message-${++messageSeq}`, timestamp: 1_751_457_600_000 });

export function ackOf(acknowledgmentId: string, extra: { taskId?: string; status?: TaskStatus } = {}): Ack {
  return { type: 'Ack', ...envelope(), payload: { acknowledgmentId, ...extra } };
}

export function updateOf(
  taskId: string,
  progressPercentage: number,
  status: TaskStatus = 'Processing',
  extra: { message?: string; estimatedTimeRemainingSeconds?: number } = {},
): TaskStatusUpdate {
  return { type: 'TaskStatusUpdate', ...envelope(), payload: { taskId, status, progressPercentage, ...extra } };
}

export function resultOf(taskId: string, resultData: unknown = null): TaskResult {
  return { type: 'TaskResult', ...envelope(), payload: { taskId, status: 'Completed', resultData } };
}

export function failedOf(taskId: string, errorCode: string, status: 'Failed' | 'Cancelled' = 'Failed', details?: string): TaskFailed {
  return {
    type: 'TaskFailed',
    ...envelope(),
    payload: { taskId, status, errorCode, errorMessage: `${errorCode} happened`, ...(details === undefined ? {} : { details }) },
  };
}

export function errorOf(code: string, extra: { taskId?: string; relatesTo?: string } = {}): ErrorMessage {
  return { type: 'Error', ...envelope(), payload: { code, message: `${code} happened`, ...extra } };
}

/** A started actor that records every event sent to it: a parentRef whose inbox a test can read. */
export function recorder<TEvent extends EventObject>(): { ref: ActorRef<any, TEvent>; events: () => readonly TEvent[] } {
  const actor = createActor(fromTransition((events: readonly TEvent[], event: TEvent) => [...events, event], [] as readonly TEvent[])).start();
  return { ref: actor, events: () => actor.getSnapshot().context };
}
