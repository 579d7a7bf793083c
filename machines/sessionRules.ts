/**
 * Pure rules of the provider-side session (machines/session.ts): which client a message acts
 * for, how each refusal is worded on the wire, which close code a rejection carries, and how
 * buffered input is counted. No state, no effects: every function here is data in, data out.
 */
import { ERROR_CODES, errorIdOf, internalFailure, isErrorCode, toProtocolError, type ErrorCode } from './errors.js';
import { clientMessageSchemas, type Authenticate, type ClientMessage, type ProviderDraft, type WireMessage } from './messages.js';
import type { AdmissionDecision, AdmittedEvent, HeldInput, RawInput, SessionRequestMessage, SessionStats } from './sessionTypes.js';
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
  return message.type !== 'Authenticate';
}

/** The clientId a message acts for (CONN-9). */
export function clientIdOf(message: ClientMessage): string {
  switch (message.type) {
    case 'AssignTask':
      return message.payload.callbackClientId;
    case 'Authenticate':
      return message.payload.clientId;
    default:
      return message.payload.originalClientId;
  }
}

export function taskIdOf(message: WireMessage): string | undefined {
  const payload = message.payload as { taskId?: unknown };
  return typeof payload.taskId === 'string' ? payload.taskId : undefined;
}

/** True when the session is bound (CONN-9) and the message acts for someone else. */
export function isForeign(boundClientId: string | undefined, message: ClientMessage): boolean {
  return boundClientId !== undefined && clientIdOf(message) !== boundClientId;
}

export function forbiddenReply(message: ClientMessage): ProviderDraft {
  return errorReply('FORBIDDEN', 'this session acts for another clientId (CONN-9)', message.messageId, taskIdOf(message));
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

/** SEC-3: TaskFailed for an AssignTask, Error for the other messages. */
export function unauthenticatedReply(message: ClientMessage): ProviderDraft {
  if (message.type === 'AssignTask') {
    return {
      type: 'TaskFailed',
      payload: {
        taskId: message.payload.taskId,
        status: 'Failed',
        errorCode: 'UNAUTHENTICATED',
        errorMessage: ERROR_CODES.UNAUTHENTICATED,
        originalClientId: message.payload.callbackClientId,
      },
    };
  }
  return errorReply('UNAUTHENTICATED', ERROR_CODES.UNAUTHENTICATED, message.messageId, taskIdOf(message));
}

/** SEC-2: a successful Authenticate is acknowledged with an Ack citing its messageId. */
export function ackFor(message: ClientMessage): ProviderDraft {
  return { type: 'Ack', payload: { acknowledgmentId: message.messageId } };
}

/** The Authenticate under check; a session enters its checking state only with one. */
export function authenticateUnderCheck(message: Authenticate | undefined): Authenticate {
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
