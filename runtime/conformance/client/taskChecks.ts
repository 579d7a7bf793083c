/**
 * The task as the client sends it: AssignTask's fields (TASK-1, WIRE-2, WIRE-3), re-sends while
 * no Ack comes (TASK-3, WIRE-10), CancelTask (TASK-11), and silence after the final message (TASK-10).
 */
import { decodeFrame } from '../../../machines/codec.js';
import { fail, notApplicable, pass } from '../types.js';
import { noAssignTask, type ClientCheckSpec } from './checkSupport.js';
import { clientIdOf, exitOf, firstAssign, framesOfType, isObject, jsonEqual, markOf, messageIdOf, ms, payloadOf, shorten, taskIdOf, typeOf } from './observe.js';

const ENVELOPE_FIELDS = ['type', 'messageId', 'timestamp', 'payload'] as const;

export const taskCheckSpecs: readonly ClientCheckSpec[] = [
  {
    name: 'client.assign.fields',
    requirements: ['TASK-1', 'WIRE-2', 'WIRE-3'],
    level: 'core',
    title: 'AssignTask is an envelope with taskId, serviceName, operation, taskParameters and callbackClientId',
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
    title: 'Without an Ack, the client re-sends AssignTask with the same taskId',
    scenario: 'withhold',
    analyse(record, options) {
      const assigns = framesOfType(record.events, 'AssignTask');
      const first = assigns[0];
      if (first === undefined) return noAssignTask(record, options);
      const { withholdMs, ackTimeoutMs } = options.timings;
      const second = assigns[1];
      if (second === undefined) return fail(`no re-send within ${ms(withholdMs)} of an AssignTask that got no Ack and no answer (ackTimeoutMs ${ms(ackTimeoutMs)})`);
      const taskId = taskIdOf(first.raw);
      const other = assigns.find((assign) => taskIdOf(assign.raw) !== taskId);
      if (other !== undefined) return fail(`AssignTask re-sent with a new taskId: ${JSON.stringify(taskId)} then ${JSON.stringify(taskIdOf(other.raw))}`);
      return pass(`${assigns.length} sends of task ${taskId} in ${ms(withholdMs)}; first re-send after ${ms(second.at - first.at)}`);
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
      if (assigns.length < 2) return notApplicable('no re-send to compare (see client.assign.resendSameTask)');
      const messageId = messageIdOf(assigns[0].raw);
      const other = assigns.find((assign) => messageIdOf(assign.raw) !== messageId);
      if (other !== undefined) return fail(`AssignTask re-sent with messageId ${JSON.stringify(messageIdOf(other.raw))}; the first copy had ${JSON.stringify(messageId)}`);
      return pass(`${assigns.length} copies, all with messageId ${messageId}`);
    },
  },
  {
    name: 'client.assign.resendBounded',
    requirements: ['TASK-3'],
    level: 'full',
    title: 'Re-sends of AssignTask are bounded (assignAttemptsMax) and spaced by the Ack timeout',
    scenario: 'withhold',
    analyse(record, options) {
      const assigns = framesOfType(record.events, 'AssignTask');
      if (assigns[0] === undefined) return noAssignTask(record, options);
      const { withholdMs, assignSendsMax } = options.timings;
      const gaps = assigns.slice(1).map((assign, i) => Math.round(assign.at - (assigns[i]?.at ?? 0)));
      if (assigns.length > assignSendsMax) {
        return fail(`${assigns.length} AssignTask sends within ${ms(withholdMs)} (at most ${assignSendsMax}); gaps ${gaps.slice(0, 8).join(', ')} ms`);
      }
      return pass(`${assigns.length} sends within ${ms(withholdMs)} (at most ${assignSendsMax})${gaps.length > 0 ? `; gaps ${gaps.join(', ')} ms` : ''}`);
    },
  },
  {
    name: 'client.cancel.message',
    requirements: ['TASK-11'],
    level: 'core',
    title: 'CancelTask names the task and the client it belongs to (SWITCHBOARD_CANCEL_AFTER_MS)',
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
