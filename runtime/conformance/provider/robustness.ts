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
import { SEED } from '../seedWords.js';
import { Blocked, fail, mismatch, pass, type Check } from '../types.js';
import { payloadField, typeOf, type CloseInfo, type Frame, type ProbeConnection } from './connection.js';
import { FRAME_BYTES_MAX } from './options.js';
import { awaitOutcome, completeTestTask } from './outcome.js';
import type { ProviderProbe } from './probe.js';
import { requireTestTask } from './tasks.js';
import { assign, describe, describeAll, describeExpected, isExpectedFinal, short } from './taskRun.js';

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
const shown = (text: string) => JSON.stringify(short(text, 40));

interface Delivery {
  readonly connection: ProbeConnection | undefined;
  /** The first input after which the provider stopped answering, and how that showed. */
  readonly brokeAfter: { readonly input: string; readonly how: string } | undefined;
  /** Inputs after which the provider closed the connection (allowed at core; judged at full). */
  readonly closedAfter: string[];
}

/**
 * Sends the inputs one by one. After each, the provider must still answer a ping (on the same
 * connection, or on a new one when it closed that one): the first input after which it does not
 * is the one that broke it.
 */
async function deliver(probe: ProviderProbe, inputs: readonly string[]): Promise<Delivery> {
  let connection: ProbeConnection | undefined = await probe.connect();
  const closedAfter: string[] = [];
  // Without pongs at all (provider.liveness.pong judges that), only the end result can be judged.
  const pings = await probe.pongWorks();
  for (const [index, input] of inputs.entries()) {
    connection.sendRaw(input);
    if (!pings) continue;
    const tag = `conformance-alive-${index}`;
    connection.ping(tag);
    const pong = await connection.until(() => connection!.pongs.find((candidate) => candidate.data === tag), probe.timing.answerMs);
    if (pong !== undefined) continue;
    if (connection.isOpen) return { connection, brokeAfter: { input, how: `no pong within ${probe.timing.answerMs} ms, the connection still open` }, closedAfter };
    closedAfter.push(`${shown(input)} (${closeText(connection.closeInfo)})`);
    try {
      connection = await probe.connect();
    } catch (error) {
      return { connection: undefined, brokeAfter: { input, how: `the connection was ${closeText(connection.closeInfo)}, then ${(error as Error).message}` }, closedAfter };
    }
  }
  return { connection, brokeAfter: undefined, closedAfter };
}

/** After bad input: does the provider still answer, and does the test task still end as it did? */
async function stillServing(probe: ProviderProbe, delivery: Delivery): Promise<Serving> {
  const closes = delivery.closedAfter.length === 0 ? '' : `; it closed the connection after ${delivery.closedAfter.join(', ')}`;
  if (delivery.brokeAfter !== undefined) return { ok: false, evidence: `stopped answering after the input ${shown(delivery.brokeAfter.input)}: ${delivery.brokeAfter.how}${closes}` };
  let fresh: ProbeConnection;
  try {
    fresh = await probe.connect();
  } catch (error) {
    return { ok: false, evidence: `answered pings throughout, but then ${(error as Error).message}${closes}` };
  }
  const done = await completeTestTask(probe, fresh);
  if (done.ok) return { ok: true, evidence: `it answered after every input and a new connection completed the test task${closes}` };
  return { ok: false, evidence: `it still answers pings, but the test task no longer ends as before: ${done.evidence}${closes}` };
}

/** The robustness check after whose input the provider stopped serving: every later one is a knock-on. */
const brokenBy = new WeakMap<ProviderProbe, string>();

async function requireStillUp(probe: ProviderProbe): Promise<void> {
  const root = brokenBy.get(probe);
  if (root !== undefined) throw new Blocked(root, 'the provider stopped serving in an earlier check, so this one cannot be judged');
}

function garbageCheck(name: string, title: string, requirements: string[], inputs: () => readonly string[]): ProviderCheck {
  return {
    name,
    requirements,
    level: 'core',
    title,
    seed: SEED.robust,
    timeoutMs: 25_000,
    run: async (probe) => {
      await requireTestTask(probe);
      await requireStillUp(probe);
      const sent = inputs();
      const delivery = await deliver(probe, sent);
      const errors = delivery.connection?.frames.filter((frame) => typeOf(frame) === 'Error').length ?? 0;
      const serving = await stillServing(probe, delivery);
      const summary = `${sent.length} bad message(s) (${sent.map(shown).join(', ')}), ${errors} Error repl${errors === 1 ? 'y' : 'ies'}; ${serving.evidence}`;
      if (!serving.ok) brokenBy.set(probe, name);
      return serving.ok ? pass(summary) : fail(summary);
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
    await requireTestTask(probe);
    await requireStillUp(probe);
    const connection = await probe.connect();
    const from = connection.frames.length;
    connection.sendRaw(oversized());
    const error = await connection.next((frame) => typeOf(frame) === 'Error', probe.timing.answerMs, from);
    const close = connection.closeInfo;
    const delivery: Delivery = { connection, brokeAfter: undefined, closedAfter: close === undefined ? [] : [`the oversized message (${closeText(close)})`] };
    if (close === undefined && (await probe.pongWorks())) {
      connection.ping('conformance-after-oversized');
      const pong = await connection.until(() => connection.pongs.find((candidate) => candidate.data === 'conformance-after-oversized'), probe.timing.answerMs);
      if (pong === undefined && connection.isOpen) return { error, close, serving: await stillServing(probe, { ...delivery, brokeAfter: { input: 'a message over 1 MiB', how: 'no pong, the connection still open' } }) };
    }
    return { error, close, serving: await stillServing(probe, delivery) };
  });
}

