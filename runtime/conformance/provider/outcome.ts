/**
 * Waiting for a task's outcome the way the seed allows it to arrive: pushed (TaskResult or
 * TaskFailed sent when the task ends, switchboard's way), or pulled (the seed's sequence diagram:
 * GetStatus (Periodic) -> Status (Completed), GetResult (If needed) -> TaskResult). When nothing
 * final is pushed for a while, the suite asks GetStatus, and GetResult once the status says the
 * task is finished. Whether a provider pushes at all is judged by provider.assign.pushesFinal
 * (full); every other check accepts either way.
 */
import { v4 as uuid } from 'uuid';
import type { ClientDraft } from '../../../machines/messages.js';
import { payloadField, typeOf, type Frame, type ProbeConnection } from './connection.js';
import { isFinal, meaningOf, taskIdIn } from './meaning.js';
import type { ProviderProbe } from './probe.js';
import { describe, describeAll, describeExpected, finalOf, framesOf, isAbout, isExpectedFinal, unauthenticatedHint, type AssignOverrides, type TaskRun, assign } from './taskRun.js';

export type QueryType = 'GetStatus' | 'GetResult' | 'CancelTask';

/** Pause between two polls once polling has started. */
const POLL_MS = 250;

/** Sends a query about `taskId` and resolves with the first answer about it (or an Error citing the query). */
export async function ask(connection: ProbeConnection, type: QueryType, taskId: string, clientId: string | undefined, timeoutMs: number): Promise<Frame | undefined> {
  const from = connection.frames.length;
  const payload = clientId === undefined ? { taskId } : { taskId, originalClientId: clientId };
  const draft = { type, messageId: `conformance-${type}-${uuid()}`, payload } as ClientDraft;
  connection.send(draft);
  return connection.next((frame) => isAbout(frame, taskId, [draft.messageId!]), timeoutMs, from);
}

export interface Outcome {
  readonly final: Frame | undefined;
  /** `push`: arrived before any query; `pull`: after the suite asked GetStatus or GetResult. */
  readonly via: 'push' | 'pull' | undefined;
  readonly queries: number;
  /** What the last query got, for evidence when no final message came. */
  readonly lastAnswer: Frame | undefined;
}

export interface OutcomeOptions {
  readonly timeoutMs?: number;
  /** Frames before this index on the run's connection are not looked at. */
  readonly from?: number;
  /** false: only wait for a pushed final message. @default true */
  readonly pull?: boolean;
}

/** The task's final message, pushed or pulled, within `timeoutMs` (default taskTimeoutMs). */
export async function awaitOutcome(probe: ProviderProbe, run: TaskRun, options: OutcomeOptions = {}): Promise<Outcome> {
  const timeoutMs = options.timeoutMs ?? probe.timing.taskTimeoutMs;
  const deadline = Date.now() + timeoutMs;
  const from = options.from ?? 0;
  // An Error citing the AssignTask refuses it: nothing will follow, so there is no point waiting.
  const refusalOf = (frame: Frame) => typeOf(frame) === 'Error' && payloadField(frame, 'relatesTo') === run.messageId;
  const first = await run.connection.next((frame) => (isFinal(frame) && taskIdIn(frame) === run.taskId) || refusalOf(frame), options.pull === false ? timeoutMs : Math.min(probe.pullAfterMs(), timeoutMs), from);
  const pushed = first !== undefined && isFinal(first) ? first : undefined;
  if (pushed !== undefined || options.pull === false || first !== undefined) {
    if (pushed !== undefined) probe.noteFlow('push');
    return { final: pushed, via: pushed === undefined ? undefined : 'push', queries: 0, lastAnswer: first };
  }
  let queries = 0;
  let lastAnswer: Frame | undefined;
  while (Date.now() < deadline) {
    const on = run.connection.isOpen ? run.connection : await probe.connect().catch(() => undefined);
    if (on === undefined) break;
    const remaining = () => Math.max(1, deadline - Date.now());
    queries++;
    let answer = await ask(on, 'GetStatus', run.taskId, run.clientId, Math.min(probe.timing.answerMs, remaining()));
    lastAnswer = answer ?? lastAnswer;
    const meaning = answer === undefined ? undefined : meaningOf(answer);
    if (answer !== undefined && !isFinal(answer) && meaning?.kind === 'update' && meaning.finished) {
      queries++;
      answer = await ask(on, 'GetResult', run.taskId, run.clientId, Math.min(probe.timing.answerMs, remaining()));
      lastAnswer = answer ?? lastAnswer;
    }
    const final = (answer !== undefined && isFinal(answer) ? answer : undefined) ?? (await finalOf(run, Math.min(POLL_MS, remaining()), from));
    if (final !== undefined) {
      probe.noteFlow('pull');
      return { final, via: 'pull', queries, lastAnswer };
    }
  }
  return { final: undefined, via: undefined, queries, lastAnswer };
}

export type Completion =
  | { readonly ok: true; readonly run: TaskRun; readonly final: Frame; readonly outcome: Outcome }
  | { readonly ok: false; readonly run: TaskRun; readonly evidence: string };

/**
 * Runs the test task to its final message on `connection` and expects the final it is known to
 * end with (a TaskResult for an operation the user named): the precondition of many checks. A
 * failure's evidence says what happened instead.
 */
export async function completeTestTask(probe: ProviderProbe, connection: ProbeConnection, overrides: AssignOverrides = {}, options: OutcomeOptions = {}): Promise<Completion> {
  const selection = await probe.testTask();
  const run = assign(connection, probe, selection, selection.quick, overrides);
  const outcome = await awaitOutcome(probe, run, options);
  const what = `the test task ${selection.serviceName}.${selection.quick.operation}`;
  if (outcome.final === undefined) {
    const seen = framesOf(run);
    const closed = connection.closeInfo === undefined ? '' : `; connection closed ${connection.closeInfo.code}`;
    const asked = outcome.queries === 0 ? '' : `; ${outcome.queries} GetStatus/GetResult asked, the last got ${describe(outcome.lastAnswer)}`;
    return { ok: false, run, evidence: `${what} got no final message within ${options.timeoutMs ?? probe.timing.taskTimeoutMs} ms (saw ${describeAll(seen)}${asked}${closed})` };
  }
  if (!isExpectedFinal(selection, outcome.final)) {
    const hint = unauthenticatedHint(outcome.final) || (selection.origin === 'options' ? ' (choose --operation/--params-json that succeed quickly)' : '');
    return { ok: false, run, evidence: `${what} ended ${describe(outcome.final)}; expected ${describeExpected(selection)}${hint}` };
  }
  return { ok: true, run, final: outcome.final, outcome };
}
