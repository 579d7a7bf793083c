/**
 * How a task's failure reaches application code: `handle.result` rejects with a TaskError whose
 * `code` is one of docs/errors.md's codes or a service's own (FILE_NOT_FOUND, say).
 */
import { isErrorCode, retryableErrorCodes } from '../machines/errors.js';
import type { TaskFailure } from '../machines/outcome.js';

export class TaskError<TCode extends string = string> extends Error {
  override readonly name = 'TaskError';
  /** Typed by the typed client (runtime/typed/): switchboard's ERROR_CODES plus the operation's own. */
  readonly code: TCode;
  readonly details: string | undefined;
  readonly taskId: string;
  /** With INTERNAL_ERROR: the id the provider logged the cause with; quote it when reporting (SEC-11). */
  readonly errorId: string | undefined;

  constructor(taskId: string, failure: TaskFailure) {
    super(failure.message);
    this.code = failure.code as TCode;
    this.details = failure.details;
    this.taskId = taskId;
    this.errorId = failure.errorId;
  }

  /** Whether sending the same request again (later or elsewhere) may succeed. */
  get retryable(): boolean {
    return isErrorCode(this.code) && retryableErrorCodes.has(this.code);
  }
}
