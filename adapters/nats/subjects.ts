/**
 * The subject layout of a switchboard deployment on NATS (docs/nats.md, "Subject layout"). Every
 * subject starts with the deployment's prefix P, so permissions and traffic are scoped by it:
 *
 *   P.disc.req                     discovery requests (ClientServiceDiscoveryRequest), reply = an inbox
 *   P.disc.adv.<service>           advertisements, heartbeats and goodbyes (ServiceAdvertisement)
 *   P.disc.inbox.<id>              a client's discovery inbox: answers to its requests (DISC-3)
 *   P.srv.<name>                   open requests for the provider listener <name> (request/reply)
 *   P.srv.<name>.<connection>      client -> provider frames of one task connection
 *   P.cli.<link>.<connection>      provider -> client frames of one task connection
 *
 * A provider listener's endpoint is `nats://P/<name>`.
 */

/** One subject token we generate: letters, digits, `_` and `-` (no `.`, `*`, `>`, whitespace). */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Why a prefix is not usable, or undefined when it is. */
export function checkPrefix(prefix: string): string | undefined {
  if (prefix.length === 0 || prefix.length > 128) return 'must be 1 to 128 characters';
  if (prefix.startsWith('$')) return 'must not start with "$" (reserved for NATS system subjects)';
  for (const token of prefix.split('.')) {
    if (!/^[A-Za-z0-9_-]+$/.test(token)) return 'each dot-separated token must be letters, digits, "_" or "-"';
  }
  return undefined;
}

/** A service name as one subject token (`Image Resizer/v2` -> `Image_Resizer_v2`). */
export function serviceToken(serviceName: string): string {
  const token = serviceName.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return token.length === 0 ? '_' : token;
}

/** A subject a message may be published to: tokens without wildcards or whitespace, not a system subject. */
export function isPublishableSubject(subject: string): boolean {
  if (subject.length === 0 || subject.length > 512 || subject.startsWith('$')) return false;
  return subject.split('.').every((token) => token.length > 0 && !/[\s*>]/.test(token));
}

export class Subjects {
  readonly prefix: string;
  readonly discoveryRequests: string;
  readonly advertisementsAll: string;
  readonly discoveryInboxes: string;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.discoveryRequests = `${prefix}.disc.req`;
    this.advertisementsAll = `${prefix}.disc.adv.>`;
    this.discoveryInboxes = `${prefix}.disc.inbox.`;
  }

  advertisement(serviceName: string): string {
    return `${this.prefix}.disc.adv.${serviceToken(serviceName)}`;
  }

  discoveryInbox(id: string): string {
    return `${this.discoveryInboxes}${id}`;
  }

  isDiscoveryInbox(subject: string): boolean {
    return subject.startsWith(this.discoveryInboxes) && isPublishableSubject(subject);
  }

  listener(name: string): string {
    return `${this.prefix}.srv.${name}`;
  }

  /** Every client -> provider frame of the listener's connections. */
  listenerConnections(name: string): string {
    return `${this.prefix}.srv.${name}.*`;
  }

  toProvider(name: string, connectionId: string): string {
    return `${this.prefix}.srv.${name}.${connectionId}`;
  }

  /** Every provider -> client frame of one client link. */
  linkConnections(linkId: string): string {
    return `${this.prefix}.cli.${linkId}.*`;
  }

  toClient(linkId: string, connectionId: string): string {
    return `${this.prefix}.cli.${linkId}.${connectionId}`;
  }

  endpoint(name: string): string {
    return `nats://${this.prefix}/${name}`;
  }

  /** The listener name of `nats://P/<name>` when P is this deployment's prefix; else why not. */
  parseEndpoint(endpoint: string): { ok: true; name: string } | { ok: false; reason: string } {
    const match = /^nats:\/\/([^/\s?#]+)\/([^/\s?#]+)\/?$/i.exec(endpoint);
    if (match === null) return { ok: false, reason: 'invalid endpoint: not nats://<subjectPrefix>/<name>' };
    const [, prefix, name] = match as unknown as [string, string, string];
    if (prefix !== this.prefix) return { ok: false, reason: `endpoint is in subject space "${prefix}", this client uses "${this.prefix}"` };
    if (!TOKEN_PATTERN.test(name)) return { ok: false, reason: 'invalid endpoint: bad listener name' };
    return { ok: true, name };
  }
}

/** The last token of a subject (the connection id of a task frame). */
export function lastToken(subject: string): string {
  return subject.slice(subject.lastIndexOf('.') + 1);
}
