/**
 * Discovery checks (DISC-3, DISC-4, DISC-5, DISC-7, WIRE-3, WIRE-8): a ClientServiceDiscoveryRequest
 * is sent unicast from an ephemeral port to the provider's discovery address, twice, with two
 * clientIds. A reply is an advertisement that comes back to that port (with respondsToClientId =
 * the request's clientId, or none: the port says it is ours), or one broadcast on the discovery
 * port naming the request's clientId: the seed sends every advertisement to "all devices listening
 * on the well-known UDP discovery port", switchboard's DISC-3 unicasts replies (full).
 */
import os from 'node:os';
import { v4 as uuid } from 'uuid';
import { SEED } from '../seedWords.js';
import { Blocked, fail, mismatch, notApplicable, pass, type Check } from '../types.js';
import { capabilityKeys } from './capabilities.js';
import { member } from './connection.js';
import type { Datagram } from './datagrams.js';
import { DISCOVERY_CHECK, delay, discoveryRequest, hostOf, isAdvertisement, repliesOf, type DiscoveryResult, type ProviderProbe } from './probe.js';
import { advertisementProblems } from './wire.js';

type ProviderCheck = Check<ProviderProbe>;

const addressOf = (probe: ProviderProbe) => `${probe.discovery.target.host}:${probe.discovery.target.port}`;

function noReplyEvidence(probe: ProviderProbe, found: DiscoveryResult): string {
  if (found.sendError !== undefined) return `cannot send to ${addressOf(probe)}: ${found.sendError}`;
  if (found.misaddressed.length > 0) {
    const named = found.misaddressed.map((datagram) => JSON.stringify(member(datagram.json, 'respondsToClientId')));
    return mismatch({ sent: `a ClientServiceDiscoveryRequest with clientId ${found.clientId}`, expected: `an advertisement with respondsToClientId ${JSON.stringify(found.clientId)}`, observed: `respondsToClientId ${[...new Set(named)].join(', ')}` });
  }
  if (found.unicast.length > 0) {
    return `datagrams arrived at port ${found.requesterPort}, none an advertisement (saw ${found.unicast.slice(0, 3).map((datagram) => datagram.text.slice(0, 60)).join(' | ')})`;
  }
  return `no advertisement at port ${found.requesterPort} nor broadcast on port ${probe.discovery.target.port} within ${probe.timing.discoveryTimeoutMs} ms (${found.requests} request(s) sent to ${addressOf(probe)}; is --udp right?)`;
}

/** The second discovery round, with a clientId of its own (a provider must answer each request). */
const secondRound = (probe: ProviderProbe): Promise<DiscoveryResult> => probe.memo('discovery.second', () => probe.requestDiscovery(`conformance-${uuid()}`));

/** The replies of the first round, or Blocked (root: the reply check) when there are none. */
async function repliesOrBlocked(probe: ProviderProbe): Promise<readonly Datagram[]> {
  const replies = repliesOf(await probe.discover());
  if (replies.length === 0) throw new Blocked(DISCOVERY_CHECK, 'no advertisement to judge');
  return replies;
}

const reply: ProviderCheck = {
  name: DISCOVERY_CHECK,
  requirements: ['DISC-3'],
  level: 'core',
  title: 'each discovery request is answered with an advertisement for the requester',
  seed: SEED.replyTrigger,
  run: async (probe) => {
    const rounds = [await probe.discover(), await secondRound(probe)];
    const seen: string[] = [];
    for (const [index, found] of rounds.entries()) {
      if (found.misaddressed.length > 0 || repliesOf(found).length === 0) return fail(`request ${index + 1}: ${noReplyEvidence(probe, found)}`);
      const replies = repliesOf(found);
      const how = found.replies.length > 0 ? `at our port ${found.requesterPort}` : `broadcast on port ${probe.discovery.target.port}`;
      const unnamed = replies.some((datagram) => member(datagram.json, 'respondsToClientId') === undefined) ? ', without respondsToClientId (recognised by where it arrived)' : '';
      seen.push(`request ${index + 1}: ${replies.length} advertisement(s) ${how} after ${replies[0]!.at - found.requestedAt} ms${unnamed}`);
    }
    return pass(seen.join('; '));
  },
};

