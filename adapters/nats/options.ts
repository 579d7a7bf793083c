/**
 * Options, counters and defaults of the NATS adapter (adapters/nats.ts). Bad options are a
 * programmer error: `resolveNatsOptions` throws at once, before any connection exists.
 */
import { v4 as uuidV4 } from 'uuid';
import type { NatsConnection } from '@nats-io/transport-node';
import { defaultCodecLimits, type CodecLimits, type StampSource } from '../../machines/codec.js';
import type { ErrorCode } from '../../machines/errors.js';
import { credentialsProblem } from './credentials.js';
import { checkPrefix } from './subjects.js';

export type NatsLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type NatsLog = (level: NatsLogLevel, message: string, detail?: Record<string, unknown>) => void;

/** TLS towards the NATS servers (PEM text or file paths, as @nats-io/transport-node takes them). */
export interface NatsTlsOptions {
  readonly ca?: string;
  readonly caFile?: string;
  readonly cert?: string;
  readonly certFile?: string;
  readonly key?: string;
  readonly keyFile?: string;
  /** Verify the server's certificate. @default true */
  readonly rejectUnauthorized?: boolean;
}

export interface NatsOptions {
  /** NATS server URLs, e.g. `nats://10.0.0.5:4222` (several for a cluster). @default 'nats://127.0.0.1:4222' */
  readonly servers?: string | readonly string[];
  /**
   * A `.creds` file (user JWT + NKey seed), as `nsc` writes them: checked at once (it must exist,
   * hold both blocks and not be accessible to every user), read again at every (re)connect so a
   * renewed file is picked up. @default none
   */
  readonly credentials?: string;
  /** A server token (`authorization { token }`). @default none */
  readonly token?: string;
  readonly user?: string;
  readonly pass?: string;
  readonly tls?: NatsTlsOptions;
  /**
   * First token(s) of every switchboard subject: one deployment's traffic, permissions and
   * discovery are scoped by it (`acme.prod` gives `acme.prod.disc.req`, ...). @default 'switchboard'
   */
  readonly subjectPrefix?: string;
  /**
   * The provider's listener name: its endpoint is `nats://<subjectPrefix>/<name>`. Give a stable
   * one to keep the endpoint across restarts (clients reconnect to it, CONN-6). @default a new uuid
   */
  readonly name?: string;
  /** Use this connection instead of opening one (it is then never closed by the adapter). */
  readonly connection?: NatsConnection;
  /** Answer NATS micro's `$SRV.PING|INFO|STATS` for the services this host advertises. @default true */
  readonly micro?: boolean;
  /** Time for the open handshake of a task connection. @default 5_000 */
  readonly handshakeTimeoutMs?: number;
  /**
   * Frames of an accepted connection kept until its transport attaches; one more and the
   * connection is reset (SEC-6). @default 256
   */
  readonly pendingEventsMax?: number;
  /** An accepted connection nobody attached to after this long is reset. @default 10_000 */
  readonly attachTimeoutMs?: number;
  /** On the last actor's stop, how long pending publishes may take before the connection closes anyway. @default 500 */
  readonly closeFlushMs?: number;
  readonly limits?: Partial<CodecLimits>;
  readonly stamp?: StampSource;
  readonly metrics?: NatsMetrics;
  readonly log?: NatsLog;
}

/** Counters of one adapter instance (plain numbers, read them whenever you like). */
export interface NatsMetrics {
  /** Task connections a provider accepted (one server.accepted each). */
  connectionsAccepted: number;
  /** Client task connections that reached transport.opened. */
  connectionsOpened: number;
  /** Client task connections refused or never answered (no responders, timeout, refusal). */
  connectFailures: number;
  /** Task connections ended because a frame went missing (a sequence gap): see docs/nats.md. */
  framesLost: number;
  /** Task messages received (decoded or rejected) and published. */
  messagesIn: number;
  messagesOut: number;
  /** Sends on a connection that was not open, or that NATS refused (too big, closed connection). */
  messagesDropped: number;
  /** Frames and discovery messages refused at the boundary, by error code (WIRE-8: counted). */
  rejected: Partial<Record<ErrorCode, number>>;
  /** Task messages for a connection this host does not know (answered with a reset). */
  unknownConnection: number;
  /** Discovery messages published and received. */
  discoverySent: number;
  discoveryReceived: number;
  /** Unicast discovery replies refused because the target subject is not a discovery inbox. */
  discoveryRefused: number;
  /** `$SRV.*` requests answered. */
  microRequests: number;
  /** NATS connection errors (connect failures, async errors, permission violations). */
  connectionErrors: number;
}

