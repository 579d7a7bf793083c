/**
 * The UI model and the metrics read participants only through the inspection stream and emitted
 * events, telling kinds apart by machine id. So a task that is no actor at all, only a stand-in
 * with synthesised inspection events (docs: CONTRACTS "Inspection of tasks"), shows up the same:
 * its row, its history, its time in each state, its count.
 */
import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { providerTaskMachine } from '../machines/providerTask.js';
import type { InspectionListener } from '../runtime/inspect/hub.js';
import { createMetrics } from '../runtime/metrics/metrics.js';
import { UiModel } from '../runtime/ui/model.js';

function fakeProvider() {
  const listeners = new Set<InspectionListener>();
  const handlers = new Map<string, Set<(event: never) => void>>();
  return {
    providerId: 'provider-1',
    endpoint: 'ws://10.0.0.1:8080',
    inspection: { subscribe: (listener: InspectionListener) => (listeners.add(listener), () => void listeners.delete(listener)) },
    on: (type: string, listener: (event: never) => void) => {
      const set = handlers.get(type) ?? new Set();
      set.add(listener);
      handlers.set(type, set);
      return () => void set.delete(listener);
    },
    inspect: (event: unknown) => listeners.forEach((listener) => listener(event as InspectionEvent)),
    emit: (type: string, event: unknown) => handlers.get(type)?.forEach((listener) => listener(event as never)),
  };
}

describe('a synthesised task (a stand-in, no actor)', () => {
  it('is a row with its history in the UI, and counted with its time in each state in the metrics', async () => {
    let now = 100;
    const provider = fakeProvider();
    const model = new UiModel();
    model.observeProvider(provider);
    const metrics = createMetrics({ now: () => now });
    metrics.observe(provider, 'provider');
    const registry = { sessionId: 'x:1', id: 'tasks' };
    const context = { clientId: 'client-a', taskId: 't-1', serviceName: 'Echo', operation: 'say', progressPercentage: 0 };
    let snapshot: Record<string, unknown> = { value: 'assigned', status: 'active', context, output: undefined };
    const standIn = { sessionId: 'x:1.task:t-1', id: 't-1', logic: providerTaskMachine, src: providerTaskMachine, _parent: registry, getSnapshot: () => snapshot };
    const step = (value: string, event: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      provider.inspect({ type: '@xstate.event', actorRef: standIn, sourceRef: registry, event, rootId: 'x:0' });
      snapshot = { ...snapshot, value, ...extra };
      provider.inspect({ type: '@xstate.snapshot', actorRef: standIn, event, snapshot, rootId: 'x:0' });
    };
    provider.inspect({ type: '@xstate.actor', actorRef: standIn, rootId: 'x:0' });
    provider.inspect({ type: '@xstate.snapshot', actorRef: standIn, event: { type: 'xstate.init' }, snapshot, rootId: 'x:0' });
    now += 0.5;
    step('processing', { type: 'task.start' });
    now += 2;
    provider.inspect({ type: '@xstate.event', actorRef: standIn, event: { type: 'handler.progress', progressPercentage: 50 }, rootId: 'x:0' });
    provider.inspect({ type: '@xstate.event', actorRef: registry, sourceRef: standIn, event: { type: 'registry.reply', clientId: 'client-a', draft: { type: 'TaskStatusUpdate', payload: { taskId: 't-1' } } }, rootId: 'x:0' });
    const outcome = { status: 'Completed', resultData: { text: 'hi' } };
    step('completed', { type: 'handler.done', resultData: { text: 'hi' } }, { status: 'done', output: outcome });
    provider.emit('task.settled', { clientId: 'client-a', taskId: 't-1', outcome });

    expect(model.allActors().find((row) => row.sessionId === 'x:1.task:t-1')).toMatchObject({ kind: 'providerTask', status: 'done', parent: 'x:1' });
    expect(model.task('provider:client-a/t-1')).toMatchObject({ serviceName: 'Echo', operation: 'say', status: 'Completed', state: 'completed', actor: 'x:1.task:t-1' });
    const titles = model.historyOf('client-a/t-1').map((entry) => entry.title);
    expect(titles).toEqual(expect.arrayContaining(['→ assigned', 'task.start', 'assigned → processing', 'progress 50%', 'sent TaskStatusUpdate', 'processing → completed', 'Completed']));

    const text = await metrics.text();
    expect(text).toContain('switchboard_tasks_total{side="provider",service="Echo",operation="say",outcome="Completed"} 1');
    expect(text).toContain('switchboard_state_seconds_total{machine="providerTask",state="assigned"} 0.5');
    expect(text).toContain('switchboard_state_seconds_total{machine="providerTask",state="processing"} 2');
    expect(text).toContain('switchboard_tasks_in_flight{side="provider"} 0');
  });
});
