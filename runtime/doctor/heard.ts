/**
 * Findings from what the probe heard: who answered and from where, whether each advertised
 * endpoint can be reached from here (and its TLS certificate is the one advertised or pinned),
 * and how far each provider's clock is from this one (its advertisements' timestamps).
 */
import { initialTrustState, judgeAdvertisement, type TrustOptions } from '../../machines/discovery/trust.js';
import { trustRemedies } from '../client.js';
import type { Finding } from './findings.js';
import { hostKindOf, parseEndpoint, reach, reachabilityProblem, sameFingerprint } from './endpoints.js';
import type { Heard, ProbeTarget } from './probe.js';

const ENDPOINTS_CHECKED_MAX = 32;

const instanceLine = (heard: Heard, targets: readonly ProbeTarget[]) => {
  const { advertisement: ad, from } = heard;
  const how = heard.answersTarget === undefined ? 'heartbeat' : `reply to the request sent to ${targets[heard.answersTarget]?.label ?? '?'}`;
  const signed = heard.proof.kind === 'signed' ? `, signed by ${heard.proof.publicKey.slice(0, 12)}…` : heard.proof.kind === 'unsigned' ? ', unsigned' : '';
  return `${ad.serviceName} ${ad.serviceVersion} at ${ad.endpoint} (${ad.status}), from ${from.host}:${from.port}, ${how}${signed}`;
};

/** The last thing heard from each service instance (by serviceId), replies preferred. */
function latestByInstance(heard: readonly Heard[]): Heard[] {
  const byId = new Map<string, Heard>();
  for (const entry of heard) {
    const known = byId.get(entry.advertisement.serviceId);
    if (known === undefined || entry.answersTarget !== undefined || known.answersTarget === undefined) byId.set(entry.advertisement.serviceId, entry);
  }
  return [...byId.values()].filter((entry) => entry.advertisement.status !== 'Offline');
}

export function answerFindings(heard: readonly Heard[], targets: readonly ProbeTarget[], port: number, listenedMs: number): Finding[] {
  const instances = latestByInstance(heard);
  if (instances.length === 0) {
    return [
      {
        id: 'answers.none',
        severity: 'error',
        title: `no provider answered within ${listenedMs} ms, and no heartbeat was heard`,
        fix:
          `start a provider on this network with the same discovery port (switchboard provider --discovery-port ${port}). If one runs: see the findings above ` +
          '(port, firewall, interfaces); broadcasts do not cross routers, so for a provider on another subnet use --peer <its host> or --multicast <group> on both sides',
      },
    ];
  }
  const findings: Finding[] = [
    {
      id: 'answers',
      severity: 'ok',
      title: `${instances.length} service instance${instances.length === 1 ? '' : 's'} heard`,
      detail: instances.map((entry) => instanceLine(entry, targets)),
      data: { instances: instances.map((entry) => ({ ...entry.advertisement, from: entry.from, answered: entry.answersTarget !== undefined })) },
    },
  ];
  const silent = instances.filter((entry) => entry.answersTarget === undefined);
  if (silent.length > 0 && targets.length > 0) {
    findings.push({
      id: 'answers.heartbeatOnly',
      severity: 'info',
      title: `${silent.length} instance${silent.length === 1 ? '' : 's'} heard only by heartbeat, not in reply to a request`,
      detail: silent.map((entry) => instanceLine(entry, targets)),
      fix: 'a provider that does not answer requests is found only at its next heartbeat: check that requests reach it (its firewall, the broadcast address), or that it answers them (a seed-only provider may not)',
    });
  }
  return findings;
}

export interface EndpointCheckOptions {
  readonly connectTimeoutMs: number;
  /** A fingerprint the client pins (compared with every wss:// endpoint's certificate). */
  readonly tlsFingerprint?: string | undefined;
}

