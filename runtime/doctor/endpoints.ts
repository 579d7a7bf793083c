/**
 * Whether an advertised endpoint can be reached from here: what its host is (a loopback address
 * advertised to other hosts, or the unspecified 0.0.0.0, cannot be), then one TCP connection
 * (refused, no route, timed out), and for wss:// one TLS handshake whose certificate fingerprint
 * is compared with the fingerprint advertised or pinned.
 */
import { isIP } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';
import { normalizeFingerprint } from '../../adapters/ws/options.js';

export type HostKind = 'loopback' | 'unspecified' | 'other';

export function hostKindOf(host: string): HostKind {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1' || /^127\./.test(bare) || bare.startsWith('::ffff:127.')) return 'loopback';
  if (bare === '0.0.0.0' || bare === '::' || bare === '0:0:0:0:0:0:0:0') return 'unspecified';
  return 'other';
}

export interface ParsedEndpoint {
  readonly url: string;
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
}

export function parseEndpoint(endpoint: string): ParsedEndpoint | undefined {
  try {
    const url = new URL(endpoint);
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return undefined;
    const secure = url.protocol === 'wss:';
    return { url: endpoint, secure, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? (secure ? 443 : 80) : Number(url.port) };
  } catch {
    return undefined;
  }
}

export type Reachability =
  | { readonly ok: true; readonly ms: number; readonly fingerprint256?: string }
  | { readonly ok: false; readonly code: string; readonly ms: number };

/** One TCP connection (TLS for wss://) to the endpoint, within `timeoutMs`; closed at once. */
export function reach(endpoint: ParsedEndpoint, timeoutMs: number): Promise<Reachability> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    const socket = endpoint.secure
      ? tls.connect({ host: endpoint.host, port: endpoint.port, rejectUnauthorized: false, ...(isIP(endpoint.host) === 0 ? { servername: endpoint.host } : {}) })
      : net.connect({ host: endpoint.host, port: endpoint.port });
    const done = (result: Reachability) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, code: 'ETIMEDOUT', ms: elapsed() }), timeoutMs);
    socket.once(endpoint.secure ? 'secureConnect' : 'connect', () => {
      const fingerprint = endpoint.secure ? (socket as tls.TLSSocket).getPeerCertificate().fingerprint256 : undefined;
      done(fingerprint === undefined ? { ok: true, ms: elapsed() } : { ok: true, ms: elapsed(), fingerprint256: normalizeFingerprint(fingerprint) ?? fingerprint });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, code: error.code ?? error.message, ms: elapsed() }));
  });
}

/** What a failed connection means, in words. */
export function reachabilityProblem(code: string): { title: string; fix: string } {
  switch (code) {
    case 'ECONNREFUSED':
      return { title: 'nothing listens there (connection refused)', fix: 'the provider stopped, or listens on another address or port: compare its --host/--port with what it advertises (--advertised-host)' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { title: `no route to it (${code})`, fix: 'this host has no route to that address: it advertises an address of another network; start the provider with --advertised-host set to an address this host can reach' };
    case 'ETIMEDOUT':
      return { title: 'the connection attempt timed out', fix: 'a firewall on the way (or on the provider) drops the TCP port; allow it, or check the address is the provider\'s' };
    default:
      return { title: `cannot connect (${code})`, fix: 'check the address, the port and the firewall between the two hosts' };
  }
}

/** Both fingerprints normalised (upper-case, colon-separated), or undefined when one is not a SHA-256 fingerprint. */
export function sameFingerprint(a: string, b: string): boolean | undefined {
  const left = normalizeFingerprint(a);
  const right = normalizeFingerprint(b);
  return left === undefined || right === undefined ? undefined : left === right;
}
