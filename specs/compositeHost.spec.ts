/**
 * The composite host of mixed deployments (runtime/compositeHost.ts) with scripted member hosts:
 * each member is told its own endpoint, replies go back where the request came from, one member
 * per service instance (the first listed wins; another takes over after 1.5 silent heartbeats),
 * listening and failing across members, and connections by endpoint scheme.
 */
import { describe, expect, it } from 'vitest';
import { createActor, createMachine, fromCallback, type AnyEventObject, type CallbackActorLogic } from 'xstate';
import type { ServiceAdvertisement } from '../machines/messages.js';
import type { DatagramCommand, DatagramEvent, ServerCommand, ServerEvent, StreamCommand } from '../machines/transport.js';
import type { TransportHost } from '../runtime/compose.js';
import { compositeHost } from '../runtime/compositeHost.js';
import { runTransport } from './support/natsFixtures.js';

interface Script {
  readonly sent: AnyEventObject[];
  readonly connected: unknown[];
  emit(event: DatagramEvent | ServerEvent): void;
}

function scriptedHost(): { host: TransportHost; script: Script } {
  const sinks: ((event: AnyEventObject) => void)[] = [];
  const script: Script = { sent: [], connected: [], emit: (event) => sinks.forEach((sink) => sink(event)) };
  const recorder = <T extends AnyEventObject, I>() =>
    fromCallback<T, I>(({ sendBack, receive, input }) => {
      sinks.push(sendBack);
      if (input !== undefined) script.connected.push(input);
      receive((command) => void script.sent.push(command));
    });
  const host: TransportHost = {
    discovery: () => recorder<DatagramCommand, unknown>() as CallbackActorLogic<DatagramCommand>,
    server: () => recorder<ServerCommand, unknown>() as CallbackActorLogic<ServerCommand>,
    accepted: () => recorder() as never,
    connect: () => recorder() as never,
  };
  return { host, script };
}

function mixed(now: () => number = () => 0) {
  const lan = scriptedHost();
  const nats = scriptedHost();
  const host = compositeHost(
    [
      { name: 'lan', host: lan.host, schemes: ['ws', 'wss'] },
      { name: 'nats', host: nats.host, schemes: ['nats'] },
    ],
    { now },
  );
  return { host, lan: lan.script, nats: nats.script };
}

const advertisement = (endpoint: string, status: ServiceAdvertisement['status'] = 'Online'): ServiceAdvertisement => ({
  discoveryType: 'ServiceAdvertisement',
  serviceId: 'svc-1',
  serviceName: 'Greeter',
  serviceVersion: '1.0.0',
  endpoint,
  capabilities: [],
  status,
  load: 0,
  timestamp: 1_751_457_600_123,
  heartbeatIntervalMs: 1_000,
});
const heard = (harness: ReturnType<typeof runTransport>) =>
  harness.of('datagram.received').map((event) => (event.message as ServiceAdvertisement).endpoint);

