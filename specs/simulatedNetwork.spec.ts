/**
 * The simulated network (adapters/simulated/): UDP discovery semantics (broadcast, unicast,
 * ephemeral reply ports, loss, duplication, delay and reordering), WebSocket stream semantics
 * (connect or refused, order, ping/pong, close handshake, terminate), partitions, crashes, the
 * boundary codec, the (dueAtMs, seq) queue, and determinism from one seed.
 *
 * Every transport runs inside a tiny probe machine (one actor system per probe, all on one
 * SimulatedClock) that records each event the transport sends back, with the clock time.
 * Failing property runs print fast-check's seed and path; the network's own seed is in the
 * counterexample.
 */
import fc from 'fast-check';
import { SimulatedClock, createActor, setup, type AnyActorLogic, type AnyActorRef, type AnyEventObject } from 'xstate';
import { describe, expect, it } from 'vitest';
import type { DiscoveryDraft, WireDraft } from '../machines/messages.js';
import { DeliveryQueue } from '../adapters/simulated/queue.js';
import {
  EPHEMERAL_PORT_FIRST,
  HELD_DATAGRAMS_MAX,
  SimulatedNetwork,
  VirtualClock,
  type FaultOptions,
  type SimulatedNetworkOptions,
  type TraceRecord,
} from '../adapters/simulated/index.js';
import { createDatagramSigner } from '../adapters/udp/signature.js';
import { ephemeralKey } from '../runtime/keys.js';

const EPOCH_MS = 1_750_000_000_000;
const A = '10.0.0.1';
const B = '10.0.0.2';
const C = '10.0.0.3';

// ---- harness ----------------------------------------------------------------------------------

interface Recorded {
  readonly atMs: number;
  readonly event: AnyEventObject;
}

interface Probe {
  readonly log: Recorded[];
  /** Sends a command to the transport. */
  send(command: AnyEventObject): void;
  /** Stops the probe, and so the transport (its cleanup runs). */
  stop(): void;
  of(type: string): AnyEventObject[];
}

/** A machine that invokes `logic` as its transport and records every event it sends back. */
function probe(clock: SimulatedClock, logic: AnyActorLogic, input?: unknown): Probe {
  const log: Recorded[] = [];
  const machine = setup({ actors: { transport: logic } }).createMachine({
    invoke: { id: 'transport', src: 'transport', input: () => input as never },
    on: { '*': { actions: ({ event }) => void log.push({ atMs: clock.now(), event }) } },
  });
  const actor = createActor(machine, { clock }).start();
  return {
    log,
    send: (command) => (actor.getSnapshot().children.transport as AnyActorRef).send(command),
    stop: () => actor.stop(),
    of: (type) => log.filter((entry) => entry.event.type === type).map((entry) => entry.event),
  };
}

function network(options: Partial<SimulatedNetworkOptions> = {}): { clock: SimulatedClock; net: SimulatedNetwork } {
  const clock = new SimulatedClock();
  // These specs count deliveries of many requests from one host: the answer bounds (DISC-16),
  // which would drop most of them, are lifted here and proven on their own below.
  const answers = { requestsPerSourceMax: 1_000_000, requestsMax: 1_000_000 };
  return { clock, net: new SimulatedNetwork({ clock, seed: 1, answers, ...options }) };
}

const request = (clientId: string): DiscoveryDraft => ({ discoveryType: 'ClientServiceDiscoveryRequest', clientId });
const getStatus = (taskId: string): WireDraft => ({ type: 'GetStatus', payload: { taskId, originalClientId: 'client-1' } });
const broadcast = (clientId: string) => ({ type: 'datagram.send', draft: request(clientId), to: 'broadcast' });
const unicast = (clientId: string, host: string, port: number) => ({ type: 'datagram.send', draft: request(clientId), to: { host, port } });
const clientIds = (p: Probe): string[] => p.of('datagram.received').map((event) => event.message.clientId);
const taskIds = (p: Probe): string[] => p.of('transport.message').map((event) => event.message.payload.taskId);

/** A provider on A:8080 with an accepted transport attached, and a client on B connected to it. */
function connected(clock: SimulatedClock, net: SimulatedNetwork, options: { serverHost?: string; clientHost?: string } = {}) {
  const { serverHost = A, clientHost = B } = options;
  const server = probe(clock, net.host(serverHost).server({ port: 8080 }));
  const client = probe(clock, net.host(clientHost).connect(), { endpoint: `ws://${serverHost}:8080` });
  net.run(2 * net.faults.delayMsMax);
  const connectionId = server.of('server.accepted')[0]?.connectionId as string;
  const provider = probe(clock, net.host(serverHost).accepted(), { connectionId });
  net.run(0);
  expect(client.of('transport.opened')).toHaveLength(1);
  return { server, client, provider, connectionId };
}

// ---- the queue --------------------------------------------------------------------------------

describe('simulatedNetwork: queue', () => {
  it('delivers in (dueAtMs, seq) order: equal due times come out first in, first out', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 60 }), (dues) => {
        const clock = new SimulatedClock();
        const queue = new DeliveryQueue(clock, 1000);
        const order: number[] = [];
        dues.forEach((dueAtMs, index) => queue.push(dueAtMs, () => order.push(index)));
        clock.increment(10);
        const expected = dues.map((dueAtMs, index) => ({ dueAtMs, index })).sort((x, y) => x.dueAtMs - y.dueAtMs || x.index - y.index);
        expect(order).toEqual(expected.map((item) => item.index));
        expect(queue.size).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('runs a delivery queued during a drain for the same instant after the earlier ones, and refuses beyond its bound', () => {
    const clock = new SimulatedClock();
    const queue = new DeliveryQueue(clock, 3);
    const order: string[] = [];
    queue.push(2, () => {
      order.push('first');
      queue.push(2, () => order.push('pushed during drain'));
    });
    queue.push(2, () => order.push('second'));
    expect(queue.push(9, () => order.push('third'))).toBe(true);
    expect(queue.push(9, () => order.push('over the bound'))).toBe(false);
    clock.increment(1);
    expect(order).toEqual([]);
    clock.increment(1);
    expect(order).toEqual(['first', 'second', 'pushed during drain']);
    clock.increment(7);
    expect(order.at(-1)).toBe('third');
  });

  it('datagrams sent together with a fixed delay arrive in send order', () => {
    const { clock, net } = network({ faults: { delayMsMin: 3, delayMsMax: 3 } });
    const sender = probe(clock, net.host(A).discovery());
    const receiver = probe(clock, net.host(B).discovery());
    for (let i = 0; i < 20; i++) sender.send(broadcast(`c${i}`));
    net.run(3);
    expect(clientIds(receiver)).toEqual(Array.from({ length: 20 }, (_, i) => `c${i}`));
    expect(receiver.log.every((entry) => entry.atMs === 3)).toBe(true);
  });
});

