/**
 * How a task ends, on either side. A failure's `code` is one of ours (ErrorCode) or a service's
 * own (the seed's FILE_NOT_FOUND), which is why it is a plain string here.
 */
export interface TaskFailure {
  readonly code: string;
  readonly message: string;
  readonly details?: string | undefined;
  /** INTERNAL_ERROR only: the id the provider logged the cause with (SEC-11). */
  readonly errorId?: string | undefined;
}

export type TaskOutcome =
  | { readonly status: 'Completed'; readonly resultData: unknown }
  | { readonly status: 'Failed'; readonly error: TaskFailure }
  | { readonly status: 'Cancelled' };

export const cancelledFailure: TaskFailure = { code: 'CANCELLED', message: 'The task was cancelled.' };

/** A progress report as it travels between actors (TASK-9): percent, and optional words and ETA. */
export interface ProgressReport {
  readonly progressPercentage: number;
  readonly message?: string | undefined;
  readonly estimatedTimeRemainingSeconds?: number | undefined;
}
