/**
 * Task lifecycle checks (TASK-2, TASK-3, TASK-4, TASK-9, TASK-10): the quick test task is
 * assigned on a fresh connection and everything the provider says about it is judged.
 *
 * Duplicates (TASK-4) are judged black-box: the same AssignTask is sent twice at once and once
 * more after the final message. A provider that runs it again shows it by a second final message
 * that differs from the first, more final messages than copies sent, or progress after the final
 * message. A provider that re-runs the task silently and repeats the identical final message
 * cannot be told apart from one that does not (docs/conformance.md, "What black-box testing cannot
 * prove").
 */
import { taskStatuses } from '../../../machines/messages.js';
import { fail, notApplicable, pass, type Check } from '../types.js';
import { payloadField, typeOf, type Frame } from './connection.js';
import type { ProviderProbe } from './probe.js';
import {
  after,
  assign,
  completeQuickTask,
  describe,
  describeAll,
  finalOf,
  firstAnswer,
  framesOf,
  isFinal,
  resend,
  sameFinal,
  unauthenticatedHint,
  type TaskRun,
} from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

const firstAnswerCheck: ProviderCheck = {
  name: 'provider.assign.firstAnswer',
  requirements: ['TASK-2', 'TASK-3'],
  level: 'core',
  title: 'AssignTask is answered (Ack, TaskStatusUpdate or final message) within ackTimeoutMs',
  timeoutMs: 15_000,
  run: async (probe) => {
    const selection = await probe.selection();
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, selection.quick);
    const window = probe.timing.ackWindowMs;
    const first = await firstAnswer(run, window);
    if (first === undefined) {
      const late = await firstAnswer(run, probe.timing.taskTimeoutMs);
      const what = late === undefined ? `nothing within ${window + probe.timing.taskTimeoutMs} ms` : `the first answer came after ${after(run, late)}: ${describe(late)}`;
      return fail(`no Ack, TaskStatusUpdate or final message within ${window} ms of AssignTask (a client re-sends then, TASK-3); ${what}`);
    }
    if (typeOf(first) === 'Error') return fail(`answered ${describe(first)}${unauthenticatedHint(first)}`);
    return pass(`${describe(first)} after ${after(run, first)}${typeOf(first) === 'Ack' ? '' : ' (no Ack first: allowed at core, the seed makes Ack optional)'}`);
  },
};

const ackCheck: ProviderCheck = {
  name: 'provider.assign.ack',
  requirements: ['TASK-2', 'TASK-4'],
  level: 'full',
  title: "Ack with acknowledgmentId = the AssignTask's messageId, its taskId and status",
  run: async (probe) => {
    const selection = await probe.selection();
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, selection.quick);
    const ack = await connection.next((frame) => typeOf(frame) === 'Ack' && payloadField(frame, 'acknowledgmentId') === run.messageId, probe.timing.ackWindowMs);
    if (ack === undefined) {
      // TASK-2 amendment: an Ack may be coalesced with the final message that left with it.
      const coalesced = framesOf(run).find((frame) => isFinal(frame) && payloadField(frame, 'taskId') === run.taskId);
      if (coalesced === undefined) return fail(`no Ack citing the AssignTask's messageId within ${probe.timing.ackWindowMs} ms; saw ${describeAll(framesOf(run))}`);
      // Only that Ack may be left out: a duplicate of the finished task is still acknowledged, with
      // its final status (TASK-4). A provider that sends no Ack at all fails here.
      const duplicate = assign(connection, probe, selection, selection.quick, { taskId: run.taskId, clientId: run.clientId });
      const again = await connection.next((frame) => typeOf(frame) === 'Ack' && payloadField(frame, 'acknowledgmentId') === duplicate.messageId, probe.timing.ackWindowMs);
      if (again === undefined) {
        return fail(`no Ack for the task (its final message came alone) nor for a duplicate AssignTask of the finished task within ${probe.timing.ackWindowMs} ms; only an Ack whose final message leaves with it may be left out (TASK-2), a duplicate's never (TASK-4)`);
      }
      const status = payloadField(again, 'status');
      if (status !== 'Completed' && status !== 'Failed' && status !== 'Cancelled') return fail(`the duplicate's Ack has status ${JSON.stringify(status)}, not the finished task's final status`);
      return pass(`no Ack: coalesced with ${describe(coalesced)} after ${after(run, coalesced)} (TASK-2 amendment); a duplicate was acknowledged: ${describe(again)}`);
    }
    const problems: string[] = [];
    if (payloadField(ack, 'taskId') !== run.taskId) problems.push(`taskId ${JSON.stringify(payloadField(ack, 'taskId'))}, expected ${run.taskId}`);
    if (!(taskStatuses as readonly unknown[]).includes(payloadField(ack, 'status'))) problems.push(`status ${JSON.stringify(payloadField(ack, 'status'))}`);
    return problems.length === 0 ? pass(`${describe(ack)} after ${after(run, ack)}`) : fail(`Ack after ${after(run, ack)}: ${problems.join('; ')}`);
  },
};

