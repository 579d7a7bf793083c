/**
 * Prometheus metrics (runtime/metrics): fed by the inspection stream and the emitted events only,
 * on the simulated network so times are exact (metrics read the SimulatedClock).
 */
import fc from 'fast-check';
import type { InspectionEvent } from 'xstate';
import { describe, expect, it } from 'vitest';
import { clientDefaults } from '../machines/client.js';
import { chartOfKind, participantMachines } from '../runtime/inspect/charts.js';
import type { ClientOptions } from '../runtime/client.js';
import { createMetrics, type SwitchboardMetrics } from '../runtime/metrics/metrics.js';
import { observedNetwork, runFor } from './support/observedNetwork.js';

/** The value of one sample line, e.g. sample(text, 'switchboard_tasks_total', { outcome: 'Completed' }). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function world(seed: number, client: Partial<ClientOptions> = {}) {
  let metrics: SwitchboardMetrics | undefined;
  const setup = observedNetwork(seed, (clock) => {
    metrics = createMetrics({ now: () => clock.now() / 1000 });
    return { provider: { metrics }, client: { metrics, ...client } };
  });
  if (metrics === undefined) throw new Error('no metrics');
  void setup.provider.start();
  await runFor(setup.net, 100);
  return { ...setup, metrics };
}

describe('metrics', () => {
  it('lists every state of every participant statechart, from the machine definitions, before anything happens', async () => {
    const text = await createMetrics().text();
    for (const machine of Object.keys(participantMachines)) {
      for (const state of chartOfKind(machine)?.states ?? []) {
        expect(sample(text, 'switchboard_state_seconds_total', { machine, state }), `${machine} ${state}`).toBe(0);
        expect(sample(text, 'switchboard_actors_in_state', { machine, state })).toBe(0);
      }
    }
    expect(text).toContain('# TYPE switchboard_task_duration_seconds histogram');
  });

  it('counts tasks by side, service, operation and outcome, with latency and errors by code', async () => {
    const { net, client, metrics } = await world(11);
    const ok = client.assign('Echo', 'say', { text: 'hi' });
    const failing = client.assign('Echo', 'fail', {});
    const invalid = client.assign('Echo', 'say', { text: '' });
    await runFor(net, 200);
    await expect(ok.result).resolves.toEqual({ text: 'hi' });
    await expect(failing.result).rejects.toMatchObject({ code: 'NOTHING_TO_SAY' });
    await expect(invalid.result).rejects.toMatchObject({ code: 'INVALID_PARAMETERS' });
    const text = await metrics.text();
    for (const side of ['client', 'provider']) {
      expect(sample(text, 'switchboard_tasks_total', { side, service: 'Echo', operation: 'say', outcome: 'Completed' })).toBe(1);
      expect(sample(text, 'switchboard_tasks_total', { side, service: 'Echo', operation: 'say', outcome: 'Failed' })).toBe(1);
      expect(sample(text, 'switchboard_tasks_total', { side, service: 'Echo', operation: 'fail', outcome: 'Failed' })).toBe(1);
      expect(sample(text, 'switchboard_errors_total', { side, code: 'NOTHING_TO_SAY', source: 'task' })).toBe(1);
      expect(sample(text, 'switchboard_errors_total', { side, code: 'INVALID_PARAMETERS', source: 'task' })).toBe(1);
      expect(sample(text, 'switchboard_task_duration_seconds_count', { side, service: 'Echo', operation: 'say', outcome: 'Completed' })).toBe(1);
      expect(sample(text, 'switchboard_tasks_in_flight', { side })).toBe(0);
    }
  });

  it('tracks tasks in flight, sessions, repository entries and discovery datagrams', async () => {
    const { net, client, provider, metrics } = await world(12);
    const waiting = client.assign('Echo', 'wait', {});
    await runFor(net, 100);
    let text = await metrics.text();
    expect(sample(text, 'switchboard_tasks_in_flight', { side: 'client' })).toBe(1);
    expect(sample(text, 'switchboard_tasks_in_flight', { side: 'provider' })).toBe(1);
    expect(sample(text, 'switchboard_sessions_open')).toBe(1);
    expect(sample(text, 'switchboard_repository_entries', { state: 'alive' })).toBe(1);
    expect(sample(text, 'switchboard_discovery_datagrams_total', { side: 'client', direction: 'sent', type: 'ClientServiceDiscoveryRequest' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'switchboard_discovery_datagrams_total', { side: 'client', direction: 'received', type: 'ServiceAdvertisement' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'switchboard_discovery_datagrams_total', { side: 'provider', direction: 'sent', type: 'ServiceAdvertisement' })).toBeGreaterThanOrEqual(1);
    const cancelled = waiting.cancel();
    await runFor(net, 100);
    await cancelled;
    text = await metrics.text();
    expect(sample(text, 'switchboard_tasks_total', { side: 'client', operation: 'wait', outcome: 'Cancelled' })).toBe(1);
    expect(sample(text, 'switchboard_tasks_in_flight', { side: 'client' })).toBe(0);
    const stopping = client.stop();
    await runFor(net, 300);
    await stopping;
    text = await metrics.text();
    expect(sample(text, 'switchboard_sessions_open')).toBe(0);
    expect(sample(text, 'switchboard_sessions_ended_total', { how: 'graceful' })).toBe(1);
    const providerStopping = provider.stop();
    await runFor(net, 300);
    await providerStopping;
  });

  it('adds up the time each actor spends in each state, on the actor system clock', async () => {
    const { net, client, provider, metrics } = await world(13);
    // The entry was created within the first 100 ms; heartbeats (1 s) keep it alive.
    const before = sample(await metrics.text(), 'switchboard_state_seconds_total', { machine: 'repositoryEntry', state: 'alive' }) ?? 0;
    await runFor(net, 2_000);
    const after = sample(await metrics.text(), 'switchboard_state_seconds_total', { machine: 'repositoryEntry', state: 'alive' }) ?? 0;
    expect(after - before).toBeCloseTo(2, 1);
    const online = sample(await metrics.text(), 'switchboard_state_seconds_total', { machine: 'provider', state: 'online' }) ?? 0;
    expect(online).toBeGreaterThan(2);
    // Entering counts changes of state; a heartbeat re-enters `online` without leaving it.
    expect(sample(await metrics.text(), 'switchboard_state_entries_total', { machine: 'provider', state: 'online' })).toBe(1);
    // A provider that stops (goodbye) takes its entry to `gone`: the suspect state is never entered.
    const stopping = provider.stop();
    await runFor(net, 300);
    await stopping;
    const text = await metrics.text();
    expect(sample(text, 'switchboard_actors_in_state', { machine: 'repositoryEntry', state: 'alive' })).toBe(0);
    expect(sample(text, 'switchboard_repository_entries', { state: 'alive' })).toBe(0);
    expect(sample(text, 'switchboard_state_entries_total', { machine: 'repositoryEntry', state: 'gone' })).toBe(1);
    const clientStopping = client.stop();
    await runFor(net, 300);
    await clientStopping;
  });

  it('counts reconnects of a client connection', async () => {
    const { net, client, metrics } = await world(14, { connection: { ...clientDefaults.connection, pingIntervalMs: 200, pongTimeoutMs: 200 } });
    const first = client.assign('Echo', 'say', { text: 'a' });
    await runFor(net, 200);
    await first.result;
    net.partition(['10.0.0.1'], ['10.0.0.2']);
    await runFor(net, 1_000);
    net.heal();
    await runFor(net, 3_000);
    const text = await metrics.text();
    expect(sample(text, 'switchboard_connection_drops_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'switchboard_reconnects_total')).toBeGreaterThanOrEqual(1);
  });

  it('labels errors only by a code that is a string of 1 to 64 characters: a hostile peer cannot mint label values', async () => {
    const metrics = createMetrics();
    const listeners: ((event: InspectionEvent) => void)[] = [];
    // A client's connection as the inspection stream shows it (a participant is told by its machine id).
    const participant = { inspection: { subscribe: (listener: (event: InspectionEvent) => void) => (listeners.push(listener), () => {}) }, on: () => () => {} };
    const connection = { logic: { id: 'connection' }, sessionId: 'x.0' };
    const errorFrom = (code: unknown) => {
      const event = { type: '@xstate.event', actorRef: connection, sourceRef: undefined, event: { type: 'transport.message', message: { type: 'Error', payload: { code } } } };
      for (const listener of listeners) listener(event as unknown as InspectionEvent);
    };
    metrics.observe(participant, 'client');
    for (const code of ['BUSY', 'x'.repeat(64), '', 'y'.repeat(65), 42, null, undefined, { toString: () => 'EVIL' }, ['A'], true]) errorFrom(code);
    let text = await metrics.text();
    const codes = () => text.split('\n').filter((line) => line.startsWith('switchboard_errors_total{')).map((line) => /code="([^"]*)"/.exec(line)?.[1]);
    expect(codes().sort()).toEqual(['BUSY', 'x'.repeat(64)]);
    // Whatever a peer puts there, only 1-64 character strings become label values: one series each.
    const labelled = new Set(['BUSY', 'x'.repeat(64)]);
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.string({ maxLength: 100 })), (code) => {
        errorFrom(code);
        if (typeof code === 'string' && code.length >= 1 && code.length <= 64) labelled.add(code);
      }),
      { numRuns: 300 },
    );
    text = await metrics.text();
    expect(codes()).toHaveLength(labelled.size);
  });
});