describe('simulatedNetwork: run', () => {
  it('fires every clock timer and every delivery at its own time, so what a timer sends counts from then', () => {
    const { clock, net } = network({ faults: { delayMsMin: 5, delayMsMax: 5 } });
    const sender = probe(clock, net.host(A).discovery());
    const receiver = probe(clock, net.host(B).discovery());
    const seen: Array<[number, number]> = [];
    sender.send(broadcast('at 0'));
    clock.setTimeout(() => sender.send(broadcast('at 3')), 3);
    clock.setTimeout(() => seen.push([clock.now(), receiver.log.length]), 7);
    net.run(20);
    expect(seen).toEqual([[7, 1]]);
    expect(receiver.log.map((entry) => [entry.atMs, entry.event.message.clientId])).toEqual([
      [5, 'at 0'],
      [8, 'at 3'],
    ]);
    expect(clock.now()).toBe(20);
  });
});

// ---- datagrams --------------------------------------------------------------------------------

describe('simulatedNetwork: datagrams', () => {
  it('DISC-1: a broadcast reaches every socket on the port on every host, not the sender, not other ports', () => {
    const { clock, net } = network();
    const sender = probe(clock, net.host(A).discovery());
    const sibling = probe(clock, net.host(A).discovery());
    const onB = probe(clock, net.host(B).discovery());
    const onC = [probe(clock, net.host(C).discovery()), probe(clock, net.host(C).discovery())];
    const otherPort = probe(clock, net.host(C).discovery({ port: 50_002 }));
    sender.send(broadcast('c1'));
    net.run(10);
    for (const receiver of [sibling, onB, ...onC]) expect(clientIds(receiver)).toEqual(['c1']);
    expect(sender.log).toEqual([]);
    expect(otherPort.log).toEqual([]);
    expect(net.stats).toMatchObject({ delivered: 4, lost: 0, duplicated: 0 });
  });

  it('stamps with the codec: the timestamp is epochMs + clock time of sending, and from is the sender’s ephemeral port', () => {
    const { clock, net } = network();
    const sender = probe(clock, net.host(A).discovery());
    const receiver = probe(clock, net.host(B).discovery());
    net.run(1234);
    sender.send(broadcast('c1'));
    net.run(10);
    const [received] = receiver.of('datagram.received');
    expect(received?.message).toEqual({ discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'c1', timestamp: EPOCH_MS + 1234 });
    expect(received?.from).toEqual({ host: A, port: EPHEMERAL_PORT_FIRST });
  });

  it('DISC-1: a unicast to the shared port reaches one socket only, the most recently bound', () => {
    const { clock, net } = network();
    const sender = probe(clock, net.host(A).discovery());
    const older = probe(clock, net.host(B).discovery());
    const newer = probe(clock, net.host(B).discovery());
    sender.send(unicast('c1', B, 50_001));
    net.run(10);
    expect(clientIds(newer)).toEqual(['c1']);
    expect(older.log).toEqual([]);
  });

  it('DISC-3: a reply to the sender’s ephemeral port reaches that socket only', () => {
    const { clock, net } = network();
    const client = probe(clock, net.host(A).discovery());
    const neighbour = probe(clock, net.host(A).discovery()); // most recently bound on the shared port
    const provider = probe(clock, net.host(B).discovery());
    client.send(broadcast('c1'));
    net.run(10);
    const from = provider.of('datagram.received')[0]?.from as { host: string; port: number };
    expect(from.host).toBe(A);
    provider.send(unicast('reply', from.host, from.port));
    net.run(10);
    expect(clientIds(client)).toEqual(['reply']);
    expect(clientIds(neighbour)).toEqual(['c1']);
  });

  it('loses a unicast to an unknown host, a down host or a port nobody bound, silently', () => {
    const { clock, net } = network();
    const sender = probe(clock, net.host(A).discovery());
    net.host(B);
    net.crash(B);
    probe(clock, net.host(C).discovery());
    sender.send(unicast('c1', '10.9.9.9', 50_001));
    sender.send(unicast('c2', B, 50_001));
    sender.send(unicast('c3', C, 50_009));
    net.run(10);
    expect(sender.log).toEqual([]);
    expect(net.stats).toMatchObject({ delivered: 0, dropped: 3 });
  });

  it('loss probability 1 drops every delivery, 0 drops none', () => {
    const { clock, net } = network({ faults: { lossProbability: 1 } });
    const sender = probe(clock, net.host(A).discovery());
    const receivers = [probe(clock, net.host(B).discovery()), probe(clock, net.host(C).discovery())];
    for (let i = 0; i < 50; i++) sender.send(broadcast(`c${i}`));
    net.run(10);
    expect(receivers.flatMap((receiver) => receiver.log)).toEqual([]);
    expect(net.stats).toMatchObject({ lost: 100, delivered: 0 });
    net.setFaults({ lossProbability: 0 });
    for (let i = 0; i < 50; i++) sender.send(broadcast(`c${i}`));
    net.run(10);
    for (const receiver of receivers) expect(clientIds(receiver)).toHaveLength(50);
    expect(net.stats).toMatchObject({ lost: 100, delivered: 100 });
  });

  it('loses about lossProbability of the deliveries', () => {
    const { clock, net } = network({ seed: 7, faults: { lossProbability: 0.3 } });
    const sender = probe(clock, net.host(A).discovery());
    const receiver = probe(clock, net.host(B).discovery());
    for (let i = 0; i < 1000; i++) sender.send(broadcast(`c${i}`));
    net.run(10);
    expect(net.stats.lost).toBeGreaterThan(230);
    expect(net.stats.lost).toBeLessThan(370);
    expect(clientIds(receiver)).toHaveLength(1000 - net.stats.lost);
  });

  it('duplicates every delivery with duplicate probability 1, each copy decoded on its own', () => {
    const { clock, net } = network({ faults: { duplicateProbability: 1 } });
    const sender = probe(clock, net.host(A).discovery());
    const receiver = probe(clock, net.host(B).discovery());
    for (let i = 0; i < 10; i++) sender.send(broadcast(`c${i}`));
    net.run(10);
    expect(clientIds(receiver).sort()).toEqual(Array.from({ length: 10 }, (_, i) => [`c${i}`, `c${i}`]).flat().sort());
    expect(net.stats).toMatchObject({ duplicated: 10, delivered: 20 });
  });

  it('delays each delivery within [delayMsMin, delayMsMax], and a range reorders datagrams', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), (seed, low, span) => {
        const { clock, net } = network({ seed, faults: { delayMsMin: low, delayMsMax: low + span } });
        const sender = probe(clock, net.host(A).discovery());
        const receiver = probe(clock, net.host(B).discovery());
        for (let i = 0; i < 20; i++) sender.send(broadcast(`c${i}`));
        net.run(low + span + 1);
        expect(receiver.log).toHaveLength(20);
        for (const { atMs } of receiver.log) {
          expect(atMs).toBeGreaterThanOrEqual(low);
          expect(atMs).toBeLessThanOrEqual(low + span);
        }
      }),
      { numRuns: 100 },
    );
    const { clock, net } = network({ faults: { delayMsMin: 1, delayMsMax: 20 } });
    const sender = probe(clock, net.host(A).discovery());
    const receiver = probe(clock, net.host(B).discovery());
    for (let i = 0; i < 20; i++) sender.send(broadcast(`c${i}`));
    net.run(25);
    expect(clientIds(receiver)).not.toEqual(Array.from({ length: 20 }, (_, i) => `c${i}`));
    expect(clientIds(receiver).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `c${i}`).sort());
  });

  it('WIRE-9, DISC-12: garbage becomes datagram.rejected with a code and is counted', () => {
    const { clock, net } = network({ limits: { datagramBytesMax: 100 }, faults: { delayMsMin: 1, delayMsMax: 1 } });
    const receiver = probe(clock, net.host(B).discovery());
    const from = { host: '10.6.6.6', port: 6666 };
    net.injectDatagram({ from, to: B, port: 50_001, text: 'not json' });
    net.injectDatagram({ from, to: 'broadcast', port: 50_001, text: '{"discoveryType":"Nope"}' });
    net.injectDatagram({ from, to: B, port: 50_001, text: JSON.stringify({ discoveryType: 'ServiceAdvertisement', pad: 'x'.repeat(100) }) });
    net.run(10);
    expect(receiver.of('datagram.rejected').map((event) => [event.error.code, event.from])).toEqual([
      ['INVALID_MESSAGE', from],
      ['UNSUPPORTED_MESSAGE', from],
      ['MESSAGE_TOO_LARGE', from],
    ]);
    expect(net.stats).toMatchObject({ rejected: 3, delivered: 0 });
  });

  it('a stopped socket receives nothing and its port is free for the next', () => {
    const { clock, net } = network();
    const sender = probe(clock, net.host(A).discovery());
    const stopped = probe(clock, net.host(B).discovery());
    sender.send(broadcast('in flight'));
    stopped.stop();
    net.run(10);
    expect(stopped.log).toEqual([]);
    expect(net.stats.dropped).toBe(1);
    const next = probe(clock, net.host(B).discovery());
    sender.send(unicast('c2', B, 50_001));
    net.run(10);
    expect(clientIds(next)).toEqual(['c2']);
  });
});

