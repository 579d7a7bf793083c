/**
 * Per-task logs and OpenTelemetry spans, on both sides, all carrying the task's correlation id
 * (`clientId/taskId`). Spans use @opentelemetry/api only: without an SDK registered by the
 * application they are no-ops; with one, each task is a span (`switchboard.client.task`,
 * `switchboard.provider.task`) and an operation's own spans nest under the provider's.
 *
 * @opentelemetry/api is an optional peer dependency (adapters/optionalPeer.ts): an application
 * that uses OpenTelemetry has it installed, and then it is used; without it there are no spans
 * (nothing could have registered an SDK), unless spans were asked for (`tracing: true` or a
 * tracer), which then throws a MissingPeerError saying what to install.
 */
import type { Span, Tracer } from '@opentelemetry/api';
import { MissingPeerError, requirePeer } from '../../adapters/optionalPeer.js';
import type { TaskOutcome } from '../../machines/outcome.js';
import type { Logger, OperationContext, OperationDefinition, ServiceDefinition } from '../service.js';
import { correlationIdOf, withFields } from './logger.js';

export const TRACER_NAME = 'switchboard';

export interface TelemetryOptions {
  readonly log: Logger;
  /** false: no spans at all. @default the global tracer provider's `switchboard` tracer */
  readonly tracing?: boolean | Tracer;
}

type OtelApi = typeof import('@opentelemetry/api');

const OTEL_API = '@opentelemetry/api';

/** The API and the tracer spans go to, or undefined for no spans. */
function tracingOf(tracing: TelemetryOptions['tracing']): { readonly api: OtelApi; readonly tracer: Tracer } | undefined {
  if (tracing === false) return undefined;
  let api: OtelApi;
  try {
    api = requirePeer<OtelApi>(OTEL_API, 'tracing');
  } catch (error) {
    if (tracing === undefined && error instanceof MissingPeerError) return undefined;
    throw error;
  }
  return { api, tracer: tracing === undefined || tracing === true ? api.trace.getTracer(TRACER_NAME) : tracing };
}

function endSpan(api: OtelApi, span: Span, outcome: TaskOutcome): void {
  span.setAttribute('switchboard.task.status', outcome.status);
  if (outcome.status === 'Failed') {
    span.setAttribute('switchboard.error.code', outcome.error.code);
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: `${outcome.error.code}: ${outcome.error.message}` });
  }
  span.end();
}

const outcomeFields = (outcome: TaskOutcome) =>
  outcome.status === 'Failed' ? { status: outcome.status, errorCode: outcome.error.code, errorMessage: outcome.error.message } : { status: outcome.status };

/** The client side: called by createClient as its tasks are assigned, submitted and settled. */
export function clientTaskTelemetry(clientId: string, options: TelemetryOptions) {
  const tracing = tracingOf(options.tracing);
  const spans = new Map<string, Span>();
  const ids = (taskId: string) => ({ side: 'client', taskId, clientId, correlationId: correlationIdOf(clientId, taskId) });
  return {
    assigned(taskId: string, serviceName: string, operation: string): void {
      options.log('debug', 'task assigned', { ...ids(taskId), serviceName, operation });
      if (tracing === undefined) return;
      spans.get(taskId)?.end();
      spans.set(
        taskId,
        tracing.tracer.startSpan(`switchboard.client.task ${serviceName}.${operation}`, {
          kind: tracing.api.SpanKind.CLIENT,
          attributes: { 'switchboard.task.id': taskId, 'switchboard.client.id': clientId, 'switchboard.correlation_id': correlationIdOf(clientId, taskId), 'switchboard.service': serviceName, 'switchboard.operation': operation },
        }),
      );
    },
    submitted(taskId: string, serviceId: string, endpoint: string): void {
      options.log('debug', 'task submitted', { ...ids(taskId), serviceId, endpoint });
      spans.get(taskId)?.addEvent('submitted', { 'switchboard.service.id': serviceId, 'switchboard.endpoint': endpoint });
    },
    settled(taskId: string, outcome: TaskOutcome): void {
      options.log(outcome.status === 'Failed' ? 'warn' : 'info', 'task settled', { ...ids(taskId), ...outcomeFields(outcome) });
      const span = spans.get(taskId);
      if (span === undefined || tracing === undefined) return;
      spans.delete(taskId);
      endSpan(tracing.api, span, outcome);
    },
  };
}

