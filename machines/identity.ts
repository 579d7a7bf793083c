/**
 * Who may act for a clientId (SEC-10): pure rules the provider applies when a session binds one.
 *
 * A clientId belongs to whoever first proved it on this provider, and keeps belonging to it
 * while the provider remembers anything of it (an open session, or a task in its ledger):
 * - a principal: the API key or TLS client certificate the session authenticated with (with
 *   authentication on, a key is thereby bound to the clientIds it first used, whatever process
 *   holds the key; its configuration may also list the only clientIds it may use);
 * - a proof: the digest of the per-client secret a switchboard client presents at every upgrade
 *   (adapters/ws: `x-switchboard-client-proof`); once pinned, no session without it may act;
 * - for a binding made with neither (a seed-only peer, which knows no secret): the host it came
 *   from. Another session without a proof is accepted only from that same host.
 * A session that may not act for the clientId it claims gets FORBIDDEN for every task message,
 * whatever the task (docs/security.md says what this does not stop).
 */

/** What the provider knows of a session's right to a clientId. */
export interface SessionIdentity {
  /** The remote host, without port (`10.0.0.7`, `::1`). */
  readonly host: string;
  /** `key:<name>` or `cert:<fingerprint>` once authenticated; undefined while anonymous. */
  readonly principal?: string | undefined;
  /** Groups of the principal (ACL rules may name them, runtime/acl.ts). */
  readonly groups?: readonly string[] | undefined;
  /** The only clientIds this principal may use (exact, or a prefix ending in `*`); undefined: any. */
  readonly clientIds?: readonly string[] | undefined;
  /** Digest of the client secret presented at the upgrade, if any. */
  readonly proof?: string | undefined;
}

/** What an authentication policy vouches for (an API key, a client certificate). */
export interface Credential {
  readonly principal: string;
  readonly groups?: readonly string[] | undefined;
  readonly clientIds?: readonly string[] | undefined;
}

/** The identity of a session once `credential` authenticated it. */
export function withCredential(identity: SessionIdentity, credential: Credential | undefined): SessionIdentity {
  if (credential === undefined) return identity;
  return {
    ...identity,
    principal: credential.principal,
    ...(credential.groups === undefined ? {} : { groups: credential.groups }),
    ...(credential.clientIds === undefined ? {} : { clientIds: credential.clientIds }),
  };
}

/** Who a clientId belongs to. */
export interface ClientOwner {
  readonly principal?: string | undefined;
  readonly proof?: string | undefined;
  /** Where the first binding came from (what a binding without principal or proof rests on). */
  readonly host: string;
}

export type ClaimDecision =
  | { readonly allowed: true; readonly owner: ClientOwner }
  | { readonly allowed: false; readonly reason: string };

/** `*` matches anything, `abc*` anything starting with `abc`, anything else only itself. */
export function matchesPattern(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}

export const matchesAny = (patterns: readonly string[], value: string): boolean => patterns.some((pattern) => matchesPattern(pattern, value));

/** The host part of a remote address (`1.2.3.4:5678`, `[::1]:5678`, a bare host), IPv4-mapped IPv6 unwrapped. */
export function hostOf(remoteAddress: string): string {
  let host = remoteAddress;
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(remoteAddress);
  if (bracketed) host = bracketed[1] as string;
  else if ((remoteAddress.match(/:/g) ?? []).length === 1) host = remoteAddress.slice(0, remoteAddress.indexOf(':'));
  return host.toLowerCase().startsWith('::ffff:') && host.includes('.') ? host.slice('::ffff:'.length) : host;
}

/**
 * A credential is the owner when there is one (the key proves the client; its holder may run
 * several processes under its clientIds); else the client proof, else the host.
 */
function ownerFrom(identity: SessionIdentity): ClientOwner {
  if (identity.principal !== undefined) return { host: identity.host, principal: identity.principal };
  return identity.proof === undefined ? { host: identity.host } : { host: identity.host, proof: identity.proof };
}

/** May a session with `identity` act for `clientId`, now owned by `owner` (undefined: nobody yet)? */
export function claimClient(owner: ClientOwner | undefined, identity: SessionIdentity, clientId: string): ClaimDecision {
  if (identity.clientIds !== undefined && !matchesAny(identity.clientIds, clientId)) {
    return { allowed: false, reason: 'the credential is not allowed this clientId' };
  }
  if (owner === undefined) return { allowed: true, owner: ownerFrom(identity) };
  if (owner.principal !== undefined) {
    return owner.principal === identity.principal ? { allowed: true, owner } : { allowed: false, reason: 'the clientId belongs to another credential' };
  }
  if (owner.proof !== undefined) {
    return identity.proof === owner.proof ? { allowed: true, owner } : { allowed: false, reason: 'the clientId belongs to a client that proved it' };
  }
  if (identity.host !== owner.host) return { allowed: false, reason: 'the clientId was bound from another host, without proof' };
  // A binding without proof takes the first proof presented for it: from then on it is needed.
  return { allowed: true, owner: identity.proof === undefined ? owner : { ...owner, proof: identity.proof } };
}
