/**
 * CancelTask, GetStatus and GetResult (TASK-10, TASK-11, TASK-12; the seed's section 5.3.2 and its
 * sequence diagram). Cancelling needs a task that is still running when CancelTask arrives: the
 * --slow-operation when one is named, else the quick task (the cancel checks are then not
 * applicable when it finishes first).
 */
import { v4 as uuid } from 'uuid';
import type { ClientDraft } from '../../../machines/messages.js';
import { fail, notApplicable, pass, type Check } from '../types.js';
import { payloadField, typeOf, type Frame, type ProbeConnection } from './connection.js';
import type { ProviderProbe } from './probe.js';
import { assign, completeQuickTask, describe, describeAll, finalOf, firstAnswer, framesOf, isAbout, isFinal, sameFinal, type TaskRun } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

/** A cancel that lands within this long of the task's own end may have crossed it. */
const CROSSING_MS = 250;

type QueryType = 'GetStatus' | 'GetResult' | 'CancelTask';

/** Sends a query about `taskId` and resolves with the first answer about it (or an Error citing the query). */
async function ask(connection: ProbeConnection, type: QueryType, taskId: string, clientId: string, timeoutMs: number): Promise<Frame | undefined> {
  const from = connection.frames.length;
  const draft = { type, messageId: `conformance-${type}-${uuid()}`, payload: { taskId, originalClientId: clientId } } as ClientDraft;
  connection.send(draft);
  return connection.next((frame) => isAbout(frame, taskId, [draft.messageId!]), timeoutMs, from);
}

interface CancelRound {
  readonly run: TaskRun;
  readonly slow: boolean;
  readonly first: Frame | undefined;
  readonly finishedBefore: Frame | undefined;
  readonly cancelAt: number;
  readonly final: Frame | undefined;
  readonly second: Frame | undefined;
  readonly frames: readonly Frame[];
}

function cancelRound(probe: ProviderProbe): Promise<CancelRound> {
  return probe.memo('cancel', async () => {
    const selection = await probe.selection();
    const choice = selection.slow ?? selection.quick;
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, choice);
    const first = await firstAnswer(run, probe.timing.ackWindowMs);
    const finishedBefore = framesOf(run).find(isFinal);
    const cancelAt = Date.now();
    let final: Frame | undefined;
    let second: Frame | undefined;
    // Cancelled even without an answer yet: the task may be running all the same (TASK-2 and
    // TASK-3 judge the missing answer, not this check).
    if (finishedBefore === undefined) {
      const from = connection.frames.length;
      connection.send({ type: 'CancelTask', payload: { taskId: run.taskId, originalClientId: run.clientId } });
      final = await finalOf(run, probe.timing.taskTimeoutMs, from);
      if (final !== undefined) {
        await connection.quiet(probe.timing.settleMs);
        second = await ask(connection, 'CancelTask', run.taskId, run.clientId, probe.timing.answerMs);
        await connection.quiet(probe.timing.settleMs);
      }
    }
    return { run, slow: selection.slow !== undefined, first, finishedBefore, cancelAt, final, second, frames: framesOf(run) };
  });
}

/** The verdict both cancel checks share; a CheckResult when the round cannot be judged further. */
function cancelPrecondition(round: CancelRound, probe: ProviderProbe) {
  if (round.finishedBefore !== undefined) {
    return notApplicable(`the task ended (${describe(round.finishedBefore)}) before CancelTask was sent: name an operation that runs a second or more with --slow-operation`);
  }
  if (round.final === undefined) return fail(`no final message within ${probe.timing.taskTimeoutMs} ms of CancelTask; saw ${describeAll(round.frames)}`);
  const cancelled = typeOf(round.final) === 'TaskFailed' && payloadField(round.final, 'status') === 'Cancelled';
  if (!cancelled) {
    const crossed = round.final.at - round.cancelAt <= CROSSING_MS;
    const message = `CancelTask sent while running; the task ended ${describe(round.final)} ${round.final.at - round.cancelAt} ms later`;
    return crossed && !round.slow ? notApplicable(`${message}: it may have finished first (name a --slow-operation)`) : fail(message);
  }
  return undefined;
}

const cancelRunning: ProviderCheck = {
  name: 'provider.cancel.running',
  requirements: ['TASK-11'],
  level: 'core',
  title: 'CancelTask on a running task ends it with TaskFailed status Cancelled',
  timeoutMs: 20_000,
  run: async (probe) => {
    const round = await cancelRound(probe);
    const early = cancelPrecondition(round, probe);
    return early ?? pass(`${describe(round.final)} ${round.final!.at - round.cancelAt} ms after CancelTask`);
  },
};

