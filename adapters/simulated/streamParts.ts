/**
 * The data of simulated WebSocket connections (ends, connections, listeners, frames) and the pure
 * checks on what a transport is given (endpoint, close code). The behaviour is in ./streams.ts.
 */
import type { ServerEvent, StreamEvent } from '../../machines/transport.js';
import type { Origin } from './network.js';

export type Frame =
  | { readonly kind: 'accept' }
  | { readonly kind: 'data'; readonly text: string }
  | { readonly kind: 'ping' }
  | { readonly kind: 'pong' }
  | { readonly kind: 'close'; readonly code: number; readonly reason: string }
  | { readonly kind: 'rst' };

export interface StreamEnd {
  readonly host: string;
  readonly origin: Origin;
  state: 'connecting' | 'open' | 'closing' | 'closed';
  /** Its actor stopped or its host crashed: nothing more is emitted to it. */
  gone: boolean;
  /** The transport's sendBack; a server end has none until its accepted transport attaches. */
  emit: ((event: StreamEvent) => void) | undefined;
  /** Events for a server end that no transport has attached yet (bounded by INBOX_MAX). */
  readonly inbox: StreamEvent[];
  peer: StreamEnd | undefined;
  connection: Connection | undefined;
  /** Due time of the last frame this end sent: a later frame never overtakes it. */
  lastDueAtMs: number;
  /** A partition ate a frame this end sent: its direction is dead for good. */
  severed: boolean;
}

export interface Connection {
  readonly id: string;
  readonly client: StreamEnd;
  readonly server: StreamEnd;
  attached: boolean;
}

export interface Listener {
  readonly host: string;
  readonly port: number;
  readonly origin: Origin;
  readonly emit: (event: ServerEvent) => void;
  /** Accepting connections (false once closed, stopped, crashed, or if it never bound). */
  open: boolean;
}

/** Events buffered for an unattached server end; beyond this they are dropped. */
export const INBOX_MAX = 1024;
/** Connections remembered at once; beyond this a connect is refused. */
export const CONNECTIONS_MAX = 100_000;

/** As ws does, a close code or reason the protocol does not allow is a programmer error. */
export function checkClose(code: number, reason = ''): void {
  const valid = (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
  if (!Number.isInteger(code) || !valid) throw new RangeError(`switchboard: simulated network: invalid close code ${code}`);
  if (new TextEncoder().encode(reason).byteLength > 123) {
    throw new RangeError('switchboard: simulated network: a close reason must not exceed 123 bytes');
  }
}

export interface ParsedEndpoint {
  readonly host: string;
  readonly port: number;
  readonly key: string;
  /** `?token=` of the endpoint, presented at the upgrade (server.accepted carries it). */
  readonly token: string | undefined;
}

export function parseEndpoint(endpoint: string): ParsedEndpoint | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return undefined;
  const port = url.port === '' ? (url.protocol === 'ws:' ? 80 : 443) : Number(url.port);
  return { host: url.hostname, port, key: `${url.hostname}:${port}`, token: url.searchParams.get('token') ?? undefined };
}
