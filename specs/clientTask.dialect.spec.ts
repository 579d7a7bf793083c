/**
 * The client task and peers built from the seed alone (issue: interoperate with seed peers): the
 * seed's pull flow (a provider that answers only when asked), its flat `Status` answers read
 * through the codec, and answers that cannot be understood, which a task that gives up reports as
 * "answer not understood" instead of "not acknowledged".
 */
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { clientTaskDefaults, clientTaskMachine, type ClientTaskEvent, type ClientTaskToParentEvent } from '../machines/clientTask.js';
import { decodeFrame } from '../machines/codec.js';
import type { ProviderMessage } from '../machines/messages.js';
import { recorder, resultOf } from './support/clientTaskFixtures.js';

const TASK = 'seed-task-1';
const POLL_MS = clientTaskDefaults.pollIntervalMs;
const FIRST_MS = clientTaskDefaults.pollFirstMs;

function startTask() {
  const clock = new SimulatedClock();
  const parent = recorder<ClientTaskToParentEvent>();
  const actor = createActor(clientTaskMachine, {
    clock,
    input: { clientId: 'client-1', taskId: TASK, messageId: 'assign-1', serviceName: 'SeedService', operation: 'echo', params: {}, ...clientTaskDefaults, parentRef: parent.ref },
  }).start();
  return {
    clock,
    actor,
    send: (event: ClientTaskEvent) => actor.send(event),
    /** A frame as a seed provider writes it, through the client's codec. */
    deliverText: (text: string) => {
      const decoded = decodeFrame(text);
      if (!decoded.ok) throw new Error(`not decoded: ${decoded.error.message}`);
      actor.send({ type: 'task.message', message: decoded.message as ProviderMessage });
    },
    drafts: () => parent.events().flatMap((event) => (event.type === 'task.send' ? [event.draft.type] : [])),
    settled: () => parent.events().flatMap((event) => (event.type === 'task.settled' ? [event.outcome] : [])),
  };
}

const flat = (taskStatus: string, extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'Status', taskId: TASK, taskStatus, ...extra });

describe("clientTask: the seed's pull flow and flat Status answers (TASK-19, WIRE-11)", () => {
  it('a flat Status Processing acknowledges; silence then brings GetStatus after 250 ms, then twice as long each time up to pollIntervalMs; Done brings GetResult; the TaskResult ends it', () => {
    const task = startTask();
    task.deliverText(flat('Processing'));
    expect(task.actor.getSnapshot().matches({ active: { lifecycle: 'accepted' } })).toBe(true);
    const polls = () => task.drafts().filter((draft) => draft === 'GetStatus').length;
    // Silences before each GetStatus: 250, 500, 1000, 2000, 4000, then pollIntervalMs (5000) for good.
    for (const [index, silenceMs] of [FIRST_MS, 500, 1_000, 2_000, 4_000, POLL_MS, POLL_MS].entries()) {
      task.clock.increment(silenceMs - 1);
      expect(polls()).toBe(index);
      task.clock.increment(1);
      expect(polls()).toBe(index + 1);
    }
    // An answer restarts the silence, with the interval reached.
    task.deliverText(flat('Processing', { progress: 40 }));
    task.clock.increment(POLL_MS - 1);
    expect(polls()).toBe(7);
    task.deliverText(flat('Done'));
    expect(task.drafts().at(-1)).toBe('GetResult');
    // An un-enveloped "not ready" to the GetResult: still running, ask again later.
    task.deliverText(JSON.stringify({ taskId: TASK, status: 'NotReady', message: 'Result not ready' }));
    expect(task.settled()).toEqual([]);
    task.actor.send({ type: 'task.message', message: resultOf(TASK, { text: 'hi' }) });
    expect(task.settled()).toEqual([{ status: 'Completed', resultData: { text: 'hi' } }]);
  });

  it('a task acknowledged with an Ack (a provider that pushes) asks GetStatus only after pollIntervalMs of silence', () => {
    const task = startTask();
    task.deliverText(JSON.stringify({ type: 'Ack', messageId: 'ack-1', timestamp: '2025-07-02T11:50:00Z', payload: { acknowledgmentId: 'assign-1', taskId: TASK, status: 'Processing' } }));
    task.clock.increment(POLL_MS - 1);
    expect(task.drafts()).toEqual(['AssignTask']);
    task.clock.increment(1);
    expect(task.drafts()).toEqual(['AssignTask', 'GetStatus']);
  });

  it('CancelTask answered by a flat Status Cancelled: GetResult fetches the final message, which ends the task at once', () => {
    const task = startTask();
    task.deliverText(flat('Processing'));
    task.send({ type: 'task.cancel' });
    expect(task.drafts().at(-1)).toBe('CancelTask');
    task.deliverText(flat('Cancelled'));
    expect(task.drafts().at(-1)).toBe('GetResult');
    task.deliverText(JSON.stringify({ type: 'TaskFailed', messageId: 'f-1', timestamp: '2025-07-02T11:50:00Z', payload: { taskId: TASK, status: 'Cancelled', errorMessage: 'Cancelled on request', errorCode: 'CANCELLED' } }));
    expect(task.settled()).toEqual([{ status: 'Cancelled' }]);
  });

  it('a flat Status Unknown after acceptance fails the task TASK_NOT_FOUND', () => {
    const task = startTask();
    task.deliverText(flat('processing'));
    task.deliverText(flat('Unknown'));
    expect(task.settled()).toEqual([expect.objectContaining({ status: 'Failed', error: expect.objectContaining({ code: 'TASK_NOT_FOUND' }) })]);
  });

  it('a task given up on after answers it could not read says "answer not understood", with the reason', () => {
    const task = startTask();
    task.send({ type: 'task.unreadable', reason: 'UNSUPPORTED_MESSAGE: unknown type "Accepted"' });
    for (let send = 0; send < clientTaskDefaults.assignAttemptsMax; send++) task.clock.increment(clientTaskDefaults.ackTimeoutMs);
    expect(task.settled()).toEqual([
      { status: 'Failed', error: expect.objectContaining({ code: 'TIMEOUT', message: 'answer not understood: UNSUPPORTED_MESSAGE: unknown type "Accepted"' }) },
    ]);
  });

  it('without unreadable answers the TIMEOUT still says the AssignTask was not acknowledged', () => {
    const task = startTask();
    for (let send = 0; send < clientTaskDefaults.assignAttemptsMax; send++) task.clock.increment(clientTaskDefaults.ackTimeoutMs);
    expect(task.settled()).toEqual([{ status: 'Failed', error: expect.objectContaining({ code: 'TIMEOUT', message: 'AssignTask was not acknowledged' }) }]);
  });
});
