/**
 * Discovery checks (DISC-3, DISC-4, DISC-5, DISC-7, WIRE-3, WIRE-8): a ClientServiceDiscoveryRequest
 * is sent unicast from an ephemeral port to the provider's discovery address; replies must come
 * back to that port. Heartbeats are heard on the discovery port's broadcast addresses.
 */
import os from 'node:os';
import { v4 as uuid } from 'uuid';
import { fail, notApplicable, pass, type Check } from '../types.js';
import { member } from './connection.js';
import type { Datagram } from './datagrams.js';
import { delay, discoveryRequest, hostOf, isReplyTo, type DiscoveryResult, type ProviderProbe } from './probe.js';
import { advertisementProblems, capabilityKeys } from './wire.js';

type ProviderCheck = Check<ProviderProbe>;

const addressOf = (probe: ProviderProbe) => `${probe.discovery.target.host}:${probe.discovery.target.port}`;

function noReplyEvidence(probe: ProviderProbe, found: DiscoveryResult): string {
  if (found.sendError !== undefined) return `cannot send to ${addressOf(probe)}: ${found.sendError}`;
  const broadcastReply = probe.discovery.received.find((datagram) => datagram.via === 'broadcast' && isReplyTo(datagram, probe.clientId));
  if (broadcastReply !== undefined) return `the reply was broadcast on the discovery port, not unicast to the requester's port ${found.requesterPort}`;
  if (found.unicast.length > 0) {
    const seen = found.unicast.map((datagram) => JSON.stringify(member(datagram.json, 'respondsToClientId') ?? datagram.text.slice(0, 40)));
    return `datagrams arrived at port ${found.requesterPort} but none with respondsToClientId = ${probe.clientId} (saw ${seen.slice(0, 3).join(', ')})`;
  }
  return `no reply at port ${found.requesterPort} within ${probe.timing.discoveryTimeoutMs} ms (${found.requests} request(s) sent to ${addressOf(probe)}; is --udp right?)`;
}

/** The replies to our request, raw (decoding is judged by the advertisement check). */
const repliesOf = (probe: ProviderProbe, found: DiscoveryResult): Datagram[] => found.unicast.filter((datagram) => isReplyTo(datagram, probe.clientId));

const reply: ProviderCheck = {
  name: 'provider.discovery.reply',
  requirements: ['DISC-3'],
  level: 'core',
  title: 'answers a discovery request unicast to the requester, respondsToClientId = its clientId',
  run: async (probe) => {
    const found = await probe.discover();
    const replies = repliesOf(probe, found);
    if (replies.length === 0) return fail(noReplyEvidence(probe, found));
    const names = replies.map((datagram) => String(member(datagram.json, 'serviceName')));
    return pass(`${replies.length} advertisement(s) at our port ${found.requesterPort} after ${replies[0]!.at - found.requestedAt} ms: ${names.join(', ')}`);
  },
};

const advertisement: ProviderCheck = {
  name: 'provider.discovery.advertisement',
  requirements: ['DISC-5', 'WIRE-2', 'WIRE-3'],
  level: 'core',
  title: "advertisements carry the seed's fields with the right types and decode",
  run: async (probe) => {
    const replies = repliesOf(probe, await probe.discover());
    if (replies.length === 0) return fail('no advertisement to judge (see provider.discovery.reply)');
    const problems = replies.flatMap((datagram) => advertisementProblems(datagram, 'core').map((problem) => `${String(member(datagram.json, 'serviceName'))}: ${problem}`));
    return problems.length === 0 ? pass(`${replies.length} advertisement(s) well formed`) : fail(problems.slice(0, 5).join('; '));
  },
};

function localHosts(): Set<string> {
  const hosts = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0']);
  for (const infos of Object.values(os.networkInterfaces())) for (const info of infos ?? []) hosts.add(info.address);
  return hosts;
}

function sameEndpoint(advertised: string, tested: string): 'same' | 'same-host' | 'different' {
  try {
    const a = new URL(advertised);
    const b = new URL(tested);
    const path = (url: URL) => url.pathname.replace(/\/$/, '');
    if (a.protocol !== b.protocol || a.port !== b.port || path(a) !== path(b)) return 'different';
    if (a.hostname === b.hostname) return 'same';
    const local = localHosts();
    return local.has(hostOf(advertised)) && local.has(hostOf(tested)) ? 'same-host' : 'different';
  } catch {
    return 'different';
  }
}

