/**
 * TASK-2 coalescing (machines/wire/coalesce.ts): in a provider's outgoing batch, a task's Ack is
 * left out when that task's final message follows it in the same batch, unless the Ack carries a
 * final status (it answers a duplicate of a finished task, TASK-4); nothing else changes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProviderDraft } from '../machines/messages.js';
import { coalesceAcks } from '../machines/wire/coalesce.js';

const ack = (taskId?: string, status: 'Processing' | 'Queued' | 'Completed' | 'Failed' = 'Processing'): ProviderDraft => ({
  type: 'Ack',
  payload: { acknowledgmentId: `assign-${taskId ?? 'x'}`, ...(taskId === undefined ? {} : { taskId, status }) },
});
const result = (taskId: string): ProviderDraft => ({ type: 'TaskResult', payload: { taskId, status: 'Completed', resultData: null } });
const failed = (taskId: string): ProviderDraft => ({ type: 'TaskFailed', payload: { taskId, status: 'Failed', errorCode: 'E', errorMessage: 'e' } });
const update = (taskId: string): ProviderDraft => ({ type: 'TaskStatusUpdate', payload: { taskId, status: 'Processing', progressPercentage: 1 } });

describe('TASK-2: an Ack followed by its task\'s final message in the same batch is left out', () => {
  it('drops the Ack of a task whose TaskResult or TaskFailed follows it', () => {
    expect(coalesceAcks([ack('t1'), result('t1')])).toEqual([result('t1')]);
    expect(coalesceAcks([ack('t1'), update('t1'), failed('t1')])).toEqual([update('t1'), failed('t1')]);
  });

  it('keeps an Ack alone, one before another task\'s final, one after its own final, and one without taskId', () => {
    expect(coalesceAcks([ack('t1')])).toEqual([ack('t1')]);
    expect(coalesceAcks([ack('t1'), result('t2')])).toEqual([ack('t1'), result('t2')]);
    expect(coalesceAcks([result('t1'), ack('t1')])).toEqual([result('t1'), ack('t1')]);
    expect(coalesceAcks([ack(), result('x')])).toEqual([ack(), result('x')]);
  });

  it('TASK-4: keeps the Ack (final status) answering a duplicate of a finished task, before the repeated final', () => {
    expect(coalesceAcks([ack('t1', 'Completed'), result('t1')])).toEqual([ack('t1', 'Completed'), result('t1')]);
    expect(coalesceAcks([ack('t1', 'Failed'), failed('t1')])).toEqual([ack('t1', 'Failed'), failed('t1')]);
    expect(coalesceAcks([ack('t1', 'Queued'), failed('t1')])).toEqual([failed('t1')]);
  });

  it('for any batch: the output is the input minus exactly the Acks with a later final of their task, order kept', () => {
    const taskIds = fc.constantFrom('a', 'b', 'c');
    const draft = fc.oneof(
      taskIds.map((taskId) => ack(taskId)),
      fc.tuple(taskIds, fc.constantFrom('Queued' as const, 'Completed' as const, 'Failed' as const)).map(([taskId, status]) => ack(taskId, status)),
      fc.constant(ack()),
      taskIds.map(result),
      taskIds.map(failed),
      taskIds.map(update),
    );
    fc.assert(
      fc.property(fc.array(draft, { maxLength: 12 }), (batch) => {
        const expected = batch.filter((d, i) => {
          if (d.type !== 'Ack' || d.payload.taskId === undefined || ['Completed', 'Failed', 'Cancelled'].includes(String(d.payload.status))) return true;
          const taskId = d.payload.taskId;
          return !batch.slice(i + 1).some((later) => (later.type === 'TaskResult' || later.type === 'TaskFailed') && later.payload.taskId === taskId);
        });
        expect(coalesceAcks(batch)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});
