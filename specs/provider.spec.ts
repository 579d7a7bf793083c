/**
 * The provider root (machines/provider.ts): starting -> online <-> busy -> draining -> stopping
 * -> stopped. It advertises (DISC-3..7), owns one session per accepted connection (CONN-10) and
 * routes the task registry's replies to the client's current session (TASK-13).
 *
 * Three layers: (a) pure transitions, asserting the returned action objects (the heartbeat as a
 * delayed raise, advertisements as sendTo the discovery socket) and a fast-check property over
 * load sequences (DISC-6 hysteresis); (b) actors on a SimulatedClock with fake discovery, server
 * and accepted-connection transports (fromCallback recorders: every delivery is synchronous); (c)
 * one run on the simulated network through runtime/compose.ts (DISC-3 unicast addressing).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createActor,
  fromCallback,
  initialTransition,
  setup,
  SimulatedClock,
  transition,
  type AnyActorLogic,
  type AnyActorRef,
  type AnyEventObject,
} from 'xstate';
import { SimulatedNetwork } from '../adapters/simulated/index.js';
import type { AssignTask, ClientMessage, DiscoveryDraft, ProviderDraft, ServiceStatus } from '../machines/messages.js';
import {
  providerDefaults,
  providerMachine,
  type ProviderEmitted,
  type ProviderEvent,
  type ProviderInput,
} from '../machines/provider.js';
import { providerTaskMachine, type HandlerLogic } from '../machines/providerTask.js';
import type { ServiceDescriptor } from '../machines/service.js';
import { sessionDefaults, sessionMachine } from '../machines/session.js';
import { createTaskRegistry, type TaskRegistrySnapshot } from '../machines/taskRegistry.js';
import { taskLimitDefaults, type TaskLimits } from '../machines/taskLedger.js';
import type {
  AcceptedInput,
  DatagramCommand,
  DatagramEvent,
  PeerAddress,
  ServerCommand,
  ServerEvent,
  StreamCommand,
  StreamEvent,
} from '../machines/transport.js';
import { acceptEveryConnection, composeProvider, rejectEveryToken } from '../runtime/compose.js';
import { advance, createProbe, hangingHandler, stepsHandler, type HandlerProbe } from './support/handlers.js';
import { summarize } from './support/recorder.js';

const HEARTBEAT_MS = 1_000;
const ENDPOINT = 'ws://10.0.0.1:8080';
const T0 = 1_751_456_400_000;

const IMAGING: ServiceDescriptor = {
  serviceId: 'imaging-1',
  serviceName: 'Imaging',
  serviceVersion: '1.2.0',
  capabilities: [{ key: 'resize', settings: [{ type: 'int', name: 'width' }] }],
};
const TEXT: ServiceDescriptor = {
  serviceId: 'text-1',
  serviceName: 'Text',
  serviceVersion: '0.3.0',
  capabilities: [{ key: 'upper', settings: [] }],
};

const limitsOf = (tasksRunningMax: number): TaskLimits => ({
  ...taskLimitDefaults,
  tasksRunningMax,
  tasksRunningPerClientMax: tasksRunningMax,
  tasksQueuedMax: 8,
});

const providerInput = (overrides: Partial<ProviderInput> = {}): ProviderInput => ({
  ...providerDefaults,
  providerId: 'provider-1',
  services: [IMAGING, TEXT],
  heartbeatIntervalMs: HEARTBEAT_MS,
  session: { ...sessionDefaults, pingIntervalMs: 300, pongTimeoutMs: 300, closeTimeoutMs: 300 },
  stopTimeoutMs: 300,
  ...overrides,
});

// ---- messages ---------------------------------------------------------------------------------

const assignTask = (taskId: string, clientId = 'alice', serviceName = 'Imaging', operation = 'resize', params: Record<string, unknown> = {}): AssignTask => ({
  type: 'AssignTask',
  messageId: `assign-${clientId}-${taskId}`,
  timestamp: T0,
  payload: { taskId, serviceName, operation, taskParameters: params, callbackClientId: clientId },
});
const taskRef = (type: 'CancelTask' | 'GetResult' | 'GetStatus', taskId: string, clientId = 'alice'): ClientMessage =>
  ({ type, messageId: `${type}-${clientId}-${taskId}`, timestamp: T0, payload: { taskId, originalClientId: clientId } }) as ClientMessage;
const discoveryRequest = (clientId: string, from: PeerAddress, serviceName?: string): DatagramEvent => ({
  type: 'datagram.received',
  from,
  message: {
    discoveryType: 'ClientServiceDiscoveryRequest',
    clientId,
    timestamp: T0,
    ...(serviceName === undefined ? {} : { serviceName }),
  },
});
const CLIENT_ADDRESS: PeerAddress = { host: '10.0.0.2', port: 40_000 };

// ---- (a) pure transitions ---------------------------------------------------------------------

type ActionObject = { readonly type: string; readonly params?: unknown };
const paramsOf = (action: ActionObject) => (action.params ?? {}) as Record<string, unknown>;
const sentTo = (actions: readonly ActionObject[], targetId: string) =>
  actions.filter((a) => a.type === 'xstate.sendTo' && paramsOf(a)['targetId'] === targetId).map((a) => paramsOf(a)['event'] as AnyEventObject);
const datagramsOf = (actions: readonly ActionObject[]) => sentTo(actions, 'discovery') as DatagramCommand[];
const emittedOf = (actions: readonly ActionObject[]) =>
  actions.filter((a) => a.type === 'xstate.emit').map((a) => paramsOf(a)['event'] as ProviderEmitted);
const delayedRaises = (actions: readonly ActionObject[]) =>
  actions
    .filter((a) => a.type === 'xstate.raise' && paramsOf(a)['delay'] !== undefined)
    .map((a) => ({ id: paramsOf(a)['id'], delay: paramsOf(a)['delay'] }));
/** `serviceId:status:load -> to` for every advertisement among the actions. */
const adverts = (commands: readonly DatagramCommand[]) =>
  commands.map((command) => {
    const draft = command.draft;
    if (draft.discoveryType !== 'ServiceAdvertisement') return `request ${draft.clientId}`;
    const to = command.to === 'broadcast' ? 'broadcast' : `${command.to.host}:${command.to.port}`;
    return `${draft.serviceId}:${draft.status}:${draft.load} -> ${to}`;
  });