// ---- partitions -------------------------------------------------------------------------------

describe('simulatedNetwork: partitions', () => {
  function threeHosts() {
    const { clock, net } = network();
    const [a, b, c] = [A, B, C].map((host) => probe(clock, net.host(host).discovery()));
    return { clock, net, a: a as Probe, b: b as Probe, c: c as Probe };
  }

  it('a symmetric partition cuts both ways, leaves other paths alone, and heal() restores it', () => {
    const { net, a, b, c } = threeHosts();
    net.partition([A], [B]);
    a.send(broadcast('from a'));
    b.send(broadcast('from b'));
    net.run(10);
    expect(clientIds(a)).toEqual([]);
    expect(clientIds(b)).toEqual([]);
    expect(clientIds(c).sort()).toEqual(['from a', 'from b']);
    expect(net.stats.partitioned).toBe(2);
    net.heal();
    a.send(broadcast('healed'));
    net.run(10);
    expect(clientIds(b)).toEqual(['healed']);
  });

  it('an asymmetric partition cuts only A -> B', () => {
    const { net, a, b } = threeHosts();
    net.partition([A], [B], { symmetric: false });
    a.send(broadcast('from a'));
    b.send(broadcast('from b'));
    net.run(10);
    expect(clientIds(b)).toEqual([]);
    expect(clientIds(a)).toEqual(['from b']);
  });

  it('a partition that starts while a datagram is in flight eats it', () => {
    const { net, a, b } = threeHosts();
    net.setFaults({ delayMsMin: 10, delayMsMax: 10 });
    a.send(broadcast('in flight'));
    net.run(5);
    net.partition([A, C], [B]);
    net.run(10);
    expect(clientIds(b)).toEqual([]);
  });

  it('rejects a host on both sides of a partition', () => {
    const { net } = threeHosts();
    expect(() => net.partition([A, B], [B])).toThrow(RangeError);
  });
});

