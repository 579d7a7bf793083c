/**
 * The provider's ledger of tasks (TASK-4, TASK-5, TASK-7): who runs, who waits, what finished.
 *
 * A plain mutable structure owned by exactly one actor (the task registry), because it is hot:
 * every message about every task touches it, and 100,000 in-flight tasks must not make each
 * touch O(n). Every operation here is O(1) amortised except `nextRunnable`, whose scan is bounded
 * by `queueScanMax`.
 */
import type { PayloadOf, ProviderDraft, TaskStatus } from './messages.js';

export interface TaskLimits {
  /** Tasks running at once on this provider. @default 64 */
  readonly tasksRunningMax: number;
  /** Tasks running at once for one client. @default 32 */
  readonly tasksRunningPerClientMax: number;
  /** Tasks waiting for a slot; beyond it OVERLOADED. @default 1_024 */
  readonly tasksQueuedMax: number;
  /** Finished tasks remembered for duplicates and GetResult; oldest forgotten first. @default 10_000 */
  readonly ledgerMax: number;
}

export const taskLimitDefaults: TaskLimits = {
  tasksRunningMax: 64,
  tasksRunningPerClientMax: 32,
  tasksQueuedMax: 1_024,
  ledgerMax: 10_000,
};

export interface TaskRecord {
  readonly key: string;
  readonly clientId: string;
  readonly taskId: string;
  readonly assignment: PayloadOf<'AssignTask'>;
  state: TaskStatus;
  progressPercentage: number;
  message: string | undefined;
  estimatedTimeRemainingSeconds: number | undefined;
  /** The final TaskResult/TaskFailed, once finished: repeated verbatim to duplicates (TASK-10). */
  final: ProviderDraft | undefined;
  /** The client was already told `Processing` (its Ack said so): starting needs no update. */
  processingAnnounced: boolean;
}

export type Admission = 'run' | 'queue' | 'reject';

/** How far past the queue's head to look for a task whose client has a free slot. */
const queueScanMax = 256;

export const taskKey = (clientId: string, taskId: string): string => `${clientId}\u0000${taskId}`;

/** A FIFO with O(1) push and shift (an array with a moving head, compacted lazily). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  at(offset: number): T | undefined {
    return offset < 0 || offset >= this.length ? undefined : this.items[this.head + offset];
  }
  removeAt(offset: number): void {
    if (offset < 0 || offset >= this.length) return;
    if (offset === 0) {
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
    } else this.items.splice(this.head + offset, 1);
  }
  /** Keeps only the items that pass `keep`, in order: O(length). */
  retain(keep: (item: T) => boolean): void {
    this.items = this.items.slice(this.head).filter(keep);
    this.head = 0;
  }
}

export class TaskLedger {
  readonly limits: TaskLimits;
  private readonly records = new Map<string, TaskRecord>();
  private readonly runningByClient = new Map<string, number>();
  /** Queued records in arrival order; finished ones are dropped lazily (see `finish`). */
  private readonly queue = new Fifo<TaskRecord>();
  private readonly finished = new Fifo<string>();
  private runningCount = 0;
  private queuedCount = 0;
  /** Records per clientId, and the clientIds whose count went from 0 or to 0 since the last drain (SEC-10). */
  private readonly recordsByClient = new Map<string, number>();
  private clientChanges: { clientId: string; present: boolean }[] = [];

  constructor(limits: TaskLimits) {
    this.limits = limits;
  }

  get running(): number {
    return this.runningCount;
  }
  get queued(): number {
    return this.queuedCount;
  }
  /** Running tasks over the running limit: 1 means every slot is taken (DISC-5). */
  get load(): number {
    return this.runningCount / this.limits.tasksRunningMax;
  }
  get size(): number {
    return this.records.size;
  }

  get(clientId: string, taskId: string): TaskRecord | undefined {
    return this.records.get(taskKey(clientId, taskId));
  }

  /** TASK-7: run now, wait in the queue, or refuse. */
  admit(clientId: string): Admission {
    const clientRunning = this.runningByClient.get(clientId) ?? 0;
    if (this.runningCount < this.limits.tasksRunningMax && clientRunning < this.limits.tasksRunningPerClientMax) {
      return 'run';
    }
    return this.queuedCount < this.limits.tasksQueuedMax ? 'queue' : 'reject';
  }

  /** Records an admitted task as Processing (`run`) or Queued (`queue`). */
  add(clientId: string, assignment: PayloadOf<'AssignTask'>, admission: Exclude<Admission, 'reject'>): TaskRecord {
    const record = this.create(clientId, assignment, admission === 'run' ? 'Processing' : 'Queued');
    if (admission === 'run') this.markRunning(record);
    else {
      this.queue.push(record);
      this.queuedCount++;
    }
    return record;
  }

  /** Records a task that was decided at once (UNKNOWN_OPERATION): remembered like any finished one. */
  addFinished(clientId: string, assignment: PayloadOf<'AssignTask'>, state: TaskStatus, final: ProviderDraft): TaskRecord {
    const record = this.create(clientId, assignment, state);
    this.finish(record, state, final);
    return record;
  }

