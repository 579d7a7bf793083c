/**
 * Malformed input on the WebSocket (WIRE-6, WIRE-7, WIRE-8, WIRE-9, SEC-9). Core asks what the
 * seed asks ("gracefully handle malformed JSON, invalid payloads"): the provider does not crash
 * and keeps serving, on the same connection or a new one, and another client's task is not lost.
 * Full asks for switchboard's answers: Error INVALID_MESSAGE / UNSUPPORTED_MESSAGE citing the
 * message, the connection left open, and MESSAGE_TOO_LARGE (or close 1009) for an oversized frame.
 *
 * These checks run last: a provider that crashes on them fails every check after them.
 */
import { v4 as uuid } from 'uuid';
import { fail, pass, type Check } from '../types.js';
import { payloadField, typeOf, type CloseInfo, type Frame, type ProbeConnection } from './connection.js';
import { FRAME_BYTES_MAX } from './options.js';
import type { ProviderProbe } from './probe.js';
import { assign, completeQuickTask, describe, describeAll, finalOf } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

const now = () => new Date().toISOString();

/** Not JSON, or JSON that is not an object. */
const MALFORMED: readonly string[] = ['{"type": "AssignTask", "messageId": ', 'this is not JSON', '[1, 2, 3]', '"just a string"', 'null', '{}'];

/** Known types with fields of the wrong JSON type. */
const wrongTypes = (): string[] => [
  JSON.stringify({ type: 'AssignTask', messageId: `conformance-bad-${uuid()}`, timestamp: now(), payload: { taskId: 42, serviceName: null, operation: ['x'], taskParameters: 'x', callbackClientId: {} } }),
  JSON.stringify({ type: 'GetStatus', messageId: `conformance-bad-${uuid()}`, timestamp: now(), payload: [] }),
  JSON.stringify({ type: 'CancelTask', messageId: `conformance-bad-${uuid()}`, timestamp: now() }),
  JSON.stringify({ type: 'AssignTask', messageId: { not: 'a string' }, timestamp: 12.5, payload: null }),
  JSON.stringify({ type: 42, messageId: `conformance-bad-${uuid()}` }),
];

/** Types the provider does not implement: unknown, and provider-to-client types sent by a client. */
const unknownTypes = (): string[] => [
  JSON.stringify({ type: 'FrobnicateTask', messageId: `conformance-bad-${uuid()}`, timestamp: now(), payload: {} }),
  JSON.stringify({ type: 'TaskResult', messageId: `conformance-bad-${uuid()}`, timestamp: now(), payload: { taskId: 'x', status: 'Completed', resultData: null } }),
];

/** A text frame over 1 MiB (frameBytesMax) that is otherwise a plausible message. */
const oversized = (): string =>
  JSON.stringify({ type: 'AssignTask', messageId: `conformance-big-${uuid()}`, timestamp: now(), payload: { pad: 'x'.repeat(FRAME_BYTES_MAX + 1024) } });

interface Serving {
  readonly ok: boolean;
  readonly evidence: string;
}

const closeText = (info: CloseInfo | undefined) => (info === undefined ? '' : `closed ${info.code}${info.reason ? ` "${info.reason}"` : ''}`);

/** After bad input on `connection`: does a task still complete, there or on a new connection? */
async function stillServing(probe: ProviderProbe, connection: ProbeConnection): Promise<Serving> {
  const selection = await probe.selection();
  let before = '';
  if (connection.isOpen) {
    const done = await completeQuickTask(probe, connection, selection);
    if (done.ok) return { ok: true, evidence: 'the connection stayed open and a task completed on it' };
    before = connection.isOpen ? `the connection stayed open but ${done.evidence}` : `the connection was ${closeText(connection.closeInfo)}`;
  } else {
    before = `the connection was ${closeText(connection.closeInfo)}`;
  }
  let fresh: ProbeConnection;
  try {
    fresh = await probe.connect();
  } catch (error) {
    return { ok: false, evidence: `${before}; then ${(error as Error).message}` };
  }
  const done = await completeQuickTask(probe, fresh, selection);
  return done.ok ? { ok: true, evidence: `${before}; a new connection completed a task` } : { ok: false, evidence: `${before}; on a new connection ${done.evidence}` };
}

