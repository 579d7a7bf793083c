/**
 * Options of the UDP discovery adapter, their defaults, and their validation. Bad options are a
 * programmer error: `resolveUdpOptions` throws at once (TypeError / RangeError), before any socket
 * exists.
 */
import { isIPv4 } from 'node:net';
import { defaultCodecLimits, type CodecLimits, type StampSource } from '../../machines/codec.js';
import { answerBoundsDefaults, REQUEST_BYTES_MIN, type AnswerBoundsOptions } from '../../machines/discovery/answers.js';
import type { PeerAddress } from '../../machines/transport.js';
import { isIpv4Multicast } from './addresses.js';
import { createUdpMetrics, type UdpMetrics } from './metrics.js';
import type { DatagramSigner } from './signature.js';

/** The well-known discovery port (docs/protocol.md, DISC-1). */
export const UDP_DISCOVERY_PORT = 50_001;

/** The largest IPv4 UDP payload: nothing bigger can be sent or received. */
const IPV4_UDP_PAYLOAD_MAX = 65_507;

export type UdpLog = (level: 'debug' | 'warn' | 'error', message: string, detail?: unknown) => void;

/**
 * Whether the discovery port could be bound (DISC-1). `listening: false` means another process
 * holds the port exclusively (bound without SO_REUSEADDR, as peers built from the seed alone often
 * are) or it is not allowed: requests and heartbeats sent to the port on this host do not reach
 * this process. Answers to its own requests still do (they come to its ephemeral port).
 */
export type DiscoveryPortState =
  | { readonly port: number; readonly listening: true }
  | { readonly port: number; readonly listening: false; readonly code: string; readonly reason: string };

export interface UdpMulticastOptions {
  /** The group to send 'broadcast' to and to join, e.g. '239.255.77.1'. */
  readonly group: string;
  /** Hops a multicast datagram may take. @default 1 (the local network) */
  readonly ttl?: number;
  /** Local IPv4 address of the interface to join on and send from. @default chosen by the kernel's routing table */
  readonly interface?: string;
}

export interface UdpDiscoveryOptions {
  /** Well-known discovery port, shared by every process on the host (SO_REUSEADDR). @default 50001 */
  readonly port?: number;
  /**
   * Address both sockets bind. Keep the default to receive broadcasts: on Linux a socket bound to
   * a unicast address does not receive datagrams sent to a broadcast address. @default '0.0.0.0'
   */
  readonly bindAddress?: string;
  /**
   * Where 'broadcast' goes. @default every non-internal IPv4 interface's directed broadcast
   * address (from os.networkInterfaces(), read when the actor starts); when there is none,
   * 127.255.255.255.
   */
  readonly broadcastAddresses?: readonly string[];
  /** For networks that filter broadcast: also (or, with `broadcast: false`, instead) send 'broadcast' to this group, and join it. */
  readonly multicast?: UdpMulticastOptions;
  /** Also send 'broadcast' to each of these unicast peers. @default [] */
  readonly unicastPeers?: readonly PeerAddress[];
  /** Send 'broadcast' to the broadcast addresses; false leaves only `multicast` and `unicastPeers`. @default true */
  readonly broadcast?: boolean;
  /** `datagramBytesMax`: bigger datagrams are rejected on receipt (WIRE-6) and refused on send (throws). @default defaultCodecLimits */
  readonly limits?: Partial<CodecLimits>;
  /** The wall clock that stamps outgoing datagrams. @default { nowMs: Date.now } */
  readonly stamp?: Pick<StampSource, 'nowMs'>;
  /** Counters the adapter increments. @default a private object (see createUdpMetrics) */
  readonly metrics?: UdpMetrics;
  /** @default silent */
  readonly log?: UdpLog;
  /** Datagrams kept while the sending socket binds; beyond it the oldest is dropped (SEC-6). @default 256 */
  readonly sendQueueMax?: number;
  /** On stop, how long pending sends may take before the sockets close anyway (DISC-7 goodbyes). @default 200 */
  readonly closeFlushMs?: number;
  /** Signs outgoing advertisements (SEC-8); see runtime/keys.ts. @default unsigned */
  readonly signer?: DatagramSigner;
  /** Check the signature of received advertisements (a client needs it; a provider ignores advertisements). @default true */
  readonly verifySignatures?: boolean;
  /** Outgoing discovery requests are padded to this many bytes so its answers fit (DISC-17); 0 turns padding off. @default 1200 */
  readonly requestBytesMin?: number;
  /** Bounds on answering discovery requests: rate per source and amplification (DISC-16, DISC-17). @default answerBoundsDefaults */
  readonly answers?: Partial<AnswerBoundsOptions>;
  /** Told once per actor whether the discovery port could be bound (see DiscoveryPortState). */
  readonly onPortState?: (state: DiscoveryPortState) => void;
  /** `keyed`: advertise capabilities keyed by operation, as some seed peers read them (compat profile). @default 'list' */
  readonly capabilitiesForm?: 'list' | 'keyed';
}

