/**
 * Encoding, both ways: the client reads liberal advertisements (WIRE-4), ignores unknown fields
 * and survives an unknown message type and an Error about nothing (WIRE-5), and writes canonical
 * timestamps (WIRE-3, full); it speaks neither events (EVT-1) nor files (FILE-1) to a provider that
 * does not announce them.
 */
import { Blocked, fail, pass } from '../types.js';
import { noAssignTask, ONE_CONNECTION_CHECK, whatHappened, type ClientCheckSpec } from './checkSupport.js';
import { closeOf, exitOf, firstAssign, framesOfType, isCanonicalTimestamp, isObject, markOf, ms, typeOf, upgrades } from './observe.js';
import type { ScenarioRecord } from './scenarios.js';

/** The file messages a client may send (FILE-1): never to a provider without "files". */
const FILE_MESSAGES = ['FileOffer', 'FileRequest', 'FileHave', 'FileNeed', 'FileCredit', 'FileDone', 'FileFailed'];

/** Whether, in the normal scenario, the client itself closed its first connection gracefully. */
function closesAfterAnswer(baseline: ScenarioRecord | undefined): boolean {
  if (baseline === undefined) return false;
  const assign = firstAssign(baseline.events);
  const closed = assign === undefined ? undefined : closeOf(baseline.events, assign.connId);
  return closed?.code === 1000 && closed.by === 'client';
}