// ---- streams ----------------------------------------------------------------------------------

describe('simulatedNetwork: streams', () => {
  it('connects: server.listening, server.accepted after one delay, transport.opened after the round trip', () => {
    const { clock, net } = network({ faults: { delayMsMin: 4, delayMsMax: 4 } });
    const server = probe(clock, net.host(A).server({ port: 8080 }));
    net.run(0);
    expect(server.of('server.listening')).toEqual([{ type: 'server.listening', endpoint: `ws://${A}:8080` }]);
    const client = probe(clock, net.host(B).connect(), { endpoint: `ws://${A}:8080/?token=secret` });
    net.run(10);
    const accepted = server.log.find((entry) => entry.event.type === 'server.accepted');
    expect(accepted?.atMs).toBe(4);
    expect(accepted?.event).toMatchObject({ remoteAddress: B, token: 'secret' });
    expect(accepted?.event.connectionId).toMatch(/^sim-[0-9a-f]{16}$/);
    expect(client.log).toEqual([{ atMs: 8, event: { type: 'transport.opened' } }]);
  });

  it('carries messages both ways through the codec, stamped with a sim- id and the send time', () => {
    const { clock, net } = network();
    const { client, provider } = connected(clock, net);
    const sentAtMs = clock.now();
    client.send({ type: 'transport.send', draft: getStatus('t1') });
    provider.send({ type: 'transport.send', draft: { ...getStatus('t2'), messageId: 'chosen' } });
    net.run(10);
    const [toProvider] = provider.of('transport.message');
    expect(toProvider?.message).toMatchObject({ type: 'GetStatus', timestamp: EPOCH_MS + sentAtMs, payload: { taskId: 't1' } });
    expect(toProvider?.message.messageId).toMatch(/^sim-[0-9a-f]{16}$/);
    expect(client.of('transport.message')[0]?.message.messageId).toBe('chosen');
    expect(net.stats.delivered).toBe(2);
  });

  it('never reorders, loses or duplicates on a stream, whatever the datagram faults', () => {
    const { clock, net } = network({ faults: { delayMsMin: 1, delayMsMax: 30 } });
    const { client, provider } = connected(clock, net);
    net.setFaults({ lossProbability: 1, duplicateProbability: 1 });
    for (let i = 0; i < 50; i++) {
      client.send({ type: 'transport.send', draft: getStatus(`t${i}`) });
      if (i % 7 === 0) net.run(1);
    }
    net.run(100);
    expect(taskIds(provider)).toEqual(Array.from({ length: 50 }, (_, i) => `t${i}`));
    expect(net.stats).toMatchObject({ lost: 0, duplicated: 0 });
  });

  it('keeps what the client sends before the provider attaches, and hands it over in order', () => {
    const { clock, net } = network();
    const server = probe(clock, net.host(A).server({ port: 8080 }));
    const client = probe(clock, net.host(B).connect(), { endpoint: `ws://${A}:8080` });
    net.run(10);
    client.send({ type: 'transport.send', draft: getStatus('early-1') });
    client.send({ type: 'transport.send', draft: getStatus('early-2') });
    net.run(10);
    const provider = probe(clock, net.host(A).accepted(), { connectionId: server.of('server.accepted')[0]?.connectionId });
    client.send({ type: 'transport.send', draft: getStatus('late') });
    net.run(10);
    expect(taskIds(provider)).toEqual(['early-1', 'early-2', 'late']);
  });

  it('refuses a connect when nothing listens, the host is unknown or down, or a partition cuts the path', () => {
    const { clock, net } = network();
    probe(clock, net.host(A).server({ port: 8080 }));
    net.host(C);
    net.crash(C);
    net.partition([B], [A], { symmetric: false });
    const endpoints = [`ws://${A}:9999`, 'ws://10.9.9.9:8080', `ws://${C}:8080`, `ws://${A}:8080`, 'not a url'];
    const clients = endpoints.map((endpoint) => probe(clock, net.host(B).connect(), { endpoint }));
    net.run(20);
    // None is flagged `refused` (CONN-4): the path from B to A is cut, and an unknown or crashed
    // host would be a timeout on a real network.
    for (const client of clients) {
      expect(client.log.map((entry) => entry.event)).toEqual([
        { type: 'transport.closed', graceful: false, code: 1006, reason: 'connection refused' },
      ]);
    }
  });

  it('CONN-4: a host that is up and reachable, with nothing listening on the port, says so (`refused`)', () => {
    const { clock, net } = network();
    probe(clock, net.host(A).server({ port: 8080 }));
    const client = probe(clock, net.host(B).connect(), { endpoint: `ws://${A}:9999` });
    net.run(20);
    expect(client.log.map((entry) => entry.event)).toEqual([
      { type: 'transport.closed', graceful: false, code: 1006, reason: 'connection refused', refused: true },
    ]);
  });

  it('fails a second listener on the same port with server.failed', () => {
    const { clock, net } = network();
    probe(clock, net.host(A).server({ port: 8080 }));
    const second = probe(clock, net.host(A).server({ port: 8080 }));
    net.run(0);
    expect(second.of('server.failed')[0]?.error.code).toBe('INTERNAL_ERROR');
    expect(second.of('server.listening')).toEqual([]);
  });

  it('stops accepting after server.close (connects are refused) but keeps open connections', () => {
    const { clock, net } = network();
    const { server, client, provider } = connected(clock, net);
    server.send({ type: 'server.close' });
    const late = probe(clock, net.host(C).connect(), { endpoint: `ws://${A}:8080` });
    client.send({ type: 'transport.send', draft: getStatus('still open') });
    net.run(20);
    expect(late.of('transport.closed')[0]).toMatchObject({ reason: 'connection refused', refused: true });
    expect(taskIds(provider)).toEqual(['still open']);
  });

  it('treats a close code the protocol forbids as a programmer error, as ws does', () => {
    const { clock, net } = network();
    const { client } = connected(clock, net);
    client.send({ type: 'transport.close', code: 1006 });
    expect(client.of('xstate.error.actor.transport')).toHaveLength(1);
  });

  it('CONN-3: answers a ping with a pong after a round trip, from either side', () => {
    const { clock, net } = network({ faults: { delayMsMin: 3, delayMsMax: 3 } });
    const { client, provider } = connected(clock, net);
    const pingedAtMs = clock.now();
    client.send({ type: 'transport.ping' });
    provider.send({ type: 'transport.ping' });
    net.run(10);
    expect(client.log.filter((entry) => entry.event.type === 'transport.pong').map((entry) => entry.atMs)).toEqual([pingedAtMs + 6]);
    expect(provider.of('transport.pong')).toHaveLength(1);
  });

  it('CONN-3: a partition blackholes a stream silently, and the path it killed stays dead after heal', () => {
    const { clock, net } = network();
    const { client, provider } = connected(clock, net);
    net.partition([A], [B]);
    client.send({ type: 'transport.ping' });
    client.send({ type: 'transport.send', draft: getStatus('lost') });
    net.run(20);
    net.heal();
    client.send({ type: 'transport.send', draft: getStatus('after heal') });
    client.send({ type: 'transport.ping' });
    net.run(20);
    expect(client.log.slice(1)).toEqual([]);
    expect(provider.log).toEqual([]);
    expect(net.stats.partitioned).toBe(4);
  });

  it('CONN-7: the close handshake gives each side exactly one graceful transport.closed, the closer after the round trip', () => {
    const { clock, net } = network({ faults: { delayMsMin: 5, delayMsMax: 5 } });
    const { client, provider } = connected(clock, net);
    const closedAtMs = clock.now();
    client.send({ type: 'transport.close', code: 1000, reason: 'bye' });
    client.send({ type: 'transport.send', draft: getStatus('after close') });
    net.run(30);
    const closed = { type: 'transport.closed', graceful: true, code: 1000, reason: 'bye' };
    expect(provider.log).toEqual([{ atMs: closedAtMs + 5, event: closed }]);
    expect(client.log.slice(1)).toEqual([{ atMs: closedAtMs + 10, event: closed }]);
    provider.send({ type: 'transport.close', code: 1000 });
    provider.send({ type: 'transport.terminate' });
    net.run(30);
    expect(client.of('transport.closed')).toHaveLength(1);
    expect(provider.of('transport.closed')).toHaveLength(1);
  });

  it('CONN-7: a blackholed close never completes: the closer’s own timeout terminates, and hears 1006 once', () => {
    const { clock, net } = network();
    const { client, provider } = connected(clock, net);
    net.partition([A], [B]);
    client.send({ type: 'transport.close', code: 1000 });
    net.run(2000);
    expect(client.of('transport.closed')).toEqual([]);
    client.send({ type: 'transport.terminate' });
    net.run(20);
    expect(client.of('transport.closed')).toEqual([{ type: 'transport.closed', graceful: false, code: 1006, reason: 'terminated' }]);
    expect(provider.log).toEqual([]);
  });

  it('CONN-3: terminate closes this side at once (next tick) and resets the peer after a delay', () => {
    const { clock, net } = network({ faults: { delayMsMin: 5, delayMsMax: 5 } });
    const { client, provider } = connected(clock, net);
    const atMs = clock.now();
    provider.send({ type: 'transport.terminate' });
    net.run(0);
    expect(provider.log).toEqual([{ atMs, event: { type: 'transport.closed', graceful: false, code: 1006, reason: 'terminated' } }]);
    net.run(20);
    expect(client.log.slice(1)).toEqual([
      { atMs: atMs + 5, event: { type: 'transport.closed', graceful: false, code: 1006, reason: 'connection reset' } },
    ]);
    provider.send({ type: 'transport.terminate' });
    client.send({ type: 'transport.close', code: 1000 });
    net.run(20);
    expect(provider.of('transport.closed')).toHaveLength(1);
    expect(client.of('transport.closed')).toHaveLength(1);
  });

  it('stopping a transport actor without a close resets the peer, like terminate', () => {
    const { clock, net } = network();
    const { client, provider } = connected(clock, net);
    client.stop();
    net.run(20);
    expect(provider.log).toEqual([
      expect.objectContaining({ event: { type: 'transport.closed', graceful: false, code: 1006, reason: 'connection reset' } }),
    ]);
  });

  it('a client that gives up while connecting resets the late accept, so the provider is told', () => {
    const { clock, net } = network({ faults: { delayMsMin: 5, delayMsMax: 5 } });
    const server = probe(clock, net.host(A).server({ port: 8080 }));
    const client = probe(clock, net.host(B).connect(), { endpoint: `ws://${A}:8080` });
    net.run(6); // the provider has accepted; the answer is on its way
    client.send({ type: 'transport.terminate' });
    const provider = probe(clock, net.host(A).accepted(), { connectionId: server.of('server.accepted')[0]?.connectionId });
    net.run(20);
    expect(client.log.map((entry) => entry.event)).toEqual([{ type: 'transport.closed', graceful: false, code: 1006, reason: 'terminated' }]);
    expect(provider.of('transport.closed')).toEqual([{ type: 'transport.closed', graceful: false, code: 1006, reason: 'connection reset' }]);
  });

  it('a client stopped while connecting resets the late accept too', () => {
    const { clock, net } = network({ faults: { delayMsMin: 5, delayMsMax: 5 } });
    const server = probe(clock, net.host(A).server({ port: 8080 }));
    const client = probe(clock, net.host(B).connect(), { endpoint: `ws://${A}:8080` });
    net.run(6);
    client.stop();
    const provider = probe(clock, net.host(A).accepted(), { connectionId: server.of('server.accepted')[0]?.connectionId });
    net.run(20);
    expect(client.log).toEqual([]);
    expect(provider.of('transport.closed')).toEqual([{ type: 'transport.closed', graceful: false, code: 1006, reason: 'connection reset' }]);
  });

  it('closes an accepted transport for an unknown connection with 1006', () => {
    const { clock, net } = network();
    const provider = probe(clock, net.host(A).accepted(), { connectionId: 'sim-nope' });
    net.run(0);
    expect(provider.of('transport.closed')).toEqual([{ type: 'transport.closed', graceful: false, code: 1006, reason: 'unknown connection' }]);
  });

  it('treats transport.send before transport.opened as a programmer error', () => {
    const { clock, net } = network();
    probe(clock, net.host(A).server({ port: 8080 }));
    const client = probe(clock, net.host(B).connect(), { endpoint: `ws://${A}:8080` });
    client.send({ type: 'transport.send', draft: getStatus('too early') });
    expect(client.of('xstate.error.actor.transport')).toHaveLength(1);
  });

  it('WIRE-9: a garbage frame becomes transport.rejected (with its messageId when readable) and is counted', () => {
    const { clock, net } = network();
    const { connectionId, provider } = connected(clock, net);
    net.injectFrame({ connectionId, to: 'server', text: '{"type":"AssignTask","messageId":"m-1"}' });
    net.injectFrame({ connectionId, to: 'server', text: '\u0000' });
    net.run(10);
    expect(provider.of('transport.rejected').map((event) => [event.error.code, event.messageId])).toEqual([
      ['INVALID_MESSAGE', 'm-1'],
      ['INVALID_MESSAGE', undefined],
    ]);
    expect(net.stats.rejected).toBe(2);
  });
});