/** The options with every default applied and every value checked. */
export interface UdpConfig {
  readonly port: number;
  readonly bindAddress: string;
  /** undefined: computed from the interfaces when each actor starts. */
  readonly broadcastAddresses: readonly string[] | undefined;
  readonly broadcast: boolean;
  readonly multicast: { readonly group: string; readonly ttl: number; readonly interface: string | undefined } | undefined;
  readonly unicastPeers: readonly PeerAddress[];
  readonly limits: CodecLimits;
  readonly nowMs: () => number;
  readonly metrics: UdpMetrics;
  readonly log: UdpLog;
  readonly sendQueueMax: number;
  readonly closeFlushMs: number;
  readonly signer: DatagramSigner | undefined;
  readonly verifySignatures: boolean;
  readonly requestBytesMin: number;
  readonly answers: AnswerBoundsOptions;
  readonly onPortState: (state: DiscoveryPortState) => void;
  readonly capabilitiesForm: 'list' | 'keyed';
}

const silent: UdpLog = () => {};

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new RangeError(`switchboard: udp discovery: ${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

function checkIpv4(name: string, value: string): string {
  if (!isIPv4(value)) throw new TypeError(`switchboard: udp discovery: ${name} must be an IPv4 address, got "${value}"`);
  return value;
}

function resolveMulticast(multicast: UdpMulticastOptions | undefined): UdpConfig['multicast'] {
  if (multicast === undefined) return undefined;
  if (!isIpv4Multicast(multicast.group)) {
    throw new TypeError(`switchboard: udp discovery: multicast.group must be an IPv4 multicast address (224.0.0.0/4), got "${multicast.group}"`);
  }
  return {
    group: multicast.group,
    ttl: checkInteger('multicast.ttl', multicast.ttl ?? 1, 0, 255),
    interface: multicast.interface === undefined ? undefined : checkIpv4('multicast.interface', multicast.interface),
  };
}

function resolveAnswers(answers: Partial<AnswerBoundsOptions> | undefined): AnswerBoundsOptions {
  const merged = { ...answerBoundsDefaults, ...answers };
  if (!(Number.isFinite(merged.amplificationFactor) && merged.amplificationFactor >= 1)) {
    throw new RangeError(`switchboard: udp discovery: answers.amplificationFactor must be a number >= 1, got ${merged.amplificationFactor}`);
  }
  checkInteger('answers.requestsPerSourceMax', merged.requestsPerSourceMax, 1, 1_000_000);
  checkInteger('answers.requestsMax', merged.requestsMax, 1, 1_000_000);
  checkInteger('answers.windowMs', merged.windowMs, 1, 3_600_000);
  checkInteger('answers.budgetTtlMs', merged.budgetTtlMs, 1, 3_600_000);
  checkInteger('answers.paddedBytesMin', merged.paddedBytesMin, 0, IPV4_UDP_PAYLOAD_MAX);
  checkInteger('answers.unpaddedPerSourceMax', merged.unpaddedPerSourceMax, 0, 1_000_000);
  checkInteger('answers.unpaddedMax', merged.unpaddedMax, 0, 1_000_000);
  return merged;
}

export function resolveUdpOptions(options: UdpDiscoveryOptions): UdpConfig {
  const limits = { ...defaultCodecLimits, ...options.limits };
  checkInteger('limits.datagramBytesMax', limits.datagramBytesMax, 1, IPV4_UDP_PAYLOAD_MAX);
  const unicastPeers = (options.unicastPeers ?? []).map((peer, index) => {
    if (typeof peer.host !== 'string' || peer.host.length === 0) {
      throw new TypeError(`switchboard: udp discovery: unicastPeers[${index}].host must be a host name or address`);
    }
    checkInteger(`unicastPeers[${index}].port`, peer.port, 1, 65_535);
    return { host: peer.host, port: peer.port };
  });
  const config: UdpConfig = {
    port: checkInteger('port', options.port ?? UDP_DISCOVERY_PORT, 1, 65_535),
    bindAddress: checkIpv4('bindAddress', options.bindAddress ?? '0.0.0.0'),
    broadcastAddresses: options.broadcastAddresses?.map((address, index) => checkIpv4(`broadcastAddresses[${index}]`, address)),
    broadcast: options.broadcast ?? true,
    multicast: resolveMulticast(options.multicast),
    unicastPeers,
    limits,
    nowMs: options.stamp?.nowMs ?? (() => Date.now()),
    metrics: options.metrics ?? createUdpMetrics(),
    log: options.log ?? silent,
    sendQueueMax: checkInteger('sendQueueMax', options.sendQueueMax ?? 256, 1, 1_000_000),
    closeFlushMs: checkInteger('closeFlushMs', options.closeFlushMs ?? 200, 0, 60_000),
    signer: options.signer,
    verifySignatures: options.verifySignatures ?? true,
    // Never padded beyond what may be sent.
    requestBytesMin: Math.min(checkInteger('requestBytesMin', options.requestBytesMin ?? REQUEST_BYTES_MIN, 0, IPV4_UDP_PAYLOAD_MAX), limits.datagramBytesMax),
    answers: resolveAnswers(options.answers),
    onPortState: options.onPortState ?? (() => {}),
    capabilitiesForm: options.capabilitiesForm ?? 'list',
  };
  if (!config.broadcast && config.multicast === undefined && config.unicastPeers.length === 0) {
    throw new RangeError('switchboard: udp discovery: with broadcast: false, give multicast or unicastPeers, or a broadcast reaches nobody');
  }
  return config;
}
