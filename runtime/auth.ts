/**
 * Authentication policies for a provider (SEC-2, SEC-3, SEC-10, SEC-19), as the session's
 * `admission` and `authenticate` effects. A credential is an API key (at the upgrade, in an
 * Authenticate, or in an AssignTask's `apiKey`: seed section 7) or a TLS client certificate the
 * server verified. Each names a principal (`key:<name>`, `cert:<name or fingerprint>`) that
 * clientIds are bound to, and ACL rules (runtime/acl.ts) refer to.
 *
 * Fixed key lists are decided synchronously (so they also run on a simulated clock); a custom
 * `verify` function may be asynchronous. Failed attempts are throttled per source host.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fromPromise, type AnyActorLogic } from 'xstate';
import * as z from 'zod';
import { describeIssues } from '../machines/codec.js';
import { hostOf, type Credential } from '../machines/identity.js';
import type { AdmissionDecision, AuthenticateDecision } from '../machines/session.js';
import type { AdmissionRequest } from './compose.js';
import { acceptEveryConnection, rejectEveryToken } from './compose.js';
import { decided } from './decided.js';
import { FailureThrottle, type FailureThrottleOptions } from './throttle.js';

/** A named API key: its principal is `key:<name>`. */
export interface ApiKey {
  readonly name: string;
  readonly key: string;
  /** Groups ACL rules may name (`group:<name>`). */
  readonly groups?: readonly string[];
  /** The only clientIds this key may act for (exact, or a prefix ending in `*`). @default any not owned by another */
  readonly clientIds?: readonly string[];
}

/** A TLS client certificate, by the SHA-256 fingerprint of its DER form (`AB:CD:...` or plain hex). */
export interface ClientCertificate {
  readonly fingerprint256: string;
  /** Its principal is `cert:<name>`. @default `cert:<fingerprint>` */
  readonly name?: string;
  readonly groups?: readonly string[];
  readonly clientIds?: readonly string[];
}

export interface AuthOptions {
  /** Accept these API keys (each unnamed: its principal is `key:sha256:<12 hex of its digest>`). */
  readonly tokens?: readonly string[];
  /** Accept these named API keys. */
  readonly keys?: readonly ApiKey[];
  /** Decide yourself: true (the key's digest names the principal), a Credential, or false. */
  readonly verify?: (token: string, clientId: string | undefined) => boolean | Credential | Promise<boolean | Credential>;
  /**
   * Accept a TLS client certificate the server verified against its client CA
   * (`server.tls.clientCa`): every such certificate ('any'), or only these.
   */
  readonly certificates?: 'any' | readonly ClientCertificate[];
  /** Failed attempts per source host before it is refused for the rest of the window (SEC-19). */
  readonly throttle?: Partial<Omit<FailureThrottleOptions, 'now'>>;
}

export interface AuthPolicies {
  readonly authRequired: boolean;
  readonly admission: AnyActorLogic;
  readonly authenticate: AnyActorLogic;
  /** Failed-attempt throttling, for counters. */
  readonly throttle: FailureThrottle | undefined;
  /**
   * The credential a token stands for (failures throttled per host, SEC-19), for connections
   * outside the session's admission: a provider's file links. Undefined when none is required.
   */
  readonly verifyToken?: (token: string, clientId: string | undefined, remoteAddress: string) => Promise<Credential | undefined>;
  /** The credential a verified client certificate stands for, for the same connections; undefined when none is configured. */
  readonly verifyCertificate?: (fingerprint256: string) => Credential | undefined;
}

interface AuthenticateRequest {
  readonly clientId: string;
  readonly token: string;
  readonly remoteAddress: string;
}

const digestOf = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const normalizeFingerprint = (fingerprint: string): string => fingerprint.replace(/[:\s]/g, '').toUpperCase();

/** The principal of an unnamed key: a digest prefix, stable across restarts, revealing nothing of the key. */
export const unnamedKeyPrincipal = (token: string): string => `key:sha256:${digestOf(token).slice(0, 12)}`;

const credentialOf = (principal: string, entry: { groups?: readonly string[]; clientIds?: readonly string[] }): Credential => ({
  principal,
  ...(entry.groups === undefined ? {} : { groups: entry.groups }),
  ...(entry.clientIds === undefined ? {} : { clientIds: entry.clientIds }),
});

const tooManyFailures = { accept: false, code: 'UNAUTHENTICATED', reason: 'too many failed authentication attempts from this host; try later' } as const;
const badToken = { accept: false, code: 'UNAUTHENTICATED', reason: 'the token presented at the upgrade is not valid' } as const;