const load = (running: number, tasksRunningMax: number, queued = 0): ProviderEvent => ({
  type: 'registry.load',
  running,
  queued,
  load: running / tasksRunningMax,
});

function pureOnline(overrides: Partial<ProviderInput> = {}) {
  const [starting] = initialTransition(providerMachine, providerInput(overrides));
  return transition(providerMachine, starting, { type: 'server.listening', endpoint: ENDPOINT });
}

describe('provider: pure transitions', () => {
  it('starts in starting: invokes discovery and server, spawns the task registry, advertises nothing', () => {
    const [snapshot, actions] = initialTransition(providerMachine, providerInput());
    expect(snapshot.value).toBe('starting');
    const spawned = actions.filter((a) => a.type === 'xstate.spawnChild').map((a) => paramsOf(a)['src']);
    expect(spawned).toEqual(['taskRegistry', 'discovery', 'server']);
    expect(datagramsOf(actions)).toEqual([]);
    expect(delayedRaises(actions)).toEqual([]);
  });

  it('DISC-4, DISC-5: sockets bound -> online, one broadcast advertisement per hosted service, heartbeat scheduled', () => {
    const [online, actions] = pureOnline();
    expect(online.value).toBe('online');
    expect(online.context.endpoint).toBe(ENDPOINT);
    expect(datagramsOf(actions)).toEqual([
      {
        type: 'datagram.send',
        to: 'broadcast',
        draft: {
          discoveryType: 'ServiceAdvertisement',
          serviceId: 'imaging-1',
          serviceName: 'Imaging',
          serviceVersion: '1.2.0',
          endpoint: ENDPOINT,
          capabilities: IMAGING.capabilities,
          status: 'Online',
          load: 0,
          heartbeatIntervalMs: HEARTBEAT_MS,
        },
      },
      {
        type: 'datagram.send',
        to: 'broadcast',
        draft: {
          discoveryType: 'ServiceAdvertisement',
          serviceId: 'text-1',
          serviceName: 'Text',
          serviceVersion: '0.3.0',
          endpoint: ENDPOINT,
          capabilities: TEXT.capabilities,
          status: 'Online',
          load: 0,
          heartbeatIntervalMs: HEARTBEAT_MS,
        },
      },
    ]);
    expect(emittedOf(actions)).toEqual([
      { type: 'provider.listening', endpoint: ENDPOINT },
      { type: 'provider.status', status: 'Online' },
    ]);
    expect(delayedRaises(actions)).toEqual([{ id: 'xstate.after.heartbeatIntervalMs.provider.online', delay: HEARTBEAT_MS }]);
  });

  it('DISC-4: the heartbeat re-enters online, advertises every service again and schedules the next one', () => {
    const [online] = pureOnline({ heartbeatIntervalMs: 2_500 });
    const [next, actions] = transition(providerMachine, online, { type: 'xstate.after.heartbeatIntervalMs.provider.online' } as never);
    expect(next.value).toBe('online');
    expect(adverts(datagramsOf(actions))).toEqual(['imaging-1:Online:0 -> broadcast', 'text-1:Online:0 -> broadcast']);
    expect((actions as readonly ActionObject[]).filter((a) => a.type === 'xstate.cancel').map((a) => paramsOf(a)['sendId'])).toEqual([
      'xstate.after.heartbeatIntervalMs.provider.online',
    ]);
    expect(delayedRaises(actions)).toEqual([{ id: 'xstate.after.heartbeatIntervalMs.provider.online', delay: 2_500 }]);
  });

  it('DISC-3: a discovery request is answered unicast to its source, one advertisement per service, with respondsToClientId', () => {
    const [online] = pureOnline();
    const [next, actions] = transition(providerMachine, online, discoveryRequest('client-7', CLIENT_ADDRESS));
    const replies = datagramsOf(actions);
    expect(adverts(replies)).toEqual(['imaging-1:Online:0 -> 10.0.0.2:40000', 'text-1:Online:0 -> 10.0.0.2:40000']);
    expect(replies.map((reply) => (reply.draft as { respondsToClientId?: string }).respondsToClientId)).toEqual(['client-7', 'client-7']);
    expect(next.context.stats.discoveryRequestsAnswered).toBe(1);
    expect(emittedOf(actions)).toEqual([]);
  });

  it('DISC-3: a request naming a service is answered for that service only', () => {
    const [online] = pureOnline();
    const [, actions] = transition(providerMachine, online, discoveryRequest('client-7', CLIENT_ADDRESS, 'Text'));
    expect(adverts(datagramsOf(actions))).toEqual(['text-1:Online:0 -> 10.0.0.2:40000']);
  });

  it('DISC-3: a request naming a service not hosted here gets no answer and is not counted as answered', () => {
    const [online] = pureOnline();
    const [next, actions] = transition(providerMachine, online, discoveryRequest('client-7', CLIENT_ADDRESS, 'Audio'));
    expect(datagramsOf(actions)).toEqual([]);
    expect(next.context.stats.discoveryRequestsAnswered).toBe(0);
  });

  it('DISC-3: another provider’s advertisement is not a request: nothing is sent', () => {
    const [online] = pureOnline();
    const [next, actions] = transition(providerMachine, online, {
      type: 'datagram.received',
      from: CLIENT_ADDRESS,
      message: {
        discoveryType: 'ServiceAdvertisement',
        serviceId: 'other',
        serviceName: 'Imaging',
        serviceVersion: '1',
        endpoint: 'ws://10.0.0.9:8080',
        capabilities: [],
        status: 'Online',
        load: 0,
        timestamp: T0,
      },
    });
    expect(actions).toEqual([]);
    expect(next.context.stats.discoveryRequestsAnswered).toBe(0);
  });

  it('WIRE-8, DISC-12: a rejected datagram is counted and never answered', () => {
    const [online] = pureOnline();
    const [next, actions] = transition(providerMachine, online, {
      type: 'datagram.rejected',
      from: CLIENT_ADDRESS,
      error: { code: 'INVALID_MESSAGE', message: 'not JSON' },
    });
    expect(next.context.stats.datagramsRejected).toBe(1);
    expect(datagramsOf(actions)).toEqual([]);
  });

  it('DISC-6: load reaching 1 moves online -> busy and advertises Busy with load 1; the heartbeat then runs in busy', () => {
    const [online] = pureOnline({ limits: limitsOf(4) });
    const [stillOnline, a1] = transition(providerMachine, online, load(3, 4));
    expect(stillOnline.value).toBe('online');
    expect(datagramsOf(a1)).toEqual([]);
    const [busy, a2] = transition(providerMachine, stillOnline, load(4, 4));
    expect(busy.value).toBe('busy');
    expect(adverts(datagramsOf(a2))).toEqual(['imaging-1:Busy:1 -> broadcast', 'text-1:Busy:1 -> broadcast']);
    expect(emittedOf(a2)).toEqual([{ type: 'provider.status', status: 'Busy' }]);
    expect(delayedRaises(a2)).toEqual([{ id: 'xstate.after.heartbeatIntervalMs.provider.busy', delay: HEARTBEAT_MS }]);
    const [answered, a3] = transition(providerMachine, busy, discoveryRequest('c', CLIENT_ADDRESS, 'Imaging'));
    expect(answered.value).toBe('busy');
    expect(adverts(datagramsOf(a3))).toEqual(['imaging-1:Busy:1 -> 10.0.0.2:40000']);
  });

  it('DISC-6: busy stays busy above load 0.5 and returns to online at 0.5, advertising Online', () => {
    const [online] = pureOnline({ limits: limitsOf(4) });
    const [busy] = transition(providerMachine, online, load(4, 4));
    const [stillBusy, a1] = transition(providerMachine, busy, load(3, 4));
    expect(stillBusy.value).toBe('busy');
    expect(datagramsOf(a1)).toEqual([]);
    const [backOnline, a2] = transition(providerMachine, stillBusy, load(2, 4));
    expect(backOnline.value).toBe('online');
    expect(adverts(datagramsOf(a2))).toEqual(['imaging-1:Online:0.5 -> broadcast', 'text-1:Online:0.5 -> broadcast']);
  });

  it('DISC-6: for any sequence of loads, the status follows the hysteresis and is advertised exactly on each change', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), (tasksRunningMax, runnings) => {
        let [snapshot] = pureOnline({ limits: limitsOf(tasksRunningMax) });
        let model: ServiceStatus = 'Online';
        for (const raw of runnings) {
          const running = raw % (tasksRunningMax + 1);
          const [next, actions] = transition(providerMachine, snapshot, load(running, tasksRunningMax));
          const before = model;
          if (running / tasksRunningMax >= 1) model = 'Busy';
          else if (running / tasksRunningMax <= 0.5) model = 'Online';
          expect(next.value).toBe(model === 'Busy' ? 'busy' : 'online');
          const statuses = datagramsOf(actions).map((command) => (command.draft as { status: string }).status);
          expect(statuses).toEqual(before === model ? [] : [model, model]);
          snapshot = next;
        }
      }),
      { numRuns: 200 },
    );
  });

  it('TASK-8: drain advertises Draining, tells the registry to refuse new tasks, and heartbeats as Draining', () => {
    const [online] = pureOnline();
    const [busyWithWork] = transition(providerMachine, online, load(1, 64));
    const [draining, actions] = transition(providerMachine, busyWithWork, { type: 'provider.drain' });
    expect(draining.value).toBe('draining');
    expect(adverts(datagramsOf(actions))).toEqual(['imaging-1:Draining:0.015625 -> broadcast', 'text-1:Draining:0.015625 -> broadcast']);
    expect(sentTo(actions, 'tasks')).toEqual([{ type: 'registry.drain' }]);
    expect(delayedRaises(actions)).toEqual([{ id: 'xstate.after.heartbeatIntervalMs.provider.draining', delay: HEARTBEAT_MS }]);
    const [heartbeat, a2] = transition(providerMachine, draining, { type: 'xstate.after.heartbeatIntervalMs.provider.draining' } as never);
    expect(heartbeat.value).toBe('draining');
    expect(adverts(datagramsOf(a2)).map((line) => line.split(':')[1])).toEqual(['Draining', 'Draining']);
  });

  it('TASK-8, DISC-7: the last task finishing ends draining: goodbye (Offline), server closed, stopped (no sessions)', () => {
    const [online] = pureOnline();
    const [working] = transition(providerMachine, online, load(1, 64));
    const [draining] = transition(providerMachine, working, { type: 'provider.drain' });
    const [stopped, actions] = transition(providerMachine, draining, load(0, 64));
    expect(stopped.value).toBe('stopped');
    expect(stopped.status).toBe('done');
    expect(stopped.output).toEqual({ failure: undefined });
    expect(adverts(datagramsOf(actions))).toEqual(['imaging-1:Offline:0 -> broadcast', 'text-1:Offline:0 -> broadcast']);
    expect(sentTo(actions, 'server')).toEqual([{ type: 'server.close' }]);
  });

  it('server.failed while starting -> stopped with the failure as output, nothing advertised', () => {
    const [starting] = initialTransition(providerMachine, providerInput());
    const error = { code: 'INTERNAL_ERROR' as const, message: 'address in use: 10.0.0.1:8080' };
    const [stopped, actions] = transition(providerMachine, starting, { type: 'server.failed', error });
    expect(stopped.value).toBe('stopped');
    expect(stopped.output).toEqual({ failure: error });
    expect(emittedOf(actions)).toEqual([{ type: 'provider.failed', error }]);
    expect(datagramsOf(actions)).toEqual([]);
  });

  it('DISC-7: a stop before the sockets are bound says no goodbye (nothing was advertised)', () => {
    const [starting] = initialTransition(providerMachine, providerInput());
    const [stopped, actions] = transition(providerMachine, starting, { type: 'provider.stop' });
    expect(stopped.value).toBe('stopped');
    expect(datagramsOf(actions)).toEqual([]);
  });

  it('DISC-3: discovery requests before the endpoint is known are not answered', () => {
    const [starting] = initialTransition(providerMachine, providerInput());
    const [next, actions] = transition(providerMachine, starting, discoveryRequest('c', CLIENT_ADDRESS));
    expect(next.value).toBe('starting');
    expect(datagramsOf(actions)).toEqual([]);
  });
});

