/**
 * The provider task's `handler` effect, built from service definitions: validate the parameters
 * with the operation's schema (TASK-6), run the operation with an AbortSignal that fires when the
 * task is cancelled or times out (TASK-11, TASK-14), report progress, and turn a thrown error into
 * a coded failure that keeps a service's own code (TASK-15).
 */
import type { EventObject } from 'xstate';
import { directCallback } from '../machines/host/directCallback.js';
import { describeIssues } from '../machines/codec.js';
import { internalFailure, isWellFormedCode, ProtocolError } from '../machines/errors.js';
import { v4 as uuid } from 'uuid';
import type { TaskFailure } from '../machines/outcome.js';
import type { HandlerEvent, HandlerInput, HandlerLogic } from '../machines/providerTask.js';
import type { Logger, OperationContext, OperationDefinition, ServiceDefinition } from './service.js';

/**
 * A thrown value as a failure: its own code when it has a well-formed one, else INTERNAL_ERROR
 * with a generic message naming `errorId` (SEC-11: the error's own text may hold secrets; the
 * caller logs the cause with that id). Node's system errors (ENOENT, EACCES: they carry
 * `syscall`) are internals that leaked out of the operation, not a service's answer, so they
 * become INTERNAL_ERROR too.
 */
export function failureOf(thrown: unknown, errorId?: string): TaskFailure {
  const candidate = thrown as { code?: unknown; message?: unknown; details?: unknown; syscall?: unknown } | undefined;
  const code = candidate?.code;
  if (!isWellFormedCode(code) || code === 'INTERNAL_ERROR' || candidate?.syscall !== undefined) return internalFailure(errorId);
  const message = typeof candidate?.message === 'string' ? candidate.message : code;
  const details = typeof candidate?.details === 'string' ? candidate.details : undefined;
  return details === undefined ? { code, message } : { code, message, details };
}

const silent: Logger = () => {};

const cancelReason = () => new ProtocolError('CANCELLED', 'The task was cancelled or its deadline passed.');

/**
 * One run of an operation, and the context the operation gets. A class, so that an in-flight
 * task costs one small object: an object literal with a getter (`get signal()`) is kept in
 * dictionary mode by V8 (about 0.45 KB per task), and every closure made per task is another
 * 56 bytes. `progress` and `log` are made on first use, so destructuring still works.
 */
class OperationRun implements OperationContext {
  finished = false;
  cancelled = false;
  private controller: AbortController | undefined;
  private progressFn: OperationContext['progress'] | undefined;
  private logFn: Logger | undefined;

  constructor(
    private readonly input: HandlerInput,
    private readonly sendBack: (event: HandlerEvent) => void,
    private readonly baseLog: Logger,
    private readonly newId: () => string,
  ) {}

  get taskId(): string {
    return this.input.taskId;
  }

  get clientId(): string {
    return this.input.clientId;
  }

  /** The AbortController is made only if the operation looks at ctx.signal (0.8 KB per task otherwise). */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.cancelled) this.controller.abort(cancelReason());
    }
    return this.controller.signal;
  }

  get progress(): OperationContext['progress'] {
    return (this.progressFn ??= (percent, message, etaSeconds) => {
      if (this.cancelled || !Number.isFinite(percent)) return;
      this.report({ type: 'handler.progress', progressPercentage: percent, message, estimatedTimeRemainingSeconds: etaSeconds });
    });
  }

  /** Task files are given to operations that declare them (runtime/files/providerFiles.ts); not here. */
  get files(): OperationContext['files'] {
    throw new Error(`${this.input.serviceName}.${this.input.operation} declares no task files (taskFile() in its params or result)`);
  }

  get log(): Logger {
    const { input } = this;
    return (this.logFn ??= (level, message, detail) => this.baseLog(level, `[${input.serviceName}.${input.operation} ${input.taskId}] ${message}`, detail));
  }

  report(event: HandlerEvent): void {
    if (!this.finished) this.sendBack(event);
  }

  /**
   * Runs the operation after the current callback returns (a synchronous throw is a failure too).
   * Its promise is followed directly (one reaction), not through a promise chain of our own: a
   * chain would keep two more promises and their resolving functions per in-flight task.
   */
  execute(operation: OperationDefinition, params: unknown): void {
    queueMicrotask(() => {
      let result: unknown;
      try {
        result = operation.run(params as never, this);
      } catch (thrown) {
        this.failed(thrown);
        return;
      }
      this.follow(result);
    });
  }

  /** Waits for the operation's result: the two reactions hold this run only (not the params). */
  private follow(result: unknown): void {
    // A native promise settles with a plain value; anything else (a value, another thenable)
    // goes through Promise.resolve, which adopts a thenable as a promise chain does.
    const settled = result instanceof Promise ? result : Promise.resolve(result);
    settled.then(
      (resultData: unknown) => this.done(resultData),
      (thrown: unknown) => this.failed(thrown),
    );
  }

  private done(resultData: unknown): void {
    // Mark the operation finished BEFORE reporting: the report ends the task synchronously,
    // which stops this handler, and stop() must not abort a finished operation.
    if (this.finished) return;
    this.finished = true;
    this.sendBack({ type: 'handler.done', resultData: resultData ?? null });
  }

  private failed(thrown: unknown): void {
    if (this.finished) return;
    this.finished = true;
    const failure = failureOf(thrown, this.newId());
    const ids = { taskId: this.input.taskId, clientId: this.input.clientId };
    // SEC-11: the client sees only the code (and the errorId); the cause stays in the log.
    if (failure.errorId === undefined) this.log('info', `operation failed: ${failure.code}`, ids);
    else this.log('error', `operation threw (errorId ${failure.errorId})`, { ...ids, errorId: failure.errorId, error: thrown });
    this.sendBack({ type: 'handler.failed', error: failure });
  }

  stop(): void {
    if (this.finished) return;
    this.finished = true;
    this.cancelled = true;
    this.controller?.abort(cancelReason());
  }
}

export function createServiceHandler(services: readonly ServiceDefinition[], log: Logger = silent, newId: () => string = uuid): HandlerLogic {
  const byName = new Map(services.map((service) => [service.name, service]));
  // A direct callback: the registry can run it without an actor per task (machines/host/directCallback.ts).
  return directCallback<EventObject, HandlerInput>(({ input, sendBack }) => {
    const run = new OperationRun(input, sendBack as (event: HandlerEvent) => void, log, newId);
    // The operation name is wire data: an own property only (`constructor` is not an operation).
    const operations = byName.get(input.serviceName)?.operations as Readonly<Record<string, OperationDefinition>> | undefined;
    const operation = operations !== undefined && Object.hasOwn(operations, input.operation) ? operations[input.operation] : undefined;
    if (operation === undefined) {
      run.report({ type: 'handler.failed', error: new ProtocolError('UNKNOWN_OPERATION').toShape() });
      return;
    }
    const parsed = operation.params.safeParse(input.params);
    if (!parsed.success) {
      const details = describeIssues(parsed.error);
      run.report({ type: 'handler.failed', error: { code: 'INVALID_PARAMETERS', message: `invalid parameters: ${details}`, details } });
      return;
    }
    run.execute(operation, parsed.data);
    return () => run.stop();
  }) as unknown as HandlerLogic;
}