function garbageCheck(name: string, title: string, requirements: string[], inputs: () => readonly string[]): ProviderCheck {
  return {
    name,
    requirements,
    level: 'core',
    title,
    timeoutMs: 20_000,
    run: async (probe) => {
      const connection = await probe.connect();
      const sent = inputs();
      for (const text of sent) connection.sendRaw(text);
      await connection.quiet(probe.timing.settleMs);
      const errors = connection.frames.filter((frame) => typeOf(frame) === 'Error').length;
      const serving = await stillServing(probe, connection);
      const summary = `${sent.length} bad message(s), ${errors} Error repl${errors === 1 ? 'y' : 'ies'}; ${serving.evidence}`;
      return serving.ok ? pass(summary) : fail(`stopped serving after bad input: ${summary}`);
    },
  };
}

const malformedJson = garbageCheck(
  'provider.robustness.malformedJson',
  'input that is not a JSON object does not crash the provider; it keeps serving',
  ['WIRE-7', 'WIRE-8', 'WIRE-9', 'SEC-9'],
  () => MALFORMED,
);

const wrongTypesCheck = garbageCheck(
  'provider.robustness.wrongTypes',
  'messages with fields of the wrong type do not crash the provider',
  ['WIRE-7', 'WIRE-9', 'SEC-9'],
  wrongTypes,
);

const unknownTypeCheck = garbageCheck(
  'provider.robustness.unknownType',
  'unknown message types (and provider-to-client types) do not crash the provider',
  ['WIRE-7', 'WIRE-9', 'SEC-9'],
  unknownTypes,
);

interface OversizedRound {
  readonly error: Frame | undefined;
  readonly close: CloseInfo | undefined;
  readonly serving: Serving;
}

function oversizedRound(probe: ProviderProbe): Promise<OversizedRound> {
  return probe.memo('robustness.oversized', async () => {
    const connection = await probe.connect();
    const from = connection.frames.length;
    connection.sendRaw(oversized());
    const error = await connection.next((frame) => typeOf(frame) === 'Error', probe.timing.answerMs, from);
    const close = connection.closeInfo;
    return { error, close, serving: await stillServing(probe, connection) };
  });
}

const oversizedCheck: ProviderCheck = {
  name: 'provider.robustness.oversized',
  requirements: ['WIRE-6', 'SEC-9'],
  level: 'core',
  title: 'a message over 1 MiB does not crash the provider; it keeps serving',
  timeoutMs: 25_000,
  run: async (probe) => {
    const round = await oversizedRound(probe);
    return round.serving.ok ? pass(round.serving.evidence) : fail(`stopped serving after a ${FRAME_BYTES_MAX + 1024}-byte message: ${round.serving.evidence}`);
  },
};

const oversizedReply: ProviderCheck = {
  name: 'provider.robustness.oversizedReply',
  requirements: ['WIRE-6', 'WIRE-8'],
  level: 'full',
  title: 'a message over 1 MiB gets Error MESSAGE_TOO_LARGE (connection open) or close 1009',
  timeoutMs: 25_000,
  run: async (probe) => {
    const round = await oversizedRound(probe);
    if (round.close?.code === 1009) return pass('closed 1009 (message too big)');
    if (round.error !== undefined && payloadField(round.error, 'code') === 'MESSAGE_TOO_LARGE' && round.close === undefined) return pass(`${describe(round.error)}, connection open`);
    return fail(`got ${describe(round.error)}${round.close === undefined ? '' : `, ${closeText(round.close)}`}`);
  },
};