// ---- (b) actors with fake transports ----------------------------------------------------------

interface FakeSocket {
  readonly connectionId: string;
  readonly commands: StreamCommand[];
  stopped: boolean;
  emit(event: StreamEvent): void;
}

interface HarnessOptions {
  readonly input?: Partial<ProviderInput>;
  readonly handler?: (probe: HandlerProbe) => HandlerLogic;
  /** The fake client answers pings and completes close handshakes by itself. @default true */
  readonly cooperative?: boolean;
}

function startProvider(options: HarnessOptions = {}) {
  const clock = new SimulatedClock();
  const probe = createProbe();
  const cooperative = options.cooperative ?? true;
  const datagrams: { atMs: number; command: DatagramCommand }[] = [];
  const serverCommands: ServerCommand[] = [];
  const sockets = new Map<string, FakeSocket>();
  let discoveryBack: ((event: DatagramEvent) => void) | undefined;
  let serverBack: ((event: ServerEvent) => void) | undefined;

  const session = sessionMachine.provide({
    actors: {
      transport: fromCallback<StreamCommand, AcceptedInput>(({ input, sendBack, receive }) => {
        const socket: FakeSocket = { connectionId: input.connectionId, commands: [], stopped: false, emit: (event) => sendBack(event) };
        sockets.set(input.connectionId, socket);
        receive((command) => {
          socket.commands.push(command);
          if (!cooperative) return;
          if (command.type === 'transport.ping') sendBack({ type: 'transport.pong' });
          if (command.type === 'transport.close') {
            sendBack({ type: 'transport.closed', graceful: true, code: command.code, reason: command.reason ?? '' });
          }
        });
        return () => {
          socket.stopped = true;
        };
      }),
      admission: acceptEveryConnection as never,
      authenticate: rejectEveryToken as never,
    },
  });
  const task = providerTaskMachine.provide({ actors: { handler: (options.handler ?? hangingHandler)(probe) } });
  const logic = providerMachine.provide({
    actors: {
      discovery: fromCallback<DatagramCommand>(({ sendBack, receive }) => {
        discoveryBack = sendBack as (event: DatagramEvent) => void;
        receive((command) => datagrams.push({ atMs: clock.now(), command }));
      }),
      server: fromCallback<ServerCommand>(({ sendBack, receive }) => {
        serverBack = sendBack as (event: ServerEvent) => void;
        receive((command) => serverCommands.push(command));
      }),
      session: session as never,
      taskRegistry: createTaskRegistry(task),
    },
  });
  const actor = createActor(logic, { clock, input: providerInput(options.input) });
  const emitted: ProviderEmitted[] = [];
  actor.on('*', (event) => void emitted.push(event as ProviderEmitted));
  actor.start();

  const socket = (connectionId: string): FakeSocket => {
    const found = sockets.get(connectionId);
    if (found === undefined) throw new Error(`no socket ${connectionId}`);
    return found;
  };
  return {
    clock,
    probe,
    actor,
    emitted,
    serverCommands,
    datagrams,
    socket,
    /** Every advertisement sent so far, as `serviceId:status:load -> to`. */
    adverts: () => adverts(datagrams.map((d) => d.command)),
    discovery: (event: DatagramEvent) => discoveryBack?.(event),
    listening: () => serverBack?.({ type: 'server.listening', endpoint: ENDPOINT }),
    server: (event: ServerEvent) => serverBack?.(event),
    accept: (connectionId: string, remoteAddress = '10.0.0.2') => {
      serverBack?.({ type: 'server.accepted', connectionId, remoteAddress });
      return socket(connectionId);
    },
    send: (connectionId: string, message: ClientMessage) => socket(connectionId).emit({ type: 'transport.message', message }),
    value: () => actor.getSnapshot().value,
    context: () => actor.getSnapshot().context,
    registry: () => actor.getSnapshot().children.tasks?.getSnapshot() as TaskRegistrySnapshot,
  };
}

