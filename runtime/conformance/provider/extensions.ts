/**
 * switchboard's extensions, all level full: authentication (SEC-2, SEC-3), the session's clientId
 * binding (CONN-9), rate limiting (SEC-7) and outcomes kept across a dropped connection (TASK-13,
 * CONN-6). Optional features are not applicable when the provider does not use them.
 */
import { v4 as uuid } from 'uuid';
import { fail, notApplicable, pass, type Check } from '../types.js';
import { payloadField, typeOf, type Frame } from './connection.js';
import { relatesTo, type ProviderProbe } from './probe.js';
import { assign, completeQuickTask, describe, describeAll, finalOf, firstAnswer, isAbout, isFinal } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

const NO_AUTH = 'the provider does not require authentication (GetStatus without a token was not refused UNAUTHENTICATED)';

const authenticate: ProviderCheck = {
  name: 'provider.auth.authenticate',
  requirements: ['SEC-2'],
  level: 'full',
  title: 'Authenticate with a valid token is acknowledged, and tasks then run',
  timeoutMs: 15_000,
  run: async (probe) => {
    if ((await probe.authRequired()) !== true) return notApplicable(NO_AUTH);
    if (probe.options.token === undefined) return notApplicable('the provider requires authentication: pass --token to check it');
    const connection = await probe.connect({ token: null });
    const sent = connection.send({ type: 'Authenticate', payload: { clientId: probe.clientId, token: probe.options.token } });
    const ack = await connection.next((frame) => payloadField(frame, 'acknowledgmentId') === sent.messageId || relatesTo(frame, sent.messageId), probe.timing.answerMs);
    if (ack === undefined || typeOf(ack) !== 'Ack') return fail(`Authenticate got ${describe(ack)}${connection.closeInfo ? `, closed ${connection.closeInfo.code}` : ''}`);
    const done = await completeQuickTask(probe, connection, await probe.selection());
    return done.ok ? pass(`${describe(ack)}; a task then completed`) : fail(`acknowledged, but then ${done.evidence}`);
  },
};

const wrongToken: ProviderCheck = {
  name: 'provider.auth.wrongToken',
  requirements: ['SEC-2'],
  level: 'full',
  title: 'Authenticate with a wrong token gets Error UNAUTHENTICATED and close 1008',
  timeoutMs: 15_000,
  run: async (probe) => {
    if ((await probe.authRequired()) !== true) return notApplicable(NO_AUTH);
    const connection = await probe.connect({ token: null });
    const sent = connection.send({ type: 'Authenticate', payload: { clientId: probe.clientId, token: `conformance-wrong-${uuid()}` } });
    const error = await connection.next((frame) => typeOf(frame) === 'Error', probe.timing.answerMs);
    const closed = await connection.closed(probe.timing.answerMs);
    const problems: string[] = [];
    if (error === undefined || payloadField(error, 'code') !== 'UNAUTHENTICATED') problems.push(`got ${describe(error)}, expected Error UNAUTHENTICATED`);
    else if (!relatesTo(error, sent.messageId)) problems.push(`the Error does not cite the Authenticate (relatesTo ${JSON.stringify(payloadField(error, 'relatesTo'))})`);
    if (closed?.code !== 1008) problems.push(closed === undefined ? `the connection was not closed within ${probe.timing.answerMs} ms` : `closed ${closed.code}, expected 1008`);
    return problems.length === 0 ? pass(`${describe(error)}, then closed 1008`) : fail(problems.join('; '));
  },
};

const required: ProviderCheck = {
  name: 'provider.auth.required',
  requirements: ['SEC-3'],
  level: 'full',
  title: 'without authentication, AssignTask gets TaskFailed UNAUTHENTICATED and nothing runs',
  timeoutMs: 15_000,
  run: async (probe) => {
    if ((await probe.authRequired()) !== true) return notApplicable(NO_AUTH);
    const selection = await probe.selection();
    const connection = await probe.connect({ token: null });
    const run = assign(connection, probe, selection, selection.quick);
    const final = await finalOf(run, probe.timing.answerMs);
    await connection.quiet(probe.timing.settleMs);
    const problems: string[] = [];
    if (final === undefined || typeOf(final) !== 'TaskFailed' || payloadField(final, 'errorCode') !== 'UNAUTHENTICATED') problems.push(`AssignTask got ${describe(final)}`);
    const ran = connection.frames.filter((frame) => isAbout(frame, run.taskId) && (typeOf(frame) === 'TaskStatusUpdate' || typeOf(frame) === 'TaskResult'));
    if (ran.length > 0) problems.push(`the task ran: ${describeAll(ran)}`);
    return problems.length === 0 ? pass(`AssignTask got ${describe(final)}`) : fail(problems.join('; '));
  },
};

