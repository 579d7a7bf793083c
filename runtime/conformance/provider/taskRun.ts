/**
 * Helpers the task checks share: assign a task on a connection, pick out the frames about it
 * (by its taskId, or by the AssignTask's messageId for Ack and Error), wait for its first answer
 * or its final message, compare final messages, and describe frames in evidence.
 */
import { v4 as uuid } from 'uuid';
import { encodeFrame, stampFrame } from '../../../machines/codec.js';
import { member, payloadField, typeOf, type Frame, type ProbeConnection } from './connection.js';
import { isFinal, meaningOf, taskIdIn } from './meaning.js';
import type { TaskChoice } from './options.js';
import type { ProviderProbe, Selection } from './probe.js';

export interface TaskRun {
  readonly taskId: string;
  readonly messageId: string;
  readonly clientId: string;
  readonly sentAt: number;
  /** The exact text sent, so a duplicate is byte for byte the same message. */
  readonly text: string;
  readonly connection: ProbeConnection;
}

export interface AssignOverrides {
  readonly taskId?: string;
  readonly clientId?: string;
  readonly serviceName?: string;
  /** Rewrites the wire form before it is sent (the seed's exact forms, fields left out, ...). */
  readonly shape?: (wire: Record<string, unknown>) => Record<string, unknown>;
}

/** Sends an AssignTask for `choice` and returns the run's handle. */
export function assign(connection: ProbeConnection, probe: ProviderProbe, selection: Selection, choice: TaskChoice, overrides: AssignOverrides = {}): TaskRun {
  const taskId = overrides.taskId ?? `conformance-task-${uuid()}`;
  const clientId = overrides.clientId ?? probe.clientId;
  const message = stampFrame(
    {
      type: 'AssignTask',
      messageId: `conformance-assign-${uuid()}`,
      payload: {
        taskId,
        serviceName: overrides.serviceName ?? selection.serviceName,
        operation: choice.operation,
        taskParameters: { ...choice.params },
        callbackClientId: clientId,
      },
    },
    { nowMs: Date.now, newId: uuid },
  );
  const text = overrides.shape === undefined ? encodeFrame(message) : JSON.stringify(overrides.shape(JSON.parse(encodeFrame(message)) as Record<string, unknown>));
  connection.sendRaw(text);
  return { taskId, messageId: message.messageId, clientId, sentAt: Date.now(), text, connection };
}

/** Re-sends exactly the same AssignTask text (a client's retry, TASK-3 / WIRE-10), on its connection or another. */
export function resend(run: TaskRun, on: ProbeConnection = run.connection): void {
  on.sendRaw(run.text);
}

/** Is this frame about the task: its taskId, or an Ack/Error citing one of `messageIds`? */
export function isAbout(frame: Frame, taskId: string, messageIds: readonly string[] = []): boolean {
  if (taskIdIn(frame) === taskId) return true;
  const type = typeOf(frame);
  if (type === 'Ack') return messageIds.includes(payloadField(frame, 'acknowledgmentId') as string);
  if (type === 'Error') return messageIds.includes(payloadField(frame, 'relatesTo') as string);
  return false;
}

export const framesOf = (run: TaskRun, from = 0, on: ProbeConnection = run.connection): Frame[] =>
  on.frames.slice(from).filter((frame) => isAbout(frame, run.taskId, [run.messageId]));

export function firstAnswer(run: TaskRun, timeoutMs: number): Promise<Frame | undefined> {
  return run.connection.next((frame) => isAbout(frame, run.taskId, [run.messageId]), timeoutMs);
}

/** The first final message about the task pushed on its connection (no query sent). */
export function finalOf(run: TaskRun, timeoutMs: number, from = 0, on: ProbeConnection = run.connection): Promise<Frame | undefined> {
  return on.next((frame) => isFinal(frame) && taskIdIn(frame) === run.taskId, timeoutMs, from);
}

/** JSON with object keys sorted, so equal values compare equal whatever the member order. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

/** The part of a final message that must not change when it is repeated (TASK-10). */
export function finalKey(frame: Frame): string {
  return stableJson({
    type: typeOf(frame),
    taskId: payloadField(frame, 'taskId'),
    status: payloadField(frame, 'status'),
    resultData: payloadField(frame, 'resultData'),
    errorCode: payloadField(frame, 'errorCode'),
  });
}

export const sameFinal = (a: Frame, b: Frame): boolean => finalKey(a) === finalKey(b);

export const short = (text: string, max = 120): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** `TaskStatusUpdate Processing 40%`, `TaskFailed Cancelled CANCELLED`, `Ack of m1 (Processing)`, ... */
export function describe(frame: Frame | undefined): string {
  if (frame === undefined) return 'nothing';
  if (frame.json === undefined) return `unparsable text ${JSON.stringify(short(frame.text, 60))}`;
  const type = typeOf(frame);
  const field = (key: string) => payloadField(frame, key);
  switch (type) {
    case 'Ack':
      return `Ack (acknowledgmentId ${String(field('acknowledgmentId'))}${field('taskId') === undefined ? '' : `, taskId ${String(field('taskId'))}`}${field('status') === undefined ? '' : `, status ${String(field('status'))}`})`;
    case 'TaskStatusUpdate':
      return `TaskStatusUpdate ${String(field('status'))} ${String(field('progressPercentage'))}%`;
    case 'TaskResult':
      return `TaskResult ${String(field('status'))} ${short(stableJson(field('resultData')), 60)}`;
    case 'TaskFailed':
      return `TaskFailed ${String(field('status'))} ${String(field('errorCode'))}: ${short(String(field('errorMessage')), 60)}`;
    case 'Error':
      return `Error ${String(field('code'))}: ${short(String(field('message')), 60)}`;
    case 'Status': {
      const meaning = meaningOf(frame);
      return `flat Status ${meaning.kind === 'update' ? String(meaning.status) : meaning.kind === 'notFound' ? 'Unknown' : '?'} ${short(frame.text, 80)}`;
    }
    default:
      return `${typeof type === 'string' ? type : 'un-enveloped'} ${short(frame.text, 80)}`;
  }
}

export const describeAll = (frames: readonly Frame[], max = 8): string =>
  frames.length === 0
    ? 'nothing'
    : `${frames.slice(0, max).map(describe).join('; ')}${frames.length > max ? `; … (${frames.length - max} more)` : ''}`;

export const after = (run: TaskRun, frame: Frame): string => `${frame.at - run.sentAt} ms`;

/** A hint for evidence when the provider refused us for want of authentication. */
export function unauthenticatedHint(frame: Frame | undefined): string {
  const code = frame === undefined ? undefined : (payloadField(frame, 'code') ?? payloadField(frame, 'errorCode'));
  return code === 'UNAUTHENTICATED' ? ' (the provider requires authentication: pass --token)' : '';
}

/** Whether a final message is the one the test task must end with (selection.expected). */
export function isExpectedFinal(selection: Selection, frame: Frame): boolean {
  const meaning = meaningOf(frame);
  if (selection.expected.type === 'TaskResult') return meaning.kind === 'result';
  return meaning.kind === 'failed' && meaning.errorCode === selection.expected.errorCode;
}

export const describeExpected = (selection: Selection): string =>
  selection.expected.type === 'TaskResult' ? 'TaskResult' : `TaskFailed ${selection.expected.errorCode} (what the chosen operation ends with here)`;

export { member };
