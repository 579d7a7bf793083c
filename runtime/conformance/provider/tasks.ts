/**
 * Task lifecycle checks (TASK-2, TASK-3, TASK-4, TASK-9, TASK-10). `provider.task.completes` is
 * the root of every check that runs the test task: when the test task does not end the way it
 * must, those checks report that as their root cause instead of failing on their own.
 *
 * Duplicates (TASK-4) are judged black-box: the same AssignTask is sent twice at once and once
 * more after the final message, and again on another connection of the same client. A provider
 * that runs it again shows it by a final message that differs from the first, more final messages
 * than copies and queries, or progress after the final message. A provider that re-runs the task
 * silently and repeats the identical final message cannot be told apart from one that does not
 * (docs/conformance.md, "What black-box testing cannot see").
 */
import { SEED } from '../seedWords.js';
import { Blocked, fail, mismatch, notApplicable, pass, type Check } from '../types.js';
import { payloadField, typeOf, type Frame, type ProbeConnection } from './connection.js';
import { isFinal, meaningOf } from './meaning.js';
import { awaitOutcome, completeTestTask, type Completion } from './outcome.js';
import { TEST_TASK_CHECK, type ProviderProbe } from './probe.js';
import { after, assign, describe, describeAll, firstAnswer, framesOf, resend, sameFinal, unauthenticatedHint, type TaskRun } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

/** The first run of the test task (shared): the root every task check depends on. */
export function testTaskRun(probe: ProviderProbe): Promise<Completion> {
  return probe.memo('task.completes', async () => completeTestTask(probe, await probe.connect()));
}

/** Throws Blocked (root: provider.task.completes) unless the test task works. */
export async function requireTestTask(probe: ProviderProbe): Promise<void> {
  const first = await testTaskRun(probe);
  if (!first.ok) throw new Blocked(TEST_TASK_CHECK, 'the test task does not end as it must');
}

/** The test task on `connection`, once the root check says it works. */
export async function completeOrBlocked(probe: ProviderProbe, connection: ProbeConnection, overrides: Parameters<typeof completeTestTask>[2] = {}): Promise<Extract<Completion, { ok: true }>> {
  await requireTestTask(probe);
  const done = await completeTestTask(probe, connection, overrides);
  if (!done.ok) throw new Blocked(TEST_TASK_CHECK, `the test task worked once, then not: ${done.evidence}`);
  return done;
}

const completes: ProviderCheck = {
  name: TEST_TASK_CHECK,
  requirements: ['TASK-10'],
  level: 'core',
  title: 'the test task runs to its final message (pushed, or fetched with GetStatus/GetResult)',
  seed: SEED.flow,
  timeoutMs: 40_000,
  run: async (probe) => {
    const selection = await probe.testTask();
    const done = await testTaskRun(probe);
    if (!done.ok) return fail(done.evidence);
    const via = done.outcome.via === 'pull' ? `, fetched after ${done.outcome.queries} GetStatus/GetResult (nothing final was pushed)` : ', pushed';
    return pass(`${selection.note}: ${describe(done.final)} after ${after(done.run, done.final)}${via}`);
  },
};

const firstAnswerCheck: ProviderCheck = {
  name: 'provider.assign.firstAnswer',
  requirements: ['TASK-2', 'TASK-3'],
  level: 'core',
  title: 'AssignTask is answered (Ack, a status or the final message) within ackTimeoutMs',
  seed: SEED.flow,
  timeoutMs: 15_000,
  run: async (probe) => {
    await requireTestTask(probe);
    const selection = await probe.testTask();
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, selection.quick);
    const window = probe.timing.ackWindowMs;
    const first = await firstAnswer(run, window);
    if (first === undefined) {
      const late = await firstAnswer(run, probe.timing.taskTimeoutMs);
      const what = late === undefined ? `nothing within ${window + probe.timing.taskTimeoutMs} ms` : `the first answer after ${after(run, late)}: ${describe(late)}`;
      return fail(mismatch({ sent: `AssignTask ${selection.quick.operation}`, expected: `an Ack, a status or the final message within ${window} ms (ackTimeoutMs; a client re-sends then, TASK-3)`, observed: what }));
    }
    if (typeOf(first) === 'Error') return fail(`AssignTask answered ${describe(first)}${unauthenticatedHint(first)}`);
    return pass(`${describe(first)} after ${after(run, first)}${typeOf(first) === 'Ack' ? '' : ' (no Ack first: allowed at core, the seed makes acknowledgment optional)'}`);
  },
};