const progressCheck: ProviderCheck = {
  name: 'provider.assign.progress',
  requirements: ['TASK-9'],
  level: 'core',
  title: 'progressPercentage stays within [0, 100] and never decreases',
  run: async (probe) => {
    const selection = await probe.selection();
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, selection.quick);
    const final = await finalOf(run, probe.timing.taskTimeoutMs);
    const updates = framesOf(run).filter((frame) => typeOf(frame) === 'TaskStatusUpdate');
    const values = updates.map((frame) => payloadField(frame, 'progressPercentage'));
    const bad = values.find((value) => typeof value !== 'number' || !(value >= 0 && value <= 100));
    if (bad !== undefined || values.some((value) => typeof value !== 'number')) return fail(`progressPercentage ${JSON.stringify(bad)} (sequence ${JSON.stringify(values)})`);
    const numbers = values as number[];
    const drop = numbers.findIndex((value, index) => index > 0 && value < numbers[index - 1]!);
    if (drop > 0) return fail(`progress went from ${numbers[drop - 1]} to ${numbers[drop]} (sequence ${numbers.join(', ')})`);
    if (numbers.length === 0) return notApplicable(`no TaskStatusUpdate for the test task (${final === undefined ? 'no final message either' : describe(final)}): nothing to judge`);
    return pass(`progress ${numbers.join(', ')}${final === undefined ? ' (no final message)' : `, then ${describe(final)}`}`);
  },
};

const singleFinalCheck: ProviderCheck = {
  name: 'provider.assign.singleFinal',
  requirements: ['TASK-10'],
  level: 'core',
  title: 'exactly one final message (TaskResult) and nothing about the task after it',
  run: async (probe) => {
    const selection = await probe.selection();
    const connection = await probe.connect();
    const done = await completeQuickTask(probe, connection, selection);
    if (!done.ok) return fail(done.evidence);
    await connection.quiet(probe.timing.settleMs);
    const frames = framesOf(done.run);
    const index = frames.indexOf(done.final);
    const later = frames.slice(index + 1);
    if (later.length > 0) return fail(`after ${describe(done.final)} came ${describeAll(later)}`);
    return pass(`${describe(done.final)} after ${after(done.run, done.final)}, then nothing for ${probe.timing.settleMs} ms`);
  },
};

interface DuplicateRound {
  readonly run: TaskRun;
  readonly final: Frame | undefined;
  readonly frames: readonly Frame[];
  /** Frames about the task from the third copy (sent after the final message) on. */
  readonly afterThird: readonly Frame[];
  readonly copies: number;
}

/** The same AssignTask twice at once, then once more after its final message. Shared by both TASK-4 checks. */
function duplicateRound(probe: ProviderProbe): Promise<DuplicateRound> {
  return probe.memo('task.duplicates', async () => {
    const selection = await probe.selection();
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, selection.quick);
    resend(run);
    const final = await finalOf(run, probe.timing.taskTimeoutMs);
    await connection.quiet(probe.timing.settleMs);
    const third = connection.frames.length;
    if (final !== undefined) {
      resend(run);
      await connection.next((frame) => isFinal(frame) && payloadField(frame, 'taskId') === run.taskId, probe.timing.answerMs, third);
      await connection.quiet(probe.timing.settleMs);
    }
    return { run, final, frames: framesOf(run), afterThird: framesOf(run, third), copies: final === undefined ? 2 : 3 };
  });
}

const atMostOnceCheck: ProviderCheck = {
  name: 'provider.duplicate.atMostOnce',
  requirements: ['TASK-4'],
  level: 'core',
  title: 'a duplicate AssignTask (same messageId and taskId) is not executed again',
  timeoutMs: 15_000,
  run: async (probe) => {
    const round = await duplicateRound(probe);
    if (round.final === undefined) return fail(`no final message within ${probe.timing.taskTimeoutMs} ms after the AssignTask was sent twice; saw ${describeAll(round.frames)}`);
    const finals = round.frames.filter(isFinal);
    const different = finals.find((frame) => !sameFinal(frame, round.final!));
    if (different !== undefined) return fail(`executed again: a second final message differs from the first (${describe(round.final)} vs ${describe(different)})`);
    if (finals.length > round.copies) return fail(`executed again: ${finals.length} final messages for ${round.copies} copies of the AssignTask`);
    const index = round.frames.indexOf(round.final);
    const progressAfter = round.frames.slice(index + 1).filter((frame) => typeOf(frame) === 'TaskStatusUpdate');
    if (progressAfter.length > 0) return fail(`executed again: ${describeAll(progressAfter)} after the final message ${describe(round.final)}`);
    return pass(`${round.copies} copies, ${finals.length} final message(s), all ${describe(round.final)}; no progress after it`);
  },
};

const duplicateAnswerCheck: ProviderCheck = {
  name: 'provider.duplicate.answer',
  requirements: ['TASK-4', 'TASK-10'],
  level: 'full',
  title: 'a duplicate of a finished task is answered with Ack (final status) and the same final message',
  timeoutMs: 15_000,
  run: async (probe) => {
    const round = await duplicateRound(probe);
    if (round.final === undefined) return fail('no final message for the task (see provider.duplicate.atMostOnce)');
    const ack = round.afterThird.find((frame) => typeOf(frame) === 'Ack');
    const repeat = round.afterThird.find(isFinal);
    const problems: string[] = [];
    if (ack === undefined) problems.push('no Ack');
    else if (!['Completed', 'Failed', 'Cancelled'].includes(String(payloadField(ack, 'status')))) problems.push(`Ack status ${JSON.stringify(payloadField(ack, 'status'))}, expected the final state`);
    if (repeat === undefined) problems.push('no repeated final message');
    else if (!sameFinal(repeat, round.final)) problems.push(`a different final message: ${describe(repeat)}`);
    if (problems.length > 0) return fail(`the copy sent after ${describe(round.final)} got ${describeAll(round.afterThird)}: ${problems.join('; ')}`);
    return pass(`the copy after completion got ${describeAll(round.afterThird)}`);
  },
};

export const taskChecks: readonly ProviderCheck[] = [
  firstAnswerCheck,
  ackCheck,
  progressCheck,
  singleFinalCheck,
  atMostOnceCheck,
  duplicateAnswerCheck,
];