type Provider = ReturnType<typeof startProvider>;

/** Drafts a fake client socket received, in order. */
const draftsOf = (socket: FakeSocket): ProviderDraft[] =>
  socket.commands.flatMap((command) => (command.type === 'transport.send' ? [command.draft as ProviderDraft] : []));
/** What a socket saw, readable: drafts summarised, closes with their code. */
const traffic = (socket: FakeSocket): string[] =>
  socket.commands.flatMap((command) => {
    if (command.type === 'transport.send') {
      const draft = command.draft as ProviderDraft;
      const taskId = (draft.payload as { taskId?: string }).taskId;
      return [`${summarize(draft)}${taskId === undefined ? '' : ` ${taskId}`}`];
    }
    if (command.type === 'transport.close') return [`close ${command.code}`];
    if (command.type === 'transport.terminate') return ['terminate'];
    return [];
  });

/** An online provider with one client (alice) connected on `c1`. */
function onlineWithClient(options: HarnessOptions = {}): Provider & { alice: FakeSocket } {
  const provider = startProvider(options);
  provider.listening();
  const alice = provider.accept('c1');
  return { ...provider, alice };
}

describe('provider: start and discovery', () => {
  it('DISC-4, DISC-5: starting -> online on server.listening, one broadcast advertisement per hosted service', () => {
    const provider = startProvider();
    expect(provider.value()).toBe('starting');
    expect(provider.datagrams).toEqual([]);
    provider.listening();
    expect(provider.value()).toBe('online');
    expect(provider.adverts()).toEqual(['imaging-1:Online:0 -> broadcast', 'text-1:Online:0 -> broadcast']);
    const endpoints = provider.datagrams.map((d) => (d.command.draft as { endpoint: string }).endpoint);
    expect(endpoints).toEqual([ENDPOINT, ENDPOINT]);
    expect(provider.emitted).toEqual([
      { type: 'provider.listening', endpoint: ENDPOINT },
      { type: 'provider.status', status: 'Online' },
    ]);
  });

  it('DISC-4: heartbeats every heartbeatIntervalMs, exactly on time', () => {
    const provider = startProvider();
    provider.listening();
    provider.clock.increment(HEARTBEAT_MS - 1);
    expect(provider.datagrams).toHaveLength(2);
    provider.clock.increment(1);
    expect(provider.datagrams.map((d) => d.atMs)).toEqual([0, 0, 1_000, 1_000]);
    for (let beat = 2; beat <= 5; beat++) provider.clock.increment(HEARTBEAT_MS);
    expect(provider.datagrams.map((d) => d.atMs)).toEqual([0, 0, 1_000, 1_000, 2_000, 2_000, 3_000, 3_000, 4_000, 4_000, 5_000, 5_000]);
    expect(provider.datagrams.every((d) => d.command.to === 'broadcast')).toBe(true);
  });

  it('DISC-3: answers a discovery request unicast to its source with respondsToClientId, filtered by serviceName', () => {
    const provider = startProvider();
    provider.listening();
    provider.datagrams.length = 0;
    provider.discovery(discoveryRequest('client-7', CLIENT_ADDRESS));
    provider.discovery(discoveryRequest('client-8', { host: '10.0.0.3', port: 40_001 }, 'Imaging'));
    expect(provider.adverts()).toEqual([
      'imaging-1:Online:0 -> 10.0.0.2:40000',
      'text-1:Online:0 -> 10.0.0.2:40000',
      'imaging-1:Online:0 -> 10.0.0.3:40001',
    ]);
    expect(provider.datagrams.map((d) => (d.command.draft as { respondsToClientId?: string }).respondsToClientId)).toEqual([
      'client-7',
      'client-7',
      'client-8',
    ]);
    expect(provider.context().stats.discoveryRequestsAnswered).toBe(2);
  });

  it('WIRE-8: rejected datagrams are counted, dropped and never answered', () => {
    const provider = startProvider();
    provider.listening();
    provider.datagrams.length = 0;
    for (let i = 0; i < 3; i++) {
      provider.discovery({ type: 'datagram.rejected', from: CLIENT_ADDRESS, error: { code: 'INVALID_MESSAGE', message: 'not JSON' } });
    }
    expect(provider.context().stats.datagramsRejected).toBe(3);
    expect(provider.datagrams).toEqual([]);
    expect(provider.value()).toBe('online');
  });

  it('server.failed -> stopped with the failure as output, provider.failed emitted, nothing advertised', () => {
    const provider = startProvider();
    const error = { code: 'INTERNAL_ERROR' as const, message: 'address in use: 10.0.0.1:8080' };
    provider.server({ type: 'server.failed', error });
    expect(provider.actor.getSnapshot().status).toBe('done');
    expect(provider.actor.getSnapshot().output).toEqual({ failure: error });
    expect(provider.emitted).toEqual([{ type: 'provider.failed', error }]);
    expect(provider.datagrams).toEqual([]);
  });
});

