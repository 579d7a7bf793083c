import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClientMessage } from '../machines/messages.js';
import { outboxPut, outboxRemove, outboxTaskIdOf, OwnedOutbox, routeOf, type Outbox, type OutboxDraft } from '../machines/outbox.js';
import { ackOf, errorOf, failedOf, resultOf, updateOf } from './support/clientTaskFixtures.js';

const assign = (taskId: string): OutboxDraft => ({
  type: 'AssignTask',
  messageId: `assign-${taskId}`,
  payload: { taskId, serviceName: 'Svc', operation: 'op', taskParameters: {}, callbackClientId: 'client-1' },
});
const cancel = (taskId: string, messageId?: string): OutboxDraft => ({
  type: 'CancelTask',
  ...(messageId === undefined ? {} : { messageId }),
  payload: { taskId, originalClientId: 'client-1' },
});
const summary = (outbox: Outbox) => outbox.map((entry) => `${entry.draft.type}:${entry.taskId}`);

function fill(...taskIds: string[]): Outbox {
  return taskIds.reduce<Outbox>((outbox, taskId) => outboxPut(outbox, taskId, assign(taskId), 100).outbox, []);
}

describe('outbox (CONN-5)', () => {
  it('keeps entries in the order they were sent', () => {
    expect(summary(fill('a', 'b', 'c'))).toEqual(['AssignTask:a', 'AssignTask:b', 'AssignTask:c']);
  });

  it("keeps one entry per task: a CancelTask replaces the task's AssignTask and moves to the end", () => {
    const { outbox, dropped } = outboxPut(fill('a', 'b', 'c'), 'a', cancel('a'), 100);
    expect(summary(outbox)).toEqual(['AssignTask:b', 'AssignTask:c', 'CancelTask:a']);
    expect(dropped).toBe(0);
  });

  it('SEC-6: drops the oldest entries beyond outboxMax and says how many', () => {
    const { outbox, dropped } = outboxPut(fill('a', 'b', 'c'), 'd', assign('d'), 2);
    expect(summary(outbox)).toEqual(['AssignTask:c', 'AssignTask:d']);
    expect(dropped).toBe(2);
    expect(outboxPut([], 'a', assign('a'), 0)).toEqual({ outbox: [], dropped: 1 });
  });

  it('removes an entry, or only an entry of the given type', () => {
    const outbox = outboxPut(fill('a', 'b'), 'b', cancel('b'), 100).outbox;
    expect(summary(outboxRemove(outbox, 'a'))).toEqual(['CancelTask:b']);
    expect(outboxRemove(outbox, 'b', 'AssignTask')).toBe(outbox);
    expect(summary(outboxRemove(outbox, 'b', 'CancelTask'))).toEqual(['AssignTask:a']);
    expect(outboxRemove(outbox, 'zzz')).toBe(outbox);
  });

  it('is bounded and holds one entry per task, the latest, whatever the sequence of puts and removes', () => {
    const operation = fc.record({
      taskId: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
      kind: fc.constantFrom('assign', 'cancel', 'remove'),
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(operation, { maxLength: 40 }), (outboxMax, operations) => {
        let outbox: Outbox = [];
        const latest = new Map<string, OutboxDraft>();
        for (const { taskId, kind } of operations) {
          if (kind === 'remove') {
            outbox = outboxRemove(outbox, taskId);
            latest.delete(taskId);
            continue;
          }
          const draft = kind === 'assign' ? assign(taskId) : cancel(taskId);
          const sizeWithDraft = outbox.filter((entry) => entry.taskId !== taskId).length + 1;
          const result = outboxPut(outbox, taskId, draft, outboxMax);
          expect(result.dropped).toBe(Math.max(0, sizeWithDraft - outboxMax));
          if (result.outbox.length > 0) expect(result.outbox.at(-1)).toEqual({ taskId, draft });
          outbox = result.outbox;
          latest.set(taskId, draft);
        }
        expect(outbox.length).toBeLessThanOrEqual(outboxMax);
        expect(new Set(outbox.map((entry) => entry.taskId)).size).toBe(outbox.length);
        for (const entry of outbox) expect(entry.draft).toEqual(latest.get(entry.taskId));
      }),
      { numRuns: 300 },
    );
  });
});

