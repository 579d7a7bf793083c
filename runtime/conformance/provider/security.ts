/**
 * Security checks the suite can make from outside (level full; docs/security.md):
 *
 * - SEC-10, a takeover refused: a task of one client (it presents a client proof at the upgrade)
 *   is asked about from a session presenting another proof: every answer is FORBIDDEN, the same
 *   for that task and for one that does not exist, and nothing of the task reaches it. Not
 *   applicable when the provider requires authentication or the suite presents a token (the suite
 *   holds one credential, and a credential owns its clientIds).
 * - SEC-4, an ACL refusal: only when told which operation the suite's identity is refused
 *   (`security.forbiddenOperation`): TaskFailed FORBIDDEN, no Ack.
 * - SEC-14, SEC-15, limits: only when told which limits to expect (`security.*`): a silent
 *   connection is closed after the first-message deadline, a byte-less TCP connection after the
 *   upgrade deadline, and one connection beyond the per-address maximum is refused.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { v4 as uuid } from 'uuid';
import { WebSocket } from 'ws';
import { CLIENT_PROOF_HEADER, clientProofFor } from '../../../adapters/ws/options.js';
import { fail, notApplicable, pass, type Check } from '../types.js';
import { payloadField, typeOf, type ProbeConnection } from './connection.js';
import type { ProviderProbe } from './probe.js';
import { assign, describe, finalOf } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

/** What the user tells the suite to expect of a locked-down provider (each enables its check). */
export interface SecurityExpectations {
  /** An operation the suite's identity is refused by the ACL: `operation` of the service under test, or `Service.operation`. */
  readonly forbiddenOperation?: string;
  /** The provider's firstMessageTimeoutMs (SEC-14). */
  readonly firstMessageTimeoutMs?: number;
  /** The provider's upgradeTimeoutMs (SEC-14). */
  readonly upgradeTimeoutMs?: number;
  /** The provider's connectionsPerAddressMax (SEC-15). */
  readonly connectionsPerAddressMax?: number;
}

/** Silence after which the victim asks GetResult for its task's outcome (a provider that does not push). */
const PULL_AFTER_MS = 1_000;

/** How late a deadline may fire and still pass (scheduling on a busy machine). */
const SLACK_MS = 2_000;

interface Answer {
  readonly type: unknown;
  readonly code: unknown;
  readonly message: unknown;
}