const clientBinding: ProviderCheck = {
  name: 'provider.session.clientBinding',
  requirements: ['CONN-9'],
  level: 'full',
  title: 'a message for another clientId than the session acts for gets Error FORBIDDEN',
  run: async (probe) => {
    const selection = await probe.selection();
    const connection = await probe.connect();
    const done = await completeQuickTask(probe, connection, selection);
    if (!done.ok) return fail(done.evidence);
    const from = connection.frames.length;
    const sent = connection.send({ type: 'GetResult', payload: { taskId: done.run.taskId, originalClientId: `conformance-other-${uuid()}` } });
    const answer = await connection.next((frame) => relatesTo(frame, sent.messageId) || isAbout(frame, done.run.taskId), probe.timing.answerMs, from);
    if (answer !== undefined && typeOf(answer) === 'Error' && payloadField(answer, 'code') === 'FORBIDDEN') return pass(describe(answer));
    return fail(`GetResult naming another clientId on a session bound to ${probe.clientId} got ${describe(answer)}`);
  },
};

const BURST = 300;

const rateLimit: ProviderCheck = {
  name: 'provider.session.rateLimit',
  requirements: ['SEC-7'],
  level: 'full',
  title: 'beyond a rate limit, messages get Error RATE_LIMITED citing them',
  timeoutMs: 15_000,
  run: async (probe) => {
    const connection = await probe.connect();
    const ids = new Set<string>();
    for (let index = 0; index < BURST; index++) {
      const sent = connection.send({ type: 'GetStatus', payload: { taskId: `conformance-burst-${index}`, originalClientId: probe.clientId } });
      ids.add(sent.messageId);
    }
    const limited = await connection.next((frame) => typeOf(frame) === 'Error' && payloadField(frame, 'code') === 'RATE_LIMITED', probe.timing.answerMs);
    await connection.quiet(probe.timing.settleMs);
    if (limited === undefined) {
      const closed = connection.closeInfo === undefined ? '' : ` (the connection was closed ${connection.closeInfo.code})`;
      return notApplicable(`no RATE_LIMITED in answer to a burst of ${BURST} messages${closed}: no rate limit configured, or a higher one`);
    }
    const all = connection.frames.filter((frame) => typeOf(frame) === 'Error' && payloadField(frame, 'code') === 'RATE_LIMITED');
    const uncited = all.filter((frame) => !ids.has(payloadField(frame, 'relatesTo') as string));
    if (uncited.length > 0) return fail(`${uncited.length} RATE_LIMITED Error(s) cite no message of the burst`);
    return pass(`${all.length} of ${BURST} messages refused RATE_LIMITED, each citing its message${connection.isOpen ? '; the connection stayed open' : ''}`);
  },
};

const reconnect: ProviderCheck = {
  name: 'provider.reconnect.outcome',
  requirements: ['TASK-13', 'CONN-6'],
  level: 'full',
  title: "a task outlives its dropped connection; GetResult on a new one delivers the outcome",
  timeoutMs: 25_000,
  run: async (probe) => {
    const selection = await probe.selection();
    const first = await probe.connect();
    const run = assign(first, probe, selection, selection.slow ?? selection.quick);
    const answer = await firstAnswer(run, probe.timing.ackWindowMs);
    if (answer === undefined) return fail(`no answer to the AssignTask within ${probe.timing.ackWindowMs} ms`);
    first.terminate();
    const second = await probe.connect();
    const deadline = Date.now() + probe.timing.taskTimeoutMs;
    let last: Frame | undefined;
    while (Date.now() < deadline) {
      const from = second.frames.length;
      const sent = second.send({ type: 'GetResult', payload: { taskId: run.taskId, originalClientId: run.clientId } });
      last = await second.next((frame) => isAbout(frame, run.taskId, [sent.messageId]), probe.timing.answerMs, from);
      if (last === undefined || typeOf(last) === 'Error' || isFinal(last)) break;
      await second.quiet(300);
    }
    if (last !== undefined && typeOf(last) === 'TaskResult') return pass(`after the drop, GetResult on a new connection got ${describe(last)}`);
    const cancelled = last !== undefined && payloadField(last, 'status') === 'Cancelled' ? ' (cancelled because its connection dropped?)' : '';
    return fail(`after the drop, GetResult on a new connection got ${describe(last)}${cancelled}`);
  },
};

export const extensionChecks: readonly ProviderCheck[] = [authenticate, wrongToken, required, clientBinding, rateLimit, reconnect];
