/**
 * The client connection's outbox (CONN-5) and inbound routing, as pure functions.
 *
 * The outbox holds the AssignTask and CancelTask drafts a connection's tasks have sent and the
 * provider has not answered yet, one entry per task (the latest draft wins: a CancelTask replaces
 * its task's unacknowledged AssignTask, so a reconnect does not assign a task only to cancel it).
 * Entries are kept in the order they were last sent, re-sent in that order after a reconnect, and
 * bounded by `outboxMax`: when full, the oldest entry is dropped (its task re-sends on its own
 * timer, TASK-3). GetStatus and GetResult are never kept: they are idempotent queries that tasks
 * ask again after a reconnect (CONN-6).
 */
import type { ClientDraft, ProviderMessage, WireMessage } from './messages.js';

/** The drafts an outbox keeps. */
export type OutboxDraft = Extract<ClientDraft, { type: 'AssignTask' | 'CancelTask' }>;

export interface OutboxEntry {
  readonly taskId: string;
  readonly draft: OutboxDraft;
}

/** Entries in the order they were last sent (oldest first). */
export type Outbox = readonly OutboxEntry[];

export function isOutboxDraft(draft: ClientDraft): draft is OutboxDraft {
  return draft.type === 'AssignTask' || draft.type === 'CancelTask';
}

/**
 * Keeps `draft` as the entry of `taskId` (replacing an older one, moved to the end), then drops
 * the oldest entries beyond `outboxMax`. Returns the new outbox and how many entries were dropped.
 */
export function outboxPut(
  outbox: Outbox,
  taskId: string,
  draft: OutboxDraft,
  outboxMax: number,
): { readonly outbox: Outbox; readonly dropped: number } {
  const kept = [...outbox.filter((entry) => entry.taskId !== taskId), { taskId, draft }];
  const dropped = Math.max(0, kept.length - Math.max(0, outboxMax));
  return { outbox: dropped === 0 ? kept : kept.slice(dropped), dropped };
}

/** Removes the entry of `taskId` (only when its draft has type `onlyType`, if given). */
export function outboxRemove(outbox: Outbox, taskId: string, onlyType?: OutboxDraft['type']): Outbox {
  const index = outbox.findIndex((entry) => entry.taskId === taskId);
  if (index < 0) return outbox;
  if (onlyType !== undefined && outbox[index]?.draft.type !== onlyType) return outbox;
  return [...outbox.slice(0, index), ...outbox.slice(index + 1)];
}

/** The task whose kept draft has this messageId (and this type, if given). */
export function outboxTaskIdOf(outbox: Outbox, messageId: string, onlyType?: OutboxDraft['type']): string | undefined {
  return outbox.find(
    (entry) => entry.draft.messageId === messageId && (onlyType === undefined || entry.draft.type === onlyType),
  )?.taskId;
}

interface Kept {
  readonly entry: OutboxEntry;
  /** When it was put: the order of the outbox. */
  readonly seq: number;
}

/**
 * The same outbox as `outboxPut` / `outboxRemove` / `outboxTaskIdOf` describe (specs/outbox.spec.ts
 * proves them equal on random sequences), owned by one connection and changed in place (see
 * machines/keyed.ts for the rules): every operation is O(1) in the number of tasks in flight,
 * where the array form copied the whole outbox on every put and remove (O(n) per task).
 */
export class OwnedOutbox implements Iterable<OutboxEntry> {
  private readonly byTask = new Map<string, Kept>();
  private readonly byMessageId = new Map<string, Set<Kept>>();
  private seq = 0;

  get length(): number {
    return this.byTask.size;
  }

  *[Symbol.iterator](): IterableIterator<OutboxEntry> {
    for (const kept of this.byTask.values()) yield kept.entry;
  }

  map<T>(fn: (entry: OutboxEntry) => T): T[] {
    return [...this].map(fn);
  }

  /** outboxPut in place; returns how many entries were dropped. */
  put(taskId: string, draft: OutboxDraft, outboxMax: number): number {
    this.remove(taskId);
    const kept: Kept = { entry: { taskId, draft }, seq: this.seq++ };
    this.byTask.set(taskId, kept);
    this.index(kept);
    let dropped = 0;
    const max = Math.max(0, outboxMax);
    while (this.byTask.size > max) {
      const oldest = this.byTask.values().next().value as Kept;
      this.forget(oldest);
      dropped++;
    }
    return dropped;
  }

  /** outboxRemove in place; true if an entry went. */
  remove(taskId: string, onlyType?: OutboxDraft['type']): boolean {
    const kept = this.byTask.get(taskId);
    if (!kept || (onlyType !== undefined && kept.entry.draft.type !== onlyType)) return false;
    this.forget(kept);
    return true;
  }

  /** outboxTaskIdOf: the first entry (oldest) with this messageId (and type). */
  taskIdOf(messageId: string, onlyType?: OutboxDraft['type']): string | undefined {
    let first: Kept | undefined;
    for (const kept of this.byMessageId.get(messageId) ?? []) {
      if ((onlyType === undefined || kept.entry.draft.type === onlyType) && (first === undefined || kept.seq < first.seq)) first = kept;
    }
    return first?.entry.taskId;
  }

  private index(kept: Kept): void {
    const id = kept.entry.draft.messageId;
    if (id === undefined) return;
    let set = this.byMessageId.get(id);
    if (!set) this.byMessageId.set(id, (set = new Set()));
    set.add(kept);
  }

  private forget(kept: Kept): void {
    this.byTask.delete(kept.entry.taskId);
    const id = kept.entry.draft.messageId;
    if (id === undefined) return;
    const set = this.byMessageId.get(id);
    set?.delete(kept);
    if (set?.size === 0) this.byMessageId.delete(id);
  }
}

/** What routing needs from an outbox: either form. */
type OutboxLookup = Outbox | OwnedOutbox;

function taskIdIn(outbox: OutboxLookup, messageId: string, onlyType?: OutboxDraft['type']): string | undefined {
  return outbox instanceof OwnedOutbox ? outbox.taskIdOf(messageId, onlyType) : outboxTaskIdOf(outbox, messageId, onlyType);
}

export interface Route {
  readonly taskId: string;
  readonly message: ProviderMessage;
}

/**
 * Which task an inbound message is about: `payload.taskId` when the message carries one; else,
 * for an Ack, the task whose AssignTask has `acknowledgmentId` as messageId (a seed-style Ack
 * without taskId); for an Error, the task whose kept draft has `relatesTo` as messageId.
 * Undefined for anything else (client message types, Acks of other messages, unrelated Errors).
 */
export function routeOf(message: WireMessage, outbox: OutboxLookup): Route | undefined {
  switch (message.type) {
    case 'TaskStatusUpdate':
    case 'TaskResult':
    case 'TaskFailed':
      return { taskId: message.payload.taskId, message };
    case 'Ack': {
      const taskId = message.payload.taskId ?? taskIdIn(outbox, message.payload.acknowledgmentId, 'AssignTask');
      return taskId === undefined ? undefined : { taskId, message };
    }
    case 'Error': {
      const { taskId: named, relatesTo } = message.payload;
      const taskId = named ?? (relatesTo === undefined ? undefined : taskIdIn(outbox, relatesTo));
      return taskId === undefined ? undefined : { taskId, message };
    }
    default:
      return undefined;
  }
}
