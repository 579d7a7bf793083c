/**
 * Options, counters and small pure helpers of the WebSocket adapter (adapters/ws.ts).
 */
import { createHash, createHmac } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { v4 as uuidV4 } from 'uuid';
import type { CodecLimits, StampSource } from '../../machines/codec.js';
import type { ErrorCode } from '../../machines/errors.js';

export type WsLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type WsLog = (level: WsLogLevel, message: string, detail?: Record<string, unknown>) => void;

/** Counters of one adapter instance; plain mutable numbers, read them whenever you like. */
export interface WsMetrics {
  /** Upgrades the server accepted (one server.accepted each). */
  connectionsAccepted: number;
  /** Client connections that reached transport.opened. */
  connectionsOpened: number;
  /** Client connections that ended before transport.opened (refused, timed out, 401, TLS...). */
  connectFailures: number;
  /** Frames received (decoded or rejected). */
  messagesIn: number;
  /** Frames handed to ws for sending. */
  messagesOut: number;
  /** Acks left out because their task's final message was in the same outgoing batch (TASK-2). */
  acksCoalesced: number;
  /** Batches of outgoing frames written (one socket write each, however many frames). */
  batchesOut: number;
  /** transport.send or transport.ping on a socket that was not open: dropped, as ws does after close. */
  messagesDropped: number;
  /** Frames refused by the codec, by error code (WIRE-8: counted). */
  rejected: Partial<Record<ErrorCode, number>>;
  /** 'error' events of sockets and servers. */
  socketErrors: number;
  /** Accepted sockets terminated because their events overflowed before a transport attached, or none attached in time. */
  unattachedTerminated: number;
  /** TCP connections refused at once: their address had connectionsPerAddressMax open (SEC-15). */
  connectionsRefused: number;
  /** TCP connections dropped for not completing the WebSocket upgrade within upgradeTimeoutMs (SEC-14). */
  upgradesTimedOut: number;
  /** Times a socket stopped being read: over a frame budget (SEC-16) or its peer not reading (SEC-13). */
  readsPaused: number;
  /** Connections closed (1008) and dropped because their peer did not read what was sent (SEC-13). */
  sendOverflows: number;
  /** The most bytes seen waiting unsent on one socket right after a write (SEC-13, EVT-8: what a slow peer costs). */
  sendBufferedMax: number;
}

export function createWsMetrics(): WsMetrics {
  return {
    connectionsAccepted: 0,
    connectionsOpened: 0,
    connectFailures: 0,
    messagesIn: 0,
    messagesOut: 0,
    acksCoalesced: 0,
    batchesOut: 0,
    messagesDropped: 0,
    rejected: {},
    socketErrors: 0,
    unattachedTerminated: 0,
    connectionsRefused: 0,
    upgradesTimedOut: 0,
    readsPaused: 0,
    sendOverflows: 0,
    sendBufferedMax: 0,
  };
}

/** What both sides share. */
export interface WsCommonOptions {
  /**
   * Largest frame ws takes in at all; above it ws closes the connection with 1009.
   * @default 1_048_576
   */
  readonly maxPayload?: number;
  /** Codec limits (frameBytesMax: above it a received frame is rejected with MESSAGE_TOO_LARGE). @default defaultCodecLimits */
  readonly limits?: Partial<CodecLimits>;
  /** Clock and id source that finish outgoing drafts. @default { nowMs: Date.now, newId: uuid v4 } */
  readonly stamp?: StampSource;
  /** Counters to add to. @default a fresh createWsMetrics() */
  readonly metrics?: WsMetrics;
  /**
   * Deliver the frames of one socket read as one `transport.batch` event (machines/transport.ts),
   * for a receiver that unfolds it (machines/host/readBatches.ts; the runtime's sessions and
   * connections do). @default false
   */
  readonly readBatches?: boolean;
  /** Where operating events go. @default nothing is logged */
  readonly log?: WsLog;
  /**
   * SEC-13: unsent bytes above which a socket stops being read (`pauseBytes`), beyond which it is
   * closed with 1008 and dropped (`bytesMax`), and the time a peer may leave more than
   * `pauseBytes` unread before the same happens (`stallMs`).
   * @default { pauseBytes: 1_048_576, bytesMax: 8_388_608, stallMs: 10_000 }
   */
  readonly sendBuffer?: { readonly pauseBytes?: number; readonly bytesMax?: number; readonly stallMs?: number };
}

