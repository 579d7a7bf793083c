/**
 * Inspection (runtime/inspect): participants told apart by machine id only (real actors and the
 * stand-ins synthesised for tasks alike), statecharts read from the machine definitions, the XState
 * configs exported for Stately Studio, the lazy inspection hub, and the Stately inspector bridge.
 */
import { describe, expect, it } from 'vitest';
import { createActor, createMachine, setup, type InspectionEvent } from 'xstate';
import { WebSocket } from 'ws';
import { providerTaskMachine } from '../machines/providerTask.js';
import { chartOf, participantMachines, statePathsOf } from '../runtime/inspect/charts.js';
import { kindOf, PARTICIPANT_KINDS } from '../runtime/inspect/kinds.js';
import { safeJson } from '../runtime/inspect/stately.js';
import { startStatelyRelay } from '../runtime/inspect/statelyRelay.js';
import { studioConfigOf } from '../runtime/inspect/studio.js';
import { freePort } from './support/processes.js';
import { observedNetwork, runFor } from './support/observedNetwork.js';

describe('charts from the machine definitions', () => {
  it('lists every state node and transition of every participant', () => {
    for (const [kind, machine] of Object.entries(participantMachines)) {
      const chart = chartOf(machine);
      expect(chart.machineId).toBe(kind);
      expect(chart.states.length).toBeGreaterThan(0);
      // Every edge starts and ends at a state node of the chart.
      const ids = new Set([kind, ...chart.states.map((state) => `${kind}.${state}`)]);
      for (const edge of chart.edges) {
        expect(ids.has(edge.source), edge.id).toBe(true);
        for (const target of edge.targets) expect(ids.has(target), `${edge.id} -> ${target}`).toBe(true);
      }
    }
    expect(chartOf(participantMachines.repositoryEntry).states).toEqual(['alive', 'suspect', 'expired', 'gone']);
    expect(chartOf(participantMachines.repositoryEntry).edges.map((edge) => edge.label)).toContain('after suspectAfterMs');
  });

  it('the exported XState configs rebuild machines of the same shape (Stately Studio import)', () => {
    for (const machine of Object.values(participantMachines)) {
      const config = JSON.parse(JSON.stringify(studioConfigOf(machine))) as Record<string, unknown>;
      const rebuilt = chartOf(createMachine(config as never));
      const original = chartOf(machine);
      expect(rebuilt.states).toEqual(original.states);
      expect(rebuilt.edges.map((edge) => [edge.source, edge.label, edge.targets])).toEqual(original.edges.map((edge) => [edge.source, edge.label, edge.targets]));
    }
  });

  it('exports only what a state has: no target on a targetless transition (none, or an empty list), no `on` without events, guards and actions by name', () => {
    const machine = setup({ guards: { isReady: () => true }, actions: { note: () => {} } }).createMachine({
      id: 'door',
      initial: 'closed',
      states: {
        // KNOCK has no target, NUDGE an empty list of them: both are targetless.
        closed: { on: { OPEN: { target: 'open', guard: 'isReady' }, KNOCK: { actions: 'note' }, NUDGE: { target: [], actions: 'note' } } },
        open: { type: 'final' },
      },
    });
    expect(studioConfigOf(machine)).toEqual({
      id: 'door',
      initial: 'closed',
      states: {
        closed: { on: { OPEN: [{ target: ['#door.open'], guard: 'isReady' }], KNOCK: [{ actions: ['note'] }], NUDGE: [{ actions: ['note'] }] } },
        open: { type: 'final' },
      },
    });
  });

  it('turns a state value into the states it is in, ancestors included', () => {
    expect(statePathsOf({ active: { lifecycle: { accepted: 'processing' }, deadline: 'none' } })).toEqual([
      'active',
      'active.lifecycle',
      'active.lifecycle.accepted',
      'active.lifecycle.accepted.processing',
      'active.deadline',
      'active.deadline.none',
    ]);
    expect(statePathsOf('online')).toEqual(['online']);
  });
});

describe('participant kinds', () => {
  it('names each participant by its machine id, seen through the inspection stream', async () => {
    const { net, provider, client } = observedNetwork(21);
    const kinds = new Set<string>();
    const stop = [provider, client].map((side) => side.inspection.subscribe((event) => void kinds.add(kindOf(event.actorRef, event.type === '@xstate.snapshot' ? event.snapshot : undefined) ?? 'plumbing')));
    void provider.start();
    await runFor(net, 100);
    const task = client.assign('Echo', 'say', { text: 'hello' });
    await runFor(net, 200);
    await task.result;
    stop.forEach((unsubscribe) => unsubscribe());
    for (const kind of ['provider', 'session', 'providerTask', 'repository', 'repositoryEntry', 'connection', 'clientTask']) expect(kinds, kind).toContain(kind);
    expect([...kinds].filter((kind) => kind !== 'plumbing').every((kind) => (PARTICIPANT_KINDS as readonly string[]).includes(kind))).toBe(true);
  });

  it('names a synthesised task stand-in (no actor) the same way', () => {
    const standIn = { sessionId: 'x:1.task:t-1', id: 't-1', logic: providerTaskMachine, getSnapshot: () => ({ value: 'processing', status: 'active', context: { taskId: 't-1' } }) };
    expect(kindOf(standIn as never)).toBe('providerTask');
    expect(kindOf({ sessionId: 'y', logic: {} } as never, { machine: { id: 'clientTask' } })).toBe('clientTask');
    expect(kindOf({ sessionId: 'z', logic: {} } as never)).toBeUndefined();
  });

  it('observes a system only while someone subscribes, and from then on', async () => {
    const { net, provider } = observedNetwork(22);
    void provider.start();
    await runFor(net, 50);
    const seen: InspectionEvent[] = [];
    const unsubscribe = provider.inspection.subscribe((event) => seen.push(event));
    await runFor(net, 1_100);
    expect(seen.some((event) => event.type === '@xstate.snapshot' && kindOf(event.actorRef) === 'provider')).toBe(true);
    unsubscribe();
    const count = seen.length;
    await runFor(net, 1_100);
    expect(seen.length).toBe(count);
  });

  it('a subscriber that throws is isolated from the system and from the other subscribers', async () => {
    const { net, provider } = observedNetwork(23);
    let calls = 0;
    provider.inspection.subscribe(() => {
      throw new Error('broken watcher');
    });
    provider.inspection.subscribe(() => void calls++);
    const started = provider.start();
    await runFor(net, 50);
    await expect(started).resolves.toMatchObject({ endpoint: 'ws://10.0.0.1:8080' });
    expect(calls).toBeGreaterThan(0);
  });
});

