/**
 * TaskLedger: admission (TASK-7), the FIFO queue with per-client limits, bounded memory of finished
 * tasks (TASK-5) and the load figure (DISC-5). A plain class: tested directly, plus a fast-check
 * model comparison.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AssignTask, ProviderDraft } from '../machines/messages.js';
import { TaskLedger, taskKey, type TaskLimits, type TaskRecord } from '../machines/taskLedger.js';

const assignment = (taskId: string, clientId = 'c1'): AssignTask['payload'] => ({
  taskId,
  serviceName: 'Svc',
  operation: 'op',
  taskParameters: {},
  callbackClientId: clientId,
});

const resultFor = (record: TaskRecord): ProviderDraft => ({
  type: 'TaskResult',
  payload: { taskId: record.taskId, status: 'Completed', resultData: null, originalClientId: record.clientId },
});

function ledgerWith(limits: Partial<TaskLimits> = {}): TaskLedger {
  return new TaskLedger({ tasksRunningMax: 2, tasksRunningPerClientMax: 2, tasksQueuedMax: 2, ledgerMax: 10, ...limits });
}

/** Admits and records a task as the registry does; undefined when refused. */
function submit(ledger: TaskLedger, clientId: string, taskId: string): TaskRecord | undefined {
  const admission = ledger.admit(clientId);
  return admission === 'reject' ? undefined : ledger.add(clientId, assignment(taskId, clientId), admission);
}

function complete(ledger: TaskLedger, record: TaskRecord): void {
  ledger.finish(record, 'Completed', resultFor(record));
}

/** Starts every queued task that may run now, in the order the ledger picks them. */
function drainRunnable(ledger: TaskLedger): string[] {
  const started: string[] = [];
  for (let record = ledger.nextRunnable(); record; record = ledger.nextRunnable()) started.push(record.taskId);
  return started;
}

/** Entries held by the queues' arrays, finished ones not yet dropped included. */
const queueArrayLength = (ledger: TaskLedger): number =>
  [...(ledger as unknown as { queues: Map<string, { records: { length: number } }> }).queues.values()].reduce((sum, queue) => sum + queue.records.length, 0);

describe('taskLedger: admission (TASK-7)', () => {
  it('runs while both the overall and the per-client limit have room, then queues, then rejects', () => {
    const ledger = ledgerWith({ tasksRunningMax: 2, tasksRunningPerClientMax: 5, tasksQueuedMax: 2 });
    const admissions: string[] = [];
    for (const taskId of ['t1', 't2', 't3', 't4', 't5']) {
      const admission = ledger.admit('c1');
      admissions.push(admission);
      if (admission !== 'reject') ledger.add('c1', assignment(taskId), admission);
    }
    expect(admissions).toEqual(['run', 'run', 'queue', 'queue', 'reject']);
    expect([ledger.running, ledger.queued, ledger.size]).toEqual([2, 2, 4]);
    expect(ledger.get('c1', 't1')?.state).toBe('Processing');
    expect(ledger.get('c1', 't3')?.state).toBe('Queued');
    expect(ledger.get('c1', 't5')).toBeUndefined();
  });

  it('queues a client at its own limit even while other slots are free', () => {
    const ledger = ledgerWith({ tasksRunningMax: 4, tasksRunningPerClientMax: 1, tasksQueuedMax: 4 });
    submit(ledger, 'a', 'a1');
    expect(ledger.admit('a')).toBe('queue');
    expect(ledger.admit('b')).toBe('run');
  });

  it('rejects at once when tasksQueuedMax is 0 and every slot is taken', () => {
    const ledger = ledgerWith({ tasksRunningMax: 1, tasksQueuedMax: 0 });
    submit(ledger, 'c1', 't1');
    expect(ledger.admit('c1')).toBe('reject');
    expect(ledger.admit('c2')).toBe('reject');
  });

  it('DISC-5: load is running over tasksRunningMax', () => {
    const ledger = ledgerWith({ tasksRunningMax: 4, tasksQueuedMax: 4 });
    expect(ledger.load).toBe(0);
    submit(ledger, 'c1', 't1');
    expect(ledger.load).toBe(0.25);
    submit(ledger, 'c2', 't2');
    submit(ledger, 'c3', 't3');
    expect(ledger.load).toBe(0.75);
  });

  it('throws when a task is recorded twice (the caller answers duplicates from get, TASK-4)', () => {
    const ledger = ledgerWith();
    submit(ledger, 'c1', 't1');
    expect(() => ledger.add('c1', assignment('t1'), 'run')).toThrow(/already recorded/);
    expect(ledger.running).toBe(1);
  });

  it('keys tasks by (clientId, taskId): the same taskId of two clients is two tasks (TASK-1)', () => {
    const ledger = ledgerWith();
    submit(ledger, 'c1', 'same');
    submit(ledger, 'c2', 'same');
    expect(ledger.size).toBe(2);
    expect(ledger.get('c1', 'same')?.clientId).toBe('c1');
  });
});