// ---- crash and restart ------------------------------------------------------------------------

describe('simulatedNetwork: crash and restart', () => {
  it('a crash drops datagrams in flight to and from the host, and silences its sockets', () => {
    const { clock, net } = network({ faults: { delayMsMin: 5, delayMsMax: 5 } });
    const a = probe(clock, net.host(A).discovery());
    const b = probe(clock, net.host(B).discovery());
    const c = probe(clock, net.host(C).discovery());
    a.send(broadcast('from a'));
    b.send(broadcast('from b'));
    net.run(2);
    net.crash(A);
    a.send(broadcast('from a, crashed'));
    net.run(10);
    expect(clientIds(a)).toEqual([]);
    expect(clientIds(b)).toEqual([]);
    expect(clientIds(c)).toEqual(['from b']);
  });

  it('a crash ends connections without a word: peers hear nothing, the crashed side hears nothing', () => {
    const { clock, net } = network();
    const { server, client, provider } = connected(clock, net);
    client.send({ type: 'transport.send', draft: getStatus('in flight') });
    net.crash(A);
    net.run(20);
    client.send({ type: 'transport.ping' });
    client.send({ type: 'transport.send', draft: getStatus('into the void') });
    net.run(5000);
    expect(client.log.slice(1)).toEqual([]);
    expect(provider.log).toEqual([]);
    expect(server.of('server.accepted')).toHaveLength(1);
  });

  it('restart brings an empty host back: old sockets stay dead, new ones work, connects are refused until it listens', () => {
    const { clock, net } = network();
    const oldServer = probe(clock, net.host(A).server({ port: 8080 }));
    const oldSocket = probe(clock, net.host(A).discovery());
    const b = probe(clock, net.host(B).discovery());
    net.run(0);
    net.crash(A);
    net.restart(A);
    expect(net.isUp(A)).toBe(true);
    const refused = probe(clock, net.host(B).connect(), { endpoint: `ws://${A}:8080` });
    net.run(20);
    expect(refused.of('transport.closed')[0]).toMatchObject({ reason: 'connection refused' });
    const newSocket = probe(clock, net.host(A).discovery());
    const newServer = probe(clock, net.host(A).server({ port: 8080 }));
    b.send(broadcast('after restart'));
    const client = probe(clock, net.host(B).connect(), { endpoint: `ws://${A}:8080` });
    net.run(20);
    expect(clientIds(newSocket)).toEqual(['after restart']);
    expect(oldSocket.log).toEqual([]);
    expect(oldServer.of('server.accepted')).toEqual([]);
    expect(newServer.of('server.accepted')).toHaveLength(1);
    expect(client.of('transport.opened')).toHaveLength(1);
  });
});