describe('provider: sessions and routing', () => {
  it('emits session.opened, session.bound and task.settled as a client connects, binds and runs a task', () => {
    const provider = onlineWithClient({ handler: stepsHandler });
    provider.send('c1', assignTask('t1', 'alice', 'Imaging', 'resize', { steps: 2, stepMs: 100 }));
    provider.clock.increment(100);
    provider.clock.increment(100);
    expect(traffic(provider.alice)).toEqual([
      'Ack:Processing t1',
      'TaskStatusUpdate:Processing:50 t1',
      'TaskStatusUpdate:Processing:100 t1',
      'TaskResult t1',
    ]);
    expect(provider.emitted.slice(2)).toEqual([
      { type: 'session.opened', connectionId: 'c1' },
      { type: 'session.bound', connectionId: 'c1', clientId: 'alice' },
      { type: 'task.settled', clientId: 'alice', taskId: 't1', outcome: { status: 'Completed', resultData: { steps: 2 } } },
    ]);
    expect(provider.context().clients).toEqual(new Map([['alice', ['c1']]]));
  });

  it('routes each reply to the session of the client it belongs to', () => {
    const provider = onlineWithClient({ handler: stepsHandler });
    const bob = provider.accept('c2', '10.0.0.3');
    provider.send('c1', assignTask('t1', 'alice', 'Imaging', 'resize', { steps: 1, stepMs: 50 }));
    provider.send('c2', assignTask('t1', 'bob', 'Text', 'upper', { steps: 1, stepMs: 80 }));
    provider.clock.increment(50);
    provider.clock.increment(30);
    expect(draftsOf(provider.alice).map((d) => (d.payload as { originalClientId?: string }).originalClientId ?? 'alice')).toEqual(
      Array(draftsOf(provider.alice).length).fill('alice'),
    );
    expect(traffic(provider.alice).at(-1)).toBe('TaskResult t1');
    expect(traffic(bob).at(-1)).toBe('TaskResult t1');
    expect(draftsOf(bob).every((d) => d.type === 'Ack' || (d.payload as { originalClientId?: string }).originalClientId === 'bob')).toBe(true);
    expect(provider.context().clients).toEqual(new Map([['alice', ['c1']], ['bob', ['c2']]]));
  });

  it('session.ended is emitted with how the session ended, and the client is unbound', () => {
    const provider = onlineWithClient();
    provider.send('c1', taskRef('GetStatus', 'nothing'));
    provider.alice.emit({ type: 'transport.closed', graceful: false, code: 1006, reason: '' });
    expect(provider.emitted.at(-1)).toEqual({
      type: 'session.ended',
      connectionId: 'c1',
      clientId: 'alice',
      graceful: false,
      reason: 'connection lost (1006)',
    });
    expect(provider.context().sessions).toEqual(new Map());
    expect(provider.context().clients).toEqual(new Map());
  });

  it('TASK-13: a reply for a client with no session is counted undeliverable, the task still finishes, and GetResult fetches it later', () => {
    const provider = onlineWithClient({ handler: stepsHandler });
    provider.send('c1', assignTask('t1', 'alice', 'Imaging', 'resize', { steps: 1, stepMs: 100 }));
    provider.alice.emit({ type: 'transport.closed', graceful: false, code: 1006, reason: '' });
    provider.clock.increment(100);
    // The progress update and the TaskResult had nowhere to go.
    expect(provider.context().stats.repliesUndeliverable).toBe(2);
    expect(provider.emitted.filter((e) => e.type === 'task.settled')).toEqual([
      { type: 'task.settled', clientId: 'alice', taskId: 't1', outcome: { status: 'Completed', resultData: { steps: 1 } } },
    ]);
    const again = provider.accept('c2');
    provider.send('c2', taskRef('GetResult', 't1'));
    expect(traffic(again)).toEqual(['TaskResult t1']);
    expect(provider.probe.runs).toHaveLength(1);
  });

  it('TASK-13: replies go to the newest session of a client that reconnected before its old session ended', () => {
    const provider = onlineWithClient({ handler: stepsHandler });
    provider.send('c1', assignTask('t1', 'alice', 'Imaging', 'resize', { steps: 1, stepMs: 100 }));
    const fresh = provider.accept('c2');
    provider.send('c2', taskRef('GetStatus', 't1'));
    expect(provider.context().clients).toEqual(new Map([['alice', ['c1', 'c2']]]));
    provider.alice.emit({ type: 'transport.closed', graceful: false, code: 1006, reason: '' });
    expect(provider.context().clients).toEqual(new Map([['alice', ['c2']]]));
    provider.clock.increment(100);
    expect(traffic(fresh)).toEqual(['TaskStatusUpdate:Processing:0 t1', 'TaskStatusUpdate:Processing:100 t1', 'TaskResult t1']);
    expect(provider.context().stats.repliesUndeliverable).toBe(0);
  });

  it('TASK-13: when a client’s newest session ends, replies go to its previous session that is still open', () => {
    const provider = onlineWithClient({ handler: stepsHandler });
    provider.send('c1', assignTask('t1', 'alice', 'Imaging', 'resize', { steps: 1, stepMs: 100 }));
    const newer = provider.accept('c2');
    provider.send('c2', taskRef('GetStatus', 't1'));
    newer.emit({ type: 'transport.closed', graceful: false, code: 1006, reason: '' });
    expect(provider.context().clients).toEqual(new Map([['alice', ['c1']]]));
    provider.clock.increment(100);
    expect(traffic(provider.alice).slice(-2)).toEqual(['TaskStatusUpdate:Processing:100 t1', 'TaskResult t1']);
    expect(provider.context().stats.repliesUndeliverable).toBe(0);
  });

  it('CONN-10: beyond sessionsMax a connection is refused with Error OVERLOADED and close 1013, and counted', () => {
    const provider = startProvider({ input: { sessionsMax: 2 } });
    provider.listening();
    const first = provider.accept('c1');
    const second = provider.accept('c2');
    const third = provider.accept('c3');
    expect(traffic(first)).toEqual([]);
    expect(traffic(second)).toEqual([]);
    expect(traffic(third)).toEqual(['Error:OVERLOADED', 'close 1013']);
    expect(provider.context().stats.sessionsRefused).toBe(1);
    expect(provider.emitted.filter((e) => e.type === 'session.opened').map((e) => e.connectionId)).toEqual(['c1', 'c2']);
    expect([...provider.context().sessions.keys()]).toEqual(['c1', 'c2']);
    // A slot freed is a slot again.
    first.emit({ type: 'transport.closed', graceful: true, code: 1000, reason: '' });
    const fourth = provider.accept('c4');
    expect(traffic(fourth)).toEqual([]);
    expect(provider.context().stats.sessionsRefused).toBe(1);
  });
});

