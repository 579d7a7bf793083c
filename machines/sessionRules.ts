/**
 * Pure rules of the provider-side session (machines/session.ts): which client a message acts
 * for, how each refusal is worded on the wire, which close code a rejection carries, and how
 * buffered input is counted. No state, no effects: every function here is data in, data out.
 */
import { ERROR_CODES, errorIdOf, internalFailure, isErrorCode, toProtocolError, type ErrorCode } from './errors.js';
import { clientMessageSchemas, type AssignTask, type Authenticate, type ClientMessage, type ProviderDraft, type WireMessage } from './messages.js';
import { hostOf, type SessionIdentity } from './identity.js';
import type {
  AdmissionDecision,
  AdmittedEvent,
  HeldInput,
  RawInput,
  SessionInput,
  EventsRequestMessage,
  SessionRequestMessage,
  SessionStats,
  SessionToParentEvent,
} from './sessionTypes.js';
import { CloseCode, type StreamEvent } from './transport.js';

export const emptySessionStats: SessionStats = {
  messagesReceived: 0,
  messagesRejected: 0,
  messagesRateLimited: 0,
  messagesForbidden: 0,
  messagesForwarded: 0,
  deliveriesDropped: 0,
};

export type StatsDelta = Partial<SessionStats>;

export function addStats(stats: SessionStats, delta: StatsDelta): SessionStats {
  const next = { ...stats };
  for (const key of Object.keys(next) as (keyof SessionStats)[]) next[key] += delta[key] ?? 0;
  return next;
}

/** An Error draft (see ErrorSchema in machines/messages.ts). */
export function errorReply(
  code: ErrorCode,
  message: string,
  relatesTo?: string,
  taskId?: string,
  details?: string,
  errorId?: string,
): ProviderDraft {
  return {
    type: 'Error',
    payload: {
      code,
      message,
      ...(details === undefined ? {} : { details }),
      ...(relatesTo === undefined ? {} : { relatesTo }),
      ...(taskId === undefined ? {} : { taskId }),
      ...(errorId === undefined ? {} : { errorId }),
    },
  };
}

export function isClientMessage(message: WireMessage): message is ClientMessage {
  return Object.hasOwn(clientMessageSchemas, message.type);
}

export function isRequestMessage(message: ClientMessage): message is SessionRequestMessage {
  return message.type !== 'Authenticate' && !isEventsMessage(message);
}

/** Subscribe, Unsubscribe, EventAck (EVT-2): forwarded to the provider's events, not its tasks. */
export function isEventsMessage(message: ClientMessage): message is EventsRequestMessage {
  return message.type === 'Subscribe' || message.type === 'Unsubscribe' || message.type === 'EventAck';
}

/** CONN-9, SEC-10: the session acts for `clientId` now; the provider decides whether it may. */
export function boundEvent(connectionId: string, clientId: string, identity: SessionIdentity): Extract<SessionToParentEvent, { type: 'session.bound' }> {
  return { type: 'session.bound', connectionId, clientId, identity };
}

/** The identity a session starts with (SEC-10): where it comes from and the proof it presented. */
export function initialIdentity(input: Pick<SessionInput, 'remoteAddress' | 'clientProof'>): SessionIdentity {
  const host = hostOf(input.remoteAddress);
  return input.clientProof === undefined ? { host } : { host, proof: input.clientProof };
}

/** The clientId a message names (CONN-9); a GetStatus or GetResult may name none (the seed defines no payload). */
export function clientIdOf(message: ClientMessage): string | undefined {
  switch (message.type) {
    case 'AssignTask':
      return message.payload.callbackClientId;
    case 'Authenticate':
    case 'Subscribe':
    case 'Unsubscribe':
    case 'EventAck':
      return message.payload.clientId;
    default:
      return message.payload.originalClientId;
  }
}

/** A query that named no client, completed with the one it is answered for. */
export function withClientId<M extends ClientMessage>(message: M, clientId: string): M {
  if ((message.type !== 'GetStatus' && message.type !== 'GetResult') || message.payload.originalClientId !== undefined) return message;
  return { ...message, payload: { ...message.payload, originalClientId: clientId } } as M;
}

export function taskIdOf(message: WireMessage): string | undefined {
  const payload = message.payload as { taskId?: unknown };
  return typeof payload.taskId === 'string' ? payload.taskId : undefined;
}

/** True when the session is bound (CONN-9) and the message acts for someone else. */
export function isForeign(boundClientId: string | undefined, message: ClientMessage): boolean {
  const named = clientIdOf(message);
  return boundClientId !== undefined && named !== undefined && named !== boundClientId;
}

export function forbiddenReply(message: ClientMessage): ProviderDraft {
  return aboutSubscription(message, errorReply('FORBIDDEN', 'this session acts for another clientId (CONN-9)', message.messageId, taskIdOf(message)));
}

export function rateLimitedReply(input: RawInput | AdmittedEvent): ProviderDraft {
  const message = input.type === 'transport.rejected' ? undefined : input.message;
  const relatesTo = message?.messageId ?? (input.type === 'transport.rejected' ? input.messageId : undefined);
  return errorReply('RATE_LIMITED', ERROR_CODES.RATE_LIMITED, relatesTo, message && taskIdOf(message));
}

export function unsupportedReply(message: WireMessage): ProviderDraft {
  return errorReply('UNSUPPORTED_MESSAGE', 'not a client message', message.messageId, taskIdOf(message));
}

