/**
 * The task as the client sends it: AssignTask's fields (TASK-1, WIRE-2, WIRE-3), re-sends while
 * no Ack comes (TASK-3, WIRE-10), CancelTask (TASK-11), and silence after the final message (TASK-10).
 *
 * Re-sending is judged against what the client says it is configured with (`--ack-timeout-ms`,
 * `--assign-sends-max`), not against a fixed cap: a client that re-sends faster than its Ack
 * timeout, or more often than its limit, is a retry storm however few copies the window holds.
 * The seed makes acknowledgment optional, so at core a client that never re-sends is not
 * applicable; one that re-sends must keep the task (TASK-3), and must recognise the seed's own Ack.
 */
import { decodeFrame } from '../../../machines/codec.js';
import { SEED } from '../seedWords.js';
import { Blocked, fail, mismatch, notApplicable, pass, type CheckResult } from '../types.js';
import { noAssignTask, type ClientCheckSpec } from './checkSupport.js';
import { clientIdOf, exitOf, firstAssign, framesOfType, isObject, jsonEqual, markOf, messageIdOf, ms, payloadOf, shorten, taskIdOf, typeOf } from './observe.js';
import type { ResolvedClientSuiteOptions } from './options.js';
import { answeredHoldMs, withholdWindowMs, type ScenarioRecord } from './scenarios.js';

/** A re-send gap shorter than this share of the Ack timeout is a retry storm. */
const GAP_SHARE_MIN = 0.8;

/** After the scenario's first answer (mark `answered`): no AssignTask may follow it. */
function noResendAfterAnswer(record: ScenarioRecord, options: ResolvedClientSuiteOptions, answer: string): CheckResult {
  const assign = firstAssign(record.events);
  if (assign === undefined) return noAssignTask(record, options);
  const answered = markOf(record.events, 'answered');
  if (answered === undefined) return fail('the scenario did not get to answer the AssignTask');
  const end = markOf(record.events, 'result-sent')?.at ?? markOf(record.events, 'scenario-end')?.at ?? Infinity;
  // A copy sent within a few ms of the answer crossed it on the wire.
  const resent = framesOfType(record.events, 'AssignTask').find((event) => event.at > answered.at + 50 && event.at < end);
  if (resent !== undefined) {
    return fail(mismatch({ sent: answer, expected: `no AssignTask re-sent in the ${ms(answeredHoldMs(options.timings))} that followed (the task was acknowledged)`, observed: `AssignTask re-sent ${ms(resent.at - answered.at)} after it` }));
  }
  return pass(`no re-send in the ${ms(end - answered.at)} after ${answer}`);
}

const ENVELOPE_FIELDS = ['type', 'messageId', 'timestamp', 'payload'] as const;

