/**
 * Ack coalescing (TASK-2): when a provider's outgoing batch (the frames one session writes in one
 * turn) holds a task's Ack and, later, that task's final message (TaskResult or TaskFailed), the
 * Ack is left out: the final message acknowledges the task as well (the client accepts it as
 * such, TASK-3), and a trivial task then costs one frame each way.
 *
 * Only an Ack that names its task (`taskId`) and is followed IN THE SAME BATCH by a final message
 * for the same task is dropped; everything else keeps its place and order. A duplicate
 * An Ack with a final status is always kept: it answers a duplicate of a finished task (TASK-4),
 * whose repeated final message follows it.
 */
/** A draft as the coalescing reads it (any side's: a client's drafts have nothing to coalesce). */
interface Draft {
  readonly type: string;
  readonly payload: unknown;
}

const isFinal = (draft: Draft): boolean => draft.type === 'TaskResult' || draft.type === 'TaskFailed';
const FINAL_STATUSES: ReadonlySet<unknown> = new Set(['Completed', 'Failed', 'Cancelled']);

/** The batch without the Acks that a later final message of the same task makes redundant. */
export function coalesceAcks<D extends Draft>(batch: readonly D[]): readonly D[] {
  if (batch.length < 2) return batch;
  let finals: Set<string> | undefined;
  for (const draft of batch) {
    if (isFinal(draft)) (finals ??= new Set()).add((draft.payload as { taskId: string }).taskId);
  }
  if (finals === undefined) return batch;
  // Walk backwards: an Ack is redundant when a final message of its task comes after it.
  const seenFinal = new Set<string>();
  const kept: D[] = [];
  let dropped = false;
  for (let i = batch.length - 1; i >= 0; i--) {
    const draft = batch[i] as D;
    if (isFinal(draft)) seenFinal.add((draft.payload as { taskId: string }).taskId);
    else if (draft.type === 'Ack') {
      const { taskId, status } = draft.payload as { taskId?: string; status?: unknown };
      if (taskId !== undefined && seenFinal.has(taskId) && !FINAL_STATUSES.has(status)) {
        dropped = true;
        continue;
      }
    }
    kept.push(draft);
  }
  return dropped ? kept.reverse() : batch;
}
