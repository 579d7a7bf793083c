/**
 * GetStatus and GetResult (TASK-9, TASK-10, TASK-12; the seed's sequence diagram: "GetStatus
 * (Periodic) -> Status (Completed); GetResult (If needed) -> TaskResult"), on a finished task, on an
 * unknown one, and on a running one (the slow operation).
 *
 * While a task runs, a provider pushes progress too, and a TaskStatusUpdate answering GetStatus
 * looks like one pushed. So queries go in a burst of eight, and the status reports seen in the
 * following window are compared with those of an equal window just before: at least four more
 * means the queries were answered. Every report in the window is judged (never final, never unknown, progress never below
 * what was already reported), and the task must then go on to its own end.
 */
import { v4 as uuid } from 'uuid';
import type { ClientDraft } from '../../../machines/messages.js';
import { SEED } from '../seedWords.js';
import { Blocked, fail, mismatch, notApplicable, pass, type Check } from '../types.js';
import { typeOf, type Frame, type ProbeConnection } from './connection.js';
import { isFinal, meaningOf } from './meaning.js';
import { ask, awaitOutcome, type Outcome, type QueryType } from './outcome.js';
import type { ProviderProbe } from './probe.js';
import { completeOrBlocked, requireTestTask } from './tasks.js';
import { assign, describe, describeAll, firstAnswer, framesOf, sameFinal, type TaskRun } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

const BURST = 8;
/** The window the answers to a burst are counted in (and the window before it). */
const WINDOW_MS = 200;

export interface Burst {
  readonly type: QueryType;
  readonly sentAt: number;
  /** Status reports and other frames about the task in the window after the burst. */
  readonly after: readonly Frame[];
  /** How many more status reports came in the window after than in the one before. */
  readonly extra: number;
  /** The highest progress reported before the burst. */
  readonly progressBefore: number | undefined;
}

const isReport = (frame: Frame) => {
  const kind = meaningOf(frame).kind;
  return kind === 'update' || kind === 'other';
};

/** Sends BURST queries about a running task at once and collects what came in the window after. */
export async function burst(connection: ProbeConnection, run: TaskRun, type: QueryType, clientId = run.clientId): Promise<Burst> {
  const sentAt = Date.now();
  const before = framesOf(run, 0, connection).filter((frame) => frame.at >= sentAt - WINDOW_MS && isReport(frame)).length;
  const progressValues = framesOf(run, 0, connection).map((frame) => meaningOf(frame)).flatMap((meaning) => (meaning.kind === 'update' && meaning.progress !== undefined ? [meaning.progress] : []));
  const from = connection.frames.length;
  for (let index = 0; index < BURST; index++) {
    connection.send({ type, messageId: `conformance-${type}-${uuid()}`, payload: { taskId: run.taskId, originalClientId: clientId } } as ClientDraft);
  }
  await connection.quiet(WINDOW_MS);
  const after = framesOf(run, from, connection);
  return { type, sentAt, after, extra: after.filter(isReport).length - before, progressBefore: progressValues.length === 0 ? undefined : Math.max(...progressValues) };
}

/** What is wrong with the answers to a burst about a running task; undefined when nothing is. */
export function judgeRunningAnswers(result: Burst, finalAt: number | undefined): string | undefined {
  const sent = `${BURST} ${result.type} about the running task`;
  const notFound = result.after.find((frame) => meaningOf(frame).kind === 'notFound');
  if (notFound !== undefined) return mismatch({ sent, expected: "the task's state (it is running)", observed: `${describe(notFound)}: the provider says it does not know the task` });
  const claimed = result.after.find((frame) => isFinal(frame) || (meaningOf(frame).kind === 'update' && (meaningOf(frame) as { finished: boolean }).finished));
  if (claimed !== undefined) {
    const later = finalAt === undefined ? 'it had not ended when the suite stopped watching' : `its own final message came ${finalAt - claimed.at} ms later`;
    return mismatch({ sent, expected: 'a status of a running task (Processing or Queued)', observed: `${describe(claimed)}, but the task was still running (${later})` });
  }
  const lower = result.after.find((frame) => {
    const meaning = meaningOf(frame);
    return meaning.kind === 'update' && meaning.progress !== undefined && result.progressBefore !== undefined && meaning.progress < result.progressBefore;
  });
  if (lower !== undefined) return mismatch({ sent, expected: `progress of at least ${result.progressBefore}% (already reported, TASK-9)`, observed: describe(lower) });
  // Pushes come and go in both windows; half the burst answered more than before is a clear margin both ways.
  if (result.extra < BURST / 2) {
    return mismatch({ sent, expected: `${BURST} answers within ${WINDOW_MS} ms`, observed: `${Math.max(0, result.extra)} more status report(s) than in the ${WINDOW_MS} ms before (${describeAll(result.after)})` });
  }
  return undefined;
}