describe('provider: status hysteresis (DISC-6)', () => {
  it('Busy exactly when load reaches 1, Online again only at load <= 0.5 (tasksRunningMax 4, hanging handler)', () => {
    const provider = onlineWithClient({ input: { limits: limitsOf(4) } });
    const statuses = () => provider.emitted.filter((e) => e.type === 'provider.status').map((e) => e.status);
    for (const taskId of ['t1', 't2', 't3']) provider.send('c1', assignTask(taskId));
    expect(provider.value()).toBe('online');
    provider.send('c1', assignTask('t4'));
    expect(provider.value()).toBe('busy');
    expect(provider.adverts().slice(-2)).toEqual(['imaging-1:Busy:1 -> broadcast', 'text-1:Busy:1 -> broadcast']);
    // A fifth task waits in the queue; the load stays 1.
    provider.send('c1', assignTask('t5'));
    expect(provider.context().load).toBe(1);
    provider.send('c1', taskRef('CancelTask', 't5'));
    provider.send('c1', taskRef('CancelTask', 't1'));
    expect(provider.context().load).toBe(0.75);
    expect(provider.value()).toBe('busy');
    expect(statuses()).toEqual(['Online', 'Busy']);
    provider.send('c1', taskRef('CancelTask', 't2'));
    expect(provider.value()).toBe('online');
    expect(statuses()).toEqual(['Online', 'Busy', 'Online']);
    expect(provider.adverts().slice(-2)).toEqual(['imaging-1:Online:0.5 -> broadcast', 'text-1:Online:0.5 -> broadcast']);
    expect(provider.probe.runs.map((run) => run.ended)).toEqual(['stopped', 'stopped', undefined, undefined]);
  });

  it('DISC-4: a busy provider heartbeats as Busy, with its load', () => {
    const provider = onlineWithClient({ input: { limits: limitsOf(1) } });
    provider.send('c1', assignTask('t1'));
    const sent = provider.datagrams.length;
    provider.clock.increment(HEARTBEAT_MS);
    expect(provider.adverts().slice(sent)).toEqual(['imaging-1:Busy:1 -> broadcast', 'text-1:Busy:1 -> broadcast']);
  });
});

