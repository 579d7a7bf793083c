/**
 * The closed set of error codes and ProtocolError, the one class that carries them.
 */
import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  ProtocolError,
  errorCodes,
  errorShape,
  isErrorCode,
  retryableErrorCodes,
  toProtocolError,
} from '../machines/errors.js';

describe('errorCodes', () => {
  it('lists exactly the keys of ERROR_CODES', () => {
    expect([...errorCodes].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    expect(new Set(errorCodes).size).toBe(errorCodes.length);
  });

  it('has a default message for every code', () => {
    for (const code of errorCodes) expect(ERROR_CODES[code]).toMatch(/\S/);
  });

  it('marks transient codes retryable and codes about the request itself not', () => {
    for (const code of ['RATE_LIMITED', 'TIMEOUT', 'OVERLOADED', 'PROVIDER_DRAINING', 'CONNECTION_LOST'] as const) {
      expect(retryableErrorCodes.has(code)).toBe(true);
    }
    const permanent = [
      'INVALID_MESSAGE', 'MESSAGE_TOO_LARGE', 'UNSUPPORTED_MESSAGE', 'UNKNOWN_OPERATION', 'INVALID_PARAMETERS',
      'UNAUTHENTICATED', 'FORBIDDEN', 'TASK_NOT_FOUND', 'CANCELLED', 'INTERNAL_ERROR',
    ] as const;
    for (const code of permanent) expect(retryableErrorCodes.has(code)).toBe(false);
    for (const code of retryableErrorCodes) expect(errorCodes).toContain(code);
  });

  it('recognises codes as own keys only, not inherited names or service codes', () => {
    expect(isErrorCode('TIMEOUT')).toBe(true);
    for (const value of ['toString', 'constructor', '__proto__', 'IMAGE_TOO_BLURRY', 'timeout', 42, null, undefined]) {
      expect(isErrorCode(value)).toBe(false);
    }
  });
});

describe('ProtocolError', () => {
  it('carries its code, message, details and cause', () => {
    const cause = new RangeError('inner');
    const error = new ProtocolError('INVALID_MESSAGE', 'payload.taskId: expected string', { details: 'payload.taskId', cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ProtocolError');
    expect(error.code).toBe('INVALID_MESSAGE');
    expect(error.message).toBe('payload.taskId: expected string');
    expect(error.details).toBe('payload.taskId');
    expect(error.cause).toBe(cause);
  });

  it('defaults the message to the code description and leaves details and cause unset', () => {
    const error = new ProtocolError('TASK_NOT_FOUND');
    expect(error.message).toBe(ERROR_CODES.TASK_NOT_FOUND);
    expect(error.details).toBeUndefined();
    expect('cause' in error).toBe(false);
  });

  it('is retryable exactly when its code is in retryableErrorCodes', () => {
    for (const code of errorCodes) {
      expect(new ProtocolError(code).retryable).toBe(retryableErrorCodes.has(code));
    }
    expect(new ProtocolError('OVERLOADED').retryable).toBe(true);
    expect(new ProtocolError('FORBIDDEN').retryable).toBe(false);
  });

  it('turns into a plain shape, with details only when it has them', () => {
    expect(new ProtocolError('CANCELLED').toShape()).toEqual({ code: 'CANCELLED', message: ERROR_CODES.CANCELLED });
    expect(new ProtocolError('CANCELLED').toShape()).not.toHaveProperty('details');
    expect(new ProtocolError('TIMEOUT', 'too slow', { details: 'deadlineMs 10' }).toShape()).toEqual({
      code: 'TIMEOUT',
      message: 'too slow',
      details: 'deadlineMs 10',
    });
    expect(errorShape('FORBIDDEN', undefined, 'acl')).toEqual({ code: 'FORBIDDEN', message: ERROR_CODES.FORBIDDEN, details: 'acl' });
    expect(JSON.parse(JSON.stringify(errorShape('FORBIDDEN')))).toEqual({ code: 'FORBIDDEN', message: ERROR_CODES.FORBIDDEN });
  });
});

describe('toProtocolError', () => {
  it('returns a ProtocolError unchanged', () => {
    const error = new ProtocolError('RATE_LIMITED');
    expect(toProtocolError(error)).toBe(error);
  });

  it('normalises an Error without a code to INTERNAL_ERROR, keeping message and cause', () => {
    const thrown = new TypeError('x is not a function');
    const error = toProtocolError(thrown);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.code).toBe('INTERNAL_ERROR');
    expect(error.message).toBe('x is not a function');
    expect(error.cause).toBe(thrown);
  });

  it.each([['a string', 'boom'], ['a number', 42], ['null', null], ['undefined', undefined], ['an object', { reason: 'x' }]])(
    'normalises %s thrown to INTERNAL_ERROR, keeping it as cause',
    (_, thrown) => {
      const error = toProtocolError(thrown);
      expect(error.code).toBe('INTERNAL_ERROR');
      expect(error.cause).toBe(thrown);
    },
  );

  it('keeps the code of a coded object or Error, with its message and the original as cause', () => {
    const coded = { code: 'TIMEOUT', message: 'no answer' };
    expect(toProtocolError(coded)).toMatchObject({ code: 'TIMEOUT', message: 'no answer', cause: coded });
    const codedError = Object.assign(new Error('busy'), { code: 'OVERLOADED' });
    expect(toProtocolError(codedError)).toMatchObject({ code: 'OVERLOADED', message: 'busy', cause: codedError });
    expect(toProtocolError({ code: 'CANCELLED' })).toMatchObject({ code: 'CANCELLED', message: ERROR_CODES.CANCELLED });
  });

  it('treats codes outside the union (a service code, a Node errno) as INTERNAL_ERROR', () => {
    const serviceCode = { code: 'IMAGE_TOO_BLURRY', message: 'gone' };
    expect(toProtocolError(serviceCode)).toMatchObject({ code: 'INTERNAL_ERROR', cause: serviceCode });
    const errno = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(toProtocolError(errno)).toMatchObject({ code: 'INTERNAL_ERROR', message: 'read ECONNRESET' });
  });
});