/** WIRE-8: the Error that answers undecodable input. */
export function rejectedInputReply(input: Extract<StreamEvent, { type: 'transport.rejected' }>): ProviderDraft {
  return errorReply(input.error.code, input.error.message, input.messageId, undefined, input.error.details);
}

/**
 * A refused task message: TaskFailed for an AssignTask (what a seed-only client understands),
 * Error for the other messages. Its wording depends on nothing but the message (SEC-10: whether
 * the task exists is not told).
 */
export function refusalReply(message: ClientMessage, code: ErrorCode, text: string): ProviderDraft {
  if (message.type === 'AssignTask') {
    return {
      type: 'TaskFailed',
      payload: {
        taskId: message.payload.taskId,
        status: 'Failed',
        errorCode: code,
        errorMessage: text,
        originalClientId: message.payload.callbackClientId,
      },
    };
  }
  return aboutSubscription(message, errorReply(code, text, message.messageId, taskIdOf(message)));
}

/** EVT-4: an Error answering an events message names its subscription. */
export function aboutSubscription(message: ClientMessage, reply: ProviderDraft): ProviderDraft {
  if (!isEventsMessage(message) || reply.type !== 'Error') return reply;
  return { ...reply, payload: { ...reply.payload, subscriptionId: message.payload.subscriptionId } };
}

/** SEC-3: TaskFailed for an AssignTask, Error for the other messages. */
export function unauthenticatedReply(message: ClientMessage): ProviderDraft {
  return refusalReply(message, 'UNAUTHENTICATED', ERROR_CODES.UNAUTHENTICATED);
}

/** SEC-10: the session may not act for the clientId it is bound to (it belongs to another client). */
export function notOwnerReply(message: ClientMessage): ProviderDraft {
  return refusalReply(message, 'FORBIDDEN', 'this clientId belongs to another client (SEC-10)');
}

/** SEC-2: a successful Authenticate is acknowledged with an Ack citing its messageId. */
export function ackFor(message: ClientMessage): ProviderDraft {
  return { type: 'Ack', payload: { acknowledgmentId: message.messageId } };
}

/** An AssignTask without its `apiKey` (SEC-20: a key is checked, never forwarded or stored). */
export function withoutApiKey<M extends ClientMessage>(message: M): M {
  if (message.type !== 'AssignTask' || message.payload.apiKey === undefined) return message;
  const { apiKey: _key, ...payload } = message.payload;
  return { ...message, payload } as M;
}

/** A message that authenticates while the session is anonymous: Authenticate, or an AssignTask with `apiKey` (SEC-20). */
export function carriesCredential(message: ClientMessage): boolean {
  return message.type === 'Authenticate' || (message.type === 'AssignTask' && message.payload.apiKey !== undefined);
}

/** An Authenticate under check; `viaAssign`: the AssignTask (SEC-20) it was made from. */
export type UnderCheck = Authenticate & { readonly viaAssign?: AssignTask };

/** What is checked for a message that carries a credential (see carriesCredential). */
export function authenticateOf(message: ClientMessage): UnderCheck | undefined {
  if (message.type === 'Authenticate') return message;
  if (message.type !== 'AssignTask' || message.payload.apiKey === undefined) return undefined;
  return {
    type: 'Authenticate',
    messageId: message.messageId,
    timestamp: message.timestamp,
    payload: { clientId: message.payload.callbackClientId, token: message.payload.apiKey },
    viaAssign: withoutApiKey(message),
  };
}

/** The Authenticate under check; a session enters its checking state only with one. */
export function authenticateUnderCheck(message: UnderCheck | undefined): UnderCheck {
  if (message === undefined) throw new Error('session: no Authenticate under check');
  return message;
}

/** The close code of a refused connection: 1013 when the provider is full (CONN-10), else 1008. */
export function rejectionCloseCode(code: ErrorCode): number {
  return code === 'OVERLOADED' ? CloseCode.tryAgainLater : CloseCode.policy;
}

/** The refusal carried by a negative admission decision (the machine guards on `accept` first). */
export function refusalOf(decision: AdmissionDecision): { code: ErrorCode; reason: string } {
  if (decision.accept) throw new Error('session: an accepted admission decision is not a refusal');
  return { code: decision.code, reason: decision.reason };
}

/**
 * A failing admission policy refuses the connection, with the error's code when it is one of
 * ours; anything else is INTERNAL_ERROR with a generic reason, never the error's text (SEC-11).
 */
export function rejectionFromError(thrown: unknown): { code: ErrorCode; reason: string } {
  const code = (thrown as { code?: unknown } | undefined)?.code;
  if (isErrorCode(code) && code !== 'INTERNAL_ERROR') return { code, reason: toProtocolError(thrown).message };
  return { code: 'INTERNAL_ERROR', reason: internalFailure(errorIdOf(thrown)).message };
}

/** The end reason for a transport.closed that arrives while the session is live. */
export function peerClosedReason(event: Extract<StreamEvent, { type: 'transport.closed' }>): string {
  const how = event.graceful ? 'closed by client' : 'connection lost';
  return event.reason === '' ? `${how} (${event.code})` : `${how} (${event.code}: ${event.reason})`;
}

/** Counts held input that the session drops unanswered (rejected, closed, or closing). */
export function countDiscarded(stats: SessionStats, held: readonly HeldInput[]): SessionStats {
  let received = 0;
  let rejected = 0;
  for (const input of held) {
    if (input.type === 'transport.message') received++;
    else if (input.type === 'transport.rejected') rejected++;
  }
  return { ...stats, messagesReceived: stats.messagesReceived + received, messagesRejected: stats.messagesRejected + rejected };
}