export function authPolicies(auth: AuthOptions | undefined, now: () => number = Date.now): AuthPolicies {
  const required = auth !== undefined && (auth.tokens !== undefined || auth.keys !== undefined || auth.verify !== undefined || auth.certificates !== undefined);
  if (!required) return { authRequired: false, admission: acceptEveryConnection, authenticate: rejectEveryToken, throttle: undefined };
  const throttle = new FailureThrottle({ ...auth.throttle, now });

  // Keys are looked up by digest: no comparison of secrets character by character.
  const byDigest = new Map<string, Credential>();
  for (const token of auth.tokens ?? []) byDigest.set(digestOf(token), { principal: unnamedKeyPrincipal(token) });
  for (const key of auth.keys ?? []) byDigest.set(digestOf(key.key), credentialOf(`key:${key.name}`, key));
  const certificates = auth.certificates;
  const certificateCredential = (fingerprint: string | undefined): Credential | undefined => {
    if (fingerprint === undefined || certificates === undefined) return undefined;
    if (certificates === 'any') return { principal: `cert:${normalizeFingerprint(fingerprint)}` };
    const known = certificates.find((certificate) => normalizeFingerprint(certificate.fingerprint256) === normalizeFingerprint(fingerprint));
    return known === undefined ? undefined : credentialOf(`cert:${known.name ?? normalizeFingerprint(fingerprint)}`, known);
  };

  /** The credential a token stands for, or undefined; failures are counted against the host. */
  const check = async (token: string, clientId: string | undefined, host: string): Promise<Credential | undefined> => {
    let credential = byDigest.get(digestOf(token));
    if (credential === undefined && auth.verify !== undefined) {
      const verdict = await auth.verify(token, clientId);
      credential = verdict === true ? { principal: unnamedKeyPrincipal(token) } : verdict === false ? undefined : verdict;
    }
    if (credential === undefined) throttle.fail(host);
    return credential;
  };
  const checkNow = (token: string, host: string): Credential | undefined => {
    const credential = byDigest.get(digestOf(token));
    if (credential === undefined) throttle.fail(host);
    return credential;
  };

  const admit = (request: AdmissionRequest, credential: Credential | undefined): AdmissionDecision => {
    if (credential !== undefined) return { accept: true, authenticated: true, credential };
    return request.token === undefined ? { accept: true, authenticated: false } : badToken;
  };
  const admitFirst = (request: AdmissionRequest): AdmissionDecision | undefined => {
    if (throttle.blocked(hostOf(request.remoteAddress))) return tooManyFailures;
    const certificate = certificateCredential(request.peerCertificate);
    if (certificate !== undefined) return { accept: true, authenticated: true, credential: certificate };
    if (request.token === undefined) return { accept: true, authenticated: false };
    return undefined;
  };

  const verifyToken = async (token: string, clientId: string | undefined, remoteAddress: string): Promise<Credential | undefined> => {
    const host = hostOf(remoteAddress);
    return throttle.blocked(host) ? undefined : check(token, clientId, host);
  };
  if (auth.verify === undefined) {
    return {
      authRequired: true,
      throttle,
      verifyToken,
      verifyCertificate: certificateCredential,
      admission: decided<AdmissionDecision, AdmissionRequest>(
        (request) => admitFirst(request) ?? admit(request, checkNow(request.token as string, hostOf(request.remoteAddress))),
      ),
      authenticate: decided<AuthenticateDecision, AuthenticateRequest>(({ token, remoteAddress }) => {
        const host = hostOf(remoteAddress);
        if (throttle.blocked(host)) return { ok: false };
        const credential = checkNow(token, host);
        return credential === undefined ? { ok: false } : { ok: true, credential };
      }),
    };
  }
  return {
    authRequired: true,
    throttle,
    verifyToken,
    verifyCertificate: certificateCredential,
    admission: fromPromise<AdmissionDecision, AdmissionRequest>(async ({ input }) => {
      const early = admitFirst(input);
      if (early !== undefined) return early;
      return admit(input, await check(input.token as string, undefined, hostOf(input.remoteAddress)));
    }),
    authenticate: fromPromise<AuthenticateDecision, AuthenticateRequest>(async ({ input }) => {
      const host = hostOf(input.remoteAddress);
      if (throttle.blocked(host)) return { ok: false };
      const credential = await check(input.token, input.clientId, host);
      return credential === undefined ? { ok: false } : { ok: true, credential };
    }),
  };
}

const ApiKeySchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/, 'a name of letters, digits, _ . @ - (at most 64)'),
  key: z.string().min(16, 'at least 16 characters').max(4_096),
  groups: z.array(z.string().min(1).max(64)).max(64).optional(),
  clientIds: z.array(z.string().min(1).max(256)).max(1_024).optional(),
});
const ApiKeysSchema = z.union([z.array(ApiKeySchema), z.strictObject({ keys: z.array(ApiKeySchema) }).transform((file) => file.keys)]);

/**
 * Reads named API keys from a JSON file (the CLI's --api-keys): `[{ "name", "key", "groups"?,
 * "clientIds"? }]` or `{ "keys": [...] }`. Names must be unique.
 */
export async function loadApiKeys(file: string): Promise<ApiKey[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new TypeError(`${file}: cannot read API keys: ${(error as Error).message}`);
  }
  const parsed = ApiKeysSchema.safeParse(json);
  if (!parsed.success) throw new TypeError(`${file}: invalid API keys: ${describeIssues(parsed.error)}`);
  const names = new Set<string>();
  for (const key of parsed.data) {
    if (names.has(key.name)) throw new TypeError(`${file}: the key name "${key.name}" is used twice`);
    names.add(key.name);
  }
  return parsed.data;
}