describe('composite host (LAN + NATS)', () => {
  it('listens once every member answered, advertises each member its own endpoint, replies where the request came from', () => {
    const { host, lan, nats } = mixed();
    const server = runTransport(host.server({ port: 0 }), undefined);
    const discovery = runTransport(host.discovery(), undefined);
    lan.emit({ type: 'server.listening', endpoint: 'ws://10.0.0.5:8080' });
    expect(server.of('server.listening')).toEqual([]);
    nats.emit({ type: 'server.listening', endpoint: 'nats://acme/p1' });
    expect(server.of('server.listening')).toEqual([{ type: 'server.listening', endpoint: 'ws://10.0.0.5:8080' }]);

    const { timestamp: _t, ...draft } = advertisement('ws://10.0.0.5:8080');
    discovery.send({ type: 'datagram.send', draft, to: 'broadcast' });
    expect(lan.sent).toContainEqual({ type: 'datagram.send', draft: { ...draft, endpoint: 'ws://10.0.0.5:8080' }, to: 'broadcast' });
    expect(nats.sent).toContainEqual({ type: 'datagram.send', draft: { ...draft, endpoint: 'nats://acme/p1' }, to: 'broadcast' });

    nats.emit({
      type: 'datagram.received',
      message: { discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'c1', timestamp: 1 },
      from: { host: 'acme.disc.inbox.abc', port: 0 },
    });
    const from = discovery.of('datagram.received')[0]!.from as { host: string; port: number };
    discovery.send({ type: 'datagram.send', draft: { ...draft, respondsToClientId: 'c1' }, to: from });
    const answer = nats.sent.at(-1) as DatagramCommand;
    expect(answer.to).toEqual({ host: 'acme.disc.inbox.abc', port: 0 });
    expect(answer.draft).toMatchObject({ endpoint: 'nats://acme/p1', respondsToClientId: 'c1' });
    expect(lan.sent.filter((c) => (c as DatagramCommand).to !== 'broadcast')).toEqual([]);
    server.stop();
    discovery.stop();
  });

  it('is listening when one member fails, and failed only when every member failed', () => {
    const one = mixed();
    const server = runTransport(one.host.server({ port: 0 }), undefined);
    one.lan.emit({ type: 'server.failed', error: { code: 'INTERNAL_ERROR', message: 'EADDRINUSE' } });
    one.nats.emit({ type: 'server.listening', endpoint: 'nats://acme/p1' });
    expect(server.of('server.listening')).toEqual([{ type: 'server.listening', endpoint: 'nats://acme/p1' }]);
    server.stop();
    const both = mixed();
    const failing = runTransport(both.host.server({ port: 0 }), undefined);
    both.lan.emit({ type: 'server.failed', error: { code: 'INTERNAL_ERROR', message: 'EADDRINUSE' } });
    both.nats.emit({ type: 'server.failed', error: { code: 'INTERNAL_ERROR', message: 'no NATS' } });
    expect(failing.of('server.failed')[0]).toMatchObject({ error: { code: 'INTERNAL_ERROR', message: 'lan: EADDRINUSE; nats: no NATS' } });
    failing.stop();
  });

  it('keeps an instance on one member: the first listed wins, another takes over after 1.5 silent heartbeats', () => {
    let nowMs = 0;
    const { host, lan, nats } = mixed(() => nowMs);
    const discovery = runTransport(host.discovery(), undefined);
    const from = { host: 'x', port: 0 };
    nats.emit({ type: 'datagram.received', message: advertisement('nats://acme/p1'), from });
    lan.emit({ type: 'datagram.received', message: advertisement('ws://10.0.0.5:8080'), from });
    nowMs = 1_000;
    nats.emit({ type: 'datagram.received', message: advertisement('nats://acme/p1'), from }); // the LAN holds it
    lan.emit({ type: 'datagram.received', message: advertisement('ws://10.0.0.5:8080'), from });
    expect(heard(discovery)).toEqual(['nats://acme/p1', 'ws://10.0.0.5:8080', 'ws://10.0.0.5:8080']);
    nowMs = 2_501; // the LAN silent for more than 1.5 heartbeats
    nats.emit({ type: 'datagram.received', message: advertisement('nats://acme/p1'), from });
    expect(heard(discovery).at(-1)).toBe('nats://acme/p1');
    nats.emit({ type: 'datagram.received', message: advertisement('nats://acme/p1', 'Offline'), from });
    expect(discovery.of('datagram.received').at(-1)!.message).toMatchObject({ status: 'Offline' });
    discovery.stop();
  });

  it('connects by the endpoint\'s scheme; an unknown scheme closes at once', async () => {
    const { host, lan, nats } = mixed();
    const viaNats = runTransport(host.connect(), { endpoint: 'nats://acme/p1' });
    const viaLan = runTransport(host.connect(), { endpoint: 'wss://10.0.0.5:8443' });
    expect(nats.connected).toEqual([{ endpoint: 'nats://acme/p1' }]);
    expect(lan.connected).toEqual([{ endpoint: 'wss://10.0.0.5:8443' }]);
    const other = runTransport(host.connect(), { endpoint: 'mqtt://broker/x' });
    await Promise.resolve();
    await Promise.resolve();
    expect(other.of('transport.closed')).toEqual([{ type: 'transport.closed', graceful: false, code: 1006, reason: 'no transport for mqtt endpoints' }]);
    viaNats.send({ type: 'transport.ping' } satisfies StreamCommand);
    expect(nats.sent).toContainEqual({ type: 'transport.ping' });
    for (const h of [viaNats, viaLan, other]) h.stop();
  });

  it('a connection with no transport, stopped before its close was told, tells its parent nothing', async () => {
    const { host } = mixed();
    const told: AnyEventObject[] = [];
    // The parent stays alive and leaves the state that invoked the connection at once.
    const parent = createActor(
      createMachine({
        initial: 'connecting',
        states: {
          connecting: { invoke: { src: host.connect(), input: { endpoint: 'mqtt://broker/x' } }, on: { leave: 'idle' } },
          idle: {},
        },
        on: { '*': { actions: ({ event }) => void told.push(event) } },
      }),
    ).start();
    parent.send({ type: 'leave' });
    await Promise.resolve();
    await Promise.resolve();
    expect(told.map((event) => event.type)).toEqual([]);
    parent.stop();
  });
});