const oversizedCheck: ProviderCheck = {
  name: 'provider.robustness.oversized',
  requirements: ['WIRE-6', 'SEC-9'],
  level: 'core',
  title: 'a message over 1 MiB does not crash the provider; it keeps serving',
  seed: SEED.robust,
  timeoutMs: 25_000,
  run: async (probe) => {
    const round = await oversizedRound(probe);
    if (!round.serving.ok) brokenBy.set(probe, 'provider.robustness.oversized');
    return round.serving.ok ? pass(round.serving.evidence) : fail(`after a ${FRAME_BYTES_MAX + 1024}-byte message: ${round.serving.evidence}`);
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
    return fail(mismatch({ sent: `a ${FRAME_BYTES_MAX + 1024}-byte message`, expected: 'Error MESSAGE_TOO_LARGE with the connection left open, or close 1009', observed: `${describe(round.error)}${round.close === undefined ? '' : `, ${closeText(round.close)}`}` }));
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
    await requireStillUp(probe);
    const connection = await probe.connect();
    const problems: string[] = [];
    for (const expected of expectations()) {
      const from = connection.frames.length;
      connection.sendRaw(expected.text);
      const error = await connection.next((frame) => typeOf(frame) === 'Error', probe.timing.answerMs, from);
      const input = JSON.stringify(expected.text.slice(0, 30));
      if (error === undefined) problems.push(mismatch({ sent: input, expected: `Error ${expected.code}`, observed: `no Error${connection.closeInfo ? ` (${closeText(connection.closeInfo)})` : ''}` }));
      else if (payloadField(error, 'code') !== expected.code) problems.push(mismatch({ sent: input, expected: `Error ${expected.code}`, observed: describe(error) }));
      else if (expected.relatesTo !== undefined && payloadField(error, 'relatesTo') !== expected.relatesTo) problems.push(mismatch({ sent: input, expected: `relatesTo ${expected.relatesTo}`, observed: `relatesTo ${JSON.stringify(payloadField(error, 'relatesTo'))}` }));
      if (!connection.isOpen) break;
    }
    if (connection.isOpen && (await probe.pongWorks())) {
      connection.ping('conformance-after-errors');
      const pong = await connection.until(() => connection.pongs.find((pong) => pong.data === 'conformance-after-errors'), probe.timing.answerMs);
      if (pong === undefined) problems.push('no pong afterwards');
    } else if (!connection.isOpen) {
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
  seed: SEED.robust,
  timeoutMs: 25_000,
  run: async (probe) => {
    await requireTestTask(probe);
    await requireStillUp(probe);
    const selection = await probe.testTask();
    const victim = await probe.connect();
    const run = assign(victim, probe, selection, selection.slow ?? selection.quick, { clientId: `conformance-victim-${uuid()}` });
    const attacker = await probe.connect();
    const inputs = [...MALFORMED, ...wrongTypes(), ...unknownTypes(), oversized()];
    for (const text of inputs) attacker.sendRaw(text);
    await attacker.quiet(100);
    attacker.terminate();
    const outcome = await awaitOutcome(probe, run);
    const sent = `another client sent ${inputs.length} bad messages (${inputs.slice(0, 4).map(shown).join(', ')}, …) and dropped its socket while this task ran`;
    const wanted = selection.slow === undefined ? describeExpected(selection) : 'TaskResult';
    const good = outcome.final !== undefined && (selection.slow === undefined ? isExpectedFinal(selection, outcome.final) : typeOf(outcome.final) === 'TaskResult');
    if (good) return pass(`the other client's task ended ${describe(outcome.final)}`);
    const closed = victim.closeInfo === undefined ? '' : `; its connection was ${closeText(victim.closeInfo)}`;
    return fail(mismatch({ sent, expected: `the task to end ${wanted}`, observed: `${outcome.final === undefined ? `no final message within ${probe.timing.taskTimeoutMs} ms (${describeAll(victim.frames)})` : describe(outcome.final)}${closed}` }));
  },
};

export const robustnessChecks: readonly ProviderCheck[] = [malformedJson, wrongTypesCheck, unknownTypeCheck, oversizedCheck, oversizedReply, errorReplies, otherClients];
