/**
 * What `client.assign` returns: the task's id, its progress (as events and as an async iterator)
 * and its result (a promise that rejects with a coded TaskError).
 *
 * ```ts
 * const task = client.assign('ImageProcessingService', 'resizeImage', { inputPath, width: 320 });
 * for await (const p of task) console.log(p.progressPercentage, p.message);
 * console.log(await task.result);
 * ```
 */
import type { FileRef } from '../machines/files/fileRef.js';
import type { TaskOutcome } from '../machines/outcome.js';
import { TaskError } from './taskError.js';

export interface TaskProgress {
  readonly status: 'Queued' | 'Processing';
  readonly progressPercentage: number;
  readonly message?: string | undefined;
  readonly estimatedTimeRemainingSeconds?: number | undefined;
  /** Task files (FILE-12): `upload` before the provider's progress, `download` after it, with the file and its bytes moved. */
  readonly phase?: 'upload' | 'download';
  readonly file?: FileRef;
  readonly bytes?: number;
}

/** How a task ended, as a value: the result, or the TaskError (whose `code` the typed client types). */
export type TaskSettlement<TResult = unknown, TCode extends string = string> =
  | { readonly ok: true; readonly result: TResult }
  | { readonly ok: false; readonly error: TaskError<TCode> };

export interface TaskHandle<TResult = unknown, TCode extends string = string> extends AsyncIterable<TaskProgress> {
  readonly taskId: string;
  /** Resolves with the result data; rejects with a TaskError (CANCELLED when cancelled). */
  readonly result: Promise<TResult>;
  /** The same end as `result`, never rejecting: narrow on `ok`, then on `error.code`. */
  readonly settled: Promise<TaskSettlement<TResult, TCode>>;
  /** The latest progress (null before any). */
  readonly progress: TaskProgress | null;
  onProgress(listener: (progress: TaskProgress) => void): () => void;
  /** Asks the provider to cancel; resolves when the task has ended (in whatever state). */
  cancel(): Promise<void>;
}

/** The mutable side of a handle, kept by the client runtime. */
export class TaskHandleState<TResult = unknown> implements TaskHandle<TResult> {
  readonly result: Promise<TResult>;
  readonly settled: Promise<TaskSettlement<TResult>>;
  progress: TaskProgress | null = null;
  private readonly listeners = new Set<(progress: TaskProgress) => void>();
  private readonly waiting: Array<(next: IteratorResult<TaskProgress>) => void> = [];
  private readonly buffered: TaskProgress[] = [];
  private done = false;
  private resolveResult!: (value: TResult) => void;
  private rejectResult!: (error: TaskError) => void;
  private readonly ended: Promise<void>;
  private markEnded!: () => void;

  constructor(
    readonly taskId: string,
    private readonly requestCancel: () => void,
  ) {
    this.result = new Promise<TResult>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // An unobserved failure must not become an unhandled rejection: the caller may only iterate.
    this.settled = this.result.then(
      (result) => ({ ok: true as const, result }),
      (error: TaskError) => ({ ok: false as const, error }),
    );
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }

  onProgress(listener: (progress: TaskProgress) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  cancel(): Promise<void> {
    if (!this.done) this.requestCancel();
    return this.ended;
  }

  report(progress: TaskProgress): void {
    if (this.done) return;
    this.progress = progress;
    for (const listener of this.listeners) listener(progress);
    const waiter = this.waiting.shift();
    if (waiter) waiter({ value: progress, done: false });
    else if (this.buffered.length < 1_000) this.buffered.push(progress);
  }

  settle(outcome: TaskOutcome): void {
    if (this.done) return;
    this.done = true;
    if (outcome.status === 'Completed') this.resolveResult(outcome.resultData as TResult);
    else if (outcome.status === 'Cancelled') this.rejectResult(new TaskError(this.taskId, { code: 'CANCELLED', message: 'The task was cancelled.' }));
    else this.rejectResult(new TaskError(this.taskId, outcome.error));
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
    this.markEnded();
  }

  [Symbol.asyncIterator](): AsyncIterator<TaskProgress> {
    return {
      next: () => {
        const progress = this.buffered.shift();
        if (progress) return Promise.resolve({ value: progress, done: false });
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.waiting.push(resolve));
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }
}
