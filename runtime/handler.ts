/**
 * The provider task's `handler` effect, built from service definitions: validate the parameters
 * with the operation's schema (TASK-6), run the operation with an AbortSignal that fires when the
 * task is cancelled or times out (TASK-11, TASK-14), report progress, and turn a thrown error into
 * a coded failure that keeps a service's own code (TASK-15).
 */
import { fromCallback, type EventObject } from 'xstate';
import { describeIssues } from '../machines/codec.js';
import { internalFailure, isWellFormedCode, ProtocolError } from '../machines/errors.js';
import { v4 as uuid } from 'uuid';
import type { TaskFailure } from '../machines/outcome.js';
import type { HandlerEvent, HandlerInput, HandlerLogic } from '../machines/providerTask.js';
import type { Logger, OperationDefinition, ServiceDefinition } from './service.js';

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

export function createServiceHandler(services: readonly ServiceDefinition[], log: Logger = silent, newId: () => string = uuid): HandlerLogic {
  const byName = new Map(services.map((service) => [service.name, service]));
  return fromCallback<EventObject, HandlerInput>(({ input, sendBack }) => {
    let finished = false;
    const report = (event: HandlerEvent) => {
      if (!finished) sendBack(event);
    };
    // The operation name is wire data: an own property only (`constructor` is not an operation).
    const operations = byName.get(input.serviceName)?.operations as Readonly<Record<string, OperationDefinition>> | undefined;
    const operation = operations !== undefined && Object.hasOwn(operations, input.operation) ? operations[input.operation] : undefined;
    if (operation === undefined) {
      report({ type: 'handler.failed', error: new ProtocolError('UNKNOWN_OPERATION').toShape() });
      return;
    }
    const parsed = operation.params.safeParse(input.params);
    if (!parsed.success) {
      const details = describeIssues(parsed.error);
      report({ type: 'handler.failed', error: { code: 'INVALID_PARAMETERS', message: `invalid parameters: ${details}`, details } });
      return;
    }
    // The AbortController is made only if the operation looks at ctx.signal: most quick
    // operations never do, and a controller with its signal is about 0.8 KB per in-flight task.
    let controller: AbortController | undefined;
    let cancelled = false;
    const cancelReason = () => new ProtocolError('CANCELLED', 'The task was cancelled or its deadline passed.');
    const signal = (): AbortSignal => {
      if (controller === undefined) {
        controller = new AbortController();
        if (cancelled) controller.abort(cancelReason());
      }
      return controller.signal;
    };
    const taskLog: Logger = (level, message, detail) =>
      log(level, `[${input.serviceName}.${input.operation} ${input.taskId}] ${message}`, detail);
    const context = {
      taskId: input.taskId,
      clientId: input.clientId,
      get signal() {
        return signal();
      },
      log: taskLog,
      progress(percent: number, message?: string, etaSeconds?: number) {
        if (cancelled || !Number.isFinite(percent)) return;
        report({ type: 'handler.progress', progressPercentage: percent, message, estimatedTimeRemainingSeconds: etaSeconds });
      },
    };
    // The operation runs after this callback returns, so a synchronous throw is a failure too.
    Promise.resolve()
      .then(() => operation.run(parsed.data, context))
      .then(
        (resultData) => {
          // Mark the operation finished BEFORE reporting: the report ends the task synchronously,
          // which stops this actor, and the cleanup below must not abort a finished operation.
          if (finished) return;
          finished = true;
          sendBack({ type: 'handler.done', resultData: resultData ?? null });
        },
        (thrown: unknown) => {
          if (finished) return;
          finished = true;
          const failure = failureOf(thrown, newId());
          const ids = { taskId: input.taskId, clientId: input.clientId };
          // SEC-11: the client sees only the code (and the errorId); the cause stays in the log.
          if (failure.errorId === undefined) taskLog('info', `operation failed: ${failure.code}`, ids);
          else taskLog('error', `operation threw (errorId ${failure.errorId})`, { ...ids, errorId: failure.errorId, error: thrown });
          sendBack({ type: 'handler.failed', error: failure });
        },
      );
    return () => {
      if (!finished) {
        finished = true;
        cancelled = true;
        controller?.abort(cancelReason());
      }
    };
  }) as unknown as HandlerLogic;
}
