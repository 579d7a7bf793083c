/**
 * The CLI's shared options: the global ones (discovery, output, logging), argument parsers that
 * turn bad input into usage errors (exit 2), and the exit codes every command shares.
 *
 * Every option of every command can also come from an environment variable named after it
 * (`--discovery-port` is SWITCHBOARD_DISCOVERY_PORT) or from switchboard.config.json: see
 * ./settings.ts, which does it for every option declared with commander, `envOption` or not.
 */
import { isIPv4 } from 'node:net';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { UdpDiscoveryOptions } from '../../adapters/udp.js';
import type { PeerAddress } from '../../machines/transport.js';
import { parsePinnedKey, readTofuFile, type ClientTrustOptions } from '../trustStore.js';
import type { StatelyInspectOptions } from '../inspect/stately.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../logging/logger.js';

/** What a `switchboard` process exits with. */
export const ExitCode = {
  ok: 0,
  /** The task (or the command's request) failed: the error's code is printed. */
  failed: 1,
  /** Bad command line or configuration; nothing was sent. */
  usage: 2,
  /**
   * Nothing matched: no provider offers the service or operation (SERVICE_UNAVAILABLE), discover
   * or describe found no such service, or the endpoint cannot be reached.
   */
  unavailable: 3,
  /** Interrupted (SIGINT): a running task was cancelled first. */
  interrupted: 130,
} as const;

/** A command-line or configuration mistake found after commander's own checks (exit 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export { LOG_LEVELS, type LogLevel } from '../logging/logger.js';

export const envName = (flag: string): string => `SWITCHBOARD_${flag.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`;

/** An option whose environment variable follows the naming rule. */
export function envOption(flags: string, description: string): Option {
  const long = /--[a-z][a-z0-9-]*/.exec(flags)?.[0];
  const option = new Option(flags, description);
  return long === undefined ? option : option.env(envName(long));
}

/** Parser for an integer option in [min, max]. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const trimmed = value.trim();
    const parsed = /^-?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], got "${value}"`);
    }
    return parsed;
  };
}

/**
 * Parser for a repeatable option that also takes comma-separated lists (`--peer a:1 --peer b:2`
 * or `--peer a:1,b:2`, and SWITCHBOARD_PEER=a:1,b:2). Each item goes through `item`.
 */
export function listOf<T>(item: (value: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [
    ...(previous ?? []),
    ...value
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0)
      .map(item),
  ];
}

export function ipv4(value: string): string {
  if (!isIPv4(value)) throw new InvalidArgumentError(`expected an IPv4 address, got "${value}"`);
  return value;
}

/** `host:port` or `[v6]:port`; the port is checked later against the discovery port if absent. */
export function peerAddress(value: string): { host: string; port: number | undefined } {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  if (match === null || host === undefined || host.length === 0) {
    throw new InvalidArgumentError(`expected host:port, got "${value}"`);
  }
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && (port < 1 || port > 65_535)) throw new InvalidArgumentError(`port out of range in "${value}"`);
  return { host, port };
}

/** Registers the options every command understands (they may come before or after the command). */
export function addGlobalOptions(program: Command): Command {
  return program
    .addOption(
      envOption('--discovery-port <n>', 'UDP discovery port, shared by every provider and client').argParser(integerIn(1, 65_535)).default(50_001),
    )
    .addOption(
      envOption(
        '--broadcast <addr>',
        "where discovery broadcasts go; repeatable or comma-separated (default: every interface's broadcast address)",
      ).argParser(listOf(ipv4)),
    )
    .addOption(new Option('--no-broadcast', 'send discovery only to --multicast and --peer'))
    .addOption(envOption('--multicast <group>', 'also send discovery to this IPv4 multicast group and join it (e.g. 239.255.77.1)').argParser(ipv4))
    .addOption(envOption('--peer <host:port>', 'also send discovery to this unicast peer; repeatable or comma-separated').argParser(listOf(peerAddress)))
    .addOption(
      envOption('--trust-key <[service=]key>', "trust this provider key (as a provider prints it); <service>= or id:<serviceId>= pins it to that service only; repeatable or comma-separated").argParser(
        listOf((pin) => pin),
      ),
    )
    .addOption(new Option('--allow-unsigned', 'accept unsigned advertisements (seed-only providers) where no pinned or trusted key forbids it'))
    .addOption(new Option('--no-tofu', 'trust only --trust-key keys, not the first key each service is heard with'))
    .addOption(envOption('--tofu-file <path>', 'keep the keys trusted on first use in this file, and start from the ones it holds'))
    .addOption(new Option('--json', 'machine-readable output: JSON (lines) on stdout'))
    .addOption(envOption('--log-level <level>', 'diagnostics on stderr').choices(LOG_LEVELS).default('warn'))
    .addOption(envOption('--log-format <format>', 'diagnostics as text or JSON lines with timestamps (default: json with --json, else text)').choices(LOG_FORMATS))
    .addOption(envOption('--inspect', 'show every actor in the Stately inspector: prints the page to open (a relay on 127.0.0.1:--inspect-port)'))
    .addOption(envOption('--inspect-port <n>', 'port of the Stately inspector relay; processes given the same port share one page').argParser(integerIn(1, 65_535)).default(8080));
}