export async function endpointFindings(heard: readonly Heard[], options: EndpointCheckOptions): Promise<Finding[]> {
  const byEndpoint = new Map<string, Heard>();
  for (const entry of latestByInstance(heard)) if (!byEndpoint.has(entry.advertisement.endpoint)) byEndpoint.set(entry.advertisement.endpoint, entry);
  const checks = [...byEndpoint.entries()].slice(0, ENDPOINTS_CHECKED_MAX).map(async ([endpoint, entry]): Promise<Finding> => {
    const { serviceName } = entry.advertisement;
    const parsed = parseEndpoint(endpoint);
    const fixHost = `start that provider with --advertised-host set to an address other hosts reach it by (its LAN address, e.g. ${entry.from.host})`;
    if (parsed === undefined) return { id: 'endpoint.invalid', severity: 'error', title: `${serviceName} advertises ${endpoint}, not a ws:// or wss:// URL`, fix: fixHost };
    const kind = hostKindOf(parsed.host);
    if (kind === 'unspecified') {
      return { id: 'endpoint.unspecified', severity: 'error', title: `${serviceName} advertises ${endpoint}: ${parsed.host} is "any address", no client can connect to it`, fix: fixHost, data: { endpoint, from: entry.from } };
    }
    if (kind === 'loopback' && hostKindOf(entry.from.host) !== 'loopback') {
      return {
        id: 'endpoint.loopback',
        severity: 'error',
        title: `${serviceName} advertises the loopback endpoint ${endpoint} from ${entry.from.host}: only processes on that host can connect`,
        fix: fixHost,
        data: { endpoint, from: entry.from },
      };
    }
    const result = await reach(parsed, options.connectTimeoutMs);
    if (!result.ok) {
      const problem = reachabilityProblem(result.code);
      return { id: 'endpoint.unreachable', severity: 'error', title: `${serviceName} at ${endpoint}: ${problem.title}`, fix: problem.fix, data: { endpoint, code: result.code, ms: result.ms } };
    }
    const advertised = entry.advertisement.tlsFingerprint256;
    for (const [source, expected] of [['advertised', advertised], ['pinned', options.tlsFingerprint]] as const) {
      if (!parsed.secure || expected === undefined || result.fingerprint256 === undefined) continue;
      if (sameFingerprint(expected, result.fingerprint256) === false) {
        return {
          id: 'endpoint.tls',
          severity: 'error',
          title: `${serviceName} at ${endpoint}: its certificate (SHA-256 ${result.fingerprint256}) is not the ${source} one (${expected})`,
          fix:
            source === 'pinned'
              ? 'the provider has a new certificate, or this is not the provider: if the change is expected, pin the new fingerprint; otherwise do not connect'
              : 'the provider serves another certificate than it advertises (a stale --tls-cert after renewal, or an impostor on the port): restart it with its current certificate',
          data: { endpoint, actual: result.fingerprint256, expected, source },
        };
      }
    }
    const tlsNote = parsed.secure && result.fingerprint256 !== undefined ? `, certificate SHA-256 ${result.fingerprint256}` : '';
    return { id: 'endpoint.reachable', severity: 'ok', title: `${serviceName} at ${endpoint} is reachable (${result.ms} ms${tlsNote})`, data: { endpoint, ms: result.ms } };
  });
  return Promise.all(checks);
}

/**
 * Whether a client with these trust options (SEC-8, DISC-14: the same policy, from the same
 * flags) would act on each instance heard, or ignore it, and why.
 */
export function trustFindings(heard: readonly Heard[], trust: TrustOptions): Finding[] {
  const state = initialTrustState(trust);
  return latestByInstance(heard).flatMap((entry): Finding[] => {
    const verdict = judgeAdvertisement(state, entry.advertisement, entry.proof, entry.receivedAtMs);
    if (verdict.accepted) return [];
    const { serviceName } = entry.advertisement;
    return [
      {
        id: 'trust.ignored',
        severity: 'error',
        title: `a client with these trust options ignores ${serviceName} from ${entry.from.host} (${verdict.reason}: ${verdict.detail})`,
        fix: trustRemedies[verdict.reason],
        data: { serviceName, serviceId: entry.advertisement.serviceId, from: entry.from, reason: verdict.reason },
      },
    ];
  });
}

/** Advertisement timestamp minus arrival time, per source host (the largest in magnitude). */
export function clockFindings(heard: readonly Heard[], skewWarnMs: number): Finding[] {
  const bySource = new Map<string, number>();
  for (const entry of heard) {
    const skew = entry.advertisement.timestamp - entry.receivedAtMs;
    const known = bySource.get(entry.from.host);
    if (known === undefined || Math.abs(skew) > Math.abs(known)) bySource.set(entry.from.host, skew);
  }
  if (bySource.size === 0) return [];
  const skewed = [...bySource.entries()].filter(([, skew]) => Math.abs(skew) > skewWarnMs);
  const seconds = (ms: number) => `${(Math.abs(ms) / 1000).toFixed(1)} s ${ms > 0 ? 'ahead of' : 'behind'} this host`;
  if (skewed.length === 0) {
    const largest = Math.max(...[...bySource.values()].map(Math.abs));
    return [{ id: 'clock', severity: 'ok', title: `provider clocks agree with this host's within ${Math.round(largest)} ms (${bySource.size} host${bySource.size === 1 ? '' : 's'})` }];
  }
  return skewed.map(([host, skew]) => ({
    id: 'clock.skew',
    severity: 'warning',
    title: `the clock of ${host} is ${seconds(skew)} (from its advertisements' timestamps)`,
    fix: 'synchronise both clocks (chrony or systemd-timesyncd with the same NTP source): signed discovery refuses advertisements outside its freshness window, and logs and task times disagree',
    data: { host, skewMs: skew },
  }));
}
