/**
 * Logs and traces (runtime/logging): JSON lines with timestamps, one correlation id per task
 * (`clientId/taskId`) in the client's and the provider's logs, and OpenTelemetry spans through
 * @opentelemetry/api only (a recording tracer provider stands in for an SDK here).
 */
import { context as otelContext, ROOT_CONTEXT, trace, type Context, type ContextManager, type Span, type SpanOptions, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createLogger, fieldsOf, withFields } from '../runtime/logging/logger.js';
import { createProvider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import type { Logger } from '../runtime/service.js';
import { observedNetwork, runFor } from './support/observedNetwork.js';

interface Line {
  readonly time: string;
  readonly level: string;
  readonly message: string;
  readonly [field: string]: unknown;
}

function jsonSink(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log = createLogger({ format: 'json', level: 'debug', stream: { write: (chunk: string) => lines.push(JSON.parse(chunk) as Line) } });
  return { log, lines };
}

describe('createLogger', () => {
  it('writes one JSON object per line with an ISO timestamp, the level, the message and the detail as fields', () => {
    const written: string[] = [];
    const log = createLogger({ format: 'json', level: 'info', stream: { write: (chunk: string) => written.push(chunk) }, now: () => new Date('2026-12-03T10:00:00.000Z'), fields: { providerId: 'p-1' } });
    log('debug', 'dropped: below the level');
    log('info', 'task settled', { taskId: 't-1', clientId: 'c-1', status: 'Completed' });
    log('error', 'failed', Object.assign(new Error('boom'), { code: 'E_BOOM' }));
    expect(written).toHaveLength(2);
    expect(written.every((line) => line.endsWith('\n'))).toBe(true);
    expect(JSON.parse(written[0] as string)).toEqual({
      time: '2026-12-03T10:00:00.000Z',
      level: 'info',
      message: 'task settled',
      providerId: 'p-1',
      taskId: 't-1',
      clientId: 'c-1',
      correlationId: 'c-1/t-1',
      status: 'Completed',
    });
    expect(JSON.parse(written[1] as string)).toMatchObject({ level: 'error', error: { name: 'Error', message: 'boom', code: 'E_BOOM' } });
  });

  it('text lines carry the timestamp, the level and the fields', () => {
    const written: string[] = [];
    const log = createLogger({ format: 'text', stream: { write: (chunk: string) => written.push(chunk) }, now: () => new Date('2026-12-03T10:00:00.000Z') });
    log('warn', 'slow', { taskId: 't', clientId: 'c', note: 'two words' });
    expect(written[0]).toBe('2026-12-03T10:00:00.000Z [warn] slow taskId=t clientId=c note="two words" correlationId=c/t\n');
  });

  it('keeps reserved keys from being overwritten and survives values JSON cannot write', () => {
    expect(fieldsOf({ time: 'x', message: 'y', level: 'z' })).toEqual({ 'detail.time': 'x', 'detail.message': 'y', 'detail.level': 'z' });
    const written: string[] = [];
    const log = createLogger({ format: 'json', stream: { write: (chunk: string) => written.push(chunk) } });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    log('info', 'odd', { big: 10n, circular });
    expect(() => JSON.parse(written[0] as string)).not.toThrow();
  });

  it('withFields adds a task ids to every line of an operation', () => {
    const { log, lines } = jsonSink();
    withFields(log, { taskId: 't', clientId: 'c' })('info', 'step', { n: 1 });
    expect(lines[0]).toMatchObject({ message: 'step', n: 1, correlationId: 'c/t' });
  });
});

describe('one correlation id per task, across client and provider', () => {
  it('every line about a task, on both sides, carries taskId, clientId and clientId/taskId', async () => {
    const client = jsonSink();
    const provider = jsonSink();
    const world = observedNetwork(31, { provider: { log: provider.log, tracing: false }, client: { log: client.log, tracing: false } });
    void world.provider.start();
    await runFor(world.net, 100);
    const task = world.client.assign('Echo', 'say', { text: 'hello' }, { taskId: 'task-7' });
    const failing = world.client.assign('Echo', 'fail', {}, { taskId: 'task-8' });
    await runFor(world.net, 200);
    await task.result;
    await failing.result.catch(() => undefined);
    const about = (lines: Line[], taskId: string) => lines.filter((line) => line.taskId === taskId);
    for (const [side, lines] of [['client', client.lines], ['provider', provider.lines]] as const) {
      for (const taskId of ['task-7', 'task-8']) {
        const lines_ = about(lines, taskId);
        expect(lines_.length, `${side} ${taskId}`).toBeGreaterThan(0);
        for (const line of lines_) expect(line).toMatchObject({ clientId: 'client-a', correlationId: `client-a/${taskId}` });
        expect(lines_.every((line) => !Number.isNaN(Date.parse(line.time)))).toBe(true);
      }
    }
    // The operation's own log line (ctx.log) carries the ids without the operation naming them.
    expect(provider.lines.find((line) => line.message === 'saying')).toMatchObject({ correlationId: 'client-a/task-7', length: 5, serviceName: 'Echo', operation: 'say' });
    expect(provider.lines.find((line) => line.message === 'task settled' && line.taskId === 'task-8')).toMatchObject({ level: 'warn', status: 'Failed', errorCode: 'NOTHING_TO_SAY' });
    expect(client.lines.find((line) => line.message === 'task settled' && line.taskId === 'task-7')).toMatchObject({ level: 'info', status: 'Completed' });
  });
});

// ---- a recording tracer provider (what an OpenTelemetry SDK would be) -----------------------

interface RecordedSpan {
  readonly name: string;
  readonly attributes: Record<string, unknown>;
  readonly events: string[];
  status: { code: number; message?: string } | undefined;
  ended: boolean;
  readonly parent: RecordedSpan | undefined;
}

const recorded: RecordedSpan[] = [];
const SPAN = Symbol('span');

/** A synchronous context manager: enough for spans active while `run` starts. */
class StackContextManager implements ContextManager {
  private current: Context = ROOT_CONTEXT;
  active(): Context {
    return this.current;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const previous = this.current;
    this.current = context;
    try {
      return fn.call(thisArg as never, ...args);
    } finally {
      this.current = previous;
    }
  }
  bind<T>(_context: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

const tracer: Tracer = {
  startSpan(name: string, options: SpanOptions = {}, context?: Context): Span {
    const parentSpan = trace.getSpan(context ?? otelContext.active()) as (Span & { [SPAN]?: RecordedSpan }) | undefined;
    const record: RecordedSpan = { name, attributes: { ...options.attributes }, events: [], status: undefined, ended: false, parent: parentSpan?.[SPAN] };
    recorded.push(record);
    const span = {
      [SPAN]: record,
      spanContext: () => ({ traceId: '0'.repeat(31) + '1', spanId: String(recorded.length).padStart(16, '0'), traceFlags: 1 }),
      setAttribute: (key: string, value: unknown) => ((record.attributes[key] = value), span),
      setAttributes: (attributes: Record<string, unknown>) => (Object.assign(record.attributes, attributes), span),
      addEvent: (event: string) => (record.events.push(event), span),
      addLink: () => span,
      addLinks: () => span,
      setStatus: (status: { code: number; message?: string }) => ((record.status = status), span),
      updateName: () => span,
      end: () => void (record.ended = true),
      isRecording: () => true,
      recordException: () => undefined,
    };
    return span as unknown as Span;
  },
  startActiveSpan: (() => {
    throw new Error('not used');
  }) as never,
};

describe('OpenTelemetry spans (API only)', () => {
  const provider: TracerProvider = { getTracer: () => tracer };
  trace.setGlobalTracerProvider(provider);
  otelContext.setGlobalContextManager(new StackContextManager());
  afterAll(() => {
    trace.disable();
    otelContext.disable();
  });

  it('one span per task on each side, with the correlation id and the outcome', async () => {
    const world = observedNetwork(32);
    void world.provider.start();
    await runFor(world.net, 100);
    recorded.length = 0;
    const task = world.client.assign('Echo', 'say', { text: 'hi' }, { taskId: 'span-1' });
    const failing = world.client.assign('Echo', 'fail', {}, { taskId: 'span-2' });
    await runFor(world.net, 200);
    await task.result;
    await failing.result.catch(() => undefined);
    const clientSpan = recorded.find((span) => span.name === 'switchboard.client.task Echo.say');
    const providerSpan = recorded.find((span) => span.name === 'switchboard.provider.task Echo.say');
    expect(clientSpan).toMatchObject({ ended: true, attributes: { 'switchboard.correlation_id': 'client-a/span-1', 'switchboard.task.status': 'Completed' } });
    expect(clientSpan?.events).toContain('submitted');
    expect(providerSpan).toMatchObject({ ended: true, attributes: { 'switchboard.correlation_id': 'client-a/span-1', 'switchboard.provider.id': 'provider-1', 'switchboard.task.status': 'Completed' } });
    const failed = recorded.find((span) => span.name === 'switchboard.provider.task Echo.fail');
    expect(failed).toMatchObject({ ended: true, status: { code: 2 }, attributes: { 'switchboard.error.code': 'NOTHING_TO_SAY' } });
    expect(recorded.find((span) => span.name === 'switchboard.client.task Echo.fail')?.status?.code).toBe(2);
  });

  it("an operation's own spans nest under the provider's task span", async () => {
    const traced = defineService({
      name: 'Traced',
      version: '1.0.0',
      operations: {
        work: {
          params: z.object({}),
          run: () => {
            trace.getTracer('application').startSpan('application work').end();
            return { done: true };
          },
        },
      },
    });
    const world = observedNetwork(33);
    const provider = createProvider({ services: [traced], network: world.net.host('10.0.0.3'), clock: world.clock, port: 8080, heartbeatIntervalMs: 1_000, log: () => {} });
    void provider.start();
    await runFor(world.net, 100);
    recorded.length = 0;
    const task = world.client.assign('Traced', 'work', {});
    await runFor(world.net, 200);
    await task.result;
    const work = recorded.find((span) => span.name === 'application work');
    expect(work?.parent?.name).toBe('switchboard.provider.task Traced.work');
  });

  it('tracing: false creates no span', async () => {
    const world = observedNetwork(34, { provider: { tracing: false }, client: { tracing: false } });
    void world.provider.start();
    await runFor(world.net, 100);
    recorded.length = 0;
    const task = world.client.assign('Echo', 'say', { text: 'x' });
    await runFor(world.net, 200);
    await task.result;
    expect(recorded).toHaveLength(0);
  });
});
