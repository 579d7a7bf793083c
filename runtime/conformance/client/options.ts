/**
 * Options of the client conformance suite: what the client under test is asked to do (the env
 * contract), and the timings the suite expects of it. Every timing has the protocol's default
 * (docs/protocol.md, "Defaults"); a client configured otherwise is run with matching options
 * (`--ack-timeout-ms`, `--ping-interval-ms`, ...).
 */
import type { ConformanceLevel } from '../types.js';

/** The well-known discovery port (DISC-1). */
export const DISCOVERY_PORT_DEFAULT = 50_001;
/** Where the client under test broadcasts its discovery requests: loopback only. */
export const LOOPBACK_BROADCAST = '127.255.255.255';
export const LOOPBACK = '127.0.0.1';

export interface ClientSuiteTimings {
  /** From the client's start: time to send its discovery request and then its AssignTask. @default 10_000 */
  readonly startTimeoutMs: number;
  /** The client's Ack timeout (TASK-3), as configured in the client under test. @default 2_000 */
  readonly ackTimeoutMs: number;
  /**
   * How long the scripted provider withholds every answer to the AssignTask (TASK-3), at least:
   * the window is stretched to (assignSendsMax + 1) x ackTimeoutMs + slackMs, so a client that
   * never gives up is seen re-sending past its limit. @default 7_000
   */
  readonly withholdMs: number;
  /** The client's assignAttemptsMax: most AssignTask sends, the first included (TASK-3). @default 5 */
  readonly assignSendsMax: number;
  /** The client's ping period (CONN-3). @default 5_000 */
  readonly pingIntervalMs: number;
  /** The client's pong timeout (CONN-3). @default 5_000 */
  readonly pongTimeoutMs: number;
  /** The client's backoff base, `backoff.delayMsBase` (CONN-4). @default 100 */
  readonly backoffBaseMs: number;
  /** The client's backoff cap, `backoff.delayMsMax` (CONN-4). @default 10_000 */
  readonly backoffCapMs: number;
  /** Tolerance added to each reconnect delay bound (scheduling, detection latency). @default 300 */
  readonly backoffToleranceMs: number;
  /** Reconnect attempts refused (HTTP 503) before one is accepted (CONN-4). @default 6 */
  readonly refusedAttempts: number;
  /** More reconnect attempts than this in any one second is hammering (CONN-4, core). @default 10 */
  readonly reconnectsPerSecondMax: number;
  /** Passed as SWITCHBOARD_CANCEL_AFTER_MS in the cancel scenario (TASK-11). @default 500 */
  readonly cancelAfterMs: number;
  /** Observation after the TaskResult (TASK-10). @default 1_500 */
  readonly quietMs: number;
  /** Period of the scripted provider's heartbeat advertisements (DISC-4). @default 1_000 */
  readonly heartbeatIntervalMs: number;
  /** Added to every deadline derived from the client's timings. @default 1_000 */
  readonly slackMs: number;
}

export const timingDefaults: ClientSuiteTimings = {
  startTimeoutMs: 10_000,
  ackTimeoutMs: 2_000,
  withholdMs: 7_000,
  assignSendsMax: 5,
  pingIntervalMs: 5_000,
  pongTimeoutMs: 5_000,
  backoffBaseMs: 100,
  backoffCapMs: 10_000,
  backoffToleranceMs: 300,
  refusedAttempts: 6,
  reconnectsPerSecondMax: 10,
  cancelAfterMs: 500,
  quietMs: 1_500,
  heartbeatIntervalMs: 1_000,
  slackMs: 1_000,
};

export interface ClientSuiteOptions {
  /**
   * The command that starts the client under test. One element: run by `/bin/sh -c` (the shell
   * expands `$SWITCHBOARD_...`). Several: spawned directly, and `$SWITCHBOARD_X` / `${SWITCHBOARD_X}`
   * in an argument are replaced by the suite.
   */
  readonly command: readonly string[];
  /** @default 'core' */
  readonly level?: ConformanceLevel;
  /** @default 50_001 */
  readonly discoveryPort?: number;
  /** The service the scripted provider advertises. @default 'ConformanceProbe' */
  readonly serviceName?: string;
  /** @default 'probe' */
  readonly operation?: string;
  /** SWITCHBOARD_PARAMS_JSON. @default { text: 'conformance' } */
  readonly params?: Record<string, unknown>;
  readonly timings?: Partial<ClientSuiteTimings>;
  /** Only these checks (by name); the level still applies. @default all */
  readonly only?: readonly string[];
  /** Working directory of the client command. @default process.cwd() */
  readonly cwd?: string;
  /** Extra environment for the client command. */
  readonly env?: Readonly<Record<string, string>>;
  /** Progress lines (scenario started, ended). @default none */
  readonly log?: (line: string) => void;
}

export interface ResolvedClientSuiteOptions {
  readonly command: readonly string[];
  readonly level: ConformanceLevel;
  readonly discoveryPort: number;
  readonly serviceName: string;
  readonly operation: string;
  readonly params: Record<string, unknown>;
  readonly timings: ClientSuiteTimings;
  readonly only: readonly string[] | undefined;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
}

export function resolveClientSuiteOptions(options: ClientSuiteOptions): ResolvedClientSuiteOptions {
  if (options.command.length === 0 || options.command[0] === '') {
    throw new TypeError('switchboard conformance client: a command that starts the client is required (after --)');
  }
  const timings = { ...timingDefaults, ...options.timings };
  for (const [name, value] of Object.entries(timings)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`switchboard conformance client: ${name} must be a non-negative integer, got ${value}`);
  }
  const port = options.discoveryPort ?? DISCOVERY_PORT_DEFAULT;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new RangeError(`switchboard conformance client: discovery port out of range: ${port}`);
  return {
    command: options.command,
    level: options.level ?? 'core',
    discoveryPort: port,
    serviceName: options.serviceName ?? 'ConformanceProbe',
    operation: options.operation ?? 'probe',
    params: options.params ?? { text: 'conformance' },
    timings,
    only: options.only,
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? {},
    log: options.log ?? (() => {}),
  };
}

