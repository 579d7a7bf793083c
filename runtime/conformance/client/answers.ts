/**
 * How the scripted provider answers, per scenario: a tiny ledger of the client's tasks and the
 * policies that decide what each client message gets.
 *
 * - `complete`: Ack, TaskStatusUpdate Processing 0, then 50, then TaskResult (mark `result-sent`).
 * - `hold`: Ack and TaskStatusUpdate Processing 10; the task never finishes by itself.
 * - `withhold`: nothing at all, no Ack, no task message, no Error (TASK-3).
 * - `unknown`: before the Ack, an unknown message type and an Error about nothing; the Ack and the
 *   update carry unknown fields (WIRE-5); the task never finishes by itself.
 * - `seedAck`: only an Ack in the seed's form (`acknowledgmentId` alone); then nothing.
 * - `noAck`: no Ack, a TaskStatusUpdate Processing with the seed's fields only (a provider without
 *   acknowledgments, as the seed allows); then nothing.
 *
 * Whatever the policy (except `withhold`), a duplicate AssignTask gets Ack plus the task's state
 * (TASK-4), GetStatus and GetResult get the state or the final message (TASK-12), CancelTask gets
 * TaskFailed Cancelled or the final message again (TASK-11), an unknown task gets Error TASK_NOT_FOUND.
 */
import type { ProviderDraft } from '../../../machines/messages.js';
import { clientIdOf, messageIdOf, taskIdOf, typeOf } from './observe.js';
import type { Recorder } from './recorder.js';
import type { ScriptedProvider } from './scriptedProvider.js';

export type AnswerPolicy = 'complete' | 'hold' | 'withhold' | 'unknown' | 'seedAck' | 'noAck';

interface TaskEntry {
  readonly clientId: string;
  progress: number;
  final: ProviderDraft | undefined;
}

/** Unknown fields added to messages of the `unknown` policy (WIRE-5). */
export const UNKNOWN_FIELDS = { envelope: { conformanceExtension: { note: 'ignore me' } }, payload: { futureField: [1, 2, 3] } };

export class Answers {
  readonly #provider: ScriptedProvider;
  readonly #recorder: Recorder;
  readonly #tasks = new Map<string, TaskEntry>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  policy: AnswerPolicy;
  /** When set, GetStatus and GetResult for a running task complete it (the outcome reached meanwhile, CONN-6). */
  completeOnQuery = false;

  constructor(provider: ScriptedProvider, recorder: Recorder, policy: AnswerPolicy) {
    this.#provider = provider;
    this.#recorder = recorder;
    this.policy = policy;
    provider.onFrame = (connId, raw) => this.#answer(connId, raw);
  }

  /** Completes the task with a TaskResult now (mark `result-sent`); `seedFieldsOnly` leaves originalClientId out. */
  complete(connId: number, taskId: string, extra?: typeof UNKNOWN_FIELDS, seedFieldsOnly = false): void {
    const entry = this.#tasks.get(taskId);
    if (entry === undefined || entry.final !== undefined) return;
    entry.final = {
      type: 'TaskResult',
      payload: { taskId, status: 'Completed', resultData: { echo: 'conformance' }, ...(seedFieldsOnly ? {} : { originalClientId: entry.clientId }) },
    };
    this.#provider.send(connId, entry.final, extra);
    this.#recorder.mark('result-sent', taskId);
  }

  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      action();
    }, ms);
    this.#timers.add(timer);
  }

  #state(taskId: string, entry: TaskEntry): ProviderDraft {
    return (
      entry.final ?? {
        type: 'TaskStatusUpdate',
        payload: { taskId, status: 'Processing', progressPercentage: entry.progress, originalClientId: entry.clientId },
      }
    );
  }

  #answer(connId: number, raw: unknown): void {
    if (this.policy === 'withhold') return;
    const type = typeOf(raw);
    const taskId = taskIdOf(raw);
    const messageId = messageIdOf(raw);
    if (taskId === undefined || messageId === undefined) return;
    const entry = this.#tasks.get(taskId);
    switch (type) {
      case 'AssignTask': {
        if (entry === undefined) this.#accept(connId, taskId, messageId, clientIdOf(raw) ?? 'unknown-client');
        else {
          const status = entry.final === undefined ? 'Processing' : entry.final.type === 'TaskFailed' ? entry.final.payload.status : 'Completed';
          this.#provider.send(connId, { type: 'Ack', payload: { acknowledgmentId: messageId, taskId, status } });
          this.#provider.send(connId, this.#state(taskId, entry));
        }
        return;
      }
      case 'GetStatus':
      case 'GetResult':
        if (entry === undefined) return this.#notFound(connId, messageId, taskId);
        if (this.completeOnQuery && entry.final === undefined) return this.complete(connId, taskId);
        this.#provider.send(connId, this.#state(taskId, entry));
        return;
      case 'CancelTask':
        if (entry === undefined) return this.#notFound(connId, messageId, taskId);
        entry.final ??= {
          type: 'TaskFailed',
          payload: { taskId, status: 'Cancelled', errorCode: 'CANCELLED', errorMessage: 'The task was cancelled.', originalClientId: entry.clientId },
        };
        this.#provider.send(connId, entry.final);
        return;
      default:
        return;
    }
  }

  #notFound(connId: number, messageId: string, taskId: string): void {
    this.#provider.send(connId, { type: 'Error', payload: { code: 'TASK_NOT_FOUND', message: 'No such task.', relatesTo: messageId, taskId } });
  }

  #accept(connId: number, taskId: string, messageId: string, clientId: string): void {
    const entry: TaskEntry = { clientId, progress: 0, final: undefined };
    this.#tasks.set(taskId, entry);
    const ack: ProviderDraft = { type: 'Ack', payload: { acknowledgmentId: messageId, taskId, status: 'Processing' } };
    switch (this.policy) {
      case 'complete':
        this.#provider.send(connId, ack);
        this.#provider.send(connId, this.#state(taskId, entry));
        this.#later(100, () => {
          entry.progress = 50;
          this.#provider.send(connId, { type: 'TaskStatusUpdate', payload: { taskId, status: 'Processing', progressPercentage: 50, message: 'half way', originalClientId: clientId } });
        });
        this.#later(200, () => this.complete(connId, taskId));
        return;
      case 'hold':
        entry.progress = 10;
        this.#provider.send(connId, ack);
        this.#provider.send(connId, this.#state(taskId, entry));
        return;
      case 'unknown':
        entry.progress = 10;
        this.#provider.sendRaw(connId, {
          type: 'ConformanceUnknownType',
          messageId: `conformance-unknown-${taskId}`,
          timestamp: new Date().toISOString(),
          payload: { taskId, whatever: true },
        });
        this.#provider.send(connId, { type: 'Error', payload: { code: 'INTERNAL_ERROR', message: 'conformance probe: an Error about no message of yours' } });
        this.#provider.send(connId, ack, UNKNOWN_FIELDS);
        this.#provider.send(connId, this.#state(taskId, entry), UNKNOWN_FIELDS);
        this.#recorder.mark('junk-sent', taskId);
        return;
      case 'seedAck':
        entry.progress = 10;
        this.#provider.send(connId, { type: 'Ack', payload: { acknowledgmentId: messageId } });
        this.#recorder.mark('answered', taskId);
        return;
      case 'noAck':
        entry.progress = 10;
        this.#provider.send(connId, { type: 'TaskStatusUpdate', payload: { taskId, status: 'Processing', progressPercentage: 10 } });
        this.#recorder.mark('answered', taskId);
        return;
      case 'withhold':
        return;
    }
  }
}
