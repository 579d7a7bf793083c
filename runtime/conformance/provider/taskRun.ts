/**
 * Helpers the task checks share: assign a task on a connection, pick out the frames about it
 * (by its taskId, or by the AssignTask's messageId for Ack and Error), wait for its first answer
 * or its final message, compare final messages, and describe frames in evidence.
 */
import { v4 as uuid } from 'uuid';
import { encodeFrame, stampFrame } from '../../../machines/codec.js';
import { member, payloadField, typeOf, type Frame, type ProbeConnection } from './connection.js';
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
  const text = encodeFrame(message);
  connection.sendRaw(text);
  return { taskId, messageId: message.messageId, clientId, sentAt: Date.now(), text, connection };
}

/** Re-sends exactly the same AssignTask text (a client's retry, TASK-3 / WIRE-10). */
export function resend(run: TaskRun): void {
  run.connection.sendRaw(run.text);
}

/** Is this frame about the task: its taskId, or an Ack/Error citing one of `messageIds`? */
export function isAbout(frame: Frame, taskId: string, messageIds: readonly string[] = []): boolean {
  if (payloadField(frame, 'taskId') === taskId) return true;
  const type = typeOf(frame);
  if (type === 'Ack') return messageIds.includes(payloadField(frame, 'acknowledgmentId') as string);
  if (type === 'Error') return messageIds.includes(payloadField(frame, 'relatesTo') as string);
  return false;
}

export const framesOf = (run: TaskRun, from = 0): Frame[] =>
  run.connection.frames.slice(from).filter((frame) => isAbout(frame, run.taskId, [run.messageId]));

export const isFinal = (frame: Frame): boolean => typeOf(frame) === 'TaskResult' || typeOf(frame) === 'TaskFailed';

/** A task message: TaskStatusUpdate, TaskResult or TaskFailed (TASK-3 counts these as acknowledgment). */
export const isTaskMessage = (frame: Frame): boolean => typeOf(frame) === 'TaskStatusUpdate' || isFinal(frame);

export function firstAnswer(run: TaskRun, timeoutMs: number): Promise<Frame | undefined> {
  return run.connection.next((frame) => isAbout(frame, run.taskId, [run.messageId]), timeoutMs);
}

export function finalOf(run: TaskRun, timeoutMs: number, from = 0): Promise<Frame | undefined> {
  return run.connection.next((frame) => isFinal(frame) && payloadField(frame, 'taskId') === run.taskId, timeoutMs, from);
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

const short = (text: string, max = 120): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

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
    default:
      return `${typeof type === 'string' ? type : 'untyped'} ${short(frame.text, 80)}`;
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

export type Completion =
  | { readonly ok: true; readonly run: TaskRun; readonly final: Frame }
  | { readonly ok: false; readonly run: TaskRun; readonly evidence: string };

/**
 * Runs the quick test task to its final message on `connection` and expects success: the
 * precondition of several checks. A failure's evidence says what happened instead.
 */
export async function completeQuickTask(probe: ProviderProbe, connection: ProbeConnection, selection: Selection, overrides: AssignOverrides = {}): Promise<Completion> {
  const run = assign(connection, probe, selection, selection.quick, overrides);
  const final = await finalOf(run, probe.timing.taskTimeoutMs);
  if (final === undefined) {
    const seen = framesOf(run);
    const closed = connection.closeInfo === undefined ? '' : `; connection closed ${connection.closeInfo.code}`;
    return { ok: false, run, evidence: `the test task ${selection.serviceName}.${selection.quick.operation} got no final message within ${probe.timing.taskTimeoutMs} ms (saw ${describeAll(seen)}${closed})` };
  }
  if (typeOf(final) !== 'TaskResult') {
    const hint = unauthenticatedHint(final) || ' (choose --operation/--params-json that succeed quickly)';
    return { ok: false, run, evidence: `the test task ${selection.serviceName}.${selection.quick.operation} did not succeed: ${describe(final)}${hint}` };
  }
  return { ok: true, run, final };
}

export { member };