// ---- determinism ------------------------------------------------------------------------------

type Op =
  | { readonly atMs: number; readonly kind: 'broadcast'; readonly from: number }
  | { readonly atMs: number; readonly kind: 'unicast'; readonly from: number; readonly to: number }
  | { readonly atMs: number; readonly kind: 'frame'; readonly toServer: boolean }
  | { readonly atMs: number; readonly kind: 'ping' };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ atMs: fc.nat(60), kind: fc.constant('broadcast' as const), from: fc.nat(2) }),
  fc.record({ atMs: fc.nat(60), kind: fc.constant('unicast' as const), from: fc.nat(2), to: fc.nat(2) }),
  fc.record({ atMs: fc.nat(60), kind: fc.constant('frame' as const), toServer: fc.boolean() }),
  fc.record({ atMs: fc.nat(60), kind: fc.constant('ping' as const) }),
);

/** Runs a small workload on a faulty network; returns everything that happened, in order. */
function runWorkload(seed: number, ops: readonly Op[]): unknown[] {
  const trace: TraceRecord[] = [];
  const faults: Partial<FaultOptions> = { lossProbability: 0.2, duplicateProbability: 0.2, delayMsMin: 1, delayMsMax: 15 };
  const { clock, net } = network({ seed, faults, trace: (record) => trace.push(record) });
  const hosts = [A, B, C];
  const sockets = hosts.map((host) => probe(clock, net.host(host).discovery()));
  const server = probe(clock, net.host(A).server({ port: 8080 }));
  const client = probe(clock, net.host(B).connect(), { endpoint: `ws://${A}:8080` });
  let provider: Probe | undefined;
  let messages = 0;
  for (const op of [...ops].sort((x, y) => x.atMs - y.atMs)) {
    net.run(op.atMs - clock.now());
    const accepted = server.of('server.accepted')[0];
    if (provider === undefined && accepted !== undefined) {
      provider = probe(clock, net.host(A).accepted(), { connectionId: accepted.connectionId });
    }
    const open = client.of('transport.opened').length > 0 && provider !== undefined;
    if (op.kind === 'broadcast') sockets[op.from]?.send(broadcast(`b${messages++}`));
    if (op.kind === 'unicast') sockets[op.from]?.send(unicast(`u${messages++}`, hosts[op.to] as string, 50_001));
    if (op.kind === 'frame' && open) (op.toServer ? client : provider)?.send({ type: 'transport.send', draft: getStatus(`f${messages++}`) });
    if (op.kind === 'ping' && open) client.send({ type: 'transport.ping' });
  }
  net.run(100);
  const received = [...sockets, server, client, ...(provider ? [provider] : [])].map((p) => p.log);
  return [trace, received, net.stats];
}

