/**
 * The contract of the provider-side session (machines/session.ts): its input and defaults, the
 * events it takes and sends its provider, its context and output, and the types of the effects
 * it names (`transport`, `admission`, `authenticate`), which runtime/ or a spec provides.
 */
import type { ActorRef, CallbackActorLogic, PromiseActorLogic } from 'xstate';
import type { AssignTask, CancelTask, ClientMessage, GetResult, GetStatus, ProviderDraft } from './messages.js';
import type { Credential, SessionIdentity } from './identity.js';
import type { UnderCheck } from './sessionRules.js';
import type { AcceptedInput, StreamCommand, StreamEvent } from './transport.js';
import type { EventAck, Subscribe, Unsubscribe } from './events/messages.js';

/** The four task messages a session forwards to its provider (CONN-9, SEC-3). */
export type SessionRequestMessage = AssignTask | CancelTask | GetStatus | GetResult;
/** The events messages a session forwards to its provider (EVT-2): always naming their clientId. */
export type EventsRequestMessage = Subscribe | Unsubscribe | EventAck;

/** Why a connection request is refused (CONN-2); OVERLOADED closes with 1013 (CONN-10), the others 1008. */
export interface AdmissionRefusal {
  code: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'OVERLOADED';
  reason: string;
}

/**
 * What the provider's admission policy answers for a connection request (CONN-2, CONN-10). An
 * authenticated acceptance names the credential (SEC-10: the principal clientIds are bound to).
 */
export type AdmissionDecision =
  | { accept: true; authenticated: boolean; credential?: Credential | undefined }
  | ({ accept: false } & AdmissionRefusal);

/** What the authentication policy answers for an Authenticate (SEC-2). */
export interface AuthenticateDecision {
  ok: boolean;
  credential?: Credential | undefined;
}

/** Counters a session keeps (WIRE-8: every rejected input is counted). */
export interface SessionStats {
  /** Decoded messages from the client, each counted once (when acted on, dropped or discarded). */
  messagesReceived: number;
  /** Undecodable input (transport.rejected) plus provider-only message types sent by a client. */
  messagesRejected: number;
  /** Input answered with RATE_LIMITED: over the SEC-7 window, or over pendingMax while held. */
  messagesRateLimited: number;
  /** Messages for a clientId other than the bound one (CONN-9). */
  messagesForbidden: number;
  /** Task messages passed to the provider as session.request. */
  messagesForwarded: number;
  /** session.deliver events that arrived when the session was not ready. */
  deliveriesDropped: number;
}

/** Input from the transport that is held while the session cannot act on it yet. */
export type RawInput = Extract<StreamEvent, { type: 'transport.message' | 'transport.rejected' }>;
/** A message that passed intake (rate limit, direction) and waits for the auth region. */
export interface AdmittedEvent {
  readonly type: 'session.admitted';
  readonly message: ClientMessage;
}
export type HeldInput = RawInput | AdmittedEvent;

export interface SessionInput {
  connectionId: string;
  remoteAddress: string;
  /** The credential presented at the upgrade, if any (SEC-2). */
  token?: string;
  /** Digest of the client secret presented at the upgrade, if any (SEC-10). */
  clientProof?: string;
  /** SHA-256 fingerprint of the TLS client certificate, when one was presented and verified (SEC-10). */
  peerCertificate?: string;
  /** Time the admission policy has to answer (CONN-2); also bounds an Authenticate check. @default 1_000 */
  answerDelayMs: number;
  /** Period of the session's pings (CONN-3). @default 5_000 */
  pingIntervalMs: number;
  /** Time for a pong before the client is considered gone and the socket terminated (CONN-3). @default 5_000 */
  pongTimeoutMs: number;
  /** Time for the close handshake before the socket is terminated (CONN-7). @default 2_000 */
  closeTimeoutMs: number;
  /** SEC-14: time an accepted connection has to send its first message; then Error TIMEOUT, close 1008. @default 10_000 */
  firstMessageTimeoutMs: number;
  /** false: no Authenticate needed. @default false */
  authRequired: boolean;
  /** Messages per window; undefined = no rate limit (SEC-7). @default undefined */
  rateLimit?: { messagesMax: number; windowMs: number };
  /** Input held while handshaking or authenticating; beyond it, RATE_LIMITED. @default 64 */
  pendingMax: number;
  /**
   * A refusal the provider decided before the session started (its session limit, CONN-10): the
   * admission policy is not asked and the connection is refused at once. @default undefined
   */
  refuseWith?: AdmissionRefusal;
  /** The provider: receives SessionToParentEvent. */
  parentRef: ActorRef<any, SessionToParentEvent>;
}