/** A raw session presenting the client proof of `secret` (SEC-10), collecting the JSON frames it gets. */
async function provingSession(probe: ProviderProbe, secret: string) {
  const socket = new WebSocket(probe.endpoint, {
    handshakeTimeout: probe.timing.connectTimeoutMs,
    headers: {
      [CLIENT_PROOF_HEADER]: clientProofFor(secret, probe.endpoint),
      ...(probe.options.token === undefined ? {} : { authorization: `Bearer ${probe.options.token}` }),
    },
    ...(probe.options.tls ?? {}),
  });
  const frames: Record<string, unknown>[] = [];
  socket.on('message', (data) => {
    try {
      frames.push(JSON.parse(String(data)) as Record<string, unknown>);
    } catch {
      // not JSON: not an answer this check waits for
    }
  });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', (code) => reject(new Error(`cannot connect (${code})`)));
  });
  const ask = async (type: 'GetStatus' | 'GetResult' | 'CancelTask', taskId: string, clientId: string): Promise<Answer | undefined> => {
    const messageId = `conformance-${uuid()}`;
    socket.send(JSON.stringify({ type, messageId, timestamp: new Date().toISOString(), payload: { taskId, originalClientId: clientId } }));
    const deadline = Date.now() + probe.timing.answerMs;
    for (;;) {
      const frame = frames.find((candidate) => (candidate.payload as { relatesTo?: unknown } | undefined)?.relatesTo === messageId);
      if (frame !== undefined) {
        const payload = frame.payload as Record<string, unknown>;
        return { type: frame.type, code: payload.code, message: payload.message };
      }
      if (Date.now() > deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return { socket, frames, ask };
}

const takeover: ProviderCheck = {
  name: 'provider.security.takeover',
  requirements: ['SEC-10'],
  level: 'full',
  title: "a session claiming another client's clientId gets FORBIDDEN and learns nothing",
  timeoutMs: 30_000,
  run: async (probe) => {
    if (probe.options.token !== undefined || (await probe.authRequired()) === true) {
      return notApplicable('the provider requires authentication, or the suite presents a token: a credential owns its clientIds, and the suite holds one');
    }
    const selection = await probe.testTask();
    const victimId = `conformance-victim-${uuid()}`;
    const victim = await provingSession(probe, randomBytes(32).toString('hex'));
    const attacker = await provingSession(probe, randomBytes(32).toString('hex'));
    try {
      const taskId = `conformance-task-${uuid()}`;
      victim.socket.send(
        JSON.stringify({
          type: 'AssignTask',
          messageId: `conformance-${uuid()}`,
          timestamp: new Date().toISOString(),
          payload: { taskId, serviceName: selection.serviceName, operation: selection.quick.operation, taskParameters: selection.quick.params, callbackClientId: victimId },
        }),
      );
      // The victim's task must be finished (and in the ledger) before the attacker asks. A provider
      // that never pushes (the seed's pull flow) gives the outcome to GetResult: the victim asks.
      const deadline = Date.now() + probe.timing.taskTimeoutMs;
      let pollAt = Date.now() + PULL_AFTER_MS;
      while (!victim.frames.some((frame) => frame.type === 'TaskResult' || frame.type === 'TaskFailed') && Date.now() < deadline) {
        if (Date.now() >= pollAt) {
          pollAt = Date.now() + PULL_AFTER_MS;
          victim.socket.send(JSON.stringify({ type: 'GetResult', messageId: `conformance-${uuid()}`, timestamp: new Date().toISOString(), payload: { taskId, originalClientId: victimId } }));
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (!victim.frames.some((frame) => frame.type === 'TaskResult' || frame.type === 'TaskFailed')) {
        return fail(`the victim's task got no final message within ${probe.timing.taskTimeoutMs} ms`);
      }
      const real = [await attacker.ask('GetStatus', taskId, victimId), await attacker.ask('GetResult', taskId, victimId), await attacker.ask('CancelTask', taskId, victimId)];
      const madeUp = await attacker.ask('GetStatus', `conformance-none-${uuid()}`, victimId);
      const problems: string[] = [];
      for (const answer of [...real, madeUp]) {
        if (answer === undefined) problems.push(`no answer within ${probe.timing.answerMs} ms`);
        else if (answer.code !== 'FORBIDDEN') problems.push(`answered ${String(answer.type)} ${String(answer.code)}`);
      }
      if (JSON.stringify(real[0]) !== JSON.stringify(madeUp)) problems.push(`a real task and a made-up one get different answers: ${JSON.stringify(real[0])} vs ${JSON.stringify(madeUp)}`);
      const leaked = attacker.frames.filter((frame) => (frame.payload as { taskId?: unknown } | undefined)?.taskId === taskId && frame.type !== 'Error');
      if (leaked.length > 0) problems.push(`the attacker received ${leaked.map((frame) => String(frame.type)).join(', ')} about the victim's task`);
      return problems.length === 0 ? pass(`every answer ${JSON.stringify(madeUp)}`) : fail(problems.join('; '));
    } finally {
      victim.socket.terminate();
      attacker.socket.terminate();
    }
  },
};

const aclRefusal: ProviderCheck = {
  name: 'provider.security.aclRefusal',
  requirements: ['SEC-4'],
  level: 'full',
  title: 'an operation the ACL refuses gets TaskFailed FORBIDDEN, without Ack',
  timeoutMs: 20_000,
  run: async (probe) => {
    const named = probe.options.security?.forbiddenOperation;
    if (named === undefined) return notApplicable('pass --forbidden-operation to name an operation this identity is refused');
    const selection = await probe.testTask();
    const [serviceName, operation] = named.includes('.') ? (named.split('.', 2) as [string, string]) : [selection.serviceName, named];
    const connection = await probe.connect();
    const run = assign(connection, probe, selection, { operation, params: selection.quick.params }, { serviceName });
    const final = await finalOf(run, probe.timing.taskTimeoutMs);
    if (final === undefined) return fail(`${named}: no final message within ${probe.timing.taskTimeoutMs} ms`);
    const ack = connection.frames.find((frame) => typeOf(frame) === 'Ack');
    if (typeOf(final) !== 'TaskFailed' || payloadField(final, 'errorCode') !== 'FORBIDDEN') return fail(`${named}: ${describe(final)}`);
    return ack === undefined ? pass(`${named}: ${describe(final)}`) : fail(`${named}: acknowledged (${describe(ack)}) although refused`);
  },
};

const firstMessageDeadline: ProviderCheck = {
  name: 'provider.security.firstMessageDeadline',
  requirements: ['SEC-14'],
  level: 'full',
  title: 'a connection that sends nothing is closed (1008) after the first-message deadline',
  timeoutMs: 120_000,
  run: async (probe) => {
    const expected = probe.options.security?.firstMessageTimeoutMs;
    if (expected === undefined) return notApplicable('pass --expect-first-message-ms to name the deadline to check');
    const connection: ProbeConnection = await probe.connect();
    const closed = await connection.closed(expected + SLACK_MS);
    if (closed === undefined) return fail(`still open ${expected + SLACK_MS} ms after the upgrade`);
    const afterMs = closed.at - connection.openedAt;
    if (afterMs < expected * 0.8) return fail(`closed after ${afterMs} ms, before the ${expected} ms deadline`);
    return closed.code === 1008 ? pass(`closed ${closed.code} after ${afterMs} ms`) : fail(`closed with ${closed.code} after ${afterMs} ms, expected 1008`);
  },
};

const upgradeDeadline: ProviderCheck = {
  name: 'provider.security.upgradeDeadline',
  requirements: ['SEC-14'],
  level: 'full',
  title: 'a TCP connection that sends no byte is dropped after the upgrade deadline',
  timeoutMs: 120_000,
  run: async (probe) => {
    const expected = probe.options.security?.upgradeTimeoutMs;
    if (expected === undefined) return notApplicable('pass --expect-upgrade-timeout-ms to name the deadline to check');
    const url = new URL(probe.endpoint);
    const port = Number(url.port || (url.protocol === 'wss:' ? 443 : 80));
    const startedAt = Date.now();
    const afterMs = await new Promise<number | undefined>((resolve) => {
      const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port });
      socket.on('error', () => {});
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(undefined);
      }, expected + SLACK_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(Date.now() - startedAt);
      });
    });
    if (afterMs === undefined) return fail(`still open ${expected + SLACK_MS} ms after connecting`);
    return afterMs >= expected * 0.8 ? pass(`dropped after ${afterMs} ms`) : fail(`dropped after ${afterMs} ms, before the ${expected} ms deadline`);
  },
};

