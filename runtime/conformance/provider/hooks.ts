/**
 * Hooks (HOOK-1..HOOK-6), level full, as far as a client can see them:
 *
 * - HOOK-1, a veto: only when told an address the provider's connect hook vetoes (`veto`), since
 *   nothing else makes a hook refuse: a connection from it is answered as a rejection of CONN-2
 *   (Error, then close 1008), within the answer delay, and is sent nothing else.
 * - HOOK-5, close reasons: the suite makes the provider close sessions in every way it was told
 *   of or found (a veto, a refused token, one session beyond the limit, a silent connection past
 *   the first-message deadline), and each close frame must carry a reason a person can read.
 *
 * HOOK-2, HOOK-3 and HOOK-6 are about what the provider's services are told: nothing on the wire
 * shows them (docs/conformance.md, "What black-box testing cannot see"); switchboard's own specs
 * check them. HOOK-4 is about what a client tells its application, which is not on the wire either.
 */
import { v4 as uuid } from 'uuid';
import { fail, mismatch, notApplicable, pass, type Check } from '../types.js';
import { payloadField, typeOf, type CloseInfo, type ProbeConnection } from './connection.js';
import type { ProviderProbe } from './probe.js';
import { describe } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

/** What the user tells the suite about the provider's connect hook (HOOK-1). */
export interface VetoExpectation {
  /** A local address of the suite's host (a loopback alias, say 127.0.0.9) whose connections the hook vetoes. */
  readonly fromAddress: string;
  /** The code the hook refuses with. @default any well-formed code */
  readonly code?: string;
  /** The provider's answerDelayMs (CONN-2). @default 1000 */
  readonly answerDelayMs?: number;
}

/** How late a close may come and still pass (scheduling on a busy machine). */
const SLACK_MS = 1_000;
const ANSWER_DELAY_DEFAULT_MS = 1_000;
/** The longest first-message deadline the close-reason check waits out. */
const FIRST_MESSAGE_WAIT_MAX_MS = 30_000;
/** The most connections the close-reason check opens to pass a session limit. */
const SESSIONS_OPENED_MAX = 64;
/** SEC-12's form of an error code. */
const ERROR_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

const vetoDeadline = (veto: VetoExpectation) => (veto.answerDelayMs ?? ANSWER_DELAY_DEFAULT_MS) + SLACK_MS;

const veto: ProviderCheck = {
  name: 'provider.hooks.veto',
  requirements: ['HOOK-1', 'CONN-2'],
  level: 'full',
  title: 'a connection the connect hook vetoes gets Error, then close 1008, within the answer delay, and nothing else',
  timeoutMs: 20_000,
  run: async (probe) => {
    const expected = probe.options.veto;
    if (expected === undefined) {
      return notApplicable('pass --expect-veto-from <address>: a local address whose connections the provider\'s connect hook vetoes (nothing else makes a hook refuse)');
    }
    const sent = `a connection from ${expected.fromAddress}, which the connect hook vetoes`;
    const connection = await probe.connect({ localAddress: expected.fromAddress }).catch((error: Error) => error);
    if (connection instanceof Error) {
      return fail(mismatch({ sent, expected: 'the upgrade, then Error and close 1008 (a veto is answered as a CONN-2 rejection)', observed: connection.message }));
    }
    const deadline = vetoDeadline(expected);
    const closed = await connection.closed(deadline);
    const error = connection.frames.find((frame) => typeOf(frame) === 'Error');
    const others = connection.frames.filter((frame) => typeOf(frame) !== 'Error');
    const problems: string[] = [];
    if (closed === undefined) problems.push(`still open ${deadline} ms after the upgrade: the veto was not answered within the answer delay`);
    else if (closed.code !== 1008) problems.push(`closed ${closed.code}, expected 1008`);
    const code = error === undefined ? undefined : payloadField(error, 'code');
    if (error === undefined) problems.push(`no Error before the close (observed ${describe(connection.frames[0])})`);
    else if (typeof code !== 'string' || !ERROR_CODE.test(code)) problems.push(`the Error's code ${JSON.stringify(code)} is not an error code`);
    else if (expected.code !== undefined && code !== expected.code) problems.push(`the Error's code is ${code}, the hook's is ${expected.code}`);
    if (others.length > 0) problems.push(`a vetoed connection was sent ${others.slice(0, 3).map(describe).join(', ')}`);
    if (problems.length > 0) return fail(`${sent}: ${problems.join('; ')}`);
    return pass(`${describe(error)}, then close 1008 "${closed!.reason}" ${closed!.at - connection.openedAt} ms after connecting`);
  },
};

