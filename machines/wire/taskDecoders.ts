/**
 * Strict hand-written decoders for the hot task messages (AssignTask, Ack, TaskStatusUpdate,
 * TaskResult, TaskFailed, CancelTask, GetStatus, GetResult), for the codec's fast path.
 *
 * Contract: given a JSON-parsed object whose `type` is one of these, return exactly what the zod
 * schema in machines/messages.ts decodes it to (same fields, same values, same key order), or
 * undefined when anything is off, in which case the codec runs zod, which words the error
 * (WIRE-7) or, if this file were ever stricter than the schema, still accepts. So a rejection here
 * can cost time but never change behaviour; an acceptance must be exactly zod's, which
 * specs/codec.fastDecode.properties.spec.ts checks on generated valid and invalid messages.
 *
 * Rules mirrored from the schemas (zod 4): strings by UTF-16 length; ids 1..256; objects are
 * non-null non-array objects, unknown keys dropped, optional keys kept only when present;
 * timestamps are integers or ISO-8601 text of at most 64 characters, in [0000, 9999]; status
 * words case-insensitive, canonical on output; taskParameters a record (copied, `__proto__`
 * dropped) defaulting to {}.
 */
import type { Ack, AssignTask, CancelTask, GetResult, GetStatus, TaskFailed, TaskResult, TaskStatus, TaskStatusUpdate, WireMessage } from '../messages.js';
import { parseTimestamp } from '../timestamp.js';

type Json = Record<string, unknown>;

const TIMESTAMP_MIN_MS = parseTimestamp('0000-01-01T00:00:00Z') as number;
const TIMESTAMP_MAX_MS = parseTimestamp('9999-12-31T23:59:59.999Z') as number;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isId = (value: unknown): value is string => typeof value === 'string' && value.length >= 1 && value.length <= 256;
const isText = (value: unknown, min: number, max: number): value is string =>
  typeof value === 'string' && value.length >= min && value.length <= max;
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isSafeInteger = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value);

function timestampOf(value: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof value === 'number') {
    if (!isSafeInteger(value)) return undefined;
    ms = value;
  } else if (typeof value === 'string' && value.length <= 64) {
    ms = parseTimestamp(value);
    if (ms === undefined || !Number.isSafeInteger(ms)) return undefined;
  } else return undefined;
  return ms >= TIMESTAMP_MIN_MS && ms <= TIMESTAMP_MAX_MS ? ms : undefined;
}

const taskStatusByLowerCase = new Map<string, TaskStatus>(
  (['Queued', 'Processing', 'Completed', 'Failed', 'Cancelled'] as const).map((status) => [status.toLowerCase(), status]),
);

function statusOf(value: unknown): TaskStatus | undefined {
  return typeof value === 'string' && value.length <= 64 ? taskStatusByLowerCase.get(value.toLowerCase()) : undefined;
}

function recordOf(value: unknown): Json | undefined {
  if (!isObject(value)) return undefined;
  const copy: Json = {};
  for (const key of Object.keys(value)) if (key !== '__proto__') copy[key] = value[key];
  return copy;
}

/** The envelope fields, checked; the payload decoder runs only if they pass. */
function envelope<M extends WireMessage>(value: Json, payloadOf: (payload: Json) => M['payload'] | undefined): M | undefined {
  const { messageId, payload } = value;
  if (!isId(messageId) || !isObject(payload)) return undefined;
  const timestamp = timestampOf(value.timestamp);
  if (timestamp === undefined) return undefined;
  const decoded = payloadOf(payload);
  if (decoded === undefined) return undefined;
  return { type: value.type, messageId, timestamp, payload: decoded } as M;
}

function assignTaskPayload(p: Json): AssignTask['payload'] | undefined {
  const { taskId, serviceName, operation, callbackClientId } = p;
  if (!isId(taskId) || !isText(serviceName, 1, 256) || !isText(operation, 1, 256) || !isId(callbackClientId)) return undefined;
  const taskParameters = 'taskParameters' in p ? recordOf(p.taskParameters) : {};
  if (taskParameters === undefined) return undefined;
  const out: Json = { taskId, serviceName, operation, taskParameters, callbackClientId };
  if ('deadlineMs' in p) {
    const deadlineMs = p.deadlineMs;
    if (!isSafeInteger(deadlineMs) || deadlineMs <= 0 || deadlineMs > 604_800_000) return undefined;
    out.deadlineMs = deadlineMs;
  }
  if ('apiKey' in p) {
    if (!isText(p.apiKey, 1, 4096)) return undefined;
    out.apiKey = p.apiKey;
  }
  return out as AssignTask['payload'];
}

function taskRefPayload(p: Json): CancelTask['payload'] | undefined {
  const { taskId, originalClientId } = p;
  return isId(taskId) && isId(originalClientId) ? { taskId, originalClientId } : undefined;
}