export interface SlowRound {
  readonly run: TaskRun;
  readonly status: Burst | undefined;
  readonly result: Burst | undefined;
  readonly outcome: Outcome;
  /** From AssignTask to the final message, when it ended. */
  readonly durationMs: number | undefined;
  /** Why the task could not be queried while running (it ended first, say). */
  readonly skipped?: string;
}

/** The slow operation run once to its end, queried with GetStatus and GetResult midway. Shared. */
export function slowRound(probe: ProviderProbe): Promise<SlowRound | undefined> {
  return probe.memo('slow.reference', async () => {
    await requireTestTask(probe);
    const selection = await probe.testTask();
    if (selection.slow === undefined) return undefined;
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, selection.slow);
    await firstAnswer(run, probe.timing.ackWindowMs);
    await connection.quiet(WINDOW_MS);
    const endedEarly = framesOf(run).find(isFinal);
    const status = endedEarly === undefined ? await burst(connection, run, 'GetStatus') : undefined;
    // A window without queries between the bursts, so the second one's baseline is pushes only.
    if (status !== undefined) await connection.quiet(WINDOW_MS);
    const result = endedEarly === undefined && framesOf(run).find(isFinal) === undefined ? await burst(connection, run, 'GetResult') : undefined;
    const outcome = await awaitOutcome(probe, run);
    const durationMs = outcome.final === undefined ? undefined : outcome.final.at - run.sentAt;
    const skipped = endedEarly !== undefined ? `the slow operation ended (${describe(endedEarly)}) before it could be queried` : undefined;
    return { run, status, result, outcome, durationMs, ...(skipped === undefined ? {} : { skipped }) };
  });
}

const NO_SLOW = 'needs a task that runs a second or more: name one with --slow-operation (and --slow-params-json)';

async function runningRound(probe: ProviderProbe): Promise<SlowRound> {
  const round = await slowRound(probe);
  if (round === undefined) throw new Blocked('provider.task.completes', NO_SLOW, 'not-applicable');
  return round;
}

const whileRunning: ProviderCheck = {
  name: 'provider.query.whileRunning',
  requirements: ['TASK-12', 'TASK-9'],
  level: 'core',
  title: 'GetStatus and GetResult of a running task get its state, and the task runs on',
  seed: SEED.query,
  timeoutMs: 25_000,
  run: async (probe) => {
    const round = await runningRound(probe);
    if (round.status === undefined) return notApplicable(round.skipped ?? NO_SLOW);
    const finalAt = round.outcome.final?.at;
    const problem = judgeRunningAnswers(round.status, finalAt) ?? (round.result === undefined ? undefined : judgeRunningAnswers(round.result, finalAt));
    if (problem !== undefined) return fail(problem);
    if (round.outcome.final === undefined) return fail(`after GetStatus and GetResult the task never ended (no final message within ${probe.timing.taskTimeoutMs} ms)`);
    if (meaningOf(round.outcome.final).kind !== 'result') return fail(mismatch({ sent: 'GetStatus and GetResult while the task ran', expected: 'the task to go on to its TaskResult', observed: describe(round.outcome.final) }));
    return pass(`GetStatus got ${describeAll(round.status.after, 2)}; GetResult got ${describeAll(round.result?.after ?? [], 2)}; the task then ended ${describe(round.outcome.final)}`);
  },
};