const connectionsPerAddress: ProviderCheck = {
  name: 'provider.security.connectionsPerAddress',
  requirements: ['SEC-15'],
  level: 'full',
  title: 'one connection beyond the per-address maximum is refused',
  timeoutMs: 60_000,
  run: async (probe) => {
    const expected = probe.options.security?.connectionsPerAddressMax;
    if (expected === undefined) return notApplicable('pass --expect-connections-per-address to name the maximum to check');
    if (expected > 1_000) return notApplicable(`${expected} connections are more than this check opens`);
    for (let i = 0; i < expected; i++) {
      try {
        await probe.connect();
      } catch (error) {
        return fail(`connection ${i + 1} of ${expected} refused: ${(error as Error).message}`);
      }
    }
    try {
      const extra = await probe.connect();
      const closed = await extra.closed(probe.timing.answerMs);
      return closed === undefined ? fail(`connection ${expected + 1} was accepted and stays open`) : pass(`connection ${expected + 1} closed at once (${closed.code})`);
    } catch (error) {
      return pass(`connection ${expected + 1} refused: ${(error as Error).message}`);
    }
  },
};

export const securityChecks: readonly ProviderCheck[] = [takeover, aclRefusal, firstMessageDeadline, upgradeDeadline, connectionsPerAddress];