describe('provider: drain and stop', () => {
  it('TASK-8, DISC-7: drain advertises Draining, refuses new tasks, finishes running and queued ones, then says goodbye and stops', () => {
    const provider = onlineWithClient({ input: { limits: limitsOf(1) }, handler: stepsHandler });
    provider.send('c1', assignTask('t1', 'alice', 'Imaging', 'resize', { steps: 2, stepMs: 100 }));
    provider.send('c1', assignTask('t2', 'alice', 'Imaging', 'resize', { steps: 1, stepMs: 100 }));
    provider.actor.send({ type: 'provider.drain' });
    expect(provider.value()).toBe('draining');
    expect(provider.adverts().slice(-2)).toEqual(['imaging-1:Draining:1 -> broadcast', 'text-1:Draining:1 -> broadcast']);
    provider.send('c1', assignTask('t3'));
    expect(traffic(provider.alice).at(-1)).toBe('TaskFailed:PROVIDER_DRAINING t3');
    // A draining provider still answers discovery (as Draining) and heartbeats.
    provider.discovery(discoveryRequest('client-9', CLIENT_ADDRESS, 'Text'));
    expect(provider.adverts().at(-1)).toBe('text-1:Draining:1 -> 10.0.0.2:40000');
    advance(provider.clock, 200);
    expect(traffic(provider.alice)).toContain('TaskResult t1');
    expect(provider.value()).toBe('draining');
    advance(provider.clock, 99);
    expect(provider.value()).toBe('draining');
    advance(provider.clock, 1);
    expect(traffic(provider.alice).slice(-2)).toEqual(['TaskResult t2', 'close 1001']);
    expect(provider.adverts().slice(-2)).toEqual(['imaging-1:Offline:0 -> broadcast', 'text-1:Offline:0 -> broadcast']);
    expect(provider.serverCommands).toEqual([{ type: 'server.close' }]);
    expect(provider.actor.getSnapshot().status).toBe('done');
    expect(provider.actor.getSnapshot().output).toEqual({ failure: undefined });
    expect(provider.probe.runs.map((run) => `${run.input.taskId}:${run.ended}`)).toEqual(['t1:finished', 't2:finished']);
    expect(provider.emitted.filter((e) => e.type === 'provider.status').map((e) => e.status)).toEqual(['Online', 'Busy', 'Draining', 'Offline']);
    expect(provider.emitted.at(-1)).toMatchObject({ type: 'session.ended', connectionId: 'c1', graceful: true });
  });

  it('TASK-8: drain with nothing running says goodbye and stops at once', () => {
    const provider = onlineWithClient();
    provider.actor.send({ type: 'provider.drain' });
    expect(provider.adverts().slice(-4)).toEqual([
      'imaging-1:Draining:0 -> broadcast',
      'text-1:Draining:0 -> broadcast',
      'imaging-1:Offline:0 -> broadcast',
      'text-1:Offline:0 -> broadcast',
    ]);
    expect(traffic(provider.alice)).toEqual(['close 1001']);
    expect(provider.actor.getSnapshot().status).toBe('done');
  });

  it('stop cancels running and queued tasks and delivers their TaskFailed Cancelled before closing sessions with 1001', () => {
    const provider = onlineWithClient({ input: { limits: limitsOf(2) } });
    const bob = provider.accept('c2', '10.0.0.3');
    provider.send('c1', assignTask('t1'));
    provider.send('c2', assignTask('t1', 'bob'));
    provider.send('c1', assignTask('t2'));
    provider.actor.send({ type: 'provider.stop' });
    expect(traffic(provider.alice)).toEqual([
      'Ack:Processing t1',
      'Ack:Queued t2',
      'TaskStatusUpdate:Queued:0 t2',
      'TaskFailed:CANCELLED t2',
      'TaskFailed:CANCELLED t1',
      'close 1001',
    ]);
    expect(traffic(bob).slice(-2)).toEqual(['TaskFailed:CANCELLED t1', 'close 1001']);
    // A stop is not a drain: no Draining advertisement, straight to the goodbye (DISC-7).
    expect(provider.emitted.filter((e) => e.type === 'provider.status').map((e) => e.status)).toEqual(['Online', 'Busy', 'Offline']);
    expect(provider.probe.runs.map((run) => run.ended)).toEqual(['stopped', 'stopped']);
    expect(provider.adverts().slice(-2)).toEqual(['imaging-1:Offline:0 -> broadcast', 'text-1:Offline:0 -> broadcast']);
    expect(provider.serverCommands).toEqual([{ type: 'server.close' }]);
    expect(provider.actor.getSnapshot().status).toBe('done');
    const settled = provider.emitted.filter((e) => e.type === 'task.settled');
    expect(settled.map((e) => `${e.clientId}/${e.taskId}:${e.outcome.status}`).sort()).toEqual([
      'alice/t1:Cancelled',
      'alice/t2:Cancelled',
      'bob/t1:Cancelled',
    ]);
  });

  it('stop overrides a drain: the remaining tasks are cancelled', () => {
    const provider = onlineWithClient();
    provider.send('c1', assignTask('t1'));
    provider.actor.send({ type: 'provider.drain' });
    expect(provider.value()).toBe('draining');
    provider.actor.send({ type: 'provider.stop' });
    expect(traffic(provider.alice).slice(-2)).toEqual(['TaskFailed:CANCELLED t1', 'close 1001']);
    expect(provider.actor.getSnapshot().status).toBe('done');
  });

  it('CONN-7: sessions that never complete the close handshake are dropped after stopTimeoutMs, and the provider stops', () => {
    const provider = onlineWithClient({
      cooperative: false,
      input: { session: { ...sessionDefaults, pingIntervalMs: 300, pongTimeoutMs: 300, closeTimeoutMs: 1_000 } },
    });
    provider.actor.send({ type: 'provider.stop' });
    expect(traffic(provider.alice)).toEqual(['close 1001']);
    expect(provider.value()).toEqual({ stopping: 'closingSessions' });
    provider.clock.increment(299);
    expect(provider.actor.getSnapshot().status).toBe('active');
    provider.clock.increment(1);
    expect(provider.actor.getSnapshot().status).toBe('done');
  });
});

