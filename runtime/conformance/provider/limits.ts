/**
 * Limits (SEC-7 rate limiting, CONN-10 sessions), level full. A provider MAY have them, so a
 * provider that shows none is not applicable, unless the user says one is configured
 * (`--rate-limit`, `--sessions-max`): then the limit must hold, and one that is configured but not
 * enforced fails, with the numbers sent and seen.
 */
import { fail, mismatch, notApplicable, pass, type Check } from '../types.js';
import { payloadField, typeOf } from './connection.js';
import type { ProviderProbe } from './probe.js';
import { describe } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

/** Messages sent when no limit is declared: enough to trip any plausible default. */
const BURST_UNDECLARED = 300;

const rateLimit: ProviderCheck = {
  name: 'provider.session.rateLimit',
  requirements: ['SEC-7'],
  level: 'full',
  title: 'beyond the rate limit, messages get Error RATE_LIMITED citing them',
  timeoutMs: 15_000,
  run: async (probe) => {
    const declared = probe.options.rateLimit;
    const count = declared === undefined ? BURST_UNDECLARED : 2 * declared.messagesMax + 10;
    const connection = await probe.connect();
    const ids = new Set<string>();
    const started = Date.now();
    for (let index = 0; index < count; index++) {
      const sent = connection.send({ type: 'GetStatus', payload: { taskId: `conformance-burst-${index}`, originalClientId: probe.clientId } });
      ids.add(sent.messageId);
    }
    const sentIn = Date.now() - started;
    await connection.next((frame) => typeOf(frame) === 'Error' && payloadField(frame, 'code') === 'RATE_LIMITED', probe.timing.answerMs);
    await connection.quiet(probe.timing.settleMs);
    const limited = connection.frames.filter((frame) => typeOf(frame) === 'Error' && payloadField(frame, 'code') === 'RATE_LIMITED');
    const burst = `${count} GetStatus in ${sentIn} ms`;
    if (limited.length === 0) {
      if (declared === undefined) {
        const closed = connection.closeInfo === undefined ? '' : ` (the connection was closed ${connection.closeInfo.code})`;
        return notApplicable(`no RATE_LIMITED in answer to ${burst}${closed}: no rate limit configured, or a higher one (pass --rate-limit <messages>/<ms> if one is configured)`);
      }
      return fail(mismatch({ sent: burst, expected: `Error RATE_LIMITED for the messages beyond ${declared.messagesMax} per ${declared.windowMs} ms (the configured limit, says --rate-limit)`, observed: `no RATE_LIMITED${connection.closeInfo === undefined ? '' : `; closed ${connection.closeInfo.code}`}` }));
    }
    const uncited = limited.filter((frame) => !ids.has(payloadField(frame, 'relatesTo') as string));
    if (uncited.length > 0) return fail(`${uncited.length} RATE_LIMITED Error(s) cite no message of the burst (e.g. ${describe(uncited[0])})`);
    if (declared !== undefined) {
      const windows = Math.max(1, Math.ceil((sentIn + 1) / declared.windowMs)) + 1;
      const allowed = windows * declared.messagesMax;
      if (count - limited.length > allowed) return fail(mismatch({ sent: burst, expected: `at most ${allowed} accepted (${declared.messagesMax} per ${declared.windowMs} ms)`, observed: `${count - limited.length} accepted, ${limited.length} refused` }));
    }
    return pass(`${limited.length} of ${count} messages refused RATE_LIMITED, each citing its message${connection.isOpen ? '; the connection stayed open' : ''}`);
  },
};

const sessionLimit: ProviderCheck = {
  name: 'provider.session.limit',
  requirements: ['CONN-10'],
  level: 'full',
  title: 'beyond the session limit, a connection gets Error OVERLOADED and close 1013',
  timeoutMs: 20_000,
  run: async (probe) => {
    const declared = probe.options.sessionsMax;
    if (declared === undefined) return notApplicable('no session limit declared (pass --sessions-max <n> if one is configured; the suite does not open the default 1024)');
    probe.closeConnections();
    await new Promise((resolve) => setTimeout(resolve, probe.timing.settleMs));
    for (let index = 0; index < declared; index++) {
      const connection = await probe.connect();
      const refused = await connection.closed(100);
      if (refused !== undefined) return fail(`connection ${index + 1} of the ${declared} allowed was closed ${refused.code} (other sessions of yours still open?)`);
    }
    const extra = await probe.connect().catch((error: Error) => error);
    if (extra instanceof Error) return pass(`the connection beyond ${declared} was refused at the upgrade: ${extra.message}`);
    const closed = await extra.closed(probe.timing.answerMs);
    const error = extra.frames.find((frame) => typeOf(frame) === 'Error');
    if (closed === undefined) return fail(mismatch({ sent: `${declared + 1} connections (the configured limit is ${declared}, says --sessions-max)`, expected: 'the last one refused: Error OVERLOADED, then close 1013', observed: 'it stayed open' }));
    if (closed.code !== 1013 || error === undefined || payloadField(error, 'code') !== 'OVERLOADED') {
      return fail(mismatch({ sent: `${declared + 1} connections`, expected: 'Error OVERLOADED, then close 1013', observed: `${describe(error)}, closed ${closed.code}` }));
    }
    return pass(`connection ${declared + 1} got ${describe(error)}, then close 1013`);
  },
};

export const limitChecks: readonly ProviderCheck[] = [rateLimit, sessionLimit];