export const taskCheckSpecs: readonly ClientCheckSpec[] = [
  {
    name: 'client.assign.fields',
    requirements: ['TASK-1', 'WIRE-2', 'WIRE-3'],
    level: 'core',
    title: 'AssignTask is an envelope with taskId, serviceName, operation, taskParameters and callbackClientId',
    seed: SEED.assignTask,
    scenario: 'normal',
    analyse(record, options) {
      const assign = firstAssign(record.events);
      if (assign === undefined) return noAssignTask(record, options);
      const raw = assign.raw as Record<string, unknown>;
      const missing = ENVELOPE_FIELDS.filter((field) => raw[field] === undefined);
      if (missing.length > 0) return fail(`the envelope lacks ${missing.join(', ')}: ${shorten(assign.text)}`);
      const decoded = decodeFrame(assign.text);
      if (!decoded.ok) return fail(`${decoded.error.code}: ${decoded.error.message}`);
      if (typeof raw.timestamp !== 'string') return fail(`timestamp is not an ISO-8601 string: ${JSON.stringify(raw.timestamp)}`);
      const payload = payloadOf(raw) ?? {};
      if (payload.serviceName !== options.serviceName) return fail(`payload.serviceName is ${JSON.stringify(payload.serviceName)}, expected ${JSON.stringify(options.serviceName)}`);
      if (payload.operation !== options.operation) return fail(`payload.operation is ${JSON.stringify(payload.operation)}, expected ${JSON.stringify(options.operation)}`);
      if (!isObject(payload.taskParameters)) return fail('payload.taskParameters is missing (senders always write it)');
      if (!jsonEqual(payload.taskParameters, options.params)) {
        return fail(`payload.taskParameters is ${shorten(JSON.stringify(payload.taskParameters), 120)}, expected SWITCHBOARD_PARAMS_JSON ${shorten(JSON.stringify(options.params), 120)}`);
      }
      return pass(shorten(assign.text));
    },
  },
  {
    name: 'client.assign.resendSameTask',
    requirements: ['TASK-3'],
    level: 'core',
    title: 'A re-sent AssignTask keeps its taskId (not applicable when the client never re-sends)',
    seed: SEED.ackOptional,
    scenario: 'withhold',
    analyse(record, options) {
      const assigns = framesOfType(record.events, 'AssignTask');
      const first = assigns[0];
      if (first === undefined) return noAssignTask(record, options);
      const second = assigns[1];
      if (second === undefined) {
        return notApplicable(`no re-send within ${ms(withholdWindowMs(options.timings))} of an AssignTask that got no answer: acknowledgment is optional in the seed ("Message Acknowledgment (Optional for Critical Messages)"); level full requires the re-send`);
      }
      const taskId = taskIdOf(first.raw);
      const other = assigns.find((assign) => taskIdOf(assign.raw) !== taskId);
      if (other !== undefined) return fail(mismatch({ sent: 'no answer to the AssignTask', expected: `re-sends with taskId ${JSON.stringify(taskId)}`, observed: `a re-send with taskId ${JSON.stringify(taskIdOf(other.raw))}: a new task each time` }));
      return pass(`${assigns.length} sends of task ${taskId}; first re-send after ${ms(second.at - first.at)}`);
    },
  },
  {
    name: 'client.assign.resends',
    requirements: ['TASK-3'],
    level: 'full',
    title: 'Without an Ack or any answer, the client re-sends AssignTask after its Ack timeout',
    scenario: 'withhold',
    analyse(record, options) {
      const assigns = framesOfType(record.events, 'AssignTask');
      if (assigns[0] === undefined) return noAssignTask(record, options);
      const { ackTimeoutMs, slackMs } = options.timings;
      const second = assigns[1];
      if (second === undefined) return fail(mismatch({ sent: 'nothing in answer to the AssignTask', expected: `a re-send within ackTimeoutMs ${ms(ackTimeoutMs)} + ${ms(slackMs)}`, observed: `none in ${ms(withholdWindowMs(options.timings))}` }));
      const gap = second.at - assigns[0].at;
      if (gap > ackTimeoutMs + slackMs) return fail(mismatch({ sent: 'nothing in answer to the AssignTask', expected: `a re-send within ackTimeoutMs ${ms(ackTimeoutMs)} + ${ms(slackMs)}`, observed: `the first re-send after ${ms(gap)}` }));
      return pass(`first re-send after ${ms(gap)} (ackTimeoutMs ${ms(ackTimeoutMs)})`);
    },
  },
  {
    name: 'client.assign.resendSameMessageId',
    requirements: ['WIRE-10', 'TASK-3'],
    level: 'full',
    title: 'A re-sent AssignTask keeps its messageId',
    scenario: 'withhold',
    analyse(record, options) {
      const assigns = framesOfType(record.events, 'AssignTask');
      if (assigns[0] === undefined) return noAssignTask(record, options);
      if (assigns.length < 2) return notApplicable('no re-send to compare (see client.assign.resends)');
      const messageId = messageIdOf(assigns[0].raw);
      const other = assigns.find((assign) => messageIdOf(assign.raw) !== messageId);
      if (other !== undefined) return fail(mismatch({ sent: 'no answer to the AssignTask', expected: `re-sends with messageId ${JSON.stringify(messageId)}`, observed: `messageId ${JSON.stringify(messageIdOf(other.raw))}` }));
      return pass(`${assigns.length} copies, all with messageId ${messageId}`);
    },
  },
  {
    name: 'client.assign.resendBounded',
    requirements: ['TASK-3'],
    level: 'full',
    title: 'Re-sends of AssignTask stop at assignAttemptsMax',
    scenario: 'withhold',
    analyse(record, options) {
      const assigns = framesOfType(record.events, 'AssignTask');
      if (assigns[0] === undefined) return noAssignTask(record, options);
      const { assignSendsMax } = options.timings;
      const window = withholdWindowMs(options.timings);
      const gaps = assigns.slice(1).map((assign, i) => Math.round(assign.at - (assigns[i]?.at ?? 0)));
      if (assigns.length > assignSendsMax) {
        return fail(mismatch({ sent: `no answer for ${ms(window)}`, expected: `at most ${assignSendsMax} sends (the client's assignAttemptsMax, says --assign-sends-max)`, observed: `${assigns.length} sends, gaps ${gaps.slice(0, 10).join(', ')} ms` }));
      }
      return pass(`${assigns.length} sends within ${ms(window)} (at most ${assignSendsMax})${gaps.length > 0 ? `; gaps ${gaps.join(', ')} ms` : ''}`);
    },
  },
  {
    name: 'client.assign.resendSpacing',
    requirements: ['TASK-3'],
    level: 'full',
    title: 'Re-sends of AssignTask are spaced by the Ack timeout (no retry storm)',
    scenario: 'withhold',
    analyse(record, options) {
      const assigns = framesOfType(record.events, 'AssignTask');
      if (assigns[0] === undefined) return noAssignTask(record, options);
      if (assigns.length < 2) return notApplicable('no re-send to space (see client.assign.resends)');
      const { ackTimeoutMs } = options.timings;
      const gaps = assigns.slice(1).map((assign, i) => Math.round(assign.at - (assigns[i]?.at ?? 0)));
      const short = gaps.findIndex((gap) => gap < GAP_SHARE_MIN * ackTimeoutMs);
      if (short >= 0) {
        return fail(mismatch({ sent: 'no answer to the AssignTask', expected: `each re-send at least ${ms(GAP_SHARE_MIN * ackTimeoutMs)} after the previous one (ackTimeoutMs ${ms(ackTimeoutMs)}, says --ack-timeout-ms)`, observed: `re-send ${short + 1} after ${ms(gaps[short]!)} (gaps ${gaps.join(', ')} ms)` }));
      }
      return pass(`gaps ${gaps.join(', ')} ms (ackTimeoutMs ${ms(ackTimeoutMs)})`);
    },
  },
  {
    name: 'client.assign.seedAck',
    requirements: ['TASK-3', 'WIRE-5'],
    level: 'core',
    title: "The seed's own Ack (acknowledgmentId only) acknowledges the AssignTask",
    seed: SEED.ackOptional,
    scenario: 'seedAck',
    analyse: (record, options) => noResendAfterAnswer(record, options, "an Ack in the seed's form, {acknowledgmentId} alone"),
  },
  {
    name: 'client.assign.updateAcknowledges',
    requirements: ['TASK-3'],
    level: 'full',
    title: 'A TaskStatusUpdate for the task acknowledges it (providers without Acks)',
    scenario: 'noAck',
    analyse: (record, options) => noResendAfterAnswer(record, options, 'a TaskStatusUpdate Processing for the task, no Ack'),
  },
  {
    name: 'client.cancel.message',
    requirements: ['TASK-11'],
    level: 'core',
    title: 'CancelTask names the task and the client it belongs to (SWITCHBOARD_CANCEL_AFTER_MS)',
    seed: SEED.cancelTask,
    scenario: 'cancel',
    analyse(record, options) {
      const assign = firstAssign(record.events);
      if (assign === undefined) return noAssignTask(record, options);
      const cancel = framesOfType(record.events, 'CancelTask')[0];
      const { cancelAfterMs, slackMs } = options.timings;
      if (cancel === undefined) {
        return notApplicable(`no CancelTask within ${ms(cancelAfterMs + 2 * slackMs)} of the AssignTask: the command does not honour SWITCHBOARD_CANCEL_AFTER_MS=${cancelAfterMs}`);
      }
      const decoded = decodeFrame(cancel.text);
      if (!decoded.ok) return fail(`${decoded.error.code}: ${decoded.error.message}`);
      const taskId = taskIdOf(assign.raw);
      if (taskIdOf(cancel.raw) !== taskId) return fail(`CancelTask names task ${JSON.stringify(taskIdOf(cancel.raw))}; the task is ${JSON.stringify(taskId)}`);
      const owner = clientIdOf(assign.raw);
      if (owner === undefined) throw new Blocked('client.assign.fields', 'the AssignTask names no callbackClientId to compare with');
      const originalClientId = payloadOf(cancel.raw)?.originalClientId;
      if (originalClientId !== owner) return fail(`CancelTask has originalClientId ${JSON.stringify(originalClientId)}; the AssignTask's callbackClientId is ${JSON.stringify(owner)}`);
      return pass(`${shorten(cancel.text, 160)} (${ms(cancel.at - assign.at)} after the AssignTask)`);
    },
  },
  {
    name: 'client.task.quietAfterResult',
    requirements: ['TASK-10'],
    level: 'full',
    title: 'After TaskResult the client sends nothing about the task but GetResult or GetStatus',
    scenario: 'normal',
    analyse(record, options) {
      const assign = firstAssign(record.events);
      if (assign === undefined) return noAssignTask(record, options);
      const resultSent = markOf(record.events, 'result-sent');
      if (resultSent === undefined) return fail('the scenario never got to send a TaskResult (the connection ended before)');
      const taskId = taskIdOf(assign.raw);
      const later = record.events.filter((event) => event.kind === 'frame' && event.at > resultSent.at && taskIdOf(event.raw) === taskId);
      const offending = later.find((event) => event.kind === 'frame' && !['GetResult', 'GetStatus'].includes(typeOf(event.raw) ?? ''));
      if (offending?.kind === 'frame') {
        return fail(`${ms(offending.at - resultSent.at)} after TaskResult the client sent ${typeOf(offending.raw) ?? 'a message'} for the task: ${shorten(offending.text, 120)}`);
      }
      const exit = exitOf(record.events);
      const end = exit?.at ?? markOf(record.events, 'scenario-end')?.at ?? resultSent.at;
      const what = later.length === 0 ? 'nothing' : `only ${later.length} GetResult/GetStatus`;
      return pass(`${what} about task ${taskId} in ${ms(end - resultSent.at)} after TaskResult${exit === undefined ? '' : ' (then the client exited)'}`);
    },
  },
];