// ---- (c) on the simulated network -------------------------------------------------------------

/** A tiny machine that invokes `logic` and records every event it sends back. */
function listen(clock: SimulatedClock, logic: AnyActorLogic) {
  const log: AnyEventObject[] = [];
  const machine = setup({ actors: { socket: logic } }).createMachine({
    invoke: { id: 'socket', src: 'socket' },
    on: { '*': { actions: ({ event }) => void log.push(event) } },
  });
  const actor = createActor(machine, { clock }).start();
  return { log, send: (command: AnyEventObject) => (actor.getSnapshot().children.socket as AnyActorRef).send(command), stop: () => actor.stop() };
}

describe('provider: on the simulated network', () => {
  it('DISC-1, DISC-3: the reply reaches only the requesting socket; a heartbeat reaches every one', () => {
    const clock = new SimulatedClock();
    const net = new SimulatedNetwork({ clock, seed: 11 });
    const logic = composeProvider(net.host('10.0.0.1'), 8080, { handler: hangingHandler() });
    const provider = createActor(logic, { clock, input: providerInput() }).start();
    const asker = listen(clock, net.host('10.0.0.2').discovery());
    const bystander = listen(clock, net.host('10.0.0.3').discovery());
    net.run(10);
    const heard = (log: AnyEventObject[]) =>
      log
        .filter((e) => e.type === 'datagram.received' && e.message.discoveryType === 'ServiceAdvertisement')
        .map((e) => `${e.message.serviceId}${e.message.respondsToClientId ? ` for ${e.message.respondsToClientId}` : ''}`)
        .sort();
    asker.send({ type: 'datagram.send', to: 'broadcast', draft: { discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'asker' } satisfies DiscoveryDraft });
    net.run(20);
    expect(heard(asker.log)).toEqual(['imaging-1', 'imaging-1 for asker', 'text-1', 'text-1 for asker']);
    // The bystander heard the start-up broadcast and the asker's request, not the replies.
    expect(heard(bystander.log)).toEqual(['imaging-1', 'text-1']);
    expect(bystander.log.filter((e) => e.type === 'datagram.received' && e.message.discoveryType === 'ClientServiceDiscoveryRequest')).toHaveLength(1);
    expect(provider.getSnapshot().context.stats.discoveryRequestsAnswered).toBe(1);
    net.run(HEARTBEAT_MS);
    expect(heard(bystander.log)).toEqual(['imaging-1', 'imaging-1', 'text-1', 'text-1']);
    provider.stop();
    asker.stop();
    bystander.stop();
  });
});