export const wireCheckSpecs: readonly ClientCheckSpec[] = [
  {
    name: 'client.events.unannounced',
    requirements: ['EVT-1'],
    level: 'full',
    title: 'The client never sends Subscribe, Unsubscribe or EventAck to a provider that does not announce "events"',
    scenario: 'normal',
    analyse(record) {
      // The scripted provider's advertisements list no features: events messages are not for it.
      const sent = framesOfType(record.events, 'Subscribe', 'Unsubscribe', 'EventAck');
      if (sent.length > 0) return fail(`sent ${sent.map((frame) => typeOf(frame.raw)).join(', ')} to a provider whose advertisement lacks "events"`);
      if (firstAssign(record.events) === undefined) throw new Blocked(ONE_CONNECTION_CHECK, `no AssignTask reached the provider (${whatHappened(record)})`);
      return pass('no events message to a provider without "events" over a whole task');
    },
  },
  {
    name: 'client.files.unannounced',
    requirements: ['FILE-1'],
    level: 'full',
    title: 'The client never sends a file message, a binary message or a file link to a provider that does not announce "files"',
    scenario: 'normal',
    analyse(record) {
      // The scripted provider announces no features: files are not for it (FILE-1).
      const fileMessages = framesOfType(record.events, ...FILE_MESSAGES);
      const binary = record.events.filter((event) => event.kind === 'frame' && event.binary === true);
      const links = upgrades(record.events).filter((upgrade) => /\/files(?:[?#]|$)/.test(upgrade.path));
      const problems = [
        ...(fileMessages.length > 0 ? [`sent ${fileMessages.map((frame) => typeOf(frame.raw)).join(', ')}`] : []),
        ...(binary.length > 0 ? [`sent ${binary.length} binary message(s)`] : []),
        ...(links.length > 0 ? [`opened a file link (${links[0]!.path})`] : []),
      ];
      if (problems.length > 0) return fail(`${problems.join('; ')} to a provider whose advertisement lacks "files"`);
      if (firstAssign(record.events) === undefined) throw new Blocked(ONE_CONNECTION_CHECK, `no AssignTask reached the provider (${whatHappened(record)})`);
      return pass('no file message, binary message or file link to a provider without "files" over a whole task');
    },
  },
  {
    name: 'client.wire.liberalAdvertisement',
    requirements: ['WIRE-4'],
    level: 'full',
    title: 'The client uses an advertisement with capabilities keyed by operation and an endpoint without scheme',
    scenario: 'liberal',
    baseline: 'normal',
    analyse(record, options, baseline) {
      const bare = record.endpoint.replace(/^ws:\/\//, '');
      const first = upgrades(record.events)[0];
      if (first === undefined) {
        return fail(`no connection within ${ms(options.timings.startTimeoutMs)} to the endpoint advertised as "${bare}" with capabilities {"${options.operation}": [...]} (${whatHappened(record)})`);
      }
      if (first.path !== record.path) {
        const normal = baseline === undefined ? undefined : upgrades(baseline.events)[0];
        if (normal !== undefined && normal.path !== baseline!.path) throw new Blocked(ONE_CONNECTION_CHECK, `it drops the endpoint's path with the scheme too (${normal.path})`);
        return fail(`connected to path ${first.path}; the advertised endpoint is "${bare}"`);
      }
      const assign = firstAssign(record.events);
      if (assign === undefined) return fail(`connected to "${bare}" but sent no AssignTask for ${options.operation} (capabilities keyed by operation)`);
      return pass(`connected to "${bare}" (no scheme) and assigned ${options.operation} (capabilities keyed by operation)`);
    },
  },
  {
    name: 'client.wire.unknownTolerated',
    requirements: ['WIRE-5'],
    level: 'full',
    title: 'The client ignores unknown fields and survives an unknown message type and an Error about nothing',
    scenario: 'unknown',
    baseline: 'normal',
    analyse(record, options, baseline) {
      const assign = firstAssign(record.events);
      if (assign === undefined) return noAssignTask(record, options);
      const junk = markOf(record.events, 'junk-sent');
      if (junk === undefined) return fail('the scenario did not get to send its unknown messages');
      const end = markOf(record.events, 'result-sent')?.at ?? markOf(record.events, 'scenario-end')?.at ?? Infinity;
      const closed = closeOf(record.events, assign.connId);
      // A client that closes its connection gracefully after an answer in the normal scenario too
      // (a seed client polling on fresh connections) is following its own flow, not reacting to the junk.
      const ownFlow = closed?.code === 1000 && closed.by === 'client' && closesAfterAnswer(baseline);
      if (closed !== undefined && closed.at < end && !ownFlow) {
        return fail(`the connection ended (code ${closed.code}) ${ms(closed.at - junk.at)} after an unknown message type, an Error and an Ack with unknown fields`);
      }
      const exit = exitOf(record.events);
      if (exit !== undefined && exit.at < end) return fail(`the client exited ${ms(exit.at - junk.at)} after an unknown message type, an Error and an Ack with unknown fields (${whatHappened(record)})`);
      const resent = framesOfType(record.events, 'AssignTask').find((event) => event.at > junk.at && event.at < end);
      if (resent !== undefined) return fail(`AssignTask re-sent ${ms(resent.at - junk.at)} after an Ack with unknown fields: the Ack was not recognised`);
      return pass(`connection kept and the Ack with unknown fields honoured (no re-send in ${ms(end - junk.at)})`);
    },
  },
  {
    name: 'client.wire.canonicalTimestamps',
    requirements: ['WIRE-3'],
    level: 'full',
    title: 'Every timestamp the client writes is ISO-8601 UTC ending in Z, milliseconds only when not zero',
    scenario: 'normal',
    analyse(record, options) {
      const sent = record.events.flatMap((event) =>
        (event.kind === 'datagram' || event.kind === 'frame') && isObject(event.raw)
          ? [{ what: event.kind === 'frame' ? (typeOf(event.raw) ?? 'message') : String(event.raw.discoveryType), timestamp: event.raw.timestamp }]
          : [],
      );
      if (sent.length === 0) return noAssignTask(record, options);
      const bad = sent.find((message) => !isCanonicalTimestamp(message.timestamp));
      if (bad !== undefined) {
        return fail(`${bad.what} has timestamp ${JSON.stringify(bad.timestamp)}; expected YYYY-MM-DDTHH:MM:SSZ or YYYY-MM-DDTHH:MM:SS.mmmZ (mmm not 000)`);
      }
      return pass(`${sent.length} timestamp(s) in canonical form, e.g. ${JSON.stringify(sent[0]?.timestamp)}`);
    },
  },
];