const unicastReply: ProviderCheck = {
  name: 'provider.discovery.unicastReply',
  requirements: ['DISC-3'],
  level: 'full',
  title: 'replies go unicast to the requester, with respondsToClientId = its clientId',
  run: async (probe) => {
    for (const found of [await probe.discover(), await secondRound(probe)]) {
      const broadcastOnly = found.replies.length === 0 && found.broadcastReplies.length > 0;
      if (broadcastOnly) return fail(mismatch({ sent: `a request from port ${found.requesterPort}`, expected: `the reply unicast to port ${found.requesterPort}`, observed: `it was broadcast on port ${probe.discovery.target.port}` }));
      if (found.replies.length === 0) throw new Blocked(DISCOVERY_CHECK, noReplyEvidence(probe, found));
      const unnamed = found.replies.find((datagram) => member(datagram.json, 'respondsToClientId') !== found.clientId);
      if (unnamed !== undefined) return fail(mismatch({ expected: `respondsToClientId ${JSON.stringify(found.clientId)}`, observed: `${JSON.stringify(member(unnamed.json, 'respondsToClientId') ?? null)} in ${unnamed.text.slice(0, 120)}` }));
    }
    return pass('both requests answered unicast to the requester with respondsToClientId');
  },
};

const advertisement: ProviderCheck = {
  name: 'provider.discovery.advertisement',
  requirements: ['DISC-5', 'WIRE-2', 'WIRE-3'],
  level: 'core',
  title: "advertisements carry the seed's fields, in the seed's forms",
  seed: SEED.advertisement,
  run: async (probe) => {
    const replies = await repliesOrBlocked(probe);
    const problems = replies.flatMap((datagram) => advertisementProblems(datagram, 'core').map((problem) => `${String(member(datagram.json, 'serviceName'))}: ${problem}`));
    return problems.length === 0 ? pass(`${replies.length} advertisement(s) well formed`) : fail(problems.slice(0, 5).join('; '));
  },
};

const UNSPECIFIED = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0', '']);
const isLoopback = (host: string) => host === 'localhost' || host.startsWith('127.') || host === '::1';

function localHosts(): Set<string> {
  const hosts = new Set(['localhost', '127.0.0.1', '::1']);
  for (const infos of Object.values(os.networkInterfaces())) for (const info of infos ?? []) hosts.add(info.address);
  return hosts;
}

const withScheme = (endpoint: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `ws://${endpoint}`);

/** Why the advertised endpoint cannot be the one under test, or undefined when it is. */
function endpointProblem(advertised: string, tested: string, replyFrom: string): string | undefined {
  let a: URL;
  let b: URL;
  try {
    a = new URL(withScheme(advertised));
    b = new URL(tested);
  } catch {
    return `"${advertised}" is not a URL`;
  }
  const host = hostOf(a.href);
  if (UNSPECIFIED.has(host)) return `"${advertised}" names the unspecified address ${host || '(empty)'}: a server listens there, but no client can connect to it`;
  const source = replyFrom.replace(/:\d+$/, '');
  if (isLoopback(host) && !isLoopback(source)) return `"${advertised}" is a loopback address, reachable only on the provider's own machine, but the advertisement came from ${source}`;
  const path = (url: URL) => url.pathname.replace(/\/$/, '');
  if (a.protocol !== b.protocol || a.port !== b.port || path(a) !== path(b)) return `"${advertised}" is not the endpoint under test ${tested} (scheme, port or path differ)`;
  if (a.hostname === b.hostname) return undefined;
  const local = localHosts();
  return local.has(host) && local.has(hostOf(tested)) ? undefined : `"${advertised}" names another host than ${tested}`;
}

