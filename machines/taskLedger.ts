/**
 * The provider's ledger of tasks (TASK-4, TASK-5, TASK-7): who runs, who waits, what finished.
 *
 * A plain mutable structure owned by exactly one actor (the task registry), because it is hot:
 * every message about every task touches it, and 100,000 in-flight tasks must not make each
 * touch O(n). Every operation here is O(1) amortised except `nextRunnable`, whose scan is bounded
 * by `queueScanMax`.
 *
 * Waiting tasks queue per source (SEC-17: the principal or host they came from, or one source
 * when the caller names none): first in, first out within a source, round-robin across sources,
 * and at most `tasksQueuedPerSourceMax` per source, so one flood cannot push everyone else's
 * tasks seconds back. A record keeps what answering needs, never the task's parameters; finished
 * records are bounded in number and in bytes (TASK-5, SEC-18).
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
  /** Tasks one source (principal, else host) may have waiting; beyond it OVERLOADED (SEC-17). @default 256 */
  readonly tasksQueuedPerSourceMax?: number;
  /** Bytes of final messages the finished records may hold; oldest forgotten first (SEC-18). @default 67_108_864 */
  readonly ledgerBytesMax?: number;
}

export const taskLimitDefaults: Required<TaskLimits> = {
  tasksRunningMax: 64,
  tasksRunningPerClientMax: 32,
  tasksQueuedMax: 1_024,
  ledgerMax: 10_000,
  tasksQueuedPerSourceMax: 256,
  ledgerBytesMax: 64 * 1024 * 1024,
};

/** What a record keeps of its AssignTask: enough to run and answer, never the parameters (SEC-18). */
export interface TaskAssignment {
  readonly serviceName: string;
  readonly operation: string;
  readonly deadlineMs?: number | undefined;
}

export interface TaskRecord {
  readonly key: string;
  readonly clientId: string;
  readonly taskId: string;
  readonly assignment: TaskAssignment;
  /** Whose turn this task waits in (SEC-17). */
  readonly source: string;
  state: TaskStatus;
  progressPercentage: number;
  message: string | undefined;
  estimatedTimeRemainingSeconds: number | undefined;
  /** The final TaskResult/TaskFailed, once finished: repeated verbatim to duplicates (TASK-10). */
  final: ProviderDraft | undefined;
  /** The client was already told `Processing` (its Ack said so): starting needs no update. */
  processingAnnounced: boolean;
  /** Estimated bytes of the final message (SEC-18), once finished. */
  finalBytes: number;
}

export type Admission = 'run' | 'queue' | 'reject';