/** GetStatus, GetResult: `originalClientId` may be left out (the seed defines no payload, TASK-12). */
function queryRefPayload(p: Json): GetStatus['payload'] | undefined {
  const { taskId } = p;
  if (!isId(taskId)) return undefined;
  if (!('originalClientId' in p)) return { taskId };
  return isId(p.originalClientId) ? { taskId, originalClientId: p.originalClientId } : undefined;
}

function ackPayload(p: Json): Ack['payload'] | undefined {
  const { acknowledgmentId } = p;
  if (!isId(acknowledgmentId)) return undefined;
  const out: { acknowledgmentId: string; taskId?: string; status?: TaskStatus } = { acknowledgmentId };
  if ('taskId' in p) {
    if (!isId(p.taskId)) return undefined;
    out.taskId = p.taskId;
  }
  if ('status' in p) {
    const status = statusOf(p.status);
    if (status === undefined) return undefined;
    out.status = status;
  }
  return out as Ack['payload'];
}

function statusUpdatePayload(p: Json): TaskStatusUpdate['payload'] | undefined {
  const { taskId, progressPercentage } = p;
  const status = statusOf(p.status);
  if (!isId(taskId) || status === undefined || !isNumber(progressPercentage) || progressPercentage < 0 || progressPercentage > 100) return undefined;
  const out: Json = { taskId, status, progressPercentage };
  if ('message' in p) {
    if (!isText(p.message, 0, 4096)) return undefined;
    out.message = p.message;
  }
  if ('estimatedTimeRemainingSeconds' in p) {
    if (!isNumber(p.estimatedTimeRemainingSeconds) || p.estimatedTimeRemainingSeconds < 0) return undefined;
    out.estimatedTimeRemainingSeconds = p.estimatedTimeRemainingSeconds;
  }
  if ('originalClientId' in p) {
    if (!isId(p.originalClientId)) return undefined;
    out.originalClientId = p.originalClientId;
  }
  return out as TaskStatusUpdate['payload'];
}

function resultPayload(p: Json): TaskResult['payload'] | undefined {
  const { taskId } = p;
  if (!isId(taskId) || !('resultData' in p) || !(typeof p.status === 'string' && p.status.length <= 64 && p.status.toLowerCase() === 'completed')) {
    return undefined;
  }
  const out: Json = { taskId, status: 'Completed', resultData: p.resultData };
  if ('originalClientId' in p) {
    if (!isId(p.originalClientId)) return undefined;
    out.originalClientId = p.originalClientId;
  }
  return out as TaskResult['payload'];
}

function failedPayload(p: Json): TaskFailed['payload'] | undefined {
  const { taskId, errorMessage, errorCode } = p;
  const lower = typeof p.status === 'string' && p.status.length <= 64 ? p.status.toLowerCase() : undefined;
  const status = lower === 'failed' ? 'Failed' : lower === 'cancelled' ? 'Cancelled' : undefined;
  if (!isId(taskId) || status === undefined || !isText(errorMessage, 0, 65_536) || !isText(errorCode, 1, 128)) return undefined;
  const out: Json = { taskId, status, errorMessage, errorCode };
  if ('details' in p) {
    if (!isText(p.details, 0, 65_536)) return undefined;
    out.details = p.details;
  }
  if ('errorId' in p) {
    if (!isId(p.errorId)) return undefined;
    out.errorId = p.errorId;
  }
  if ('originalClientId' in p) {
    if (!isId(p.originalClientId)) return undefined;
    out.originalClientId = p.originalClientId;
  }
  return out as TaskFailed['payload'];
}

const decoders: Readonly<Record<string, (value: Json) => WireMessage | undefined>> = {
  AssignTask: (value) => envelope<AssignTask>(value, assignTaskPayload),
  CancelTask: (value) => envelope<CancelTask>(value, taskRefPayload),
  GetStatus: (value) => envelope<GetStatus>(value, queryRefPayload),
  GetResult: (value) => envelope<GetResult>(value, queryRefPayload),
  Ack: (value) => envelope<Ack>(value, ackPayload),
  TaskStatusUpdate: (value) => envelope<TaskStatusUpdate>(value, statusUpdatePayload),
  TaskResult: (value) => envelope<TaskResult>(value, resultPayload),
  TaskFailed: (value) => envelope<TaskFailed>(value, failedPayload),
};

/** The fast decoding of a hot task message, or undefined (not one of them, or not valid). */
export function decodeTaskMessage(value: Json): WireMessage | undefined {
  const decoder = typeof value.type === 'string' && Object.hasOwn(decoders, value.type) ? decoders[value.type] : undefined;
  return decoder?.(value);
}