describe('taskLedger: the queue', () => {
  it('TASK-7: starts queued tasks first in, first out when slots free', () => {
    const ledger = ledgerWith({ tasksRunningMax: 1, tasksRunningPerClientMax: 1, tasksQueuedMax: 5 });
    const first = submit(ledger, 'a', 'run') as TaskRecord;
    for (const [clientId, taskId] of [['b', 'q1'], ['c', 'q2'], ['d', 'q3']] as const) submit(ledger, clientId, taskId);
    expect(drainRunnable(ledger)).toEqual([]);
    complete(ledger, first);
    expect(drainRunnable(ledger)).toEqual(['q1']);
    complete(ledger, ledger.get('b', 'q1') as TaskRecord);
    expect(drainRunnable(ledger)).toEqual(['q2']);
    expect(ledger.get('c', 'q2')?.state).toBe('Processing');
    expect([ledger.running, ledger.queued]).toEqual([1, 1]);
  });

  it('TASK-7: skips a client at its per-client limit and takes the next client in order', () => {
    const ledger = ledgerWith({ tasksRunningMax: 3, tasksRunningPerClientMax: 1, tasksQueuedMax: 5 });
    const a1 = submit(ledger, 'a', 'a1') as TaskRecord;
    submit(ledger, 'a', 'a2'); // queued: a is at its limit
    submit(ledger, 'a', 'a3');
    submit(ledger, 'b', 'b1'); // runs at once: b has room
    expect(ledger.get('b', 'b1')?.state).toBe('Processing');
    const c1 = submit(ledger, 'c', 'c1') as TaskRecord;
    expect(c1.state).toBe('Processing');
    complete(ledger, c1);
    expect(drainRunnable(ledger)).toEqual([]); // a still at its limit; nobody else waits
    complete(ledger, a1);
    expect(drainRunnable(ledger)).toEqual(['a2']);
    expect(ledger.get('a', 'a3')?.state).toBe('Queued');
  });

  it('skips tasks that finished while queued (cancelled, timed out)', () => {
    const ledger = ledgerWith({ tasksRunningMax: 1, tasksQueuedMax: 5 });
    const running = submit(ledger, 'c1', 't0') as TaskRecord;
    const q1 = submit(ledger, 'c1', 'q1') as TaskRecord;
    submit(ledger, 'c1', 'q2');
    ledger.finish(q1, 'Cancelled', resultFor(q1));
    expect(ledger.queued).toBe(1);
    complete(ledger, running);
    expect(drainRunnable(ledger)).toEqual(['q2']);
    expect(ledger.get('c1', 'q1')?.state).toBe('Cancelled');
  });

  it('regression: returns (does not loop forever) when only finished entries are left in the queue', () => {
    const ledger = ledgerWith({ tasksRunningMax: 1, tasksQueuedMax: 2 });
    const blocker = submit(ledger, 'c1', 'b') as TaskRecord;
    const waiting = submit(ledger, 'c1', 'w') as TaskRecord;
    ledger.finish(waiting, 'Cancelled', resultFor(waiting));
    complete(ledger, blocker);
    expect(ledger.nextRunnable()).toBeUndefined(); // used to spin forever, the queue's length going negative
    expect([ledger.running, ledger.queued, queueArrayLength(ledger)]).toEqual([0, 0, 0]);
    expect(submit(ledger, 'c1', 'next')?.state).toBe('Processing');
  });

  it('regression: a task decided at once (addFinished) never blocks or breaks the queue', () => {
    const ledger = ledgerWith({ tasksRunningMax: 1, tasksQueuedMax: 2 });
    const failed = ledger.addFinished('c1', assignment('unknown-op'), 'Failed', {
      type: 'TaskFailed',
      payload: { taskId: 'unknown-op', status: 'Failed', errorMessage: 'no', errorCode: 'UNKNOWN_OPERATION' },
    });
    expect(failed.state).toBe('Failed');
    expect([ledger.running, ledger.queued, ledger.size]).toEqual([0, 0, 1]);
    expect(ledger.nextRunnable()).toBeUndefined();
    expect(ledger.admit('c1')).toBe('run');
  });

  it('returns nothing while every slot is taken', () => {
    const ledger = ledgerWith({ tasksRunningMax: 1, tasksQueuedMax: 2 });
    submit(ledger, 'c1', 't1');
    submit(ledger, 'c2', 't2');
    expect(ledger.nextRunnable()).toBeUndefined();
    expect(ledger.queued).toBe(1);
  });

  it('SEC-6: queueing and cancelling over and over keeps the queue array bounded', () => {
    const ledger = ledgerWith({ tasksRunningMax: 1, tasksQueuedMax: 4, ledgerMax: 8 });
    submit(ledger, 'c1', 'blocker'); // never finishes: nextRunnable never gets to clean up
    for (let i = 0; i < 10_000; i++) {
      const record = submit(ledger, 'c1', `q${i}`) as TaskRecord;
      ledger.finish(record, 'Cancelled', resultFor(record));
    }
    expect(ledger.queued).toBe(0);
    expect(queueArrayLength(ledger)).toBeLessThanOrEqual(2 * 4 + 256 + 1);
    expect(ledger.size).toBe(9);
  });

  it('looks at most 256 queued entries per call: a runnable task behind them waits for the head to move', () => {
    const ledger = ledgerWith({ tasksRunningMax: 10, tasksRunningPerClientMax: 1, tasksQueuedMax: 1_000 });
    const a0 = submit(ledger, 'a', 'a0') as TaskRecord;
    for (let i = 1; i <= 300; i++) submit(ledger, 'a', `a${i}`);
    expect(ledger.admit('b')).toBe('run'); // b is admitted directly, never queued behind a
    complete(ledger, a0);
    expect(drainRunnable(ledger)).toEqual(['a1']);
  });
});

