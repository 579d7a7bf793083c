/**
 * Discovery and the first connection: the request's shape (DISC-2, WIRE-1/2/3), that it is sent
 * at start (DISC-2), and that the client connects to the advertised endpoint (CONN-1).
 */
import { decodeDatagram } from '../../../machines/codec.js';
import { fail, pass } from '../types.js';
import { whatHappened, type ClientCheckSpec } from './checkSupport.js';
import { discoveryRequests, markOf, ms, shorten, upgrades } from './observe.js';

export const discoveryCheckSpecs: readonly ClientCheckSpec[] = [
  {
    name: 'client.discovery.requestShape',
    requirements: ['DISC-2', 'WIRE-1', 'WIRE-2', 'WIRE-3'],
    level: 'core',
    title: 'The discovery request is a flat JSON ClientServiceDiscoveryRequest with clientId and an ISO-8601 timestamp',
    scenario: 'normal',
    analyse(record, options) {
      const requests = discoveryRequests(record.events);
      const first = requests[0];
      if (first === undefined) {
        const other = record.events.find((event) => event.kind === 'datagram');
        if (other?.kind === 'datagram') return fail(`no ClientServiceDiscoveryRequest; the client sent ${shorten(other.text)}`);
        return fail(`no ClientServiceDiscoveryRequest within ${ms(options.timings.startTimeoutMs)} (${whatHappened(record)})`);
      }
      const decoded = decodeDatagram(first.text);
      if (!decoded.ok) return fail(`${decoded.error.code}: ${decoded.error.message} in ${shorten(first.text)}`);
      const raw = first.raw as Record<string, unknown>;
      if (typeof raw.timestamp !== 'string') return fail(`timestamp is not an ISO-8601 string: ${shorten(first.text)}`);
      return pass(shorten(first.text));
    },
  },
  {
    name: 'client.discovery.requestAtStart',
    requirements: ['DISC-2'],
    level: 'core',
    title: 'The client broadcasts a discovery request at start, before it connects',
    scenario: 'normal',
    analyse(record, options) {
      const first = discoveryRequests(record.events)[0];
      if (first === undefined) return fail(`no ClientServiceDiscoveryRequest within ${ms(options.timings.startTimeoutMs)} (${whatHappened(record)})`);
      const startedAt = markOf(record.events, 'client-started')?.at ?? 0;
      const after = first.at - startedAt;
      if (after > options.timings.startTimeoutMs) return fail(`the first request came ${ms(after)} after the client started (at most ${ms(options.timings.startTimeoutMs)})`);
      const connected = upgrades(record.events)[0];
      if (connected !== undefined && connected.at < first.at) {
        return fail(`the client connected ${ms(connected.at - startedAt)} after its start, before its first discovery request (${ms(after)})`);
      }
      return pass(`first request ${ms(after)} after the client started, before connecting (${discoveryRequests(record.events).length} in the scenario)`);
    },
  },
  {
    name: 'client.connect.advertisedEndpoint',
    requirements: ['CONN-1'],
    level: 'core',
    title: 'The client connects to the advertised endpoint, with one connection to it',
    scenario: 'normal',
    analyse(record, options) {
      const attempts = upgrades(record.events);
      const first = attempts[0];
      if (first === undefined) return fail(`no connection to ${record.endpoint} within ${ms(options.timings.startTimeoutMs)} (${whatHappened(record)})`);
      if (first.path !== record.path) return fail(`connected to path ${first.path}; the advertised endpoint is ${record.endpoint}`);
      let open = 0;
      let peak = 0;
      for (const event of record.events) {
        if (event.kind === 'open') peak = Math.max(peak, ++open);
        else if (event.kind === 'close') open--;
      }
      if (peak > 1) return fail(`${peak} connections open at once to one endpoint (at most one, reused for every task)`);
      return pass(`connected to ${record.endpoint}; ${attempts.length} connection(s), never more than one open`);
    },
  },
];