/** Each input, the Error code it must get, and whether relatesTo must cite it. */
function expectations(): { text: string; code: string; relatesTo: string | undefined }[] {
  const id = () => `conformance-bad-${uuid()}`;
  const invalidId = id();
  const unknownId = id();
  const wrongDirectionId = id();
  return [
    { text: 'this is not JSON', code: 'INVALID_MESSAGE', relatesTo: undefined },
    { text: '[1, 2, 3]', code: 'INVALID_MESSAGE', relatesTo: undefined },
    { text: JSON.stringify({ type: 'AssignTask', messageId: invalidId, timestamp: now(), payload: { taskId: 42 } }), code: 'INVALID_MESSAGE', relatesTo: invalidId },
    { text: JSON.stringify({ type: 'FrobnicateTask', messageId: unknownId, timestamp: now(), payload: {} }), code: 'UNSUPPORTED_MESSAGE', relatesTo: unknownId },
    {
      text: JSON.stringify({ type: 'TaskResult', messageId: wrongDirectionId, timestamp: now(), payload: { taskId: 'x', status: 'Completed', resultData: null } }),
      code: 'UNSUPPORTED_MESSAGE',
      relatesTo: wrongDirectionId,
    },
  ];
}

const errorReplies: ProviderCheck = {
  name: 'provider.robustness.errorReplies',
  requirements: ['WIRE-7', 'WIRE-8'],
  level: 'full',
  title: 'rejected messages get Error INVALID_MESSAGE / UNSUPPORTED_MESSAGE citing them; the connection stays open',
  timeoutMs: 20_000,
  run: async (probe) => {
    const connection = await probe.connect();
    const problems: string[] = [];
    for (const expected of expectations()) {
      const from = connection.frames.length;
      connection.sendRaw(expected.text);
      const error = await connection.next((frame) => typeOf(frame) === 'Error', probe.timing.answerMs, from);
      const shown = expected.text.slice(0, 30);
      if (error === undefined) problems.push(`${JSON.stringify(shown)}: no Error${connection.closeInfo ? ` (${closeText(connection.closeInfo)})` : ''}`);
      else if (payloadField(error, 'code') !== expected.code) problems.push(`${JSON.stringify(shown)}: ${describe(error)}, expected ${expected.code}`);
      else if (expected.relatesTo !== undefined && payloadField(error, 'relatesTo') !== expected.relatesTo) problems.push(`${JSON.stringify(shown)}: relatesTo ${JSON.stringify(payloadField(error, 'relatesTo'))}`);
      if (!connection.isOpen) break;
    }
    if (connection.isOpen) {
      connection.ping('conformance-after-errors');
      const pong = await connection.until(() => connection.pongs.find((pong) => pong.data === 'conformance-after-errors'), probe.timing.answerMs);
      if (pong === undefined) problems.push('no pong afterwards');
    } else {
      problems.push(`the connection was ${closeText(connection.closeInfo)}`);
    }
    return problems.length === 0 ? pass('5 rejected messages, 5 Errors with the right codes and relatesTo; the connection stayed open') : fail(problems.join('; '));
  },
};

const otherClients: ProviderCheck = {
  name: 'provider.robustness.otherClients',
  requirements: ['SEC-9', 'WIRE-9'],
  level: 'core',
  title: "one client's bad input does not lose another client's running task",
  timeoutMs: 25_000,
  run: async (probe) => {
    const selection = await probe.selection();
    const victim = await probe.connect();
    const run = assign(victim, probe, selection, selection.slow ?? selection.quick, { clientId: `conformance-victim-${uuid()}` });
    const attacker = await probe.connect();
    for (const text of [...MALFORMED, ...wrongTypes(), ...unknownTypes(), oversized()]) attacker.sendRaw(text);
    await attacker.quiet(100);
    attacker.terminate();
    const final = await finalOf(run, probe.timing.taskTimeoutMs);
    if (final === undefined) {
      const closed = victim.closeInfo === undefined ? '' : `; its connection was ${closeText(victim.closeInfo)}`;
      return fail(`the other client's task got no final message within ${probe.timing.taskTimeoutMs} ms${closed}; saw ${describeAll(victim.frames)}`);
    }
    return typeOf(final) === 'TaskResult' ? pass(`the other client's task ended ${describe(final)}`) : fail(`the other client's task ended ${describe(final)}`);
  },
};

export const robustnessChecks: readonly ProviderCheck[] = [malformedJson, wrongTypesCheck, unknownTypeCheck, oversizedCheck, oversizedReply, errorReplies, otherClients];
