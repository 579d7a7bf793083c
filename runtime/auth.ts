/**
 * Authentication policies for a provider (SEC-2, SEC-3), as the session's `admission` and
 * `authenticate` effects. A fixed token list is decided synchronously (so it also runs on a
 * simulated clock); a custom `verify` function may be asynchronous.
 */
import { fromPromise, type AnyActorLogic } from 'xstate';
import type { AdmissionDecision } from '../machines/session.js';
import type { AdmissionRequest } from './compose.js';
import { acceptEveryConnection, rejectEveryToken } from './compose.js';
import { decided } from './decided.js';

export type AuthOptions =
  /** Accept these tokens (API keys). */
  | { readonly tokens: readonly string[] }
  /** Decide yourself: return true to accept. */
  | { readonly verify: (token: string, clientId: string | undefined) => boolean | Promise<boolean> };

export interface AuthPolicies {
  readonly authRequired: boolean;
  readonly admission: AnyActorLogic;
  readonly authenticate: AnyActorLogic;
}

/** A token at the upgrade that is valid authenticates the session at once; a wrong one is refused. */
function admissionFor(valid: (token: string) => boolean): (request: AdmissionRequest) => AdmissionDecision {
  return ({ token }) => {
    if (token === undefined) return { accept: true, authenticated: false };
    return valid(token)
      ? { accept: true, authenticated: true }
      : { accept: false, code: 'UNAUTHENTICATED', reason: 'the token presented at the upgrade is not valid' };
  };
}

export function authPolicies(auth: AuthOptions | undefined): AuthPolicies {
  if (auth === undefined) return { authRequired: false, admission: acceptEveryConnection, authenticate: rejectEveryToken };
  if ('tokens' in auth) {
    const tokens = new Set(auth.tokens);
    const valid = (token: string) => tokens.has(token);
    return {
      authRequired: true,
      admission: decided(admissionFor(valid)),
      authenticate: decided<{ ok: boolean }, { clientId: string; token: string }>(({ token }) => ({ ok: valid(token) })),
    };
  }
  const { verify } = auth;
  return {
    authRequired: true,
    admission: fromPromise<AdmissionDecision, AdmissionRequest>(async ({ input }) => {
      if (input.token === undefined) return { accept: true, authenticated: false };
      return (await verify(input.token, undefined))
        ? { accept: true, authenticated: true }
        : { accept: false, code: 'UNAUTHENTICATED', reason: 'the token presented at the upgrade is not valid' };
    }),
    authenticate: fromPromise<{ ok: boolean }, { clientId: string; token: string }>(async ({ input }) => ({
      ok: await verify(input.token, input.clientId),
    })),
  };
}
