/**
 * CancelTask (TASK-10, TASK-11; the seed's 5.3.2, "CancelTask Message (Optional)"). Cancelling
 * needs a task still running when CancelTask arrives: the --slow-operation when one is named, else
 * the quick task (the checks are then not applicable when it finishes first).
 *
 * The seed makes cancellation optional, so at core a provider that ignores CancelTask (the task
 * simply completes) is not applicable, and the report says so; at full it fails. Whatever the
 * level, a cancel that is answered must be real: the answer comes while the task would still be
 * running (not when the operation ends on its own), and nothing about the task follows it for the
 * whole time the operation would have taken (measured on an uncancelled run of it, query.ts).
 */
import { SEED } from '../seedWords.js';
import { Blocked, fail, mismatch, notApplicable, pass, type Check, type CheckResult } from '../types.js';
import { payloadField, type Frame } from './connection.js';
import { isFinal, meaningOf } from './meaning.js';
import { ask, awaitOutcome } from './outcome.js';
import type { ProviderProbe } from './probe.js';
import { slowRound } from './query.js';
import { requireTestTask } from './tasks.js';
import { assign, describe, describeAll, firstAnswer, framesOf, sameFinal, type TaskRun } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

/** A cancel that lands within this long of the task's own end may have crossed it. */
const CROSSING_MS = 250;

interface CancelRound {
  readonly run: TaskRun;
  readonly slow: boolean;
  readonly finishedBefore: Frame | undefined;
  readonly cancelAt: number;
  readonly final: Frame | undefined;
  readonly second: Frame | undefined;
  /** How long an uncancelled run of the operation takes, when known. */
  readonly referenceMs: number | undefined;
  /** Frames about the task after its final message, watched for the rest of the operation's length. */
  readonly afterFinal: readonly Frame[];
  readonly watchedMs: number;
}

function cancelRound(probe: ProviderProbe): Promise<CancelRound> {
  return probe.memo('cancel', async () => {
    await requireTestTask(probe);
    const selection = await probe.testTask();
    const reference = await slowRound(probe);
    const referenceMs = reference?.durationMs;
    const choice = selection.slow ?? selection.quick;
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, choice);
    await firstAnswer(run, probe.timing.ackWindowMs);
    const finishedBefore = framesOf(run).find(isFinal);
    const cancelAt = Date.now();
    let final: Frame | undefined;
    let second: Frame | undefined;
    let afterFinal: Frame[] = [];
    let watchedMs = 0;
    // Cancelled even without an answer yet: the task may be running all the same (TASK-2 and
    // TASK-3 judge the missing answer, not this check).
    if (finishedBefore === undefined) {
      const from = connection.frames.length;
      connection.send({ type: 'CancelTask', payload: { taskId: run.taskId, originalClientId: run.clientId } });
      const outcome = await awaitOutcome(probe, run, { from, timeoutMs: Math.max(probe.timing.taskTimeoutMs, (referenceMs ?? 0) + probe.timing.answerMs) });
      final = outcome.final;
      if (final !== undefined) {
        // Watch for the rest of what the operation would have taken, then a little more.
        const remaining = referenceMs === undefined ? 0 : referenceMs - (final.at - run.sentAt);
        watchedMs = Math.max(probe.timing.settleMs, remaining + probe.timing.settleMs);
        const index = connection.frames.length;
        await connection.quiet(watchedMs);
        afterFinal = framesOf(run, index).filter((frame) => !(isFinal(frame) && sameFinal(frame, final!)));
        second = await ask(connection, 'CancelTask', run.taskId, run.clientId, probe.timing.answerMs);
      }
    }
    return { run, slow: selection.slow !== undefined, finishedBefore, cancelAt, final, second, referenceMs, afterFinal, watchedMs };
  });
}

const isCancelled = (frame: Frame) => {
  const meaning = meaningOf(frame);
  return meaning.kind === 'failed' && String(meaning.status).toLowerCase() === 'cancelled';
};