  /** The next queued task that may run now (FIFO, skipping clients at their limit), dequeued. */
  nextRunnable(): TaskRecord | undefined {
    if (this.runningCount >= this.limits.tasksRunningMax) return undefined;
    // Finished entries at the head are dropped for free (each once); elsewhere they are skipped,
    // counted against the scan, and dropped by the compaction in `finish`.
    while (this.queue.length > 0 && (this.queue.at(0) as TaskRecord).state !== 'Queued') this.queue.removeAt(0);
    let offset = 0;
    for (let scanned = 0; scanned < queueScanMax && offset < this.queue.length; scanned++) {
      const record = this.queue.at(offset) as TaskRecord;
      if (record.state !== 'Queued') {
        offset++;
        continue;
      }
      if ((this.runningByClient.get(record.clientId) ?? 0) < this.limits.tasksRunningPerClientMax) {
        this.queue.removeAt(offset);
        this.queuedCount--;
        this.markRunning(record);
        record.state = 'Processing';
        return record;
      }
      offset++;
    }
    return undefined;
  }

  /** Moves a task to a final state and remembers its final message (TASK-5 bounds the memory). */
  finish(record: TaskRecord, state: TaskStatus, final: ProviderDraft): void {
    if (record.final !== undefined) return;
    if (record.state === 'Processing') {
      this.runningCount--;
      const clientRunning = (this.runningByClient.get(record.clientId) ?? 1) - 1;
      if (clientRunning === 0) this.runningByClient.delete(record.clientId);
      else this.runningByClient.set(record.clientId, clientRunning);
    } else if (record.state === 'Queued') {
      this.queuedCount--; // its queue entry is dropped lazily by nextRunnable, or below
    }
    const wasQueued = record.state === 'Queued';
    record.state = state;
    record.final = final;
    // SEC-6: queue-then-cancel must not grow the queue's array without bound.
    if (wasQueued && this.queue.length > 2 * this.queuedCount + queueScanMax) {
      this.queue.retain((queued) => queued.state === 'Queued');
    }
    this.finished.push(record.key);
    while (this.finished.length > this.limits.ledgerMax) {
      this.forget(this.finished.at(0) as string);
      this.finished.removeAt(0);
    }
  }

  /**
   * The clientIds the ledger started or stopped holding tasks of since the last call, in order
   * (the registry reports them to the provider, which keeps owners that long: SEC-10).
   */
  drainClientChanges(): { clientId: string; present: boolean }[] {
    if (this.clientChanges.length === 0) return [];
    const changes = this.clientChanges;
    this.clientChanges = [];
    return changes;
  }

  /** Every task that is not finished (for stop: cancel them all). */
  *unfinished(): IterableIterator<TaskRecord> {
    for (const record of this.records.values()) if (record.final === undefined) yield record;
  }

  private create(clientId: string, assignment: PayloadOf<'AssignTask'>, state: TaskStatus): TaskRecord {
    const key = taskKey(clientId, assignment.taskId);
    // A programmer error: the caller answers duplicates from `get` (TASK-4). Replacing a record
    // would leak its slot, and the old finished entry would later evict the new record (TASK-5).
    if (this.records.has(key)) throw new Error(`task ledger: ${JSON.stringify(assignment.taskId)} is already recorded`);
    const record: TaskRecord = {
      key,
      clientId,
      taskId: assignment.taskId,
      assignment,
      state,
      progressPercentage: 0,
      message: undefined,
      estimatedTimeRemainingSeconds: undefined,
      final: undefined,
      processingAnnounced: state === 'Processing',
    };
    this.records.set(record.key, record);
    const count = (this.recordsByClient.get(clientId) ?? 0) + 1;
    this.recordsByClient.set(clientId, count);
    if (count === 1) this.clientChanges.push({ clientId, present: true });
    return record;
  }

  private forget(key: string): void {
    const record = this.records.get(key);
    if (record === undefined) return;
    this.records.delete(key);
    const count = (this.recordsByClient.get(record.clientId) ?? 1) - 1;
    if (count > 0) {
      this.recordsByClient.set(record.clientId, count);
      return;
    }
    this.recordsByClient.delete(record.clientId);
    this.clientChanges.push({ clientId: record.clientId, present: false });
  }

  private markRunning(record: TaskRecord): void {
    this.runningCount++;
    this.runningByClient.set(record.clientId, (this.runningByClient.get(record.clientId) ?? 0) + 1);
  }
}

export interface LoadReport {
  readonly running: number;
  readonly queued: number;
  readonly load: number;
}

/**
 * Whether the provider needs to hear of a load change: it uses load only for its status (Busy
 * at 1, Online again at 0.5, DISC-6), for knowing when it is idle (drain, stop) and for the
 * advertised `load`, so changes inside a band of 0.05 are not worth an event per task.
 */
export function loadWorthReporting(last: LoadReport | undefined, next: LoadReport): boolean {
  if (last === undefined) return true;
  const idle = (report: LoadReport) => report.running + report.queued === 0;
  if (idle(last) !== idle(next)) return true;
  if (last.load >= 1 !== next.load >= 1) return true;
  if (last.load <= 0.5 !== next.load <= 0.5) return true;
  return Math.abs(next.load - last.load) >= 0.05 - 1e-9; // tolerate float rounding (0.06 - 0.01)
}
