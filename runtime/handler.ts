/**
 * The provider task's `handler` effect, built from service definitions: validate the parameters
 * with the operation's schema (TASK-6), run the operation with an AbortSignal that fires when the
 * task is cancelled or times out (TASK-11, TASK-14), report progress, and turn a thrown error into
 * a coded failure that keeps a service's own code (TASK-15).
 */
import { fromCallback, type EventObject } from 'xstate';
import { describeIssues } from '../machines/codec.js';
import { ProtocolError } from '../machines/errors.js';
import type { TaskFailure } from '../machines/outcome.js';
import type { HandlerEvent, HandlerInput, HandlerLogic } from '../machines/providerTask.js';
import type { Logger, OperationDefinition, ServiceDefinition } from './service.js';

const SERVICE_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

/**
 * A thrown value as a failure: its own code when it has a well-formed one, else INTERNAL_ERROR.
 * Node's system errors (ENOENT, EACCES: they carry `syscall`) are internals that leaked out of
 * the operation, not a service's answer, so they become INTERNAL_ERROR too.
 */
export function failureOf(thrown: unknown): TaskFailure {
  const candidate = thrown as { code?: unknown; message?: unknown; details?: unknown; syscall?: unknown } | undefined;
  const message = typeof candidate?.message === 'string' ? candidate.message : String(thrown);
  const details = typeof candidate?.details === 'string' ? candidate.details : undefined;
  if (typeof candidate?.code === 'string' && SERVICE_CODE.test(candidate.code) && candidate.syscall === undefined) {
    return details === undefined ? { code: candidate.code, message } : { code: candidate.code, message, details };
  }
  return { code: 'INTERNAL_ERROR', message };
}

const silent: Logger = () => {};

export function createServiceHandler(services: readonly ServiceDefinition[], log: Logger = silent): HandlerLogic {
  const byName = new Map(services.map((service) => [service.name, service]));
  return fromCallback<EventObject, HandlerInput>(({ input, sendBack }) => {
    let finished = false;
    const report = (event: HandlerEvent) => {
      if (!finished) sendBack(event);
    };
    const operation = byName.get(input.serviceName)?.operations[input.operation] as OperationDefinition | undefined;
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
          taskLog('warn', 'operation failed', thrown);
          sendBack({ type: 'handler.failed', error: failureOf(thrown) });
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