/** Frames written in one batch arrive together: within this of each other on a loaded machine. */
const SAME_BATCH_MS = 50;

const ackCheck: ProviderCheck = {
  name: 'provider.assign.ack',
  requirements: ['TASK-2', 'TASK-4'],
  level: 'full',
  title: "Ack with acknowledgmentId = the AssignTask's messageId, its taskId and status",
  run: async (probe) => {
    await requireTestTask(probe);
    const selection = await probe.testTask();
    const connection = await probe.connect();
    // A slow task cannot end in the batch it was accepted in, so its Ack cannot be coalesced away.
    const run = assign(connection, probe, selection, selection.slow ?? selection.quick);
    const ack = await connection.next((frame) => typeOf(frame) === 'Ack' && payloadField(frame, 'acknowledgmentId') === run.messageId, probe.timing.ackWindowMs);
    if (ack === undefined) {
      // TASK-2 amendment: an Ack may be left out when the final message leaves in the same batch of
      // frames, so the final message arrives together with whatever came before it.
      const frames = framesOf(run);
      const final = frames.find((frame) => isFinal(frame) && payloadField(frame, 'taskId') === run.taskId);
      if (final === undefined || final.at - frames[0]!.at > SAME_BATCH_MS) {
        return fail(
          mismatch({
            sent: `AssignTask messageId ${run.messageId}${selection.slow === undefined ? '' : ` (${selection.slow.operation}, the slow operation)`}`,
            expected: `an Ack citing it within ${probe.timing.ackWindowMs} ms, or none when the final message comes in the same batch`,
            observed: describeAll(frames),
          }),
        );
      }
      // Only that Ack may be left out: a duplicate of the finished task is still acknowledged, with
      // its final status (TASK-4). A provider that sends no Ack at all fails here.
      const duplicate = assign(connection, probe, selection, selection.slow ?? selection.quick, { taskId: run.taskId, clientId: run.clientId });
      const again = await connection.next((frame) => typeOf(frame) === 'Ack' && payloadField(frame, 'acknowledgmentId') === duplicate.messageId, probe.timing.ackWindowMs);
      if (again === undefined) {
        return fail(`no Ack for the task (its final message came alone) nor for a duplicate AssignTask of the finished task within ${probe.timing.ackWindowMs} ms; only an Ack whose final message leaves with it may be left out (TASK-2), a duplicate's never (TASK-4)`);
      }
      const status = payloadField(again, 'status');
      if (status !== 'Completed' && status !== 'Failed' && status !== 'Cancelled') return fail(`the duplicate's Ack has status ${JSON.stringify(status)}, not the finished task's final status`);
      return pass(`no Ack: coalesced with ${describe(final)} after ${after(run, final)} (TASK-2 amendment); a duplicate was acknowledged: ${describe(again)}`);
    }
    const problems: string[] = [];
    if (payloadField(ack, 'taskId') !== run.taskId) problems.push(`taskId ${JSON.stringify(payloadField(ack, 'taskId'))}, expected ${run.taskId}`);
    if (typeof payloadField(ack, 'status') !== 'string') problems.push(`status ${JSON.stringify(payloadField(ack, 'status'))}, expected the task's status`);
    return problems.length === 0 ? pass(`${describe(ack)} after ${after(run, ack)}`) : fail(`Ack after ${after(run, ack)}: ${problems.join('; ')}`);
  },
};

const progressCheck: ProviderCheck = {
  name: 'provider.assign.progress',
  requirements: ['TASK-9'],
  level: 'core',
  title: 'progressPercentage stays within [0, 100] and never decreases',
  seed: SEED.progress,
  run: async (probe) => {
    await requireTestTask(probe);
    const selection = await probe.testTask();
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, selection.quick);
    const outcome = await awaitOutcome(probe, run);
    const values = framesOf(run)
      .filter((frame) => typeOf(frame) === 'TaskStatusUpdate')
      .map((frame) => payloadField(frame, 'progressPercentage'));
    const bad = values.find((value) => typeof value !== 'number' || !(value >= 0 && value <= 100));
    if (values.some((value) => typeof value !== 'number') || bad !== undefined) return fail(mismatch({ expected: 'progressPercentage in [0, 100]', observed: `${JSON.stringify(bad)} (sequence ${JSON.stringify(values)})` }));
    const numbers = values as number[];
    const drop = numbers.findIndex((value, index) => index > 0 && value < numbers[index - 1]!);
    if (drop > 0) return fail(mismatch({ expected: 'progress that never decreases', observed: `${numbers[drop - 1]} then ${numbers[drop]} (sequence ${numbers.join(', ')})` }));
    if (numbers.length === 0) return notApplicable(`no TaskStatusUpdate for the task (${outcome.final === undefined ? 'no final message either' : describe(outcome.final)}): nothing to judge`);
    return pass(`progress ${numbers.join(', ')}${outcome.final === undefined ? ' (no final message)' : `, then ${describe(outcome.final)}`}`);
  },
};