export interface WsServerOptions extends WsCommonOptions {
  /** TCP port to listen on; 0 picks a free port (read it from `port()` or the endpoint). */
  readonly port: number;
  /** Address to listen on. @default '0.0.0.0' */
  readonly host?: string;
  /**
   * Host name or address put in the endpoint URL (advertised to clients).
   * @default `host` when it is a specific address (`127.0.0.1` for `localhost`); for an unspecified
   * address (`0.0.0.0`, `::`) the first non-internal IPv4 address of this machine, else 127.0.0.1
   */
  readonly advertisedHost?: string;
  /**
   * `flat`: answer with the seed's flat `{type: "Status", taskId, taskStatus}` where an Ack, a
   * TaskStatusUpdate or a TASK_NOT_FOUND about a task would go (the `flat-status` compat profile,
   * docs/protocol.md). @default 'envelope'
   */
  readonly statusForm?: 'envelope' | 'flat';
  /**
   * Serve wss:// with this key and certificate (PEM). With `clientCa`, clients are asked for a
   * certificate: one that verifies against it is reported in server.accepted as
   * `peerCertificate` (its SHA-256 fingerprint), for the authentication policy (SEC-10); a client
   * without one is still served (it may present an API key instead). @default plain ws://
   */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer; readonly clientCa?: string | Buffer };
  /**
   * An accepted socket whose `accepted` transport has not attached after this long is terminated
   * (a bound on sockets nobody drives, SEC-6).
   * @default 10_000
   */
  readonly attachTimeoutMs?: number;
  /**
   * Events of an accepted socket kept until its `accepted` transport attaches; one more and the
   * socket is terminated (SEC-6).
   * @default 256
   */
  readonly pendingEventsMax?: number;
  /**
   * Frame bytes behind those buffered events; one frame more and the socket is terminated (SEC-6).
   * @default 4_194_304
   */
  readonly pendingBytesMax?: number;
  /**
   * SEC-14: time a TCP connection has to complete its WebSocket upgrade (a connection that sends
   * no byte at all included); then it is dropped. @default 5_000
   */
  readonly upgradeTimeoutMs?: number;
  /** SEC-15: TCP connections open at once from one address; beyond it, refused at once. @default 64 */
  readonly connectionsPerAddressMax?: number;
  /**
   * SEC-16: frames per second one connection, and all connections from one address, may hand
   * the provider; over either budget the socket is not read until the second ends (backpressure,
   * nothing is answered). @default { perConnection: 5_000, perAddress: 10_000 }
   */
  readonly framesPerSecondMax?: { readonly perConnection?: number; readonly perAddress?: number };
  /**
   * TASK-2: an Ack whose task's final message leaves in the same outgoing batch (a task that ends
   * in the turn it was accepted) is left out; the final message acknowledges the task (TASK-3).
   * false sends every Ack, as a seed provider does. @default true
   */
  readonly coalesceAcks?: boolean;
  /**
   * WebSocket connections on these paths (e.g. `/files`, a provider's file links) are handed to
   * the function instead of becoming sessions. The connection limits of the server apply to them.
   */
  readonly sideChannels?: Readonly<Record<string, SideChannel>>;
}

export interface WsConnectOptions extends WsCommonOptions {
  /** Time for TCP connect, TLS and the upgrade together. @default 5_000 */
  readonly handshakeTimeoutMs?: number;
  /** Presented at the upgrade as `Authorization: Bearer <token>` (SEC-2). @default none */
  readonly token?: string;
  /**
   * The client's secret (SEC-10): at every upgrade the client presents
   * `x-switchboard-client-proof: HMAC-SHA256(secret, <scheme>://<host:port>)`, a proof that differs
   * per provider endpoint, so no provider can replay it to another. @default none
   */
  readonly clientSecret?: string;
  readonly tls?: {
    /** A client certificate and its key (PEM), for providers that authenticate by certificate (SEC-10). */
    readonly cert?: string | Buffer;
    readonly key?: string | Buffer;
    /** Trusted CA certificate(s) (PEM), e.g. the provider's self-signed certificate. @default Node's CA store */
    readonly ca?: string | Buffer;
    /** Refuse a certificate that does not verify. @default true, or false when only `fingerprint256` pins the certificate */
    readonly rejectUnauthorized?: boolean;
    /**
     * Pin: the SHA-256 fingerprint of the provider's certificate (`AB:CD:...` or plain hex). The
     * connection is refused, before any HTTP byte is sent, when the peer's differs. @default no pin
     */
    readonly fingerprint256?: string;
  };
}

export const MAX_PAYLOAD_DEFAULT = 1_048_576;
export const HANDSHAKE_TIMEOUT_MS_DEFAULT = 5_000;
export const ATTACH_TIMEOUT_MS_DEFAULT = 10_000;
export const PENDING_EVENTS_MAX_DEFAULT = 256;
export const PENDING_BYTES_MAX_DEFAULT = 4_194_304;
export const SEND_BUFFER_DEFAULTS = { pauseBytes: 1_048_576, bytesMax: 8_388_608, stallMs: 10_000 } as const;
export const UPGRADE_TIMEOUT_MS_DEFAULT = 5_000;
export const CONNECTIONS_PER_ADDRESS_MAX_DEFAULT = 64;
export const FRAMES_PER_SECOND_DEFAULTS = { perConnection: 5_000, perAddress: 10_000 } as const;

/** The send bounds of a binding from the options (SEC-13). */
export function sendBoundsOf(options: WsCommonOptions): { pauseBytes: number; bytesMax: number; stallMs: number } {
  return { ...SEND_BUFFER_DEFAULTS, ...options.sendBuffer };
}

