/**
 * switchboard's extensions, all level full: authentication (SEC-2, SEC-3), the session's clientId
 * binding (CONN-9) and outcomes kept across a dropped connection (TASK-13, CONN-6). Optional
 * features are not applicable when the provider does not use them, unless the user says they are
 * configured (`authRequired`): then they are required.
 */
import { v4 as uuid } from 'uuid';
import { Blocked, fail, mismatch, notApplicable, pass, type Check } from '../types.js';
import { payloadField, typeOf, type Frame } from './connection.js';
import { isFinal, meaningOf } from './meaning.js';
import { ask, awaitOutcome } from './outcome.js';
import { relatesTo, type ProviderProbe } from './probe.js';
import { completeOrBlocked, requireTestTask } from './tasks.js';
import { assign, describe, describeAll, describeExpected, firstAnswer, isAbout, isExpectedFinal } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

const NO_AUTH = 'the provider does not require authentication (GetStatus without a token was not refused UNAUTHENTICATED); pass --auth-required if it is configured to';

/** Whether to judge authentication: the provider requires it, or the user says it is configured. */
async function authToJudge(probe: ProviderProbe): Promise<boolean> {
  return (await probe.authRequired()) === true || probe.options.authRequired === true;
}

const authenticate: ProviderCheck = {
  name: 'provider.auth.authenticate',
  requirements: ['SEC-2'],
  level: 'full',
  title: 'Authenticate with a valid token is acknowledged, and tasks then run',
  timeoutMs: 15_000,
  run: async (probe) => {
    if (!(await authToJudge(probe))) return notApplicable(NO_AUTH);
    if (probe.options.token === undefined) return notApplicable('the provider requires authentication: pass --token to check it');
    const connection = await probe.connect({ token: null });
    const sent = connection.send({ type: 'Authenticate', payload: { clientId: probe.clientId, token: probe.options.token } });
    const ack = await connection.next((frame) => payloadField(frame, 'acknowledgmentId') === sent.messageId || relatesTo(frame, sent.messageId), probe.timing.answerMs);
    if (ack === undefined || typeOf(ack) !== 'Ack') return fail(`Authenticate got ${describe(ack)}${connection.closeInfo ? `, closed ${connection.closeInfo.code}` : ''}`);
    const done = await completeOrBlocked(probe, connection);
    return pass(`${describe(ack)}; a task then completed (${describe(done.final)})`);
  },
};

const wrongToken: ProviderCheck = {
  name: 'provider.auth.wrongToken',
  requirements: ['SEC-2'],
  level: 'full',
  title: 'Authenticate with a wrong token gets Error UNAUTHENTICATED and close 1008',
  timeoutMs: 15_000,
  run: async (probe) => {
    if (!(await authToJudge(probe))) return notApplicable(NO_AUTH);
    const connection = await probe.connect({ token: null });
    const sent = connection.send({ type: 'Authenticate', payload: { clientId: probe.clientId, token: `conformance-wrong-${uuid()}` } });
    const error = await connection.next((frame) => typeOf(frame) === 'Error', probe.timing.answerMs);
    const closed = await connection.closed(probe.timing.answerMs);
    const problems: string[] = [];
    if (error === undefined || payloadField(error, 'code') !== 'UNAUTHENTICATED') problems.push(mismatch({ sent: 'Authenticate with a wrong token', expected: 'Error UNAUTHENTICATED', observed: describe(error ?? connection.frames[0]) }));
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
    const required = await probe.authRequired();
    if (required !== true && probe.options.authRequired !== true) return notApplicable(NO_AUTH);
    await requireTestTask(probe);
    const selection = await probe.testTask();
    const connection = await probe.connect({ token: null });
    const run = assign(connection, probe, selection, selection.quick);
    const { final } = await awaitOutcome(probe, run, { timeoutMs: probe.timing.answerMs, pull: false });
    await connection.quiet(probe.timing.settleMs);
    const problems: string[] = [];
    if (final === undefined || typeOf(final) !== 'TaskFailed' || payloadField(final, 'errorCode') !== 'UNAUTHENTICATED') {
      problems.push(mismatch({ sent: `AssignTask on a connection without a token${required === true ? '' : ' (authentication is configured, says --auth-required)'}`, expected: 'TaskFailed UNAUTHENTICATED', observed: describe(final) }));
    }
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
    const connection = await probe.connect();
    const done = await completeOrBlocked(probe, connection);
    const from = connection.frames.length;
    const sent = connection.send({ type: 'GetResult', payload: { taskId: done.run.taskId, originalClientId: `conformance-other-${uuid()}` } });
    const answer = await connection.next((frame) => relatesTo(frame, sent.messageId) || isAbout(frame, done.run.taskId), probe.timing.answerMs, from);
    if (answer !== undefined && typeOf(answer) === 'Error' && payloadField(answer, 'code') === 'FORBIDDEN') return pass(describe(answer));
    return fail(mismatch({ sent: `GetResult naming another clientId on a session bound to ${probe.clientId}`, expected: 'Error FORBIDDEN', observed: describe(answer) }));
  },
};

const reconnect: ProviderCheck = {
  name: 'provider.reconnect.outcome',
  requirements: ['TASK-13', 'CONN-6'],
  level: 'full',
  title: "a task outlives its dropped connection; GetResult on a new one delivers the outcome",
  timeoutMs: 25_000,
  run: async (probe) => {
    await requireTestTask(probe);
    const selection = await probe.testTask();
    const first = await probe.connect();
    const run = assign(first, probe, selection, selection.slow ?? selection.quick);
    const answer = await firstAnswer(run, probe.timing.ackWindowMs);
    if (answer === undefined) throw new Blocked('provider.assign.firstAnswer', `no answer to the AssignTask within ${probe.timing.ackWindowMs} ms`);
    first.terminate();
    const second = await probe.connect();
    const deadline = Date.now() + probe.timing.taskTimeoutMs;
    let last: Frame | undefined;
    while (Date.now() < deadline) {
      // GetStatus while it runs (what GetResult answers meanwhile is provider.query.whileRunning's business), then GetResult.
      const status = await ask(second, 'GetStatus', run.taskId, run.clientId, probe.timing.answerMs);
      const meaning = status === undefined ? undefined : meaningOf(status);
      const finished = status !== undefined && (isFinal(status) || (meaning?.kind === 'update' && meaning.finished));
      if (finished) {
        last = await ask(second, 'GetResult', run.taskId, run.clientId, probe.timing.answerMs);
        // A status that claims the end too early is provider.query.whileRunning's business: ask on.
        if (last !== undefined && isFinal(last)) break;
      } else if (status === undefined || meaning?.kind === 'notFound' || meaning?.kind === 'error') {
        last = status;
        break;
      }
      await second.quiet(300);
    }
    const expected = selection.slow === undefined ? describeExpected(selection) : 'TaskResult';
    const ok = last !== undefined && (selection.slow === undefined ? isExpectedFinal(selection, last) : typeOf(last) === 'TaskResult');
    if (ok) return pass(`after the drop, GetResult on a new connection got ${describe(last)}`);
    const cancelled = last !== undefined && payloadField(last, 'status') === 'Cancelled' ? ': cancelled because its connection dropped' : '';
    return fail(mismatch({ sent: 'AssignTask, then the socket dropped (no close frame), then GetResult on a new connection with the same clientId', expected: expected, observed: `${describe(last)}${cancelled}` }));
  },
};

export const extensionChecks: readonly ProviderCheck[] = [authenticate, wrongToken, required, clientBinding, reconnect];