/** A page of the relay: collects the events it forwards. */
async function relayPage(url: string): Promise<{ events: Array<{ type: string; name?: string; sessionId?: string; definition?: string }>; close(): void }> {
  const events: Array<{ type: string; name?: string; sessionId?: string; definition?: string }> = [];
  const socket = new WebSocket(`${url}/relay`);
  socket.on('message', (data) => events.push(JSON.parse(String(data)) as never));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return { events, close: () => socket.terminate() };
}

// Returns as soon as the condition holds; the deadline only bounds a failing run (15 s: the relay
// carries every actor event as JSON, which a loaded two-core machine took more than 5 s to deliver).
const until = async (check: () => boolean, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe("inspect: 'stately' (the Stately inspector from Node)", () => {
  it('sends an actor reference to the inspector as its id and sessionId, and leaves a look-alike without a sessionId as data', () => {
    const child = createActor(createMachine({ id: 'child' }), { id: 'kid' });
    const copy = JSON.parse(safeJson({ ref: child, list: [child] })) as Record<string, unknown>;
    expect(copy).toEqual({ ref: { id: 'kid', sessionId: child.sessionId }, list: [{ id: 'kid', sessionId: child.sessionId }] });
    // Something with a send() but no string sessionId is not an actor: it is copied field by field.
    const lookAlike = { id: 'not-an-actor', sessionId: 7, send: function send() {} };
    expect(JSON.parse(safeJson(lookAlike))).toEqual({ id: 'not-an-actor', sessionId: 7, send: { type: 'send' } });
  });

  it('relays every actor to the inspector page through a relay on loopback (what docs/guide.md shows)', async () => {
    const port = await freePort();
    let pageUrl: string | undefined;
    const { net, provider, client } = observedNetwork(24, { provider: { inspect: { stately: { port, onReady: (url) => (pageUrl = url) } } } });
    await until(() => pageUrl !== undefined);
    expect(pageUrl).toBe(`http://127.0.0.1:${port}/`);
    const html = await (await fetch(pageUrl as string)).text();
    expect(html).toContain('<iframe id="inspector"');
    expect(html).toContain('@statelyai.connected');
    const page = await relayPage(`ws://127.0.0.1:${port}`);
    void provider.start();
    await runFor(net, 100);
    const task = client.assign('Echo', 'say', { text: 'hi' });
    await runFor(net, 200);
    await task.result;
    // A task actor's name is its id; its definition is the providerTask machine's.
    await until(() => page.events.some((event) => event.type === '@xstate.actor' && (event.definition ?? '').includes('"id":"providerTask"')));
    expect(page.events.some((event) => event.type === '@xstate.actor' && event.name === 'provider')).toBe(true);
    expect(page.events.some((event) => event.type === '@xstate.snapshot')).toBe(true);
    page.close();
    const stopping = provider.stop();
    await runFor(net, 3_000);
    await stopping;
    // The relay closed with the provider: the port is free again.
    await expect(fetch(pageUrl as string)).rejects.toThrow();
  });

  it('a process that finds the port taken joins the relay already there; a late page still sees the live actors', async () => {
    const port = await freePort();
    const relay = await startStatelyRelay({ port });
    try {
      const { net, provider } = observedNetwork(25, { provider: { inspect: { stately: { port, onReady: () => {} } } } });
      void provider.start();
      await runFor(net, 100);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const late = await relayPage(relay.socketUrl);
      await until(() => late.events.some((event) => event.type === '@xstate.actor' && event.name === 'provider'));
      late.close();
      const stopping = provider.stop();
      await runFor(net, 3_000);
      await stopping;
    } finally {
      await relay.close();
    }
  });

  it('the relay listens on loopback only and reports a taken port instead of crashing', async () => {
    const port = await freePort();
    const relay = await startStatelyRelay({ port });
    try {
      expect(relay.pageUrl).toBe(`http://127.0.0.1:${port}/`);
      await expect(startStatelyRelay({ port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
      const missing = await fetch(`http://127.0.0.1:${port}/nothing`);
      expect(missing.status).toBe(404);
    } finally {
      await relay.close();
    }
  });
});
