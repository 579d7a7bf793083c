/**
 * Discovery and the first connection: the request's shape (DISC-2, WIRE-1/2/3), that it is sent
 * at start (DISC-2), and that the client connects to the advertised endpoint (CONN-1).
 */
import { decodeDatagram } from '../../../machines/codec.js';
import { SEED } from '../seedWords.js';
import { fail, mismatch, pass } from '../types.js';
import { ONE_CONNECTION_CHECK, peakConnections, whatHappened, type ClientCheckSpec } from './checkSupport.js';
import { discoveryRequests, markOf, ms, shorten, upgrades } from './observe.js';

export const discoveryCheckSpecs: readonly ClientCheckSpec[] = [
  {
    name: 'client.discovery.requestShape',
    requirements: ['DISC-2', 'WIRE-1', 'WIRE-2', 'WIRE-3'],
    level: 'core',
    title: 'The discovery request is a flat JSON ClientServiceDiscoveryRequest with clientId and an ISO-8601 timestamp',
    seed: SEED.discoveryRequest,
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
    seed: SEED.discoveryTrigger,
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
    name: ONE_CONNECTION_CHECK,
    requirements: ['CONN-1'],
    level: 'core',
    title: 'The client connects to the advertised endpoint, with one connection to it',
    seed: SEED.connect,
    scenario: 'normal',
    analyse(record, options) {
      const attempts = upgrades(record.events);
      const first = attempts[0];
      if (first === undefined) return fail(`no connection to ${record.endpoint} within ${ms(options.timings.startTimeoutMs)} (${whatHappened(record)})`);
      if (first.path !== record.path) return fail(`connected to path ${first.path}; the advertised endpoint is ${record.endpoint}`);
      const peak = peakConnections(record);
      if (peak > 1) return fail(`${peak} connections open at once to one endpoint (at most one, reused for every task)`);
      return pass(`connected to ${record.endpoint}; ${attempts.length} connection(s), never more than one open`);
    },
  },
  {
    name: 'client.discovery.requestRate',
    requirements: ['DISC-2'],
    level: 'core',
    title: 'Once it has found the service, the client stops asking (no discovery storm)',
    seed: SEED.discoveryTrigger,
    scenario: 'normal',
    analyse(record, options) {
      const requests = discoveryRequests(record.events);
      if (requests.length === 0) return fail(`no ClientServiceDiscoveryRequest within ${ms(options.timings.startTimeoutMs)} (${whatHappened(record)})`);
      const connected = upgrades(record.events)[0];
      if (connected === undefined) return pass(`${requests.length} request(s); the client never connected, so no storm can be told from a search`);
      // A request already in flight when the answer came is fine; later ones need a reason the scenario never gives.
      const later = requests.filter((request) => request.at > connected.at + REQUEST_GRACE_MS);
      const end = markOf(record.events, 'scenario-end')?.at ?? connected.at;
      if (later.length > LATER_REQUESTS_MAX) {
        return fail(mismatch({ sent: 'an advertisement answering the first request (and heartbeats every second)', expected: `no further requests but at start, every discoveryPeriodMs (5 min) or on demand`, observed: `${later.length} more in the ${ms(end - connected.at)} after the client connected (e.g. ${later.slice(0, 4).map((request) => ms(request.at - connected.at)).join(', ')} after)` }));
      }
      return pass(`${requests.length} request(s), ${later.length} after the client connected`);
    },
  },
];

/** Requests within this long of the first connection were sent before the answer arrived. */
const REQUEST_GRACE_MS = 500;
/** More requests than this after connecting, in one scenario, is a storm. */
const LATER_REQUESTS_MAX = 2;