describe('taskLedger: finishing and memory (TASK-5)', () => {
  it('finish frees the running slot and the per-client slot', () => {
    const ledger = ledgerWith({ tasksRunningMax: 2, tasksRunningPerClientMax: 1 });
    const t1 = submit(ledger, 'c1', 't1') as TaskRecord;
    expect(ledger.admit('c1')).toBe('queue');
    complete(ledger, t1);
    expect([ledger.running, ledger.load]).toEqual([0, 0]);
    expect(ledger.admit('c1')).toBe('run');
    expect(t1.state).toBe('Completed');
    expect(t1.final).toEqual(resultFor(t1));
  });

  it('finish is idempotent: the first final message stays and counts move once', () => {
    const ledger = ledgerWith();
    const t1 = submit(ledger, 'c1', 't1') as TaskRecord;
    submit(ledger, 'c1', 't2');
    complete(ledger, t1);
    ledger.finish(t1, 'Cancelled', { type: 'Error', payload: { code: 'X', message: 'late' } });
    expect(t1.state).toBe('Completed');
    expect(ledger.running).toBe(1);
  });

  it('remembers at most ledgerMax finished tasks, forgetting the oldest finished first', () => {
    const ledger = ledgerWith({ tasksRunningMax: 10, tasksRunningPerClientMax: 10, ledgerMax: 2 });
    const records = ['t1', 't2', 't3', 't4', 't5'].map((taskId) => submit(ledger, 'c1', taskId) as TaskRecord);
    const [t1, t2, t3, t4, t5] = records as [TaskRecord, TaskRecord, TaskRecord, TaskRecord, TaskRecord];
    complete(ledger, t3);
    complete(ledger, t1);
    expect(ledger.size).toBe(5);
    complete(ledger, t4); // three finished: t3, finished first, is forgotten
    expect(ledger.get('c1', 't3')).toBeUndefined();
    expect(ledger.get('c1', 't1')).toBe(t1);
    expect(ledger.get('c1', 't4')).toBe(t4);
    expect(ledger.get('c1', 't2')).toBe(t2);
    expect(ledger.get('c1', 't5')).toBe(t5);
    expect(ledger.size).toBe(4);
  });

  it('never forgets running or queued tasks, however many finish', () => {
    const ledger = ledgerWith({ tasksRunningMax: 1, tasksRunningPerClientMax: 1, tasksQueuedMax: 1, ledgerMax: 1 });
    const running = submit(ledger, 'c1', 'running') as TaskRecord;
    const queued = submit(ledger, 'c1', 'queued') as TaskRecord;
    for (let i = 0; i < 50; i++) {
      ledger.addFinished('c2', assignment(`f${i}`, 'c2'), 'Failed', resultFor(running));
    }
    expect(ledger.get('c1', 'running')).toBe(running);
    expect(ledger.get('c1', 'queued')).toBe(queued);
    expect(ledger.size).toBe(3);
    expect([...ledger.unfinished()].map((record) => record.taskId).sort()).toEqual(['queued', 'running']);
  });

  it('a forgotten task may be recorded again as a new task', () => {
    const ledger = ledgerWith({ ledgerMax: 1 });
    const first = submit(ledger, 'c1', 't1') as TaskRecord;
    complete(ledger, first);
    const other = submit(ledger, 'c1', 't2') as TaskRecord;
    complete(ledger, other); // forgets t1
    const again = submit(ledger, 'c1', 't1') as TaskRecord;
    expect(again).not.toBe(first);
    expect(again.state).toBe('Processing');
    complete(ledger, again); // forgets t2, keeps the new t1
    expect(ledger.get('c1', 't1')).toBe(again);
  });
});