export function createNatsMetrics(): NatsMetrics {
  return {
    connectionsAccepted: 0,
    connectionsOpened: 0,
    connectFailures: 0,
    framesLost: 0,
    messagesIn: 0,
    messagesOut: 0,
    messagesDropped: 0,
    rejected: {},
    unknownConnection: 0,
    discoverySent: 0,
    discoveryReceived: 0,
    discoveryRefused: 0,
    microRequests: 0,
    connectionErrors: 0,
  };
}

export function countRejected(metrics: NatsMetrics, code: ErrorCode): void {
  metrics.rejected[code] = (metrics.rejected[code] ?? 0) + 1;
}

export interface NatsConfig {
  readonly servers: readonly string[];
  readonly credentials: string | undefined;
  readonly token: string | undefined;
  readonly user: string | undefined;
  readonly pass: string | undefined;
  readonly tls: NatsTlsOptions | undefined;
  readonly prefix: string;
  readonly name: string;
  readonly connection: NatsConnection | undefined;
  readonly micro: boolean;
  readonly handshakeTimeoutMs: number;
  readonly pendingEventsMax: number;
  readonly attachTimeoutMs: number;
  readonly closeFlushMs: number;
  readonly limits: CodecLimits;
  readonly stamp: StampSource;
  readonly metrics: NatsMetrics;
  readonly log: NatsLog;
}

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

function positive(value: number | undefined, fallback: number, what: string): number {
  const result = value ?? fallback;
  if (!(Number.isFinite(result) && result > 0)) throw new RangeError(`switchboard: nats: ${what} must be a positive number, got ${result}`);
  return result;
}

export function resolveNatsOptions(options: NatsOptions): NatsConfig {
  const prefix = options.subjectPrefix ?? 'switchboard';
  const prefixProblem = checkPrefix(prefix);
  if (prefixProblem !== undefined) throw new TypeError(`switchboard: nats: subjectPrefix ${JSON.stringify(prefix)}: ${prefixProblem}`);
  const name = options.name ?? uuidV4();
  if (!NAME_PATTERN.test(name)) {
    throw new TypeError(`switchboard: nats: name must be 1 to 64 of [A-Za-z0-9_-], got ${JSON.stringify(name)}`);
  }
  const servers = options.servers === undefined ? ['nats://127.0.0.1:4222'] : typeof options.servers === 'string' ? [options.servers] : [...options.servers];
  if (servers.length === 0) throw new TypeError('switchboard: nats: servers is empty');
  const credentialsFault = options.credentials === undefined ? undefined : credentialsProblem(options.credentials);
  if (credentialsFault !== undefined) throw new TypeError(`switchboard: nats: ${credentialsFault}`);
  return {
    servers,
    credentials: options.credentials,
    token: options.token,
    user: options.user,
    pass: options.pass,
    tls: options.tls,
    prefix,
    name,
    connection: options.connection,
    micro: options.micro ?? true,
    handshakeTimeoutMs: positive(options.handshakeTimeoutMs, 5_000, 'handshakeTimeoutMs'),
    pendingEventsMax: positive(options.pendingEventsMax, 256, 'pendingEventsMax'),
    attachTimeoutMs: positive(options.attachTimeoutMs, 10_000, 'attachTimeoutMs'),
    closeFlushMs: positive(options.closeFlushMs, 500, 'closeFlushMs'),
    limits: { ...defaultCodecLimits, ...options.limits },
    stamp: options.stamp ?? { nowMs: () => Date.now(), newId: () => uuidV4() },
    metrics: options.metrics ?? createNatsMetrics(),
    log: options.log ?? (() => {}),
  };
}