export const sessionDefaults = {
  answerDelayMs: 1_000,
  pingIntervalMs: 5_000,
  pongTimeoutMs: 5_000,
  closeTimeoutMs: 2_000,
  firstMessageTimeoutMs: 10_000,
  authRequired: false,
  pendingMax: 64,
} as const satisfies Partial<SessionInput>;

export type SessionEvent =
  | StreamEvent
  /** A provider -> client message to send; dropped (and counted) unless the session is ready. */
  | { type: 'session.deliver'; draft: ProviderDraft }
  /** The provider closes the session (1000, or 1001 when it stops). */
  | { type: 'session.close'; code: number; reason: string }
  /**
   * SEC-21: the runtime's supervisor caught an unexpected error while this session handled an
   * event; the session tells the client (Error INTERNAL_ERROR with the errorId) and closes with 1011.
   */
  | { type: 'session.fault'; errorId: string };

/** Events the session raises to itself (not for the provider to send), and its transport's failure. */
export type SessionInternalEvent = AdmittedEvent | { type: 'xstate.error.actor.transport'; error: unknown };

export type SessionToParentEvent =
  | { type: 'session.ready'; connectionId: string }
  /** SEC-15: the session authenticated as `principal` (at the upgrade or later). */
  | { type: 'session.authenticated'; connectionId: string; principal: string }
  /** The session acts for `clientId` now (CONN-9); the provider decides whether it may (SEC-10). */
  | { type: 'session.bound'; connectionId: string; clientId: string; identity: SessionIdentity }
  /**
   * `clientId` undefined: a GetStatus or GetResult naming no client, from a session not bound yet;
   * `identity` then says who asks (SEC-10 decides whether it may see the task it names).
   */
  | { type: 'session.request'; connectionId: string; clientId: string | undefined; message: SessionRequestMessage; identity?: SessionIdentity }
  | { type: 'session.ended'; connectionId: string; clientId: string | undefined; graceful: boolean; reason: string }
  /** The session's socket rose above its send mark (`above`) or fell back below it (SEC-13, EVT-8). */
  | { type: 'session.sendMark'; connectionId: string; above: boolean }
  /** An events message of the session's bound client (EVT-2, CONN-9). */
  | { type: 'session.events'; connectionId: string; clientId: string; message: EventsRequestMessage };

export type SessionOutput = { graceful: boolean; reason: string };

export interface SessionContext extends Omit<SessionInput, 'token'> {
  token: string | undefined;
  /** Who this session is (SEC-10): its host and client proof, and its credential once authenticated. */
  identity: SessionIdentity;
  /** The clientId this session acts for, once bound (CONN-9). */
  clientId: string | undefined;
  /** Input held until the session can act on it; at most pendingMax items. */
  held: HeldInput[];
  /**
   * The Authenticate under check (auth.anonymous.checking); for an AssignTask that carried an
   * `apiKey` (SEC-20) an Authenticate made of its callbackClientId and key, `viaAssign` set.
   */
  authenticating: UnderCheck | undefined;
  /** Input counted in the current rate window (SEC-7). */
  windowCount: number;
  /** The code of the close this session sends when it goes to `closing`. */
  closeCode: number;
  /** Why the session ends (reported in session.ended and the output). */
  endReason: string;
  stats: SessionStats;
}

export type SessionTransportLogic = CallbackActorLogic<StreamCommand, AcceptedInput>;
export interface AdmissionInput {
  connectionId: string;
  remoteAddress: string;
  token: string | undefined;
  peerCertificate: string | undefined;
}
export type AdmissionLogic = PromiseActorLogic<AdmissionDecision, AdmissionInput>;
export interface AuthenticateInput {
  clientId: string;
  token: string;
  remoteAddress: string;
}
export type AuthenticateLogic = PromiseActorLogic<AuthenticateDecision, AuthenticateInput>;