/** Frames after `final` that are neither the same final repeated nor an answer to one of our queries. */
function extraAfter(frames: readonly Frame[], final: Frame, queries: number): Frame[] {
  const later = frames.slice(frames.indexOf(final) + 1);
  const repeats = later.filter((frame) => isFinal(frame) && sameFinal(frame, final));
  const others = later.filter((frame) => !(isFinal(frame) && sameFinal(frame, final)));
  return repeats.length > queries ? [...repeats.slice(queries), ...others] : others;
}

const singleFinalCheck: ProviderCheck = {
  name: 'provider.assign.singleFinal',
  requirements: ['TASK-10'],
  level: 'core',
  title: 'exactly one final message, and nothing about the task after it',
  seed: SEED.result,
  run: async (probe) => {
    const connection = await probe.connect();
    const done = await completeOrBlocked(probe, connection);
    await connection.quiet(probe.timing.settleMs);
    const extra = extraAfter(framesOf(done.run), done.final, done.outcome.queries);
    if (extra.length > 0) return fail(mismatch({ expected: `nothing about the task after ${describe(done.final)}`, observed: describeAll(extra) }));
    return pass(`${describe(done.final)} after ${after(done.run, done.final)}, then nothing for ${probe.timing.settleMs} ms`);
  },
};

const pushesFinal: ProviderCheck = {
  name: 'provider.assign.pushesFinal',
  requirements: ['TASK-10'],
  level: 'full',
  title: 'the final message is sent when the task ends, without being asked',
  run: async (probe) => {
    await requireTestTask(probe);
    const selection = await probe.testTask();
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, selection.quick);
    const outcome = await awaitOutcome(probe, run, { pull: false });
    if (outcome.final !== undefined) return pass(`${describe(outcome.final)} pushed after ${after(run, outcome.final)}`);
    return fail(mismatch({ sent: 'AssignTask, then no query', expected: `the final message pushed within ${probe.timing.taskTimeoutMs} ms`, observed: `${describeAll(framesOf(run))} (the outcome comes only when asked: allowed at core, the seed's GetStatus/GetResult flow)` }));
  },
};

interface DuplicateRound {
  readonly run: TaskRun;
  readonly final: Frame | undefined;
  readonly frames: readonly Frame[];
  /** Frames about the task from the last copy (sent after the final message) on. */
  readonly afterLast: readonly Frame[];
  readonly copies: number;
  readonly queries: number;
}

/**
 * Executed again, and why; undefined when nothing shows a second execution. Counting final
 * messages proves nothing (a provider may repeat its final message, TASK-10 judges that); a final
 * message that differs, or progress starting over after it, does.
 */
function reExecution(frames: readonly Frame[], final: Frame): string | undefined {
  const finals = frames.filter(isFinal);
  const different = finals.find((frame) => !sameFinal(frame, final));
  if (different !== undefined) return `a second final message differs from the first (${describe(final)} vs ${describe(different)})`;
  // Progress below 100 after the final message is a run starting over (a lone 100 is TASK-10's business).
  const restarted = (frame: Frame) => {
    const meaning = meaningOf(frame);
    return meaning.kind === 'update' && !meaning.finished && meaning.progress !== undefined && meaning.progress < 100;
  };
  const progressAfter = frames.slice(frames.indexOf(final) + 1).filter(restarted);
  if (progressAfter.length > 0) return `${describeAll(progressAfter)} after the final message ${describe(final)}`;
  return undefined;
}

