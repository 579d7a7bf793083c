/**
 * What the provider suite is pointed at, and the time bounds it waits with. Every bound is a
 * protocol default (docs/protocol.md, "Defaults") or a small multiple of one, so a provider with
 * default settings passes without tuning.
 */
import type { ConformanceLevel } from '../types.js';
import type { VetoExpectation } from './hooks.js';
import type { SecurityExpectations } from './security.js';

export interface UdpAddress {
  readonly host: string;
  readonly port: number;
}

/** A task the suite assigns: an operation of the service under test and its parameters. */
export interface TaskChoice {
  readonly operation: string;
  readonly params: Readonly<Record<string, unknown>>;
}

export interface ProviderTiming {
  /** TASK-3's ackTimeoutMs: the first answer to an AssignTask must come within it. @default 2_000 */
  readonly ackWindowMs: number;
  /** How long the quick test task may take from AssignTask to its final message. @default 8_000 */
  readonly taskTimeoutMs: number;
  /** Answer to a query (GetStatus, GetResult, CancelTask), Authenticate, ping, close. @default 2_000 */
  readonly answerMs: number;
  /** Quiet time after a final message in which nothing more about the task may arrive. @default 400 */
  readonly settleMs: number;
  /** Discovery: how long replies are awaited (the request is sent up to three times). @default 3_000 */
  readonly discoveryTimeoutMs: number;
  /** The longest wait for a heartbeat broadcast or a ping from the provider (DISC-4, CONN-3). @default 12_000 */
  readonly periodicWaitMaxMs: number;
  /** WebSocket opening handshake (CONN-3's connectTimeoutMs). @default 5_000 */
  readonly connectTimeoutMs: number;
}

export const timingDefaults: ProviderTiming = {
  ackWindowMs: 2_000,
  taskTimeoutMs: 8_000,
  answerMs: 2_000,
  settleMs: 400,
  discoveryTimeoutMs: 3_000,
  periodicWaitMaxMs: 12_000,
  connectTimeoutMs: 5_000,
};

export interface ProviderSuiteOptions {
  /** The provider's WebSocket endpoint, `ws://host:port` or `wss://host:port`. */
  readonly endpoint: string;
  /** The provider's discovery address. @default the endpoint's host, port 50001 */
  readonly udp?: UdpAddress;
  /** The service whose tasks are assigned. @default the first service advertised */
  readonly service?: string;
  /** A quick operation that succeeds with `params`. @default the service's first capability */
  readonly operation?: string;
  /** @default {} */
  readonly params?: Readonly<Record<string, unknown>>;
  /**
   * An operation of the same service that runs long enough to be cancelled (a second or more).
   * @default none: the quick task is used, and the cancel checks are not applicable when it
   * finishes before CancelTask arrives
   */
  readonly slowOperation?: string;
  /** @default {} */
  readonly slowParams?: Readonly<Record<string, unknown>>;
  /**
   * Parameters the quick operation must refuse (TASK-6). @default derived from the capability's
   * settings (and `schema`, an extension): every declared parameter gets a value of a wrong type
   */
  readonly invalidParams?: Readonly<Record<string, unknown>>;
  /** Authentication token (SEC-2), sent at every upgrade as `Authorization: Bearer`. */
  readonly token?: string;
  /**
   * What the user says is configured on the provider; each is then checked as a requirement, not
   * as an option: a limit that is configured but not enforced fails (SEC-3, SEC-7, CONN-10).
   */
  /** Authentication is required (SEC-3). */
  readonly authRequired?: boolean;
  /** The provider's rate limit per connection (SEC-7). */
  readonly rateLimit?: { readonly messagesMax: number; readonly windowMs: number };
  /** The provider's session limit (CONN-10). */
  readonly sessionsMax?: number;
  /** @default 'core' */
  readonly level?: ConformanceLevel;
  /** Only checks whose name starts with one of these or that cite one of these ids. */
  readonly only?: readonly string[];
  /** The clientId the suite acts as. @default `conformance-<uuid>` */
  readonly clientId?: string;
  readonly timing?: Partial<ProviderTiming>;
  /** Trust this CA (PEM) for wss://, or false to accept any certificate. @default Node's CA store */
  readonly tls?: { readonly ca?: string | Buffer; readonly rejectUnauthorized?: boolean };
  /** What to expect of a locked-down provider: each one given enables its security check (security.ts). */
  readonly security?: SecurityExpectations;
  /** A local address whose connections the provider's connect hook vetoes: enables the HOOK-1 check (hooks.ts). */
  readonly veto?: VetoExpectation;
}

export const DISCOVERY_PORT_DEFAULT = 50_001;

/** The largest WebSocket message a default provider accepts (frameBytesMax). */
export const FRAME_BYTES_MAX = 1_048_576;