/** One way to make the provider close a session: its close, or why there is none. */
interface Provocation {
  readonly what: string;
  readonly provoke: (probe: ProviderProbe) => Promise<CloseInfo | string>;
}

const closedOrWhy = async (connection: ProbeConnection, timeoutMs: number): Promise<CloseInfo | string> =>
  (await connection.closed(timeoutMs)) ?? `not closed within ${timeoutMs} ms`;

/** The ways the suite knows to make this provider close a session, from what it was told and found. */
async function provocationsFor(probe: ProviderProbe): Promise<Provocation[]> {
  const ways: Provocation[] = [];
  const { veto: expectedVeto, sessionsMax, security } = probe.options;
  if (expectedVeto !== undefined) {
    ways.push({
      what: `a vetoed connection (from ${expectedVeto.fromAddress})`,
      provoke: async (target) => closedOrWhy(await target.connect({ localAddress: expectedVeto.fromAddress }), vetoDeadline(expectedVeto)),
    });
  }
  if (probe.options.authRequired === true || (await probe.authRequired()) === true) {
    ways.push({
      what: 'an Authenticate with a wrong token',
      provoke: async (target) => {
        const connection = await target.connect({ token: null });
        connection.send({ type: 'Authenticate', payload: { clientId: target.clientId, token: `conformance-wrong-${uuid()}` } });
        return closedOrWhy(connection, target.timing.answerMs);
      },
    });
  }
  if (sessionsMax !== undefined && sessionsMax <= SESSIONS_OPENED_MAX) {
    ways.push({
      what: `connection ${sessionsMax + 1} beyond the session limit`,
      provoke: async (target) => {
        target.closeConnections();
        await new Promise((resolve) => setTimeout(resolve, target.timing.settleMs));
        for (let index = 0; index < sessionsMax; index++) await target.connect();
        const extra = await target.connect().catch((error: Error) => error);
        if (extra instanceof Error) return `refused at the upgrade (${extra.message})`;
        const closed = await closedOrWhy(extra, target.timing.answerMs);
        target.closeConnections();
        return closed;
      },
    });
  }
  const firstMessageMs = security?.firstMessageTimeoutMs;
  if (firstMessageMs !== undefined && firstMessageMs <= FIRST_MESSAGE_WAIT_MAX_MS) {
    ways.push({ what: 'a connection that sends nothing', provoke: async (target) => closedOrWhy(await target.connect(), firstMessageMs + SLACK_MS) });
  }
  return ways;
}

/** Why a close reason is not one a person can read (HOOK-5), or undefined when it is. */
export function unreadableReason(reason: string): string | undefined {
  if (reason.trim() === '') return 'no reason';
  if (Buffer.byteLength(reason, 'utf8') > 123) return `a reason of ${Buffer.byteLength(reason, 'utf8')} bytes (at most 123)`;
  if (/[\u0000-\u001f\u007f-\u009f\ufffd]/u.test(reason)) return `a reason with control or replacement characters (${JSON.stringify(reason)})`;
  if (!/\p{L}{2}/u.test(reason)) return `a reason without a word (${JSON.stringify(reason)})`;
  return undefined;
}

const closeReason: ProviderCheck = {
  name: 'provider.hooks.closeReason',
  requirements: ['HOOK-5'],
  level: 'full',
  title: 'every close frame the provider sends when it closes a session carries a reason a person can read',
  timeoutMs: 90_000,
  run: async (probe) => {
    const ways = await provocationsFor(probe);
    if (ways.length === 0) {
      return notApplicable('the suite knows no way to make this provider close a session: pass --auth-required, --sessions-max, --expect-veto-from or --expect-first-message-ms');
    }
    const judged: string[] = [];
    const problems: string[] = [];
    const unseen: string[] = [];
    for (const way of ways) {
      const closed = await way.provoke(probe);
      if (typeof closed === 'string') unseen.push(`${way.what}: ${closed}`);
      // 1006: the socket ended without a close frame; there is no reason to judge.
      else if (closed.code === 1006) unseen.push(`${way.what}: dropped without a close frame`);
      else {
        const why = unreadableReason(closed.reason);
        if (why === undefined) judged.push(`${way.what}: ${closed.code} "${closed.reason}"`);
        else problems.push(`${way.what}: closed ${closed.code} with ${why}`);
      }
    }
    if (problems.length > 0) return fail(problems.join('; '));
    if (judged.length === 0) return notApplicable(`no close frame to judge: ${unseen.join('; ')}`);
    return pass(judged.join('; '));
  },
};

export const hookChecks: readonly ProviderCheck[] = [veto, closeReason];