export const defaultStamp: StampSource = { nowMs: () => Date.now(), newId: () => uuidV4() };

export const noLog: WsLog = () => {};

export function newConnectionId(): string {
  return uuidV4();
}

const UNSPECIFIED = new Set(['', '0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

/** The host put in the endpoint URL when the options do not name one (see WsServerOptions). */
export function advertisedHostFor(host: string): string {
  if (host === 'localhost') return '127.0.0.1';
  if (!UNSPECIFIED.has(host)) return bracketed(host);
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return '127.0.0.1';
}

/** An IPv6 literal in brackets, as URLs and `address:port` strings need it. */
export function bracketed(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** The credential presented at the upgrade: `Authorization: Bearer <t>` first, else `?token=`. */
export function tokenOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  const bearer = header === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  if (bearer !== undefined) return bearer;
  try {
    const query = new URL(request.url ?? '/', 'ws://localhost').searchParams.get('token');
    return query === null || query === '' ? undefined : query;
  } catch {
    return undefined;
  }
}

/** The header a switchboard client proves its clientId with (SEC-10). */
export const CLIENT_PROOF_HEADER = 'x-switchboard-client-proof';

/** The canonical form of an endpoint the client proof is bound to: `ws://host:port`, lower case. */
export function canonicalEndpoint(endpoint: string): string {
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `ws://${endpoint}`);
    return `${url.protocol}//${url.host}`.toLowerCase();
  } catch {
    return endpoint.toLowerCase();
  }
}

/** What a client presents for `endpoint` (SEC-10): HMAC-SHA256(secret, canonical endpoint), hex. */
export function clientProofFor(secret: string, endpoint: string): string {
  return createHmac('sha256', secret).update(canonicalEndpoint(endpoint), 'utf8').digest('hex');
}

/**
 * The client proof presented at the upgrade, as the digest the provider keeps and compares
 * (SHA-256 of the presented value): undefined when absent or not 64 hex digits.
 */
export function clientProofOf(request: IncomingMessage): string | undefined {
  const presented = request.headers[CLIENT_PROOF_HEADER];
  if (typeof presented !== 'string' || !/^[0-9a-f]{64}$/i.test(presented)) return undefined;
  return createHash('sha256').update(presented.toLowerCase(), 'utf8').digest('hex');
}

/** The address a socket's per-address limits key on: IPv4-mapped IPv6 unwrapped (SEC-15, SEC-16). */
export function addressKeyOf(remoteAddress: string | undefined): string {
  const address = remoteAddress ?? '?';
  return address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

/** `1.2.3.4:5678`, `[::1]:5678`. */
export function remoteAddressOf(request: IncomingMessage): string {
  const { remoteAddress, remotePort } = request.socket;
  return `${bracketed(remoteAddress ?? '?')}:${remotePort ?? '?'}`;
}

/** Upper-case hex without separators, or undefined when it is not a SHA-256 fingerprint. */
export function normalizeFingerprint(fingerprint: string): string | undefined {
  const hex = fingerprint.replace(/[:\s]/g, '').toUpperCase();
  return /^[0-9A-F]{64}$/.test(hex) ? hex : undefined;
}

/** The `code` of a Node error, looking inside an AggregateError (happy eyeballs). */
function errnoOf(error: Error): string | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const first = (error as { errors?: unknown }).errors;
  if (Array.isArray(first) && first[0] instanceof Error) return errnoOf(first[0]);
  return undefined;
}

/** The TCP connect was refused: nothing listens at the endpoint (the provider's process is gone). */
export const isRefusedConnect = (error: Error | undefined): boolean => error !== undefined && errnoOf(error) === 'ECONNREFUSED';

/** A short, clear close reason for a socket that ended without a close frame after `error`. */
export function reasonOf(error: Error): string {
  const errno = errnoOf(error);
  const unexpected = /^Unexpected server response: (\d+)/.exec(error.message);
  let reason: string;
  if (errno === 'ECONNREFUSED') reason = 'connection refused';
  else if (errno === 'ECONNRESET') reason = 'connection reset';
  else if (error.message === 'Opening handshake has timed out') reason = 'handshake timed out';
  else if (unexpected !== null) reason = `upgrade refused: HTTP ${unexpected[1]}`;
  else if (errno === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') reason = 'message too big';
  else if (errno !== undefined && !errno.startsWith('WS_ERR_')) reason = `${errno}: ${error.message}`;
  else reason = error.message;
  return truncate(reason, 123);
}

/** Keeps a close reason within `bytesMax` UTF-8 bytes (ws refuses longer ones). */
export function truncate(text: string, bytesMax: number): string {
  let result = text;
  while (Buffer.byteLength(result) > bytesMax) result = result.slice(0, -1);
  return result;
}

/** As ws requires of close(): a code the protocol lets an endpoint send. */
export function isSendableCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999))
  );
}

/** Takes a WebSocket accepted on a side channel's path (see WsServerOptions.sideChannels). */
export type SideChannel = (socket: import('ws').WebSocket, request: import('node:http').IncomingMessage) => void;