/** The verdict both cancel checks share; a CheckResult when the round cannot be judged further. */
function precondition(round: CancelRound, probe: ProviderProbe, level: 'core' | 'full'): CheckResult | undefined {
  if (round.finishedBefore !== undefined) {
    return notApplicable(`the task ended (${describe(round.finishedBefore)}) before CancelTask was sent: name an operation that runs a second or more with --slow-operation`);
  }
  const sent = `CancelTask ${(round.cancelAt - round.run.sentAt).toString()} ms after AssignTask`;
  if (round.final === undefined) return fail(mismatch({ sent, expected: 'TaskFailed status Cancelled', observed: `no final message within ${probe.timing.taskTimeoutMs} ms (${describeAll(framesOf(round.run))})` }));
  const late = round.final.at - round.cancelAt;
  if (!isCancelled(round.final)) {
    const completed = meaningOf(round.final).kind === 'result';
    if (completed && late > CROSSING_MS && level === 'core') {
      return notApplicable(`CancelTask had no effect: the task completed ${late} ms later (${describe(round.final)}). Cancellation is optional in the seed ("CancelTask Message (Optional)"); level full requires it`);
    }
    const crossed = late <= CROSSING_MS;
    const message = mismatch({ sent, expected: 'TaskFailed status Cancelled', observed: `${describe(round.final)} ${late} ms later` });
    return crossed && !round.slow ? notApplicable(`${message}: it may have finished first (name a --slow-operation)`) : fail(message);
  }
  if (round.referenceMs !== undefined) {
    const runFor = round.final.at - round.run.sentAt;
    // Not stopped: the answer came late after the cancel, about when the operation ends on its own
    // (a prompt answer is a stop, however late the cancel was sent).
    const ranOut = runFor >= 0.8 * round.referenceMs && round.referenceMs - (round.cancelAt - round.run.sentAt) > 2 * CROSSING_MS && round.final.at - round.cancelAt > CROSSING_MS;
    if (ranOut) return fail(mismatch({ sent, expected: 'the task stopped and answered Cancelled while it would still be running', observed: `Cancelled only ${runFor} ms after AssignTask, when the operation ends on its own (an uncancelled run takes ${round.referenceMs} ms): the handler was not stopped` }));
  }
  return undefined;
}

const cancelRunning: ProviderCheck = {
  name: 'provider.cancel.running',
  requirements: ['TASK-11'],
  level: 'core',
  title: 'CancelTask on a running task stops it: TaskFailed status Cancelled, while it would still be running',
  seed: SEED.cancel,
  timeoutMs: 25_000,
  run: async (probe) => {
    const round = await cancelRound(probe);
    return precondition(round, probe, 'core') ?? pass(`${describe(round.final)} ${round.final!.at - round.cancelAt} ms after CancelTask`);
  },
};

const nothingAfter: ProviderCheck = {
  name: 'provider.cancel.nothingAfter',
  requirements: ['TASK-10', 'TASK-11'],
  level: 'core',
  title: 'after a cancelled task ends, nothing more about it comes, for as long as the operation would have run',
  seed: SEED.cancel,
  timeoutMs: 25_000,
  run: async (probe) => {
    const round = await cancelRound(probe);
    const early = precondition(round, probe, 'core');
    if (early?.status === 'fail') throw new Blocked('provider.cancel.running', 'the cancel itself did not work');
    if (early !== undefined) return early;
    if (round.afterFinal.length > 0) {
      const first = round.afterFinal[0]!;
      const finals = round.afterFinal.filter(isFinal);
      const updates = round.afterFinal.length - finals.length;
      const shown = finals.length > 0 ? `${finals.map((frame) => `${describe(frame)} ${frame.at - round.final!.at} ms after the Cancelled`).join('; ')}${updates > 0 ? ` (and ${updates} other message(s), the first ${first.at - round.final!.at} ms after it)` : ''}` : `${describeAll(round.afterFinal)}, the first ${first.at - round.final!.at} ms after the Cancelled`;
      return fail(mismatch({ sent: 'CancelTask, answered Cancelled', expected: `nothing more about the task for the ${round.watchedMs} ms the operation would still have run`, observed: `${shown}: the handler kept running` }));
    }
    return pass(`nothing about the task for ${round.watchedMs} ms after ${describe(round.final)}${round.referenceMs === undefined ? '' : ` (an uncancelled run takes ${round.referenceMs} ms)`}`);
  },
};

const cancelCode: ProviderCheck = {
  name: 'provider.cancel.code',
  requirements: ['TASK-10', 'TASK-11'],
  level: 'full',
  title: 'a cancelled task fails CANCELLED, and a second CancelTask repeats that final message',
  timeoutMs: 25_000,
  run: async (probe) => {
    const round = await cancelRound(probe);
    const early = precondition(round, probe, 'full');
    if (early?.status === 'fail' && precondition(round, probe, 'core')?.status === 'fail') throw new Blocked('provider.cancel.running', 'the cancel itself did not work');
    if (early !== undefined) return early;
    const final = round.final!;
    const problems: string[] = [];
    if (payloadField(final, 'errorCode') !== 'CANCELLED') problems.push(`errorCode ${JSON.stringify(payloadField(final, 'errorCode'))}, expected CANCELLED`);
    if (round.second === undefined) problems.push(`no answer to a second CancelTask within ${probe.timing.answerMs} ms`);
    else if (!isFinal(round.second) || !sameFinal(round.second, final)) problems.push(`the second CancelTask got ${describe(round.second)}, not the same final message`);
    return problems.length === 0 ? pass(`${describe(final)}; the second CancelTask got it again`) : fail(problems.join('; '));
  },
};

export const cancelChecks: readonly ProviderCheck[] = [cancelRunning, nothingAfter, cancelCode];
