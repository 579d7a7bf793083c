/**
 * The closed union of switchboard's error codes, and the one error class that carries them.
 *
 * Every code has a heading in docs/errors.md. Tests assert `.code`, never message text.
 * A service may report codes of its own in TaskFailed.errorCode (the seed's FILE_NOT_FOUND, say):
 * those travel as plain strings and are not members of this union.
 */

export const ERROR_CODES = {
  /** Input that is not JSON, not an object, or not the shape of any known message. */
  INVALID_MESSAGE: 'The input is not a well-formed switchboard message.',
  /** A datagram or frame larger than the configured limit; it was not parsed. */
  MESSAGE_TOO_LARGE: 'The input exceeds the size limit.',
  /** A well-formed envelope whose `type` (or `discoveryType`) this peer does not implement. */
  UNSUPPORTED_MESSAGE: 'The message type is not supported by this peer.',
  /** The provider does not host the named service or operation. */
  UNKNOWN_OPERATION: 'The service or operation is not offered here.',
  /** The task parameters do not satisfy the operation's schema. */
  INVALID_PARAMETERS: 'The task parameters are invalid for this operation.',
  /** Credentials are missing or wrong. */
  UNAUTHENTICATED: 'The client is not authenticated.',
  /** The client is authenticated but may not do this (or acts for another clientId). */
  FORBIDDEN: 'The client is not allowed to do this.',
  /** The connection sent more messages than its rate limit allows. */
  RATE_LIMITED: 'Too many messages on this connection.',
  /** No task with this (clientId, taskId) is known to the provider. */
  TASK_NOT_FOUND: 'No such task.',
  /** The task was cancelled on request. */
  CANCELLED: 'The task was cancelled.',
  /** A deadline passed: the task's own, or the wait for an acknowledgment. */
  TIMEOUT: 'The operation timed out.',
  /** The provider's admission limits are full; try later or elsewhere. */
  OVERLOADED: 'The provider is overloaded.',
  /** The provider is draining and accepts no new tasks. */
  PROVIDER_DRAINING: 'The provider is draining and accepts no new tasks.',
  /** No provider known to this client offers the service and operation (client-local). */
  SERVICE_UNAVAILABLE: 'No known provider offers this service and operation.',
  /** The client gave up reaching the provider (reconnect attempts exhausted). */
  CONNECTION_LOST: 'The connection to the provider was lost.',
  /** Anything unexpected; the cause is kept for the logs. */
  INTERNAL_ERROR: 'An internal error occurred.',
  /** The provider hosts no service of that name publishing an event of that name (EVT-4); or none announces events (client-local, EVT-1). */
  UNKNOWN_EVENT: 'The service publishes no such event here.',
  /** Task files (FILE-8, FILE-10): no such file here for this client. */
  FILE_NOT_FOUND: 'No such file for this client.',
  /** Task files (FILE-6): the file is larger than the receiver accepts. */
  FILE_TOO_LARGE: 'The file is larger than the receiver accepts.',
  /** Task files (FILE-2): the bytes that arrived do not have the offered SHA-256; nothing was kept. */
  FILE_HASH_MISMATCH: 'The file does not have the offered SHA-256.',
  /** Task files (FILE-6): the receiver's store has no room, even after evicting what it may. */
  FILE_STORE_FULL: 'The file store is full.',
  /** Manifests (MAN-2): the manifest cannot be used. */
  MANIFEST_INVALID: 'The manifest is not valid.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export const errorCodes = Object.keys(ERROR_CODES) as ErrorCode[];

/**
 * Codes after which the same request may succeed if sent again (elsewhere or later).
 * Retry policy is data, not scattered `if`s.
 */
export const retryableErrorCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'RATE_LIMITED',
  'TIMEOUT',
  'OVERLOADED',
  'PROVIDER_DRAINING',
  'SERVICE_UNAVAILABLE',
  'CONNECTION_LOST',
]);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** The plain-data form of an error: what travels in events and on the wire. */
export interface ErrorShape {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: string | undefined;
}

export class ProtocolError extends Error implements ErrorShape {
  override readonly name = 'ProtocolError';
  readonly code: ErrorCode;
  readonly details: string | undefined;

  constructor(code: ErrorCode, message?: string, options?: { details?: string; cause?: unknown }) {
    super(message ?? ERROR_CODES[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }

  get retryable(): boolean {
    return retryableErrorCodes.has(this.code);
  }

  toShape(): ErrorShape {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function errorShape(code: ErrorCode, message?: string, details?: string): ErrorShape {
  return new ProtocolError(code, message, details === undefined ? undefined : { details }).toShape();
}

/**
 * The shape of an error code worth passing on: an upper-case letter, then 1 to 63 upper-case
 * letters, digits or underscores (ours, and a service's own such as FILE_NOT_FOUND). It excludes
 * every name of Object.prototype (`constructor`, `__proto__`...), control characters and
 * anything long, so an application may use a code as a key or print it safely (SEC-12).
 */
export const WELL_FORMED_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

export function isWellFormedCode(value: unknown): value is string {
  return typeof value === 'string' && WELL_FORMED_CODE.test(value);
}

/** An errorId as it may travel: an opaque id of 1 to 128 visible ASCII characters. */
const ERROR_ID = /^[\x21-\x7e]{1,128}$/;

/** The `errorId` a thrown value carries (the runtime's supervisor puts one on what it logs). */
export function errorIdOf(thrown: unknown): string | undefined {
  const errorId = typeof thrown === 'object' && thrown !== null ? (thrown as { errorId?: unknown }).errorId : undefined;
  return typeof errorId === 'string' && ERROR_ID.test(errorId) ? errorId : undefined;
}

/**
 * SEC-11: what a peer is told of an unexpected error: INTERNAL_ERROR, a generic message that
 * names the errorId (the provider logged the cause with it), never the error's own text.
 */
export function internalFailure(errorId: string | undefined): { code: 'INTERNAL_ERROR'; message: string; errorId?: string } {
  if (errorId === undefined) return { code: 'INTERNAL_ERROR', message: ERROR_CODES.INTERNAL_ERROR };
  return { code: 'INTERNAL_ERROR', message: `${ERROR_CODES.INTERNAL_ERROR} (errorId ${errorId})`, errorId };
}

/** Normalises anything thrown into a ProtocolError, keeping the original as `cause`. */
export function toProtocolError(thrown: unknown): ProtocolError {
  if (thrown instanceof ProtocolError) return thrown;
  if (typeof thrown === 'object' && thrown !== null && isErrorCode((thrown as { code?: unknown }).code)) {
    const { code, message } = thrown as { code: ErrorCode; message?: unknown };
    return new ProtocolError(code, typeof message === 'string' ? message : undefined, { cause: thrown });
  }
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return new ProtocolError('INTERNAL_ERROR', message, { cause: thrown });
}