const endpoint: ProviderCheck = {
  name: 'provider.discovery.endpoint',
  requirements: ['DISC-5'],
  level: 'core',
  title: 'the advertised endpoint is one a client can connect to: the endpoint under test',
  seed: SEED.endpoint,
  run: async (probe) => {
    const replies = await repliesOrBlocked(probe);
    const problems: string[] = [];
    for (const datagram of replies) {
      const advertised = member(datagram.json, 'endpoint');
      if (typeof advertised !== 'string') continue;
      const problem = endpointProblem(advertised, probe.endpoint, datagram.from);
      if (problem !== undefined) problems.push(problem);
    }
    if (problems.length > 0) return fail(`${[...new Set(problems)].join('; ')} (tested ${probe.endpoint})`);
    const shown = [...new Set(replies.map((datagram) => String(member(datagram.json, 'endpoint'))))];
    return pass(`advertised ${shown.join(', ')}`);
  },
};

const capabilities: ProviderCheck = {
  name: 'provider.discovery.capabilities',
  requirements: ['DISC-5', 'DISC-11'],
  level: 'core',
  title: 'the advertisement lists the operations under test, one capability each',
  seed: SEED.capabilities,
  run: async (probe) => {
    const replies = await repliesOrBlocked(probe);
    const selection = await probe.testTask();
    const datagram = replies.find((candidate) => member(candidate.json, 'serviceName') === selection.serviceName);
    if (datagram === undefined) return fail(`no advertisement for ${selection.serviceName} (advertised: ${replies.map((candidate) => String(member(candidate.json, 'serviceName'))).join(', ')})`);
    const keys = capabilityKeys(datagram.json);
    const wanted = [selection.quick.operation, ...(selection.slow === undefined ? [] : [selection.slow.operation])];
    const missing = wanted.filter((operation) => !keys.includes(operation));
    const duplicates = keys.filter((key, index) => keys.indexOf(key) !== index);
    if (missing.length > 0) return fail(mismatch({ expected: `capabilities listing ${wanted.join(' and ')} (the operations under test run)`, observed: `${selection.serviceName} advertises ${keys.join(', ') || 'no capability'}` }));
    if (duplicates.length > 0) return fail(`capability keys repeated: ${[...new Set(duplicates)].join(', ')}`);
    return pass(`${selection.serviceName}: ${keys.join(', ')}`);
  },
};