export interface GlobalOptions {
  readonly discovery: UdpDiscoveryOptions;
  /** Which advertisements a client believes (SEC-8): `--trust-key`, `--allow-unsigned`, `--no-tofu`, `--tofu-file`. */
  readonly trust: ClientTrustOptions;
  readonly json: boolean;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** `inspect` for createClient / createProvider (undefined without --inspect). */
  readonly inspect: { readonly stately: StatelyInspectOptions } | undefined;
}

interface RawGlobals {
  discoveryPort: number;
  broadcast?: string[] | false;
  multicast?: string;
  peer?: { host: string; port: number | undefined }[];
  json?: boolean;
  logLevel: LogLevel;
  trustKey?: string[];
  allowUnsigned?: boolean;
  tofu?: boolean;
  tofuFile?: string;
  logFormat?: LogFormat;
  inspect?: boolean | string;
  inspectPort: number;
}

/** A boolean environment variable: set and not one of '', 0, false, no, off. */
export function envFlag(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[name];
  return value !== undefined && !['', '0', 'false', 'no', 'off'].includes(value.trim().toLowerCase());
}

/** The global options of `command` (its own plus its ancestors'), resolved and checked. */
export function globalOptionsOf(command: Command): GlobalOptions {
  const raw = command.optsWithGlobals<RawGlobals>();
  const port = raw.discoveryPort;
  const unicastPeers: PeerAddress[] = (raw.peer ?? []).map((peer) => ({ host: peer.host, port: peer.port ?? port }));
  const broadcast = raw.broadcast !== false;
  if (!broadcast && raw.multicast === undefined && unicastPeers.length === 0) {
    throw new UsageError('--no-broadcast needs --multicast or --peer, or discovery reaches nobody');
  }
  const discovery: UdpDiscoveryOptions = {
    port,
    broadcast,
    ...(Array.isArray(raw.broadcast) && raw.broadcast.length > 0 ? { broadcastAddresses: raw.broadcast } : {}),
    ...(raw.multicast === undefined ? {} : { multicast: { group: raw.multicast } }),
    ...(unicastPeers.length === 0 ? {} : { unicastPeers }),
  };
  const json = raw.json === true;
  return {
    discovery,
    trust: trustOptionsOf(raw),
    json,
    logLevel: raw.logLevel,
    logFormat: raw.logFormat ?? (json ? 'json' : 'text'),
    inspect: raw.inspect === true ? { stately: { port: raw.inspectPort } } : undefined,
  };
}

/** The client trust options from the flags; a malformed --trust-key is a usage error (exit 2). */
function trustOptionsOf(raw: RawGlobals): ClientTrustOptions {
  const pinned = (raw.trustKey ?? []).map((pin) => {
    try {
      return parsePinnedKey(pin);
    } catch (error) {
      throw new UsageError(`--trust-key: ${(error as Error).message}`);
    }
  });
  const allowUnsigned = raw.allowUnsigned === true;
  if (raw.tofuFile !== undefined) {
    try {
      readTofuFile(raw.tofuFile);
    } catch (error) {
      throw new UsageError(`--tofu-file: ${(error as Error).message}`);
    }
  }
  return {
    pinned,
    allowUnsigned,
    trustOnFirstUse: raw.tofu !== false,
    ...(raw.tofuFile === undefined ? {} : { tofuFile: raw.tofuFile }),
  };
}

/** Where discovery goes, in words, for the first line a command prints. */
export function describeDiscovery(discovery: UdpDiscoveryOptions): string {
  const targets: string[] = [];
  if (discovery.broadcast !== false) {
    targets.push(discovery.broadcastAddresses ? `broadcast ${discovery.broadcastAddresses.join(', ')}` : 'broadcast on every interface');
  }
  if (discovery.multicast) targets.push(`multicast ${discovery.multicast.group}`);
  for (const peer of discovery.unicastPeers ?? []) targets.push(`peer ${peer.host}:${peer.port}`);
  return `UDP ${discovery.port ?? 50_001}, ${targets.join(', ')}`;
}

/**
 * A `--param key=value` value: numbers, true/false/null, JSON objects and arrays, quoted JSON
 * strings; anything else is the string itself.
 */
export function parseParamValue(text: string): unknown {
  const trimmed = text.trim();
  if (/^-?(?:\d+|\d*\.\d+)(?:[eE][+-]?\d+)?$/.test(trimmed)) return Number(trimmed);
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  if (trimmed === 'null') return null;
  if (/^[[{"]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      if (trimmed.startsWith('"')) return text;
      throw new UsageError(`--param value ${text} looks like JSON but does not parse`);
    }
  }
  return text;
}

/** `--params-json` first, then each `--param key=value` over it. */
export function taskParams(paramsJson: string | undefined, params: readonly string[]): Record<string, unknown> {
  let base: Record<string, unknown> = {};
  if (paramsJson !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(paramsJson);
    } catch (error) {
      throw new UsageError(`--params-json is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError('--params-json must be a JSON object');
    }
    base = parsed as Record<string, unknown>;
  }
  const result: Record<string, unknown> = { ...base };
  for (const param of params) {
    const index = param.indexOf('=');
    if (index <= 0) throw new UsageError(`--param expects key=value, got "${param}"`);
    result[param.slice(0, index)] = parseParamValue(param.slice(index + 1));
  }
  return result;
}

/** Collects a repeatable option without splitting (values may hold commas). */
export const repeatable = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