describe('routeOf', () => {
  const outbox = outboxPut(fill('a', 'b'), 'c', cancel('c', 'cancel-c'), 100).outbox;

  it('routes task messages by payload.taskId', () => {
    expect(routeOf(updateOf('x', 10), outbox)?.taskId).toBe('x');
    expect(routeOf(resultOf('y'), outbox)?.taskId).toBe('y');
    expect(routeOf(failedOf('z', 'TIMEOUT'), outbox)?.taskId).toBe('z');
  });

  it('TASK-2: routes an Ack by its taskId, else by acknowledgmentId among kept AssignTasks only', () => {
    expect(routeOf(ackOf('whatever', { taskId: 'q' }), outbox)?.taskId).toBe('q');
    expect(routeOf(ackOf('assign-b'), outbox)?.taskId).toBe('b');
    expect(routeOf(ackOf('cancel-c'), outbox)).toBeUndefined();
    expect(routeOf(ackOf('unknown'), outbox)).toBeUndefined();
  });

  it('WIRE-8: routes an Error by its taskId, else by relatesTo among all kept drafts', () => {
    expect(routeOf(errorOf('FORBIDDEN', { taskId: 'q' }), outbox)?.taskId).toBe('q');
    expect(routeOf(errorOf('FORBIDDEN', { relatesTo: 'assign-a' }), outbox)?.taskId).toBe('a');
    expect(routeOf(errorOf('TASK_NOT_FOUND', { relatesTo: 'cancel-c' }), outbox)?.taskId).toBe('c');
    expect(routeOf(errorOf('INVALID_MESSAGE'), outbox)).toBeUndefined();
  });

  it('does not route client message types', () => {
    const getStatus: ClientMessage = {
      type: 'GetStatus',
      messageId: 'm',
      timestamp: 0,
      payload: { taskId: 'a', originalClientId: 'client-1' },
    };
    expect(routeOf(getStatus, outbox)).toBeUndefined();
  });

  it('the owned outbox (changed in place, O(1) per operation) is the same outbox as the pure functions describe', () => {
    const operation = fc.record({
      taskId: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      kind: fc.constantFrom('assign', 'cancel', 'cancelWithId', 'remove', 'removeAssign'),
      messageId: fc.constantFrom('m1', 'm2', 'assign-a', 'assign-b'),
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(operation, { maxLength: 50 }), (outboxMax, operations) => {
        let model: Outbox = [];
        const owned = new OwnedOutbox();
        for (const { taskId, kind, messageId } of operations) {
          if (kind === 'remove' || kind === 'removeAssign') {
            const onlyType = kind === 'removeAssign' ? 'AssignTask' : undefined;
            const next = outboxRemove(model, taskId, onlyType);
            expect(owned.remove(taskId, onlyType)).toBe(next !== model);
            model = next;
          } else {
            const draft = kind === 'assign' ? assign(taskId) : kind === 'cancel' ? cancel(taskId) : cancel(taskId, messageId);
            const result = outboxPut(model, taskId, draft, outboxMax);
            expect(owned.put(taskId, draft, outboxMax)).toBe(result.dropped);
            model = result.outbox;
          }
          expect([...owned]).toEqual(model);
          expect(owned.length).toBe(model.length);
          for (const id of ['m1', 'm2', 'assign-a', 'assign-b']) {
            expect(owned.taskIdOf(id)).toBe(outboxTaskIdOf(model, id));
            expect(owned.taskIdOf(id, 'AssignTask')).toBe(outboxTaskIdOf(model, id, 'AssignTask'));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
