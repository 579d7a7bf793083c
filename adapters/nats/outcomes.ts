/**
 * Durable outcomes (optional, JetStream): a provider on NATS keeps each task's final message in a
 * JetStream key-value bucket, so a client that comes back after the provider restarted (same
 * listener name, so the same endpoint) gets its result instead of TASK_NOT_FOUND.
 *
 * - Written: every outcome the provider settles (the runtime calls `record` on `task.settled`,
 *   whether or not the client was connected), key = sha256(clientId, taskId), one revision kept,
 *   expiring after `ttlMs`. The write is asynchronous: an outcome is durable once JetStream has
 *   acknowledged it, a millisecond or so after settling; a crash inside that window loses it.
 * - Read: only where the provider itself answers TASK_NOT_FOUND to a GetResult or GetStatus (its
 *   ledger has no such task, e.g. after a restart): the provider-side transport looks the key up
 *   and sends the stored TaskResult / TaskFailed instead, else the Error as it was. The session
 *   already checked that the asker acts for that clientId (CONN-9), exactly as for the ledger.
 * Docs: docs/nats.md, "Delivery semantics".
 */
import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { WireDraft, WireMessage } from '../../machines/messages.js';
import type { TaskOutcome } from '../../machines/outcome.js';
import { messageOf, type NatsLink } from './link.js';
import { natsKv } from './natsPackages.js';

export interface DurableOutcomeOptions {
  /** How long an outcome is kept. @default 86_400_000 (a day) */
  readonly ttlMs?: number;
  /** Bucket name. @default `<subjectPrefix with . as _>_outcomes` */
  readonly bucket?: string;
}

/** Queries being answered, to recognise the TASK_NOT_FOUND that answers one; beyond it the oldest goes. */
const QUERIES_MAX = 4_096;

/** The final message of an outcome, as the provider sends it (TASK-10, TASK-11). */
export function finalDraft(clientId: string, taskId: string, outcome: TaskOutcome): WireDraft {
  if (outcome.status === 'Completed') {
    return { type: 'TaskResult', payload: { taskId, status: 'Completed', resultData: outcome.resultData ?? null, originalClientId: clientId } };
  }
  const failure = outcome.status === 'Cancelled' ? { code: 'CANCELLED', message: 'The task was cancelled.' } : outcome.error;
  return {
    type: 'TaskFailed',
    payload: {
      taskId,
      status: outcome.status === 'Cancelled' ? 'Cancelled' : 'Failed',
      errorCode: failure.code,
      errorMessage: failure.message,
      ...('details' in failure && failure.details !== undefined ? { details: failure.details } : {}),
      originalClientId: clientId,
    },
  };
}

export class NatsOutcomeStore {
  readonly #link: NatsLink;
  readonly #bucket: string;
  readonly #ttlMs: number;
  #kv: Promise<KV> | undefined;
  /** The connection #kv is bound to (a new one after NATS closed for good needs a new binding). */
  #kvConnection: NatsConnection | undefined;
  /** messageId of a GetResult/GetStatus -> whose task it asked about. */
  readonly #queries = new Map<string, { readonly clientId: string; readonly taskId: string }>();
  /** Writes not yet acknowledged (a graceful stop may wait for them). */
  readonly #pending = new Set<Promise<void>>();

  constructor(link: NatsLink, options: DurableOutcomeOptions) {
    this.#link = link;
    this.#bucket = options.bucket ?? `${link.config.prefix.replaceAll('.', '_')}_outcomes`;
    this.#ttlMs = options.ttlMs ?? 86_400_000;
  }

  /** Persists one settled outcome (fire and forget; failures are logged and counted). */
  record(clientId: string, taskId: string, outcome: TaskOutcome): void {
    const write = this.#write(clientId, taskId, finalDraft(clientId, taskId, outcome));
    this.#pending.add(write);
    void write.finally(() => this.#pending.delete(write));
  }

  /** Resolves once every write started so far was acknowledged or failed. */
  async flushed(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  async lookup(clientId: string, taskId: string): Promise<WireDraft | undefined> {
    try {
      const kv = await this.#store();
      const entry = await kv?.get(keyOf(clientId, taskId));
      if (entry === null || entry === undefined || entry.operation !== 'PUT') return undefined;
      return (entry.json() as { draft: WireDraft }).draft;
    } catch (error) {
      this.#link.config.log('warn', `nats: durable outcome lookup failed: ${messageOf(error)}`);
      return undefined;
    }
  }

  /**
   * The provider-side transport's hook: notes queries on the way in; on the way out, holds back a
   * TASK_NOT_FOUND that answers one and sends the stored outcome instead, when there is one.
   * Returns true when it took the message (it sends, later, through `send`).
   */
  readonly interceptor = {
    inbound: (message: WireMessage): void => {
      if (message.type !== 'GetResult' && message.type !== 'GetStatus') return;
      // A query naming no client (TASK-12) is answered from the ledger only: whose stored outcome it may read is not known here.
      const clientId = message.payload.originalClientId;
      if (clientId === undefined) return;
      if (this.#queries.size >= QUERIES_MAX) {
        const oldest = this.#queries.keys().next().value;
        if (oldest !== undefined) this.#queries.delete(oldest);
      }
      this.#queries.set(message.messageId, { clientId, taskId: message.payload.taskId });
    },
    outbound: (message: WireMessage, send: (draft: WireDraft) => void): boolean => {
      if (message.type !== 'Error') return false;
      const relatesTo = message.payload.relatesTo;
      const query = relatesTo === undefined ? undefined : this.#queries.get(relatesTo);
      if (relatesTo !== undefined) this.#queries.delete(relatesTo);
      if (query === undefined || message.payload.code !== 'TASK_NOT_FOUND') return false;
      const { timestamp: _timestamp, ...asIs } = message;
      void this.lookup(query.clientId, query.taskId).then((stored) => send(stored ?? (asIs as WireDraft)));
      return true;
    },
  };

  async #write(clientId: string, taskId: string, draft: WireDraft): Promise<void> {
    try {
      const kv = await this.#store();
      if (kv === undefined) return;
      await kv.put(keyOf(clientId, taskId), JSON.stringify({ clientId, taskId, draft }));
    } catch (error) {
      this.#link.config.metrics.connectionErrors++;
      this.#link.config.log('warn', `nats: durable outcome of ${taskId} not stored: ${messageOf(error)}`, { taskId, clientId });
    }
  }

  /** The bucket (created on first use), or undefined while there is no NATS connection. */
  async #store(): Promise<KV | undefined> {
    const nc = this.#link.connection;
    if (nc === undefined) return undefined;
    if (this.#kvConnection !== nc) {
      this.#kvConnection = nc;
      this.#kv = undefined;
    }
    this.#kv ??= natsKv()
      .then(({ Kvm }) => new Kvm(nc).create(this.#bucket, { ttl: this.#ttlMs, history: 1 }))
      .catch((error: unknown) => {
        this.#kv = undefined;
        throw error;
      });
    return this.#kv;
  }
}

function keyOf(clientId: string, taskId: string): string {
  return createHash('sha256').update(JSON.stringify([clientId, taskId])).digest('hex');
}
