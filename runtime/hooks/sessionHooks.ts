/**
 * Session hooks (HOOK-1..HOOK-6): what a service is told about the sessions of its provider, and
 * its veto over a connection request.
 *
 * - `connect` is asked with the admission policy (CONN-2), within the same `answerDelayMs` (the
 *   session's timer bounds the whole answer): it accepts (returns nothing, or true) or vetoes
 *   (returns false, or `{ accept: false, code?, reason? }`); a throw is a veto.
 * - `authenticate` is told once a session is bound to a clientId (after SEC-2 / CONN-9).
 * - `disconnect` is told once per session that was accepted, after it ended: graceful (a close
 *   handshake, or a close by the provider) or not (lost), with the reason.
 *
 * Observing hooks never delay or end a session; their failures are logged (HOOK-6).
 */
import { createActor, fromPromise, toPromise, type AnyActorLogic } from 'xstate';
import type { ProviderEmitted } from '../../machines/provider.js';
import type { AdmissionDecision, AdmissionRefusal } from '../../machines/sessionTypes.js';
import type { AdmissionRequest } from '../compose.js';
import type { Logger } from '../service.js';

export interface ConnectInfo {
  readonly connectionId: string;
  readonly remoteAddress: string;
  /** Whether the upgrade carried a credential the provider accepted (the session starts authenticated). */
  readonly authenticated: boolean;
}

export type ConnectVerdict = void | boolean | { readonly accept: true } | { readonly accept: false; readonly code?: AdmissionRefusal['code']; readonly reason?: string };

export interface SessionHooks {
  /** HOOK-1: asked for every connection request; may veto. */
  connect?(info: ConnectInfo): ConnectVerdict | Promise<ConnectVerdict>;
  /** HOOK-2: a session acts for a clientId now. */
  authenticate?(info: { readonly connectionId: string; readonly clientId: string }): void;
  /** HOOK-3: a session ended; `graceful` false means it was lost (no close handshake). */
  disconnect?(info: { readonly connectionId: string; readonly clientId: string | undefined; readonly graceful: boolean; readonly reason: string }): void;
}

/** A named set of hooks (the service they belong to, for logs and refusals). */
export interface NamedHooks {
  readonly serviceName: string;
  readonly hooks: SessionHooks;
}

function refusalOf(verdict: ConnectVerdict, serviceName: string): AdmissionDecision | undefined {
  if (verdict === undefined || verdict === true) return undefined;
  if (verdict === false) return { accept: false, code: 'FORBIDDEN', reason: `refused by ${serviceName}` };
  if (verdict.accept) return undefined;
  return { accept: false, code: verdict.code ?? 'FORBIDDEN', reason: verdict.reason ?? `refused by ${serviceName}` };
}

/**
 * HOOK-1: the admission policy, then every service's connect hook (at once); the first refusal
 * decides. Without connect hooks the policy is returned unchanged (and stays synchronous).
 */
export function withConnectHooks(admission: AnyActorLogic, all: readonly NamedHooks[], log?: Logger): AnyActorLogic {
  const hooked = all.filter((entry) => entry.hooks.connect !== undefined);
  if (hooked.length === 0) return admission;
  return fromPromise<AdmissionDecision, AdmissionRequest>(async ({ input }) => {
    const policy = createActor(admission, { input });
    policy.start();
    const decision = (policy.getSnapshot().status === 'done' ? policy.getSnapshot().output : await toPromise(policy)) as AdmissionDecision;
    if (!decision.accept) return decision;
    const info: ConnectInfo = { connectionId: input.connectionId, remoteAddress: input.remoteAddress, authenticated: decision.authenticated };
    const verdicts = await Promise.all(
      hooked.map(async ({ serviceName, hooks }) => {
        try {
          return refusalOf(await hooks.connect!(info), serviceName);
        } catch (error) {
          log?.('warn', `the connect hook of ${serviceName} threw; the connection is refused`, { connectionId: input.connectionId, error });
          return { accept: false, code: 'FORBIDDEN', reason: `refused by ${serviceName}` } as AdmissionDecision;
        }
      }),
    );
    return verdicts.find((verdict) => verdict !== undefined) ?? decision;
  });
}

/** HOOK-2, HOOK-3: a listener for the provider's events that tells the observing hooks. */
export function hookObserver(all: readonly NamedHooks[], log?: Logger): (event: ProviderEmitted) => void {
  const call = (serviceName: string, what: string, run: () => void) => {
    try {
      run();
    } catch (error) {
      log?.('warn', `the ${what} hook of ${serviceName} threw (ignored)`, { error });
    }
  };
  // Only sessions whose connection was accepted get a disconnect (HOOK-3); a refused one never opened.
  const opened = new Set<string>();
  return (event) => {
    if (event.type === 'session.opened') opened.add(event.connectionId);
    if (event.type === 'session.ended' && !opened.delete(event.connectionId)) return;
    for (const { serviceName, hooks } of all) {
      if (event.type === 'session.bound' && hooks.authenticate) {
        call(serviceName, 'authenticate', () => hooks.authenticate!({ connectionId: event.connectionId, clientId: event.clientId }));
      }
      if (event.type === 'session.ended' && hooks.disconnect) {
        const { connectionId, clientId, graceful, reason } = event;
        call(serviceName, 'disconnect', () => hooks.disconnect!({ connectionId, clientId, graceful, reason }));
      }
    }
  };
}