describe('simulatedNetwork: determinism', () => {
  it('the same seed and the same calls give identical runs; another seed gives another run', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(opArbitrary, { minLength: 1, maxLength: 25 }), (seed, ops) => {
        const first = runWorkload(seed, ops);
        expect(runWorkload(seed, ops)).toEqual(first);
        expect(runWorkload(seed + 1, ops)).not.toEqual(first);
      }),
      { numRuns: 100 },
    );
  });
});

// ---- faults for `switchboard simulate` ----------------------------------------------------------

describe('simulatedNetwork: link faults, reordering, a host that stops reading', () => {
  it('a link fault applies to its direction only, on top of the network faults, until removed', () => {
    const { clock, net } = network();
    const a = probe(clock, net.host(A).discovery());
    const b = probe(clock, net.host(B).discovery());
    net.setLinkFaults(A, B, { lossProbability: 1 });
    a.send(broadcast('a1'));
    b.send(broadcast('b1'));
    net.run(20);
    expect(clientIds(b)).toEqual([]); // A -> B lost
    expect(clientIds(a)).toEqual(['b1']); // B -> A untouched
    net.setLinkFaults(A, B, undefined);
    a.send(broadcast('a2'));
    net.run(20);
    expect(clientIds(b)).toEqual(['a2']);
    expect(() => net.setLinkFaults(A, B, { lossProbability: 2 })).toThrow(RangeError);
  });

  it('a link delay slows frames of that direction and keeps their order (TCP)', () => {
    const { clock, net } = network();
    const { client, provider } = connected(clock, net);
    net.setLinkFaults(B, A, { delayMsMin: 200, delayMsMax: 400 });
    const sentAt = clock.now();
    for (let i = 0; i < 5; i++) client.send({ type: 'transport.send', draft: getStatus(`t${i}`) });
    net.run(150);
    expect(taskIds(provider)).toEqual([]);
    net.run(300);
    expect(taskIds(provider)).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(provider.log.find((entry) => entry.event.type === 'transport.message')!.atMs - sentAt).toBeGreaterThanOrEqual(200);
  });

  it('reordering holds some datagrams back so later ones overtake them', () => {
    const { clock, net } = network({ faults: { delayMsMin: 1, delayMsMax: 1, reorderProbability: 0.5, reorderDelayMsMax: 30 } });
    const a = probe(clock, net.host(A).discovery());
    const b = probe(clock, net.host(B).discovery());
    const sent = Array.from({ length: 40 }, (_, i) => `d${i}`);
    for (const id of sent) {
      a.send(broadcast(id));
      net.run(1);
    }
    net.run(100);
    expect([...clientIds(b)].sort()).toEqual([...sent].sort()); // nothing lost
    expect(clientIds(b)).not.toEqual(sent); // but not in order
  });

  it('a host that stops reading holds frames and datagrams (pings unanswered) and gets them in order on resume', () => {
    const { clock, net } = network();
    const { client, provider } = connected(clock, net);
    const socket = probe(clock, net.host(A).discovery());
    const sender = probe(clock, net.host(C).discovery());
    net.stall(A);
    expect(net.isStalled(A)).toBe(true);
    client.send({ type: 'transport.send', draft: getStatus('s1') });
    client.send({ type: 'transport.ping' });
    client.send({ type: 'transport.send', draft: getStatus('s2') });
    sender.send(broadcast('held'));
    net.run(100);
    expect(taskIds(provider)).toEqual([]);
    expect(client.of('transport.pong')).toEqual([]); // the ping waits unread
    expect(clientIds(socket)).toEqual([]);
    provider.send({ type: 'transport.send', draft: getStatus('out') }); // it can still send
    net.run(20);
    expect(taskIds(client)).toEqual(['out']);
    net.resume(A);
    net.run(20);
    expect(taskIds(provider)).toEqual(['s1', 's2']);
    expect(client.of('transport.pong')).toHaveLength(1);
    expect(clientIds(socket)).toEqual(['held']);
  });

  it('a host that stops reading keeps at most HELD_DATAGRAMS_MAX datagrams; a crash drops what it held', () => {
    const { clock, net } = network();
    const socket = probe(clock, net.host(A).discovery());
    const sender = probe(clock, net.host(B).discovery());
    net.stall(A);
    for (let i = 0; i < HELD_DATAGRAMS_MAX + 10; i++) sender.send(broadcast(`x${i}`));
    net.run(20);
    expect(net.stats.dropped).toBe(10);
    net.resume(A);
    expect(clientIds(socket)).toHaveLength(HELD_DATAGRAMS_MAX);
    net.stall(A);
    sender.send(broadcast('lost-with-the-host'));
    net.run(20);
    net.crash(A);
    net.restart(A);
    net.resume(A); // nothing held any more
    expect(clientIds(socket)).toHaveLength(HELD_DATAGRAMS_MAX);
  });

  it('partition() returns an undo that removes that partition only', () => {
    const { clock, net } = network();
    const a = probe(clock, net.host(A).discovery());
    const b = probe(clock, net.host(B).discovery());
    const c = probe(clock, net.host(C).discovery());
    const undoAB = net.partition([A], [B]);
    net.partition([A], [C], { symmetric: false });
    undoAB();
    a.send(broadcast('a1'));
    net.run(20);
    expect(clientIds(b)).toEqual(['a1']);
    expect(clientIds(c)).toEqual([]);
  });
});