const stableIds: ProviderCheck = {
  name: 'provider.discovery.stableIds',
  requirements: ['DISC-5'],
  level: 'core',
  title: 'serviceId is unique per service and the same in every advertisement',
  seed: SEED.storage,
  run: async (probe) => {
    const first = repliesOf(await probe.discover());
    const second = repliesOf(await secondRound(probe));
    if (first.length === 0 || second.length === 0) throw new Blocked(DISCOVERY_CHECK, 'a request got no reply');
    const idsOf = (replies: readonly Datagram[]) => new Map(replies.map((datagram) => [String(member(datagram.json, 'serviceName')), member(datagram.json, 'serviceId')]));
    const before = idsOf(first);
    const now = idsOf(second);
    const changed = [...before].filter(([name, id]) => now.has(name) && now.get(name) !== id);
    if (changed.length > 0) return fail(`serviceId changed between two requests: ${changed.map(([name, id]) => `${name} ${String(id)} -> ${String(now.get(name))}`).join('; ')}`);
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
  /** Datagrams that came back to the garbage's source port before the valid request, with the input sent just before. */
  readonly reflected: { readonly datagram: Datagram; readonly after: string }[];
  readonly answered: boolean;
  readonly evidence: string;
}

function garbageRound(probe: ProviderProbe): Promise<GarbageRound> {
  return probe.memo('discovery.garbage', async () => {
    const requester = await probe.discovery.requester();
    try {
      const reflected: GarbageRound['reflected'] = [];
      for (const text of GARBAGE) {
        const before = requester.received.length;
        await requester.send(text);
        await delay(80);
        for (const datagram of requester.received.slice(before)) reflected.push({ datagram, after: text.slice(0, 100) });
      }
      const clientId = `conformance-${uuid()}`;
      const request = discoveryRequest(clientId);
      let answer: Datagram | undefined;
      for (let attempt = 0; attempt < 3 && answer === undefined; attempt++) {
        await requester.send(request);
        // Any advertisement answering counts: serving is judged here, addressing by provider.discovery.reply.
        const since = Date.now();
        answer = await probe.discovery.until(
          () => requester.received.find((datagram) => isAdvertisement(datagram)) ?? probe.discovery.received.find((datagram) => datagram.via === 'broadcast' && datagram.at >= since && member(datagram.json, 'respondsToClientId') === clientId),
          Math.floor(probe.timing.discoveryTimeoutMs / 3),
        );
      }
      const evidence = answer === undefined ? `no reply to a valid request after ${GARBAGE.length} malformed datagrams (${GARBAGE.map((text) => JSON.stringify(text.slice(0, 20))).join(', ')})` : `a valid request after ${GARBAGE.length} malformed datagrams was answered`;
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
  seed: SEED.robust,
  run: async (probe) => {
    await repliesOrBlocked(probe);
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
    if (round.reflected.length > 0) {
      return fail(round.reflected.map(({ datagram, after }) => mismatch({ sent: JSON.stringify(after), expected: 'nothing back', observed: datagram.text.slice(0, 80) })).join(' | '));
    }
    return round.answered ? pass(`nothing came back to ${GARBAGE.length} malformed datagrams`) : fail(round.evidence);
  },
};

async function selectedAdvertisement(probe: ProviderProbe): Promise<Datagram> {
  const replies = await repliesOrBlocked(probe);
  const choice = await probe.choice();
  const serviceName = choice.usable ? choice.selection.serviceName : undefined;
  return replies.find((datagram) => member(datagram.json, 'serviceName') === serviceName) ?? replies[0]!;
}

const heartbeatInterval: ProviderCheck = {
  name: 'provider.discovery.heartbeatInterval',
  requirements: ['DISC-5', 'DISC-9'],
  level: 'full',
  title: 'advertisements carry heartbeatIntervalMs (extension)',
  run: async (probe) => {
    const replies = await repliesOrBlocked(probe);
    const missing = replies.filter((datagram) => typeof member(datagram.json, 'heartbeatIntervalMs') !== 'number').map((datagram) => String(member(datagram.json, 'serviceName')));
    if (missing.length > 0) return fail(`no heartbeatIntervalMs in the advertisement of ${missing.join(', ')}`);
    return pass(`heartbeatIntervalMs ${[...new Set(replies.map((datagram) => member(datagram.json, 'heartbeatIntervalMs')))].join(', ')}`);
  },
};

const heartbeat: ProviderCheck = {
  name: 'provider.discovery.heartbeat',
  requirements: ['DISC-4'],
  level: 'core',
  title: 'a heartbeat advertisement is broadcast every heartbeatIntervalMs (when short enough to wait for)',
  seed: SEED.heartbeat,
  timeoutMs: 16_000,
  run: async (probe) => {
    const chosen = await selectedAdvertisement(probe);
    const serviceName = member(chosen.json, 'serviceName');
    const interval = member(chosen.json, 'heartbeatIntervalMs');
    const port = probe.discovery.target.port;
    if (probe.discovery.listening.length === 0) {
      return notApplicable(`cannot listen for broadcasts on port ${port} (${probe.discovery.listenErrors.join('; ')})`);
    }
    const waitMs = typeof interval === 'number' ? interval + 1_000 : undefined;
    if (waitMs === undefined || waitMs > probe.timing.periodicWaitMaxMs) {
      return notApplicable(`heartbeat ${typeof interval !== 'number' ? 'not advertised (the seed suggests 30 to 60 s)' : `every ${interval} ms`}: longer than the suite waits (${probe.timing.periodicWaitMaxMs} ms)`);
    }
    const start = Date.now();
    const isHeartbeat = (datagram: Datagram) =>
      datagram.via === 'broadcast' && member(datagram.json, 'serviceName') === serviceName && member(datagram.json, 'respondsToClientId') === undefined;
    const heard = await probe.discovery.until(() => probe.discovery.received.find((datagram) => isHeartbeat(datagram) && datagram.at >= start), waitMs);
    if (heard === undefined) {
      return fail(mismatch({ expected: `a broadcast advertisement of ${String(serviceName)} on port ${port} within heartbeatIntervalMs ${interval} + 1 s`, observed: `none in ${waitMs} ms (listening on ${probe.discovery.listening.join(', ')})` }));
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
  unicastReply,
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
