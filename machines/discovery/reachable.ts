/**
 * The endpoint a client connects to for an unsigned advertisement (DISC-19): peers built from
 * the seed alone advertise the address they listen on, often `localhost:8080` or
 * `ws://0.0.0.0:8080`, which means something only on their own machine. When such an
 * advertisement came from another host, that host is where the service is: the client uses the
 * datagram's source address with the advertised port (and path).
 *
 * Only unsigned advertisements are rewritten: a signed one means exactly what its key signed, and
 * a source address is the one part of a datagram anyone can forge. An advertisement heard from
 * this machine's own loopback keeps its endpoint (it is reachable as written).
 *
 * Pure: string work only.
 */

const UNSPECIFIED = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0']);
const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

/** The host without brackets, lower case, IPv4-mapped IPv6 unwrapped. */
function bareHost(host: string): string {
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const lower = unbracketed.toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice('::ffff:'.length) : lower;
}

/** 127.0.0.0/8, ::1 and the names for them. */
export function isLoopbackHost(host: string): boolean {
  const bare = bareHost(host);
  return LOOPBACK_NAMES.has(bare) || bare === '::1' || bare === '0:0:0:0:0:0:0:1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** An address that names no host: 0.0.0.0, ::. */
export function isUnspecifiedHost(host: string): boolean {
  return UNSPECIFIED.has(bareHost(host));
}

/** `host` as it is written in a URL: IPv6 in brackets. */
const urlHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/**
 * `endpoint` (a decoded `ws://` or `wss://` URL) with its host replaced by `source` when it
 * advertises a loopback or unspecified host and `source`, the datagram's sender, is another host.
 * Anything else (NATS endpoints, a source on loopback, an endpoint that cannot be parsed) is
 * returned as is.
 */
export function reachableEndpoint(endpoint: string, source: string): string {
  const match = /^(wss?:\/\/)(\[[^\]]*\]|[^/:?#]*)(.*)$/i.exec(endpoint);
  if (match === null) return endpoint;
  const [, scheme, host, rest] = match as unknown as [string, string, string, string];
  if (!isLoopbackHost(host) && !isUnspecifiedHost(host)) return endpoint;
  const from = bareHost(source);
  if (from === '' || isLoopbackHost(from) || isUnspecifiedHost(from)) return endpoint;
  return `${scheme}${urlHost(from)}${rest}`;
}
