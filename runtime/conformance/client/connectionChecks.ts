/**
 * The connection's life: reconnecting with backoff after an abrupt close (CONN-4), asking for the
 * accepted task's outcome after the reconnect (CONN-6), pinging and reacting to a missing pong (CONN-3).
 */
import { decodeFrame } from '../../../machines/codec.js';
import { SEED } from '../seedWords.js';
import { Blocked, fail, notApplicable, pass } from '../types.js';
import { constantDelays, judgeBackoff, listMs, reconnectAttempts } from './backoff.js';
import { noAssignTask, whatHappened, type ClientCheckSpec } from './checkSupport.js';
import { closeOf, firstAssign, isFrameOfType, markOf, maxInWindow, ms, openOf, taskIdOf, typeOf, upgrades } from './observe.js';
import { queryWindowMs, reconnectAfterCloseMs, reconnectPhaseMs } from './scenarios.js';

export const connectionCheckSpecs: readonly ClientCheckSpec[] = [
  {
    name: 'client.reconnect.noHammering',
    requirements: ['CONN-4'],
    level: 'core',
    title: 'After an abrupt close the client reconnects, and does not hammer the provider',
    seed: SEED.backoff,
    scenario: 'reconnect',
    analyse(record, options) {
      if (firstAssign(record.events) === undefined) return noAssignTask(record, options);
      const observed = reconnectAttempts(record.events);
      if (observed === undefined) return fail('the scenario did not get to close the connection');
      const { attempts } = observed;
      if (attempts.length === 0) {
        return fail(`no reconnect attempt within ${ms(reconnectPhaseMs(options.timings))} after the provider closed the connection abruptly (${whatHappened(record)})`);
      }
      const max = options.timings.reconnectsPerSecondMax;
      const peak = maxInWindow(attempts.map((attempt) => attempt.at), 1_000);
      if (peak > max) return fail(`${peak} reconnect attempts within one second (at most ${max}): no backoff`);
      const constant = constantDelays(observed.delays, options.timings);
      if (constant !== undefined) return fail(`${attempts.length} attempts, at most ${peak} in a second, but ${constant}`);
      return pass(`${attempts.length} attempt(s), at most ${peak} in any second; delays ${listMs(observed.delays)} ms`);
    },
  },
  {
    name: 'client.reconnect.backoffBounds',
    requirements: ['CONN-4'],
    level: 'full',
    title: 'Reconnect delays are consistent with exponential backoff and full jitter under the cap',
    scenario: 'reconnect',
    analyse(record, options) {
      if (firstAssign(record.events) === undefined) return noAssignTask(record, options);
      const observed = reconnectAttempts(record.events);
      if (observed === undefined) return fail('the scenario did not get to close the connection');
      if (observed.delays.length === 0) return fail(`no reconnect attempt within ${ms(reconnectPhaseMs(options.timings))} after an abrupt close`);
      const verdict = judgeBackoff(observed.delays, options.timings);
      return verdict.ok ? pass(verdict.evidence) : fail(verdict.evidence);
    },
  },
  {
    name: 'client.reconnect.queriesOutcome',
    requirements: ['CONN-6'],
    level: 'full',
    title: 'After reconnecting, the client asks GetResult or GetStatus for its accepted task',
    scenario: 'reconnect',
    analyse(record, options) {
      const assign = firstAssign(record.events);
      if (assign === undefined) return noAssignTask(record, options);
      const reconnected = markOf(record.events, 'reconnected');
      // Without a reconnect there is nothing to judge here: the reconnect itself is noHammering's.
      if (reconnected === undefined) throw new Blocked('client.reconnect.noHammering', `the client did not reconnect within ${ms(reconnectPhaseMs(options.timings))}`);
      const connId = Number(reconnected.detail);
      const taskId = taskIdOf(assign.raw);
      const frames = record.events.filter((event) => event.kind === 'frame' && event.connId === connId);
      const query = frames.find((event) => isFrameOfType('GetResult', 'GetStatus')(event) && taskIdOf(event.kind === 'frame' ? event.raw : undefined) === taskId);
      if (query?.kind !== 'frame') {
        const sent = frames.map((event) => (event.kind === 'frame' ? (typeOf(event.raw) ?? 'non-JSON') : '')).join(', ');
        return fail(`after reconnecting the client sent ${sent === '' ? 'nothing' : sent} within ${ms(queryWindowMs(options.timings))}; expected GetResult or GetStatus for accepted task ${taskId}`);
      }
      const decoded = decodeFrame(query.text);
      if (!decoded.ok) return fail(`${decoded.error.code}: ${decoded.error.message}`);
      return pass(`${typeOf(query.raw)} for task ${taskId} ${ms(query.at - reconnected.at)} after the reconnect`);
    },
  },
  {
    name: 'client.ping.sent',
    requirements: ['CONN-3'],
    level: 'core',
    title: 'The client pings the provider every pingIntervalMs',
    seed: SEED.ping,
    scenario: 'ping',
    analyse(record, options) {
      const assign = firstAssign(record.events);
      if (assign === undefined) return noAssignTask(record, options);
      const openedAt = openOf(record.events, assign.connId)?.at ?? assign.at;
      const ping = record.events.find((event) => event.kind === 'ping' && event.connId === assign.connId);
      const { pingIntervalMs, slackMs } = options.timings;
      if (ping === undefined || ping.at - openedAt > pingIntervalMs + slackMs) {
        return fail(`no WebSocket ping within ${ms(pingIntervalMs + slackMs)} of the connection opening (pingIntervalMs ${ms(pingIntervalMs)})`);
      }
      return pass(`first ping ${ms(ping.at - openedAt)} after the connection opened`);
    },
  },
  {
    name: 'client.ping.missingPong',
    requirements: ['CONN-3'],
    level: 'core',
    title: 'Without a pong the client ends the connection within pongTimeoutMs and reconnects',
    seed: SEED.ping,
    scenario: 'ping',
    analyse(record, options) {
      const assign = firstAssign(record.events);
      if (assign === undefined) return noAssignTask(record, options);
      const ping = record.events.find((event) => event.kind === 'ping' && event.connId === assign.connId);
      if (ping === undefined) return notApplicable('the client sent no ping, so no pong could be missing (see client.ping.sent)');
      const { pongTimeoutMs, slackMs } = options.timings;
      const closed = closeOf(record.events, assign.connId);
      if (closed === undefined || closed.at > ping.at + pongTimeoutMs + slackMs) {
        return fail(`the connection was still open ${ms(pongTimeoutMs + slackMs)} after an unanswered ping (pongTimeoutMs ${ms(pongTimeoutMs)})`);
      }
      const how = closed.code === 1006 ? 'terminated' : `closed with code ${closed.code}`;
      const next = upgrades(record.events, closed.at)[0];
      if (next === undefined || next.at - closed.at > reconnectAfterCloseMs(options.timings)) return fail(`${how} ${ms(closed.at - ping.at)} after the unanswered ping, but no reconnect within ${ms(reconnectAfterCloseMs(options.timings))}`);
      return pass(`${how} ${ms(closed.at - ping.at)} after the unanswered ping; reconnected ${ms(next.at - closed.at)} later`);
    },
  },
];