/** What a provider task's log lines say of where it runs: one object per operation, shared by its tasks. */
interface OperationFields {
  readonly providerId: string;
  readonly serviceName: string;
  readonly operation: string;
}

/**
 * An operation's context with the task's own log; every other field read from the runtime's
 * context. The log (a closure and its fields) is made on first use: an in-flight task that never
 * logs costs one small object here.
 */
class TracedContext implements OperationContext {
  #log: Logger | undefined;

  constructor(
    private readonly inner: OperationContext,
    private readonly base: Logger,
    private readonly where: OperationFields,
  ) {}

  /** The fields of every line about this task. */
  fields(): Record<string, unknown> {
    const { taskId, clientId } = this.inner;
    const { providerId, serviceName, operation } = this.where;
    return { side: 'provider', providerId, taskId, clientId, correlationId: correlationIdOf(clientId, taskId), serviceName, operation };
  }

  get log(): Logger {
    return (this.#log ??= withFields(this.base, this.fields()));
  }

  get taskId(): string {
    return this.inner.taskId;
  }

  get clientId(): string {
    return this.inner.clientId;
  }

  get signal(): AbortSignal {
    return this.inner.signal;
  }

  get progress(): OperationContext['progress'] {
    return this.inner.progress;
  }

  get files(): OperationContext['files'] {
    return this.inner.files;
  }
}

/**
 * The provider side: each operation runs inside a span, with a log that carries the task's ids;
 * the span ends, and the task's line is logged, when the provider settles the task (the outcome
 * it sent, whatever the operation did after).
 */
export function providerTaskTelemetry(providerId: string, options: TelemetryOptions) {
  const tracing = tracingOf(options.tracing);
  const spans = new Map<string, Span>();
  const wrap = (service: ServiceDefinition): ServiceDefinition => {
    const operations = Object.fromEntries(
      Object.entries(service.operations as Record<string, OperationDefinition>).map(([operation, definition]) => {
        const where: OperationFields = { providerId, serviceName: service.name, operation };
        return [
          operation,
          {
            ...definition,
            run: (params: unknown, context: OperationContext) => {
              // Every field of the context as it is (read through, so getters stay getters), with the task's log.
              const traced = new TracedContext(context, options.log, where);
              options.log('debug', 'task started', traced.fields());
              if (tracing === undefined) return definition.run(params, traced);
              const { api, tracer } = tracing;
              const correlationId = correlationIdOf(context.clientId, context.taskId);
              const span = tracer.startSpan(`switchboard.provider.task ${service.name}.${operation}`, {
                kind: api.SpanKind.SERVER,
                attributes: {
                  'switchboard.task.id': context.taskId,
                  'switchboard.client.id': context.clientId,
                  'switchboard.correlation_id': correlationId,
                  'switchboard.service': service.name,
                  'switchboard.operation': operation,
                  'switchboard.provider.id': providerId,
                },
              });
              // A span that records nothing (no SDK registered, or not sampled) has nothing to end:
              // it is not kept while the task runs (it is still the operation's parent, for sampling).
              if (span.isRecording()) spans.set(correlationId, span);
              return api.context.with(api.trace.setSpan(api.context.active(), span), () => definition.run(params, traced));
            },
          },
        ];
      }),
    );
    return { ...service, operations } as ServiceDefinition;
  };
  return {
    wrap,
    settled(event: { clientId: string; taskId: string; outcome: TaskOutcome }): void {
      const correlationId = correlationIdOf(event.clientId, event.taskId);
      options.log(event.outcome.status === 'Failed' ? 'warn' : 'info', 'task settled', {
        side: 'provider',
        providerId,
        taskId: event.taskId,
        clientId: event.clientId,
        correlationId,
        ...outcomeFields(event.outcome),
      });
      const span = spans.get(correlationId);
      if (span === undefined || tracing === undefined) return;
      spans.delete(correlationId);
      endSpan(tracing.api, span, event.outcome);
    },
  };
}
