/**
 * Named end-to-end scenarios on the simulated network (specs/support/world.ts): providers and
 * clients wired by runtime/compose.ts exactly as real ones are, one SimulatedClock, time moved
 * only by `world.run(ms)` (exact: every timer fires at its own due time). Names follow
 * "network: <area>: <scenario> (<params>)". Each scenario fixes its seed, so a run reproduces
 * exactly; assertions are about protocol behaviour, with timing bounds where a rule gives one.
 */
import { describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { DISCOVERY_PORT } from '../adapters/simulated/index.js';
import type { ConnectionContext } from '../machines/connection.js';
import type { RepositoryContext } from '../machines/repository.js';
import type { SessionContext } from '../machines/session.js';
import { smallClientOptions, smallProviderOptions, World, type ClientNode } from './support/world.js';

const P1 = '10.0.1.1';
const P2 = '10.0.1.2';
const C1 = '10.0.2.1';
const C2 = '10.0.2.2';
const endpointOf = (address: string) => `ws://${address}:8080`;
const HEARTBEAT_MS = smallProviderOptions.heartbeatIntervalMs;
const { pingIntervalMs: PING_MS, pongTimeoutMs: PONG_MS } = smallClientOptions.connection;

function smallWorld(seed: number, overrides: { client?: Partial<typeof smallClientOptions> } = {}): World {
  return new World({ seed, provider: smallProviderOptions, client: { ...smallClientOptions, ...overrides.client } });
}

/** Client events other than services.changed, as `atMs type detail`. */
const timeline = (client: ClientNode, fromMs = 0) =>
  client.emitted
    // connection.retrying (each reconnect attempt, CONN-4) is for logs; partition specs count them apart.
    .filter(({ atMs, event }) => atMs >= fromMs && event.type !== 'services.changed' && event.type !== 'connection.retrying')
    .map(({ atMs, event }) => ({ atMs, event }));

const serviceIdsSeenBy = (client: ClientNode) => client.actor.getSnapshot().context.services.map((service) => service.serviceId);

function child<T>(parent: { getSnapshot(): { children: Record<string, unknown> } }, id: string): T {
  const ref = parent.getSnapshot().children[id] as AnyActorRef | undefined;
  if (ref === undefined) throw new Error(`no child ${id}`);
  return ref.getSnapshot().context as T;
}

describe('a switchboard network on the simulated network', () => {
  it('DISC-4, DISC-8: a client knows a provider from its start-up advertisement, long before a heartbeat', () => {
    const world = new World({ seed: 1 });
    const client = world.startClient('10.0.0.2');
    world.run(10);
    world.startProvider('10.0.0.1');
    world.run(50);
    const services = client.actor.getSnapshot().context.services;
    expect(services.map((service) => service.serviceName)).toEqual(['Work']);
    expect(services[0]?.endpoint).toBe('ws://10.0.0.1:8080');
    world.stopAll();
  });

  it('TASK-2, TASK-9, TASK-10: a task runs with progress to a result', () => {
    const world = new World({ seed: 2 });
    const provider = world.startProvider('10.0.0.1');
    const client = world.startClient('10.0.0.2');
    world.run(100);
    world.assign(client, { taskId: 't1', params: { steps: 4, stepMs: 100 } });
    world.run(2_000);
    expect(client.settled.get('t1')).toEqual([{ status: 'Completed', resultData: { steps: 4 } }]);
    // The Ack (status Processing) reports 0, then the handler's steps.
    expect(client.progress.get('t1')).toEqual([0, 25, 50, 75, 100]);
    expect(provider.probe.runsOf(client.clientId, 't1')).toHaveLength(1);
    world.stopAll();
  });
});

describe('network: cancel', () => {
  it('network: cancel: a running task ends Cancelled at the client and its handler is stopped (TASK-11; 10 steps of 100 ms, cancel at 250 ms)', () => {
    const world = smallWorld(31);
    const provider = world.startProvider(P1);
    const client = world.startClient(C1);
    world.run(20);
    world.assign(client, { taskId: 't1', params: { steps: 10, stepMs: 100 } });
    world.run(250);
    expect(provider.probe.active().map((run) => run.input.taskId)).toEqual(['t1']);
    client.actor.send({ type: 'client.cancel', taskId: 't1' });
    world.run(50);
    expect(client.settled.get('t1')).toEqual([{ status: 'Cancelled' }]);
    expect(provider.probe.runsOf(client.clientId, 't1').map((run) => run.ended)).toEqual(['stopped']);
    expect(provider.emitted.flatMap(({ event }) => (event.type === 'task.settled' ? [event.outcome] : []))).toEqual([{ status: 'Cancelled' }]);
    expect(provider.requests.map((r) => r.message.type)).toEqual(['AssignTask', 'CancelTask']);
    world.run(2_000);
    expect(client.settled.get('t1')).toHaveLength(1);
    world.stopAll();
  });
});

describe('network: discovery', () => {
  it('network: discovery: a goodbye removes the provider from the client’s view at once (DISC-7, DISC-10; heartbeat 1 s, delay <= 5 ms)', () => {
    const world = smallWorld(32);
    const provider = world.startProvider(P1);
    const client = world.startClient(C1);
    world.run(300);
    expect(serviceIdsSeenBy(client)).toEqual([provider.serviceId]);
    const stopMs = world.clock.now();
    provider.actor.send({ type: 'provider.stop' });
    world.run(world.net.faults.delayMsMax);
    expect(serviceIdsSeenBy(client)).toEqual([]);
    const removal = client.emitted.find(({ atMs, event }) => atMs >= stopMs && event.type === 'services.changed');
    expect(removal?.atMs).toBeLessThanOrEqual(stopMs + world.net.faults.delayMsMax);
    expect(provider.actor.getSnapshot().status).toBe('done');
    world.stopAll();
  });

  it('network: discovery: an entry expires exactly 3x heartbeat after its last advertisement when the provider’s host crashes (DISC-9; heartbeat 1 s)', () => {
    const world = smallWorld(33);
    const provider = world.startProvider(P1);
    const client = world.startClient(C1);
    world.run(2_500);
    world.crashProvider(provider);
    const lastHeardMs = client.lastAdvertisementMs.get(provider.serviceId) as number;
    expect(lastHeardMs).toBeGreaterThan(2_000); // the heartbeat at 2 s arrived
    world.run(lastHeardMs + 1.5 * HEARTBEAT_MS - world.clock.now());
    expect(client.actor.getSnapshot().context.services.map((s) => s.health)).toEqual(['suspect']);
    world.run(lastHeardMs + 3 * HEARTBEAT_MS - 1 - world.clock.now());
    expect(serviceIdsSeenBy(client)).toEqual([provider.serviceId]);
    world.run(1);
    expect(serviceIdsSeenBy(client)).toEqual([]);
    expect(world.clock.now() - lastHeardMs).toBe(3 * HEARTBEAT_MS);
    world.stopAll();
  });
});

describe('network: crash', () => {
  it('network: crash: a provider crashes mid-task and restarts; the client notices by ping, reconnects with backoff, and the task fails TASK_NOT_FOUND (CONN-3, CONN-4, CONN-6; ping 300 ms, pong 300 ms, restart after 1 s)', () => {
    const world = smallWorld(34);
    const first = world.startProvider(P1);
    const client = world.startClient(C1);
    world.run(20);
    world.assign(client, { taskId: 't1', params: { steps: 20, stepMs: 200 } });
    world.run(500);
    expect(first.probe.active()).toHaveLength(1);
    const crashMs = world.clock.now();
    world.crashProvider(first);
    world.run(1_000);

    // CONN-3: no pong within pongTimeoutMs of a ping: the connection is down, and reconnecting.
    const down = timeline(client, crashMs).filter(({ event }) => event.type === 'connection.down');
    expect(down.map(({ event }) => event)).toEqual([
      { type: 'connection.down', endpoint: endpointOf(P1), reason: 'no pong within pongTimeoutMs', graceful: false },
    ]);
    expect(down[0]!.atMs - crashMs).toBeLessThanOrEqual(PING_MS + PONG_MS);
    expect(world.connectionsOf(client)[endpointOf(P1)]).toMatch(/backoff|connecting/);
    const attemptsWhileDown = child<ConnectionContext>(client.actor, `connection:${endpointOf(P1)}`).attempt;
    expect(attemptsWhileDown).toBeGreaterThan(0);
    expect(client.settled.has('t1')).toBe(false);

    const restartMs = world.clock.now();
    const second = world.restartProvider(P1);
    world.run(2_000);
    const opened = timeline(client, restartMs).filter(({ event }) => event.type === 'connection.opened');
    expect(opened.map(({ event }) => event)).toEqual([{ type: 'connection.opened', endpoint: endpointOf(P1), reconnected: true }]);
    // CONN-6: the new incarnation hears GetResult, knows nothing of t1, and the task fails with that.
    expect(second.requests.map((r) => `${r.message.type} ${r.message.payload.taskId}`)).toEqual(['GetResult t1']);
    expect(client.settled.get('t1')).toEqual([{ status: 'Failed', error: { code: 'TASK_NOT_FOUND', message: 'No such task.' } }]);
    expect(second.probe.runs).toEqual([]);
    // The old incarnation's entry expired; the new one is listed.
    expect(serviceIdsSeenBy(client)).toEqual([second.serviceId]);
    world.stopAll();
  });
});

describe('network: partition', () => {
  it('network: partition: symmetric partition during a running task, then heal: the outcome reached meanwhile comes by GetResult, exactly once (CONN-6, TASK-13; task 1 s, partition 1.5 s)', () => {
    const world = smallWorld(35);
    const provider = world.startProvider(P1);
    const client = world.startClient(C1);
    world.run(20);
    world.assign(client, { taskId: 't1', params: { steps: 4, stepMs: 250 } });
    world.run(300);
    const cutMs = world.clock.now();
    world.net.partition([P1], [C1]);
    world.run(1_500);

    // Both sides noticed; the task finished anyway and its replies had nowhere to go.
    expect(timeline(client, cutMs).map(({ event }) => event.type)).toEqual(['connection.down']);
    // It kept trying (CONN-4): unreachable is not refused, so nothing made it give up within 1.5 s.
    expect(client.emitted.filter(({ atMs, event }) => atMs >= cutMs && event.type === 'connection.retrying').length).toBeGreaterThan(1);
    const sessionEnds = provider.emitted.flatMap(({ event }) => (event.type === 'session.ended' ? [event] : []));
    expect(sessionEnds).toMatchObject([{ clientId: client.clientId, graceful: false, reason: 'no pong within pongTimeoutMs' }]);
    expect(provider.emitted.flatMap(({ event }) => (event.type === 'task.settled' ? [event.outcome] : []))).toEqual([
      { status: 'Completed', resultData: { steps: 4 } },
    ]);
    expect(provider.actor.getSnapshot().context.stats.repliesUndeliverable).toBeGreaterThan(0);
    expect(client.settled.has('t1')).toBe(false);

    const healMs = world.clock.now();
    world.net.heal();
    world.run(2_000);
    expect(timeline(client, healMs).map(({ event }) => event.type)).toEqual(['connection.opened', 'task.settled']);
    expect(provider.requests.filter((r) => r.atMs >= healMs).map((r) => `${r.message.type} ${r.message.payload.taskId}`)).toEqual([
      'GetResult t1',
    ]);
    expect(client.settled.get('t1')).toEqual([{ status: 'Completed', resultData: { steps: 4 } }]);
    expect(provider.probe.runsOf(client.clientId, 't1')).toHaveLength(1);
    const progress = client.progress.get('t1') ?? [];
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    world.run(3_000);
    expect(client.settled.get('t1')).toHaveLength(1);
    world.stopAll();
  });

  it('network: partition: the Ack is lost (asymmetric, provider -> client cut): AssignTask is re-sent with the same messageId and taskId and the handler runs once (TASK-3, TASK-4; ack timeout 120 ms, 10 attempts)', () => {
    const world = smallWorld(36, {
      client: { connection: { ...smallClientOptions.connection, task: { ackTimeoutMs: 120, assignAttemptsMax: 10, cancelTimeoutMs: 600 } } },
    });
    const provider = world.startProvider(P1);
    const client = world.startClient(C1);
    world.run(20);
    world.assign(client, { taskId: 'warm-up', params: { steps: 1, stepMs: 10 } });
    world.run(100);
    expect(client.settled.get('warm-up')).toMatchObject([{ status: 'Completed' }]);

    world.net.partition([P1], [C1], { symmetric: false });
    const assignMs = world.clock.now();
    world.assign(client, { taskId: 't1', params: { steps: 1, stepMs: 100 } });
    world.run(300);
    world.net.heal();
    world.run(2_000);

    const copies = provider.requests.filter((r) => r.message.type === 'AssignTask' && r.message.payload.taskId === 't1');
    expect(copies.length).toBeGreaterThanOrEqual(3);
    expect(new Set(copies.map((r) => r.message.messageId))).toEqual(new Set([`assign-${client.clientId}-t1`]));
    // TASK-3: the first re-send comes ackTimeoutMs after the first send (give or take the one-way delays).
    expect(copies[1]!.atMs - copies[0]!.atMs).toBeGreaterThanOrEqual(120 - world.net.faults.delayMsMax);
    expect(copies[1]!.atMs - copies[0]!.atMs).toBeLessThanOrEqual(120 + world.net.faults.delayMsMax);
    expect(copies[0]!.atMs - assignMs).toBeLessThanOrEqual(world.net.faults.delayMsMax);
    // TASK-4: every later copy was answered from the ledger; the handler ran once.
    expect(provider.probe.runsOf(client.clientId, 't1')).toHaveLength(1);
    expect(world.registryOf(provider).duplicatesAnswered).toBe(copies.length - 1);
    expect(client.settled.get('t1')).toEqual([{ status: 'Completed', resultData: { steps: 1 } }]);
    world.stopAll();
  });
});

describe('network: selection', () => {
  it('network: selection: two equal providers take turns (DISC-11; round-robin, both Online at load 0)', () => {
    const world = smallWorld(37);
    const p1 = world.startProvider(P1);
    const p2 = world.startProvider(P2);
    const client = world.startClient(C1);
    world.run(50);
    expect(serviceIdsSeenBy(client).sort()).toEqual([p1.serviceId, p2.serviceId].sort());
    for (const taskId of ['t1', 't2', 't3', 't4']) world.assign(client, { taskId, params: { steps: 1, stepMs: 50 } });
    expect(world.emittedBy(client, 'task.submitted').map((e) => e.endpoint)).toEqual([
      endpointOf(P1),
      endpointOf(P2),
      endpointOf(P1),
      endpointOf(P2),
    ]);
    world.run(500);
    expect(p1.probe.runs.map((run) => run.input.taskId)).toEqual(['t1', 't3']);
    expect(p2.probe.runs.map((run) => run.input.taskId)).toEqual(['t2', 't4']);
    expect([...client.settled.values()].every((outcomes) => outcomes.length === 1 && outcomes[0]!.status === 'Completed')).toBe(true);
    world.stopAll();
  });

  it('network: selection: an Online provider is preferred over a Busy one (DISC-6, DISC-11; tasksRunningMax 1 on the busy one)', () => {
    const world = smallWorld(38);
    const small = world.startProvider(P1, { provider: { limits: { ...smallProviderOptions.limits, tasksRunningMax: 1 } } });
    const large = world.startProvider(P2);
    const client = world.startClient(C1);
    world.run(50);
    world.assign(client, { taskId: 'hog', params: { steps: 20, stepMs: 100 }, excludeServiceIds: [large.serviceId] });
    world.run(50);
    expect(small.emitted.flatMap(({ event }) => (event.type === 'provider.status' ? [event.status] : []))).toEqual(['Online', 'Busy']);
    expect(client.actor.getSnapshot().context.services.map((s) => `${s.serviceId}:${s.status}`).sort()).toEqual(
      [`${small.serviceId}:Busy`, `${large.serviceId}:Online`].sort(),
    );
    for (const taskId of ['t1', 't2', 't3']) world.assign(client, { taskId, params: { steps: 1, stepMs: 50 } });
    expect(world.emittedBy(client, 'task.submitted').slice(1).map((e) => e.serviceId)).toEqual([large.serviceId, large.serviceId, large.serviceId]);
    world.run(500);
    expect(large.probe.runs.map((run) => run.input.taskId)).toEqual(['t1', 't2', 't3']);
    expect(small.probe.runs.map((run) => run.input.taskId)).toEqual(['hog']);
    world.stopAll();
  });
});

describe('network: input', () => {
  it('network: input: garbage datagrams and frames are rejected and counted, and every client’s task still completes (SEC-9, WIRE-8, DISC-12; 4 kinds of garbage)', () => {
    const world = smallWorld(39);
    const provider = world.startProvider(P1);
    const alice = world.startClient(C1);
    const bob = world.startClient(C2);
    world.run(20);
    world.assign(alice, { taskId: 'a1', params: { steps: 4, stepMs: 100 } });
    world.assign(bob, { taskId: 'b1', params: { steps: 4, stepMs: 100 } });
    world.run(50);

    const garbage = ['not json at all', '[1, 2, 3]', '{"discoveryType":"Nope","type":"Nope"}', '{"type":"AssignTask","messageId":"x","payload":{}}'];
    for (const text of garbage) {
      world.net.injectDatagram({ from: { host: '6.6.6.6', port: 666 }, to: 'broadcast', port: DISCOVERY_PORT, text });
    }
    const sessionOf = (client: ClientNode) =>
      provider.emitted.flatMap(({ event }) => (event.type === 'session.bound' && event.clientId === client.clientId ? [event.connectionId] : []))[0]!;
    const aliceConnection = sessionOf(alice);
    for (const text of garbage) {
      world.net.injectFrame({ connectionId: aliceConnection, to: 'server', text });
      world.net.injectFrame({ connectionId: aliceConnection, to: 'client', text });
    }
    world.run(1_000);

    expect(alice.settled.get('a1')).toEqual([{ status: 'Completed', resultData: { steps: 4 } }]);
    expect(bob.settled.get('b1')).toEqual([{ status: 'Completed', resultData: { steps: 4 } }]);
    // Datagrams: dropped and counted by every discovery socket, never answered.
    expect(provider.actor.getSnapshot().context.stats.datagramsRejected).toBe(garbage.length);
    for (const client of [alice, bob]) expect(child<RepositoryContext>(client.actor, 'repository').stats.datagramsRejected).toBe(garbage.length);
    // Frames to the provider: each answered with an Error and counted; the session stays open.
    const session = child<SessionContext>(provider.actor, `session:${aliceConnection}`);
    expect(session.stats.messagesRejected).toBe(garbage.length);
    // Frames to the client: counted by its connection; the Errors about undecodable input are unroutable.
    const connection = child<ConnectionContext>(alice.actor, `connection:${endpointOf(P1)}`);
    expect(connection.stats.messagesRejected).toBe(garbage.length);
    expect(connection.stats.messagesUnroutable).toBe(garbage.length);
    expect(world.connectionsOf(alice)[endpointOf(P1)]).toContain('open');
    // 3 discovery sockets heard each datagram; each frame was rejected once, at its receiver.
    expect(world.net.stats.rejected).toBe(3 * garbage.length + 2 * garbage.length);
    world.stopAll();
  });
});

describe('network: drain', () => {
  it('network: drain: a client assigning as the provider drains gets PROVIDER_DRAINING; later assigns see Draining and get SERVICE_UNAVAILABLE (TASK-8, DISC-11)', () => {
    const world = smallWorld(40);
    const provider = world.startProvider(P1);
    const client = world.startClient(C1);
    world.run(20);
    world.assign(client, { taskId: 'long', params: { steps: 5, stepMs: 100 } });
    world.run(50);
    // The drain and the assignment cross: the client still sees the provider Online.
    provider.actor.send({ type: 'provider.drain' });
    world.assign(client, { taskId: 'late', params: { steps: 1, stepMs: 10 } });
    world.run(20);
    expect(client.settled.get('late')).toEqual([
      { status: 'Failed', error: { code: 'PROVIDER_DRAINING', message: 'The provider is draining.' } },
    ]);
    expect(client.actor.getSnapshot().context.services.map((s) => s.status)).toEqual(['Draining']);
    world.assign(client, { taskId: 'later', params: { steps: 1, stepMs: 10 } });
    expect(client.settled.get('later')).toMatchObject([{ status: 'Failed', error: { code: 'SERVICE_UNAVAILABLE' } }]);
    world.run(600);
    expect(client.settled.get('long')).toEqual([{ status: 'Completed', resultData: { steps: 5 } }]);
    expect(provider.actor.getSnapshot().status).toBe('done');
    expect(serviceIdsSeenBy(client)).toEqual([]);
    expect(provider.probe.runs.map((run) => run.input.taskId)).toEqual(['long']);
    world.stopAll();
  });
});