describe('taskLedger: model comparison', () => {
  type Op =
    | { kind: 'submit'; client: number; task: number }
    | { kind: 'finish'; pick: number }
    | { kind: 'cancelQueued'; pick: number };

  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('submit' as const), client: fc.integer({ min: 0, max: 2 }), task: fc.integer({ min: 0, max: 12 }) }),
    fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('cancelQueued' as const), pick: fc.nat() }),
  );

  const limits = fc.record({
    tasksRunningMax: fc.integer({ min: 1, max: 3 }),
    tasksRunningPerClientMax: fc.integer({ min: 1, max: 2 }),
    tasksQueuedMax: fc.integer({ min: 0, max: 3 }),
    ledgerMax: fc.integer({ min: 1, max: 5 }),
  });

  it('TASK-5, TASK-7: counts, FIFO starts and remembered tasks match a naive model', () => {
    fc.assert(
      fc.property(limits, fc.array(op, { maxLength: 60 }), (lim, ops) => {
        const ledger = new TaskLedger(lim);
        // The model: plain arrays, scanned in full.
        const running: string[] = [];
        const queue: string[] = [];
        const finished: string[] = [];
        const clientOf = (key: string) => key.split('/')[0] as string;
        const runningOf = (client: string) => running.filter((key) => clientOf(key) === client).length;
        const modelStart = () => {
          const started: string[] = [];
          for (;;) {
            if (running.length >= lim.tasksRunningMax) break;
            const index = queue.findIndex((key) => runningOf(clientOf(key)) < lim.tasksRunningPerClientMax);
            if (index < 0) break;
            const [key] = queue.splice(index, 1) as [string];
            running.push(key);
            started.push(key);
          }
          return started;
        };
        const modelFinish = (key: string) => {
          finished.push(key);
          if (finished.length > lim.ledgerMax) finished.shift();
        };
        const recordOf = (key: string) => ledger.get(...(key.split('/') as [string, string])) as TaskRecord;
        for (const step of ops) {
          if (step.kind === 'submit') {
            const client = `c${step.client}`;
            const key = `${client}/t${step.task}`;
            if (ledger.get(client, `t${step.task}`)) {
              expect(running.includes(key) || queue.includes(key) || finished.includes(key)).toBe(true);
              continue;
            }
            const expected =
              running.length < lim.tasksRunningMax && runningOf(client) < lim.tasksRunningPerClientMax
                ? 'run'
                : queue.length < lim.tasksQueuedMax
                  ? 'queue'
                  : 'reject';
            expect(ledger.admit(client)).toBe(expected);
            if (expected === 'reject') continue;
            ledger.add(client, assignment(`t${step.task}`, client), expected);
            (expected === 'run' ? running : queue).push(key);
          } else if (step.kind === 'finish') {
            if (running.length === 0) continue;
            const [key] = running.splice(step.pick % running.length, 1) as [string];
            complete(ledger, recordOf(key));
            modelFinish(key);
            const started: string[] = [];
            for (let record = ledger.nextRunnable(); record; record = ledger.nextRunnable()) started.push(`${record.clientId}/${record.taskId}`);
            expect(started).toEqual(modelStart());
          } else {
            if (queue.length === 0) continue;
            const [key] = queue.splice(step.pick % queue.length, 1) as [string];
            const record = recordOf(key);
            ledger.finish(record, 'Cancelled', resultFor(record));
            modelFinish(key);
          }
          expect([ledger.running, ledger.queued]).toEqual([running.length, queue.length]);
          expect(ledger.running).toBeLessThanOrEqual(lim.tasksRunningMax);
          for (const key of [...running, ...queue, ...finished]) expect(recordOf(key)?.key).toBe(taskKey(...(key.split('/') as [string, string])));
          expect(ledger.size).toBe(running.length + queue.length + finished.length);
          for (const key of running) expect(recordOf(key).state).toBe('Processing');
          for (const key of queue) expect(recordOf(key).state).toBe('Queued');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('taskLedger: fairness and bytes (SEC-17, SEC-18)', () => {
  const submitFrom = (ledger: TaskLedger, source: string, clientId: string, taskId: string) => {
    const admission = ledger.admit(clientId, source);
    return admission === 'reject' ? undefined : ledger.add(clientId, assignment(taskId, clientId), admission, source);
  };

  it('SEC-17: waiting tasks take turns by source, first in first out within a source', () => {
    const ledger = ledgerWith({ tasksRunningMax: 1, tasksRunningPerClientMax: 10, tasksQueuedMax: 100, tasksQueuedPerSourceMax: 100 });
    const blocker = submitFrom(ledger, 'flood', 'f', 'f0') as TaskRecord;
    for (let i = 1; i <= 50; i++) submitFrom(ledger, 'flood', 'f', `f${i}`);
    submitFrom(ledger, 'quiet', 'q', 'q1');
    submitFrom(ledger, 'quiet', 'q', 'q2');
    const order: string[] = [];
    let running = blocker;
    for (let i = 0; i < 5; i++) {
      complete(ledger, running);
      running = ledger.nextRunnable() as TaskRecord;
      order.push(running.taskId);
    }
    // The quiet source's first task runs after ONE of the flood's, not after fifty.
    expect(order).toEqual(['f1', 'q1', 'f2', 'q2', 'f3']);
  });

  it('SEC-17: one source may keep at most tasksQueuedPerSourceMax waiting; others still queue', () => {
    const ledger = ledgerWith({ tasksRunningMax: 1, tasksRunningPerClientMax: 1, tasksQueuedMax: 10, tasksQueuedPerSourceMax: 3 });
    submitFrom(ledger, 'a', 'a', 'a0');
    expect([1, 2, 3, 4].map((i) => submitFrom(ledger, 'a', 'a', `a${i}`)?.state ?? 'rejected')).toEqual(['Queued', 'Queued', 'Queued', 'rejected']);
    expect(submitFrom(ledger, 'b', 'b', 'b1')?.state).toBe('Queued');
  });

  it('SEC-18: a record keeps no task parameters', () => {
    const ledger = ledgerWith();
    const record = ledger.add('c', { ...assignment('t'), taskParameters: { password: 'hunter2' }, deadlineMs: 5 }, 'run');
    expect(record.assignment).toEqual({ serviceName: 'Svc', operation: 'op', deadlineMs: 5 });
    expect(JSON.stringify(record)).not.toContain('hunter2');
  });

  it('SEC-18: finished records are bounded in bytes, oldest forgotten first', () => {
    const ledger = ledgerWith({ tasksRunningMax: 100, tasksRunningPerClientMax: 100, ledgerMax: 1_000, ledgerBytesMax: 10_000 });
    const big = (record: TaskRecord): ProviderDraft => ({
      type: 'TaskResult',
      payload: { taskId: record.taskId, status: 'Completed', resultData: 'x'.repeat(3_000), originalClientId: record.clientId },
    });
    const records = [1, 2, 3, 4, 5].map((i) => submit(ledger, 'c1', `t${i}`) as TaskRecord);
    for (const record of records) ledger.finish(record, 'Completed', big(record));
    expect(ledger.bytes).toBeLessThanOrEqual(10_000);
    expect(records.map((record) => ledger.get('c1', record.taskId) !== undefined)).toEqual([false, false, true, true, true]);
  });
});