const endpoint: ProviderCheck = {
  name: 'provider.discovery.endpoint',
  requirements: ['DISC-5'],
  level: 'core',
  title: 'the advertised endpoint is the WebSocket endpoint under test',
  run: async (probe) => {
    const found = await probe.discover();
    const endpoints = found.replies.map((reply) => reply.advertisement.endpoint);
    if (endpoints.length === 0) return fail('no decodable advertisement (see provider.discovery.advertisement)');
    const verdicts = endpoints.map((advertised) => sameEndpoint(advertised, probe.endpoint));
    const index = verdicts.findIndex((verdict) => verdict !== 'different');
    if (index < 0) return fail(`advertised ${[...new Set(endpoints)].join(', ')}; tested ${probe.endpoint}`);
    const note = verdicts[index] === 'same-host' ? ' (same port; both hosts are addresses of this machine)' : '';
    return pass(`advertised ${endpoints[index]!}${note}`);
  },
};

const capabilities: ProviderCheck = {
  name: 'provider.discovery.capabilities',
  requirements: ['DISC-5', 'DISC-11'],
  level: 'core',
  title: 'the advertisement lists the operations under test, one capability each',
  run: async (probe) => {
    const selection = await probe.selection();
    const found = await probe.discover();
    const datagram = repliesOf(probe, found).find((candidate) => member(candidate.json, 'serviceName') === selection.serviceName);
    if (datagram === undefined) return fail(`no advertisement for ${selection.serviceName}`);
    const keys = capabilityKeys(datagram);
    const wanted = [selection.quick.operation, ...(selection.slow === undefined ? [] : [selection.slow.operation])];
    const missing = wanted.filter((operation) => !keys.includes(operation));
    const duplicates = keys.filter((key, index) => keys.indexOf(key) !== index);
    if (missing.length > 0) return fail(`${selection.serviceName} advertises ${keys.join(', ') || 'no capability'}; missing ${missing.join(', ')}`);
    if (duplicates.length > 0) return fail(`capability keys repeated: ${[...new Set(duplicates)].join(', ')}`);
    return pass(`${selection.serviceName}: ${keys.join(', ')}`);
  },
};

const stableIds: ProviderCheck = {
  name: 'provider.discovery.stableIds',
  requirements: ['DISC-5'],
  level: 'core',
  title: 'serviceId is unique per service and the same in every advertisement',
  run: async (probe) => {
    const first = await probe.discover();
    if (first.replies.length === 0) return fail('no decodable advertisement (see provider.discovery.reply)');
    const second = await probe.requestDiscovery(`conformance-${uuid()}`);
    if (second.replies.length === 0) return fail(`a second request got no reply (${noReplyEvidence(probe, second)})`);
    const idsOf = (found: DiscoveryResult) => new Map(found.replies.map((reply) => [reply.advertisement.serviceName, reply.advertisement.serviceId]));
    const before = idsOf(first);
    const now = idsOf(second);
    const changed = [...before].filter(([name, id]) => now.has(name) && now.get(name) !== id);
    if (changed.length > 0) return fail(`serviceId changed: ${changed.map(([name, id]) => `${name} ${id} -> ${now.get(name)}`).join('; ')}`);
    const ids = [...before.values()];
    if (new Set(ids).size !== ids.length) return fail(`two services share a serviceId: ${ids.join(', ')}`);
    return pass(`${ids.length} service(s), serviceIds stable across two requests`);
  },
};

/** Datagrams that must be dropped (WIRE-7, WIRE-8), sent before a valid request. */
const GARBAGE: readonly string[] = [
  'this is not JSON',
  '{"discoveryType": "ClientServiceDiscoveryRequest", "clientId": ',
  '[1, 2, 3]',
  '{"discoveryType": "NoSuchDiscoveryType", "clientId": "conformance"}',
  '{"discoveryType": "ClientServiceDiscoveryRequest", "clientId": 42, "timestamp": "2025-07-02T11:45:00Z"}',
  'x'.repeat(60_000),
];

interface GarbageRound {
  /** Datagrams that came back to the garbage's source port before the valid request. */
  readonly reflected: Datagram[];
  readonly answered: boolean;
  readonly evidence: string;
}

function garbageRound(probe: ProviderProbe): Promise<GarbageRound> {
  return probe.memo('discovery.garbage', async () => {
    const requester = await probe.discovery.requester();
    try {
      for (const text of GARBAGE) await requester.send(text);
      await delay(500);
      const reflected = [...requester.received];
      const clientId = `conformance-${uuid()}`;
      const request = discoveryRequest(clientId);
      let answer: Datagram | undefined;
      for (let attempt = 0; attempt < 3 && answer === undefined; attempt++) {
        await requester.send(request);
        answer = await probe.discovery.until(() => requester.received.find((datagram) => isReplyTo(datagram, clientId)), Math.floor(probe.timing.discoveryTimeoutMs / 3));
      }
      const evidence = answer === undefined ? `no reply to a valid request after ${GARBAGE.length} malformed datagrams` : `a valid request after ${GARBAGE.length} malformed datagrams was answered`;
      return { reflected, answered: answer !== undefined, evidence };
    } finally {
      requester.close();
    }
  });
}