/** How many queued entries `nextRunnable` looks at before giving up for now. */
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
  shift(): T | undefined {
    const item = this.at(0);
    this.removeAt(0);
    return item;
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

/** The queue of one source: its waiting records (finished ones dropped lazily) and how many wait. */
interface SourceQueue {
  readonly records: Fifo<TaskRecord>;
  waiting: number;
}

/** Rough bytes of a final message on the wire (SEC-18), without serialising twice what is small. */
function bytesOf(final: ProviderDraft): number {
  if (final.type !== 'TaskResult') return 512;
  try {
    return 256 + (JSON.stringify(final.payload.resultData) ?? '').length;
  } catch {
    return 256;
  }
}

export class TaskLedger {
  readonly limits: Required<TaskLimits>;
  private readonly records = new Map<string, TaskRecord>();
  private readonly runningByClient = new Map<string, number>();
  /** Waiting records per source, and the sources with waiting records in round-robin order. */
  private readonly queues = new Map<string, SourceQueue>();
  private readonly turns = new Fifo<string>();
  private readonly finished = new Fifo<string>();
  private runningCount = 0;
  private queuedCount = 0;
  private finishedBytes = 0;
  /** Records per clientId, and the clientIds whose count went from 0 or to 0 since the last drain (SEC-10). */
  private readonly recordsByClient = new Map<string, number>();
  private clientChanges: { clientId: string; present: boolean }[] = [];
  /** The clients with a task of each taskId: one string almost always, a list when ids collide. */
  private readonly clientsByTaskId = new Map<string, string | string[]>();

  constructor(limits: TaskLimits) {
    this.limits = { ...taskLimitDefaults, ...limits };
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
  /** Estimated bytes held by finished records (SEC-18). */
  get bytes(): number {
    return this.finishedBytes;
  }

  get(clientId: string, taskId: string): TaskRecord | undefined {
    return this.records.get(taskKey(clientId, taskId));
  }

  /** The clients the ledger holds a task of `taskId` for (a query that names no client, TASK-12). */
  clientsOf(taskId: string): readonly string[] {
    const clients = this.clientsByTaskId.get(taskId);
    return clients === undefined ? [] : typeof clients === 'string' ? [clients] : clients;
  }

  /** TASK-7, SEC-17: run now, wait in the source's queue, or refuse. */
  admit(clientId: string, source = ''): Admission {
    const clientRunning = this.runningByClient.get(clientId) ?? 0;
    if (this.runningCount < this.limits.tasksRunningMax && clientRunning < this.limits.tasksRunningPerClientMax) {
      return 'run';
    }
    const sourceWaiting = this.queues.get(source)?.waiting ?? 0;
    return this.queuedCount < this.limits.tasksQueuedMax && sourceWaiting < this.limits.tasksQueuedPerSourceMax ? 'queue' : 'reject';
  }

  /** Records an admitted task as Processing (`run`) or Queued (`queue`). */
  add(clientId: string, assignment: PayloadOf<'AssignTask'>, admission: Exclude<Admission, 'reject'>, source = ''): TaskRecord {
    const record = this.create(clientId, assignment, admission === 'run' ? 'Processing' : 'Queued', source);
    if (admission === 'run') this.markRunning(record);
    else {
      let queue = this.queues.get(source);
      if (queue === undefined) {
        queue = { records: new Fifo(), waiting: 0 };
        this.queues.set(source, queue);
        this.turns.push(source);
      }
      queue.records.push(record);
      queue.waiting++;
      this.queuedCount++;
    }
    return record;
  }

  /** Records a task that was decided at once (UNKNOWN_OPERATION): remembered like any finished one. */
  addFinished(clientId: string, assignment: PayloadOf<'AssignTask'>, state: TaskStatus, final: ProviderDraft): TaskRecord {
    const record = this.create(clientId, assignment, state, '');
    this.finish(record, state, final);
    return record;
  }

  /**
   * The next queued task that may run now, dequeued: sources take turns; within a source, first
   * in first out, skipping clients at their limit. Looks at most `queueScanMax` entries.
   */
  nextRunnable(): TaskRecord | undefined {
    if (this.runningCount >= this.limits.tasksRunningMax) return undefined;
    let budget = queueScanMax;
    for (let turn = this.turns.length; turn > 0 && budget > 0; turn--) {
      const source = this.turns.shift() as string;
      const queue = this.queues.get(source) as SourceQueue;
      const { records } = queue;
      // Finished entries at the head are dropped for free (each once); elsewhere they are skipped.
      while (records.length > 0 && (records.at(0) as TaskRecord).state !== 'Queued') records.removeAt(0);
      let found: TaskRecord | undefined;
      for (let offset = 0; offset < records.length && budget > 0; offset++, budget--) {
        const record = records.at(offset) as TaskRecord;
        if (record.state !== 'Queued') continue;
        if ((this.runningByClient.get(record.clientId) ?? 0) < this.limits.tasksRunningPerClientMax) {
          records.removeAt(offset);
          found = record;
          break;
        }
      }
      if (found !== undefined) queue.waiting--;
      // A source keeps its place in the rotation while anything of it waits; its next turn comes
      // after every other source's.
      if (queue.waiting > 0) this.turns.push(source);
      else this.queues.delete(source);
      if (found !== undefined) {
        this.queuedCount--;
        this.markRunning(found);
        found.state = 'Processing';
        return found;
      }
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
      this.dequeueFinished(record);
    }
    record.state = state;
    record.final = final;
    record.finalBytes = bytesOf(final);
    this.finishedBytes += record.finalBytes;
    this.finished.push(record.key);
    while (this.finished.length > this.limits.ledgerMax || (this.finishedBytes > this.limits.ledgerBytesMax && this.finished.length > 0)) {
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

  /** A queued record finished (cancelled, timed out): its source waits for one less. */
  private dequeueFinished(record: TaskRecord): void {
    const queue = this.queues.get(record.source);
    if (queue === undefined) return;
    queue.waiting--;
    // SEC-6: queue-then-cancel must not grow the queue's array without bound.
    if (queue.records.length > 2 * queue.waiting + queueScanMax) queue.records.retain((queued) => queued !== record && queued.state === 'Queued');
    if (queue.waiting > 0) return;
    this.queues.delete(record.source);
    this.turns.retain((source) => source !== record.source);
  }

  private create(clientId: string, assignment: PayloadOf<'AssignTask'>, state: TaskStatus, source: string): TaskRecord {
    const key = taskKey(clientId, assignment.taskId);
    // A programmer error: the caller answers duplicates from `get` (TASK-4). Replacing a record
    // would leak its slot, and the old finished entry would later evict the new record (TASK-5).
    if (this.records.has(key)) throw new Error(`task ledger: ${JSON.stringify(assignment.taskId)} is already recorded`);
    const record: TaskRecord = {
      key,
      clientId,
      taskId: assignment.taskId,
      assignment: {
        serviceName: assignment.serviceName,
        operation: assignment.operation,
        ...(assignment.deadlineMs === undefined ? {} : { deadlineMs: assignment.deadlineMs }),
      },
      source,
      state,
      progressPercentage: 0,
      message: undefined,
      estimatedTimeRemainingSeconds: undefined,
      final: undefined,
      processingAnnounced: state === 'Processing',
      finalBytes: 0,
    };
    this.records.set(record.key, record);
    const others = this.clientsByTaskId.get(record.taskId);
    this.clientsByTaskId.set(record.taskId, others === undefined ? clientId : [...(typeof others === 'string' ? [others] : others), clientId]);
    const count = (this.recordsByClient.get(clientId) ?? 0) + 1;
    this.recordsByClient.set(clientId, count);
    if (count === 1) this.clientChanges.push({ clientId, present: true });
    return record;
  }

  private forget(key: string): void {
    const record = this.records.get(key);
    if (record === undefined) return;
    this.records.delete(key);
    const clients = this.clientOthers(record.taskId, record.clientId);
    if (clients.length === 0) this.clientsByTaskId.delete(record.taskId);
    else this.clientsByTaskId.set(record.taskId, clients.length === 1 ? clients[0]! : clients);
    this.finishedBytes -= record.finalBytes;
    const count = (this.recordsByClient.get(record.clientId) ?? 1) - 1;
    if (count > 0) {
      this.recordsByClient.set(record.clientId, count);
      return;
    }
    this.recordsByClient.delete(record.clientId);
    this.clientChanges.push({ clientId: record.clientId, present: false });
  }

  private clientOthers(taskId: string, clientId: string): string[] {
    return this.clientsOf(taskId).filter((other) => other !== clientId);
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