const whileRunningForm: ProviderCheck = {
  name: 'provider.query.whileRunningForm',
  requirements: ['TASK-12'],
  level: 'full',
  title: 'GetStatus and GetResult of a running task are answered with TaskStatusUpdate',
  timeoutMs: 25_000,
  run: async (probe) => {
    const round = await runningRound(probe);
    if (round.status === undefined) return notApplicable(round.skipped ?? NO_SLOW);
    const finalAt = round.outcome.final?.at;
    if ((judgeRunningAnswers(round.status, finalAt) ?? (round.result === undefined ? undefined : judgeRunningAnswers(round.result, finalAt))) !== undefined) {
      throw new Blocked('provider.query.whileRunning', 'the answers themselves are wrong');
    }
    const other = [...round.status.after, ...(round.result?.after ?? [])].find((frame) => typeOf(frame) !== 'TaskStatusUpdate');
    if (other !== undefined) return fail(mismatch({ sent: 'GetStatus and GetResult about a running task', expected: 'TaskStatusUpdate (Queued or Processing)', observed: describe(other) }));
    return pass('answered with TaskStatusUpdate');
  },
};

interface QueryRound {
  readonly final: Frame;
  readonly status: Frame | undefined;
  readonly result: Frame | undefined;
}

function queryRound(probe: ProviderProbe): Promise<QueryRound> {
  return probe.memo('query', async () => {
    const connection = await probe.connect();
    const done = await completeOrBlocked(probe, connection);
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
  seed: SEED.query,
  run: async (probe) => {
    const round = await queryRound(probe);
    if (round.status === undefined) return fail(mismatch({ sent: `GetStatus of a finished task (${describe(round.final)})`, expected: `an answer within ${probe.timing.answerMs} ms`, observed: 'nothing' }));
    const meaning = meaningOf(round.status);
    const finishedReport = meaning.kind === 'update' && meaning.finished;
    if (!isFinal(round.status) && !finishedReport) return fail(mismatch({ sent: `GetStatus of a finished task (${describe(round.final)})`, expected: 'its final status or final message', observed: describe(round.status) }));
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
    if (round.status === undefined) return fail(`no answer to GetStatus within ${probe.timing.answerMs} ms`);
    return isFinal(round.status) && sameFinal(round.status, round.final)
      ? pass(`GetStatus got ${describe(round.status)}`)
      : fail(mismatch({ sent: 'GetStatus of a finished task', expected: `${describe(round.final)} again`, observed: describe(round.status) }));
  },
};

const resultCheck: ProviderCheck = {
  name: 'provider.query.result',
  requirements: ['TASK-12', 'TASK-10'],
  level: 'core',
  title: 'GetResult of a finished task is answered with the same final message',
  seed: SEED.query,
  run: async (probe) => {
    const round = await queryRound(probe);
    if (round.result === undefined) return fail(mismatch({ sent: 'GetResult of a finished task', expected: `${describe(round.final)} again within ${probe.timing.answerMs} ms`, observed: 'nothing' }));
    return isFinal(round.result) && sameFinal(round.result, round.final)
      ? pass(`GetResult got ${describe(round.result)}`)
      : fail(mismatch({ sent: 'GetResult of a finished task', expected: `${describe(round.final)} again`, observed: describe(round.result) }));
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
      if (answer === undefined || typeOf(answer) !== 'Error' || meaningOf(answer).kind !== 'notFound') problems.push(mismatch({ sent: `${type} of an unknown taskId`, expected: 'Error TASK_NOT_FOUND', observed: describe(answer) }));
    }
    return problems.length === 0 ? pass(seen.join('; ')) : fail(problems.join('; '));
  },
};

export const queryChecks: readonly ProviderCheck[] = [whileRunning, whileRunningForm, statusCheck, statusFinalCheck, resultCheck, unknownTaskCheck];