const keepsServing: ProviderCheck = {
  name: 'provider.discovery.garbage',
  requirements: ['WIRE-9', 'SEC-9'],
  level: 'core',
  title: 'malformed discovery datagrams do not stop the provider answering requests',
  run: async (probe) => {
    const round = await garbageRound(probe);
    return round.answered ? pass(round.evidence) : fail(round.evidence);
  },
};

const noReflection: ProviderCheck = {
  name: 'provider.discovery.noReflection',
  requirements: ['WIRE-8'],
  level: 'full',
  title: 'malformed discovery datagrams are dropped, never answered',
  run: async (probe) => {
    const round = await garbageRound(probe);
    if (round.reflected.length > 0) return fail(`answered malformed input: ${round.reflected.map((datagram) => datagram.text.slice(0, 80)).join(' | ')}`);
    return round.answered ? pass(`nothing came back to ${GARBAGE.length} malformed datagrams within 500 ms`) : fail(round.evidence);
  },
};

async function selectedAdvertisement(probe: ProviderProbe) {
  const found = await probe.discover();
  const selection = await probe.selection().catch(() => undefined);
  return found.replies.find((reply) => reply.advertisement.serviceName === selection?.serviceName) ?? found.replies[0];
}

const heartbeatInterval: ProviderCheck = {
  name: 'provider.discovery.heartbeatInterval',
  requirements: ['DISC-5', 'DISC-9'],
  level: 'full',
  title: 'advertisements carry heartbeatIntervalMs (extension)',
  run: async (probe) => {
    const found = await probe.discover();
    if (found.replies.length === 0) return fail('no decodable advertisement (see provider.discovery.reply)');
    const missing = found.replies.filter((reply) => reply.advertisement.heartbeatIntervalMs === undefined).map((reply) => reply.advertisement.serviceName);
    if (missing.length > 0) return fail(`no heartbeatIntervalMs in the advertisement of ${missing.join(', ')}`);
    return pass(`heartbeatIntervalMs ${[...new Set(found.replies.map((reply) => reply.advertisement.heartbeatIntervalMs))].join(', ')}`);
  },
};

const heartbeat: ProviderCheck = {
  name: 'provider.discovery.heartbeat',
  requirements: ['DISC-4'],
  level: 'full',
  title: 'a heartbeat advertisement is broadcast every heartbeatIntervalMs',
  timeoutMs: 16_000,
  run: async (probe) => {
    const chosen = await selectedAdvertisement(probe);
    if (chosen === undefined) return fail('no decodable advertisement (see provider.discovery.reply)');
    const { serviceId, heartbeatIntervalMs: interval } = chosen.advertisement;
    const port = probe.discovery.target.port;
    if (probe.discovery.listening.length === 0) {
      return notApplicable(`cannot listen for broadcasts on port ${port} (${probe.discovery.listenErrors.join('; ')})`);
    }
    const waitMs = interval === undefined ? undefined : interval + 1_000;
    if (waitMs === undefined || waitMs > probe.timing.periodicWaitMaxMs) {
      return notApplicable(`heartbeat ${interval === undefined ? 'not advertised (the seed suggests 30 to 60 s)' : `every ${interval} ms`}: longer than the suite waits (${probe.timing.periodicWaitMaxMs} ms)`);
    }
    const start = Date.now();
    const isHeartbeat = (datagram: Datagram) =>
      datagram.via === 'broadcast' && member(datagram.json, 'serviceId') === serviceId && member(datagram.json, 'respondsToClientId') === undefined;
    const heard = await probe.discovery.until(() => probe.discovery.received.find((datagram) => isHeartbeat(datagram) && datagram.at >= start), waitMs);
    if (heard === undefined) {
      return fail(`no broadcast advertisement of ${serviceId} on port ${port} (listening on ${probe.discovery.listening.join(', ')}) within ${waitMs} ms; heartbeatIntervalMs ${interval}`);
    }
    return pass(`broadcast heard ${heard.at - start} ms into the wait (heartbeatIntervalMs ${interval}), from ${heard.from}`);
  },
};

const goodbye: ProviderCheck = {
  name: 'provider.discovery.goodbye',
  requirements: ['DISC-7'],
  level: 'full',
  title: 'a goodbye (status Offline) is broadcast on stop',
  run: async () =>
    notApplicable('sent only when the provider stops, and the suite does not stop the provider under test; stop it while `switchboard discover --json` runs to see the goodbye'),
};

export const discoveryChecks: readonly ProviderCheck[] = [
  reply,
  advertisement,
  endpoint,
  capabilities,
  stableIds,
  keepsServing,
  noReflection,
  heartbeatInterval,
  heartbeat,
  goodbye,
];