describe('VirtualClock', () => {
  it('fires timers at their due time in (due, set order), cleared ones never, and the network runs on it', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 60 }), (timers) => {
        const clock = new VirtualClock();
        const fired: { index: number; atMs: number }[] = [];
        const ids = timers.map(([delay], index) => clock.setTimeout(() => fired.push({ index, atMs: clock.now() }), delay));
        timers.forEach(([, cleared], index) => cleared && clock.clearTimeout(ids[index]));
        clock.advance(100);
        const expected = timers
          .map(([delay, cleared], index) => ({ index, atMs: delay, cleared }))
          .filter((timer) => !timer.cleared)
          .sort((x, y) => x.atMs - y.atMs || x.index - y.index)
          .map(({ index, atMs }) => ({ index, atMs }));
        expect(fired).toEqual(expected);
        expect(clock.now()).toBe(100);
        expect(clock.pending).toBe(0);
      }),
    );
    const clock = new VirtualClock();
    const net = new SimulatedNetwork({ clock, seed: 3 });
    const a = probe(clock as unknown as SimulatedClock, net.host(A).discovery());
    const b = probe(clock as unknown as SimulatedClock, net.host(B).discovery());
    a.send(broadcast('over-virtual-clock'));
    net.run(10);
    expect(clientIds(b)).toEqual(['over-virtual-clock']);
  });
});

// ---- signed discovery and answer bounds -------------------------------------------------------

describe('simulatedNetwork: signed discovery and answer bounds, as on real UDP', () => {
  const advertisement = (serviceId: string): DiscoveryDraft => ({
    discoveryType: 'ServiceAdvertisement',
    serviceId,
    serviceName: 'Work',
    serviceVersion: '1.0.0',
    endpoint: 'ws://10.0.0.1:8080',
    capabilities: [{ key: 'run', settings: [] }],
    status: 'Online',
    load: 0,
    heartbeatIntervalMs: 1_000,
  });

  it('SEC-8: a socket with a signer signs its advertisements; receivers get the proof and the arrival time', () => {
    const { clock, net } = network();
    const key = ephemeralKey();
    const signer = createDatagramSigner({ privateKey: key.privateKey, epoch: 9 });
    const sender = probe(clock, net.host(A).discovery({ signer }));
    const receiver = probe(clock, net.host(B).discovery());
    const unsignedSender = probe(clock, net.host(C).discovery());
    clock.increment(1);
    sender.send({ type: 'datagram.send', draft: advertisement('signed'), to: 'broadcast' });
    unsignedSender.send({ type: 'datagram.send', draft: advertisement('unsigned'), to: 'broadcast' });
    net.run(20);
    const received = receiver.of('datagram.received');
    expect(received.find((event) => event.message.serviceId === 'signed')).toMatchObject({
      message: { publicKey: key.publicKey, epoch: 9, sequence: 0 },
      proof: { kind: 'signed', publicKey: key.publicKey },
      receivedAtMs: expect.any(Number),
    });
    expect(received.find((event) => event.message.serviceId === 'unsigned')).toMatchObject({ proof: { kind: 'unsigned' } });
  });

  it('SEC-8: a forged datagram injected with a signature that does not verify arrives with an invalid proof', () => {
    const { clock, net } = network();
    const receiver = probe(clock, net.host(B).discovery());
    clock.increment(1);
    const forged = { discoveryType: 'ServiceAdvertisement', serviceId: 'x', serviceName: 'Work', serviceVersion: '1', endpoint: 'ws://a:1', capabilities: [], status: 'Offline', load: 0, timestamp: EPOCH_MS, publicKey: ephemeralKey().publicKey, epoch: 1, sequence: 1, signature: 'A'.repeat(86) };
    net.injectDatagram({ from: { host: '10.6.6.6', port: 1 }, to: 'broadcast', port: 50_001, text: JSON.stringify(forged) });
    net.run(20);
    expect(receiver.of('datagram.received')[0]).toMatchObject({ proof: { kind: 'invalid' } });
  });

  it('DISC-16, DISC-17: requests over the rate per source and answers over their budget are dropped and counted', () => {
    const clock = new SimulatedClock();
    const net = new SimulatedNetwork({ clock, seed: 1, answers: { requestsPerSourceMax: 2 }, faults: { delayMsMin: 1, delayMsMax: 1 } });
    const client = probe(clock, net.host(A).discovery());
    const provider = probe(clock, net.host(B).discovery());
    clock.increment(1);
    for (let i = 0; i < 5; i++) client.send({ type: 'datagram.send', draft: request(`c${i}`), to: 'broadcast' });
    net.run(20);
    expect(clientIds(provider)).toEqual(['c0', 'c1']);
    // An answer within the request's budget (3 x its 1200 padded bytes) leaves; a bigger one does not.
    const from = provider.of('datagram.received')[0]?.from as { host: string; port: number };
    const dropped = net.stats.dropped;
    provider.send({ type: 'datagram.send', draft: { ...advertisement('small'), respondsToClientId: 'c0' }, to: from });
    const huge = { ...advertisement('huge'), capabilities: Array.from({ length: 60 }, (_, i) => ({ key: `operation-${i}`, settings: [{ type: 'string', name: 'x'.repeat(40) }] })) };
    provider.send({ type: 'datagram.send', draft: { ...huge, respondsToClientId: 'c0' }, to: from });
    net.run(20);
    expect(client.of('datagram.received').map((event) => event.message.serviceId)).toEqual(['small']);
    expect(net.stats.dropped).toBe(dropped + 1);
  });
});