/** The same AssignTask twice at once, then once more after its final message. Shared by both same-connection checks. */
function duplicateRound(probe: ProviderProbe): Promise<DuplicateRound> {
  return probe.memo('task.duplicates', async () => {
    await requireTestTask(probe);
    const selection = await probe.testTask();
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, selection.quick);
    resend(run);
    const outcome = await awaitOutcome(probe, run);
    await connection.quiet(probe.timing.settleMs);
    const last = connection.frames.length;
    if (outcome.final !== undefined) {
      resend(run);
      await connection.next((frame) => isFinal(frame) && frame !== outcome.final && framesOf(run, last).includes(frame), probe.timing.answerMs, last);
      await connection.quiet(probe.timing.settleMs);
    }
    return { run, final: outcome.final, frames: framesOf(run), afterLast: framesOf(run, last), copies: outcome.final === undefined ? 2 : 3, queries: outcome.queries };
  });
}

const atMostOnceCheck: ProviderCheck = {
  name: 'provider.duplicate.atMostOnce',
  requirements: ['TASK-4'],
  level: 'core',
  title: 'a duplicate AssignTask (same messageId and taskId) is not executed again',
  seed: SEED.idempotency,
  timeoutMs: 20_000,
  run: async (probe) => {
    const round = await duplicateRound(probe);
    if (round.final === undefined) return fail(`no final message within ${probe.timing.taskTimeoutMs} ms after the AssignTask was sent twice; saw ${describeAll(round.frames)}`);
    const again = reExecution(round.frames, round.final);
    if (again !== undefined) return fail(`sent the same AssignTask ${round.copies} times on one connection: executed again: ${again}`);
    return pass(`${round.copies} copies, all answered by ${describe(round.final)}; no progress after it`);
  },
};

const otherConnectionCheck: ProviderCheck = {
  name: 'provider.duplicate.otherConnection',
  requirements: ['TASK-4'],
  level: 'core',
  title: 'a duplicate AssignTask on another connection of the same client is not executed again',
  seed: SEED.idempotency,
  timeoutMs: 20_000,
  run: async (probe) => {
    const first = await probe.connect();
    const done = await completeOrBlocked(probe, first);
    await first.quiet(probe.timing.settleMs);
    const second = await probe.connect();
    resend(done.run, second);
    await second.next((frame) => isFinal(frame) && framesOf(done.run, 0, second).includes(frame), probe.timing.answerMs);
    await second.quiet(probe.timing.settleMs);
    const frames = [...framesOf(done.run), ...framesOf(done.run, 0, second)].sort((a, b) => a.at - b.at);
    const again = reExecution(frames, done.final);
    if (again !== undefined) return fail(`the AssignTask of a finished task sent again on a second connection (same clientId, taskId, messageId): executed again: ${again}`);
    return pass(`the copy on a second connection got ${describeAll(framesOf(done.run, 0, second))}; not executed again`);
  },
};

const duplicateAnswerCheck: ProviderCheck = {
  name: 'provider.duplicate.answer',
  requirements: ['TASK-4', 'TASK-10'],
  level: 'full',
  title: 'a duplicate of a finished task is answered with Ack (final status) and the same final message',
  timeoutMs: 20_000,
  run: async (probe) => {
    const round = await duplicateRound(probe);
    if (round.final === undefined) throw new Blocked('provider.duplicate.atMostOnce', 'no final message for the task');
    const ack = round.afterLast.find((frame) => typeOf(frame) === 'Ack');
    if (ack === undefined && !round.frames.some((frame) => typeOf(frame) === 'Ack')) throw new Blocked('provider.assign.ack', 'the provider sends no Ack at all');
    const repeat = round.afterLast.find(isFinal);
    const problems: string[] = [];
    if (ack === undefined) problems.push('no Ack');
    else if (!['completed', 'failed', 'cancelled'].includes(String(payloadField(ack, 'status')).toLowerCase())) problems.push(`Ack status ${JSON.stringify(payloadField(ack, 'status'))}, expected the final state`);
    if (repeat === undefined) problems.push('no repeated final message');
    else if (!sameFinal(repeat, round.final)) problems.push(`a different final message: ${describe(repeat)}`);
    if (problems.length > 0) return fail(mismatch({ sent: `the AssignTask again after ${describe(round.final)}`, expected: 'Ack with the final status, then the same final message', observed: `${describeAll(round.afterLast)} (${problems.join('; ')})` }));
    return pass(`the copy after completion got ${describeAll(round.afterLast)}`);
  },
};

export const taskChecks: readonly ProviderCheck[] = [
  completes,
  firstAnswerCheck,
  ackCheck,
  progressCheck,
  singleFinalCheck,
  pushesFinal,
  atMostOnceCheck,
  otherConnectionCheck,
  duplicateAnswerCheck,
];
