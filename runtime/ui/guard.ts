/**
 * Who may use the web UI. Bound to loopback it needs no token, but a web page on another site
 * must not drive it through the user's browser: the Host header must name this server (a DNS
 * rebinding attack sends another name) and state-changing requests and the live socket must come
 * from this server's own origin. Bound to any other address it also requires the token, given
 * once as `?token=` (which sets a cookie) or as `Authorization: Bearer <token>`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export const TOKEN_COOKIE = 'switchboard_ui';

export interface GuardOptions {
  readonly host: string;
  readonly port: () => number;
  /** Required token; undefined: none (loopback only). */
  readonly token: string | undefined;
}

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly status: 401 | 403; readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN'; readonly message: string };

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

export const newToken = (): string => randomBytes(24).toString('base64url');

const digest = (text: string) => createHash('sha256').update(text).digest();

export function tokenMatches(given: string | undefined, expected: string): boolean {
  return given !== undefined && timingSafeEqual(digest(given), digest(expected));
}

export function cookieOf(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

function tokenOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  return cookieOf(request, TOKEN_COOKIE);
}

/** The host names this server answers to (what a browser puts in Host and Origin). */
function allowedHosts(options: GuardOptions): Set<string> {
  const port = options.port();
  const names = new Set<string>();
  const add = (name: string) => names.add(`${name}:${port}`.toLowerCase());
  if (isLoopback(options.host) || options.host === '0.0.0.0' || options.host === '::') {
    ['localhost', '127.0.0.1', '[::1]'].forEach(add);
  }
  if (!isLoopback(options.host) && options.host !== '0.0.0.0' && options.host !== '::') add(options.host.includes(':') ? `[${options.host}]` : options.host);
  return names;
}

/**
 * @param changes the request changes something (POST) or opens the live socket: its Origin, if
 *   any, must be this server.
 */
export function check(request: IncomingMessage, options: GuardOptions, changes: boolean, queryToken?: string): Verdict {
  const host = (request.headers.host ?? '').toLowerCase();
  const wildcard = options.host === '0.0.0.0' || options.host === '::';
  // Bound to every interface the Host may be any of this machine's names, so only the token guards.
  if (!wildcard && !allowedHosts(options).has(host)) {
    return { ok: false, status: 403, code: 'FORBIDDEN', message: `this server does not answer to host "${host}"` };
  }
  const origin = request.headers.origin;
  if (changes && origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) {
    return { ok: false, status: 403, code: 'FORBIDDEN', message: 'cross-origin request refused' };
  }
  if (options.token !== undefined && !tokenMatches(tokenOf(request) ?? queryToken, options.token)) {
    return { ok: false, status: 401, code: 'UNAUTHENTICATED', message: 'a valid token is required (open the URL with ?token=...)' };
  }
  return { ok: true };
}