const cancelCode: ProviderCheck = {
  name: 'provider.cancel.code',
  requirements: ['TASK-10', 'TASK-11'],
  level: 'full',
  title: 'a cancelled task fails CANCELLED, and a second CancelTask repeats that final message',
  timeoutMs: 20_000,
  run: async (probe) => {
    const round = await cancelRound(probe);
    const early = cancelPrecondition(round, probe);
    if (early !== undefined) return early;
    const final = round.final!;
    const problems: string[] = [];
    if (payloadField(final, 'errorCode') !== 'CANCELLED') problems.push(`errorCode ${JSON.stringify(payloadField(final, 'errorCode'))}, expected CANCELLED`);
    if (round.second === undefined) problems.push(`no answer to a second CancelTask within ${probe.timing.answerMs} ms`);
    else if (!isFinal(round.second) || !sameFinal(round.second, final)) problems.push(`the second CancelTask got ${describe(round.second)}, not the same final message`);
    const index = round.frames.indexOf(final);
    const others = round.frames.slice(index + 1).filter((frame) => !(isFinal(frame) && sameFinal(frame, final)));
    if (others.length > 0) problems.push(`after the final message came ${describeAll(others)}`);
    return problems.length === 0 ? pass(`${describe(final)}; the second CancelTask got it again`) : fail(problems.join('; '));
  },
};

interface QueryRound {
  readonly final: Frame;
  readonly status: Frame | undefined;
  readonly result: Frame | undefined;
}

function queryRound(probe: ProviderProbe): Promise<QueryRound | string> {
  return probe.memo('query', async () => {
    const selection = await probe.selection();
    const connection = await probe.connect();
    const done = await completeQuickTask(probe, connection, selection);
    if (!done.ok) return done.evidence;
    await connection.quiet(probe.timing.settleMs);
    const status = await ask(connection, 'GetStatus', done.run.taskId, done.run.clientId, probe.timing.answerMs);
    const result = await ask(connection, 'GetResult', done.run.taskId, done.run.clientId, probe.timing.answerMs);
    return { final: done.final, status, result };
  });
}

const statusCheck: ProviderCheck = {
  name: 'provider.query.status',
  requirements: ['TASK-12'],
  level: 'core',
  title: 'GetStatus of a finished task is answered with its status or final message',
  run: async (probe) => {
    const round = await queryRound(probe);
    if (typeof round === 'string') return fail(round);
    const type = typeOf(round.status ?? ({} as Frame));
    if (round.status === undefined) return fail(`no answer to GetStatus within ${probe.timing.answerMs} ms`);
    if (type !== 'TaskStatusUpdate' && !isFinal(round.status)) return fail(`GetStatus got ${describe(round.status)}`);
    return pass(`GetStatus got ${describe(round.status)}`);
  },
};

const statusFinalCheck: ProviderCheck = {
  name: 'provider.query.statusFinal',
  requirements: ['TASK-12', 'TASK-10'],
  level: 'full',
  title: 'GetStatus of a finished task is answered with the same final message',
  run: async (probe) => {
    const round = await queryRound(probe);
    if (typeof round === 'string') return fail(round);
    if (round.status === undefined) return fail(`no answer to GetStatus within ${probe.timing.answerMs} ms`);
    return isFinal(round.status) && sameFinal(round.status, round.final)
      ? pass(`GetStatus got ${describe(round.status)}`)
      : fail(`GetStatus got ${describe(round.status)}; expected ${describe(round.final)} again`);
  },
};

const resultCheck: ProviderCheck = {
  name: 'provider.query.result',
  requirements: ['TASK-12'],
  level: 'core',
  title: 'GetResult of a finished task is answered with the same TaskResult',
  run: async (probe) => {
    const round = await queryRound(probe);
    if (typeof round === 'string') return fail(round);
    if (round.result === undefined) return fail(`no answer to GetResult within ${probe.timing.answerMs} ms`);
    return isFinal(round.result) && sameFinal(round.result, round.final)
      ? pass(`GetResult got ${describe(round.result)}`)
      : fail(`GetResult got ${describe(round.result)}; expected ${describe(round.final)} again`);
  },
};

const unknownTaskCheck: ProviderCheck = {
  name: 'provider.query.unknownTask',
  requirements: ['TASK-11', 'TASK-12'],
  level: 'full',
  title: 'GetStatus, GetResult and CancelTask of an unknown task get Error TASK_NOT_FOUND',
  run: async (probe) => {
    const connection = await probe.connect();
    const problems: string[] = [];
    const seen: string[] = [];
    for (const type of ['GetStatus', 'GetResult', 'CancelTask'] as const) {
      const answer = await ask(connection, type, `conformance-unknown-${uuid()}`, probe.clientId, probe.timing.answerMs);
      seen.push(`${type}: ${describe(answer)}`);
      if (answer === undefined || typeOf(answer) !== 'Error' || payloadField(answer, 'code') !== 'TASK_NOT_FOUND') problems.push(`${type} got ${describe(answer)}`);
    }
    return problems.length === 0 ? pass(seen.join('; ')) : fail(problems.join('; '));
  },
};

export const queryChecks: readonly ProviderCheck[] = [cancelRunning, cancelCode, statusCheck, statusFinalCheck, resultCheck, unknownTaskCheck];
