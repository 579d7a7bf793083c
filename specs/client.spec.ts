/**
 * The client root (machines/client.ts): the repository (DISC-2, DISC-8), one connection per
 * provider endpoint (CONN-1), selection (DISC-11, DISC-13), cancel routing, graceful stop
 * (CONN-7), and the events it emits for the application.
 *
 * Two layers: (a) actors on a SimulatedClock with a fake discovery socket and fake stream
 * transports (fromCallback recorders, one fake socket per connection attempt), plus a fast-check
 * property over advertised views and assignment sequences; (b) the client against real providers
 * on the simulated network (specs/support/world.ts), wired by runtime/compose.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, SimulatedClock, type AnyActorRef } from 'xstate';
import { clientDefaults, clientMachine, type AssignRequest, type ClientEmitted, type ClientInput } from '../machines/client.js';
import { connectionMachine } from '../machines/connection.js';
import type { ClientDraft, ProviderMessage, ServiceAdvertisement, ServiceStatus } from '../machines/messages.js';
import { repositoryMachine } from '../machines/repository.js';
import { candidatesFor, type SelectionPolicy } from '../machines/selection.js';
import type { ConnectInput, DatagramCommand, DatagramEvent, StreamCommand, StreamEvent } from '../machines/transport.js';
import { ackOf, failedOf, resultOf, updateOf } from './support/clientTaskFixtures.js';
import { smallClientOptions, smallProviderOptions, World, WORK_OPERATION, WORK_SERVICE } from './support/world.js';

const A = 'ws://10.0.0.1:8080';
const B = 'ws://10.0.0.2:8080';
const C = 'ws://10.0.0.3:8080';
const CLIENT = 'client-1';

// ---- fakes ------------------------------------------------------------------------------------

interface FakeSocket {
  readonly endpoint: string;
  readonly commands: StreamCommand[];
  stopped: boolean;
  emit(event: StreamEvent): void;
}

interface AdvertOptions {
  readonly status?: ServiceStatus;
  readonly load?: number;
  readonly serviceName?: string;
  readonly operations?: readonly string[];
}

function advertisement(serviceId: string, endpoint: string, options: AdvertOptions = {}): ServiceAdvertisement {
  return {
    discoveryType: 'ServiceAdvertisement',
    serviceId,
    serviceName: options.serviceName ?? 'Imaging',
    serviceVersion: '1.0.0',
    endpoint,
    capabilities: (options.operations ?? ['resize']).map((key) => ({ key, settings: [] })),
    status: options.status ?? 'Online',
    load: options.load ?? 0,
    timestamp: 1_751_456_705_000,
    heartbeatIntervalMs: 1_000,
  };
}

interface HarnessOptions {
  readonly input?: Partial<Omit<ClientInput, 'clientId' | 'seed'>>;
  readonly selectionPolicy?: SelectionPolicy;
  /** Fake sockets complete a close handshake by themselves. @default true */
  readonly cooperative?: boolean;
}

function startClient(options: HarnessOptions = {}) {
  const clock = new SimulatedClock();
  const cooperative = options.cooperative ?? true;
  const datagrams: { atMs: number; command: DatagramCommand }[] = [];
  const sockets: FakeSocket[] = [];
  let discoveryBack: ((event: DatagramEvent) => void) | undefined;
  const logic = clientMachine.provide({
    actors: {
      repository: repositoryMachine.provide({
        actors: {
          discovery: fromCallback<DatagramCommand>(({ sendBack, receive }) => {
            discoveryBack = sendBack as (event: DatagramEvent) => void;
            receive((command) => datagrams.push({ atMs: clock.now(), command }));
          }),
        },
      }) as never,
      connection: connectionMachine.provide({
        actors: {
          transport: fromCallback<StreamCommand, ConnectInput>(({ input, sendBack, receive }) => {
            const socket: FakeSocket = { endpoint: input.endpoint, commands: [], stopped: false, emit: (event) => sendBack(event) };
            sockets.push(socket);
            receive((command) => {
              socket.commands.push(command);
              if (command.type === 'transport.close' && cooperative) {
                sendBack({ type: 'transport.closed', graceful: true, code: command.code, reason: command.reason ?? '' });
              }
              if (command.type === 'transport.terminate') sendBack({ type: 'transport.closed', graceful: false, code: 1006, reason: 'terminated' });
            });
            return () => {
              socket.stopped = true;
            };
          }),
        },
      }) as never,
    },
  });
  // The fake discovery socket hands the client unsigned advertisements: allowed explicitly (the
  // trust policy is specified in specs/repository.trust.spec.ts; the simulated network signs).
  const repository = { ...smallClientOptions.repository, trust: { ...smallClientOptions.repository.trust, allowUnsigned: true } };
  const input = {
    ...clientDefaults,
    ...smallClientOptions,
    repository,
    ...options.input,
    clientId: CLIENT,
    seed: 7,
    ...(options.selectionPolicy === undefined ? {} : { selectionPolicy: options.selectionPolicy }),
  };
  const actor = createActor(logic, { clock, input });
  const emitted: ClientEmitted[] = [];
  actor.on('*', (event) => void emitted.push(event as ClientEmitted));
  actor.start();

  const socketsTo = (endpoint: string) => sockets.filter((socket) => socket.endpoint === endpoint);
  const socketTo = (endpoint: string): FakeSocket => {
    const socket = socketsTo(endpoint).at(-1);
    if (socket === undefined) throw new Error(`no socket to ${endpoint}`);
    return socket;
  };
  return {
    clock,
    actor,
    emitted,
    datagrams,
    sockets,
    socketsTo,
    socketTo,
    advertise: (serviceId: string, endpoint: string, advert: AdvertOptions = {}) =>
      discoveryBack?.({ type: 'datagram.received', from: { host: '10.0.0.9', port: 50_001 }, message: advertisement(serviceId, endpoint, advert) }),
    assign: (taskId: string, extra: Partial<AssignRequest> = {}) =>
      actor.send({
        type: 'client.assign',
        request: { taskId, messageId: `assign-${taskId}`, serviceName: 'Imaging', operation: 'resize', params: {}, ...extra },
      }),
    open: (endpoint: string) => socketTo(endpoint).emit({ type: 'transport.opened' }),
    deliver: (endpoint: string, message: ProviderMessage) => socketTo(endpoint).emit({ type: 'transport.message', message }),
    of: <T extends ClientEmitted['type']>(type: T) =>
      emitted.filter((event): event is Extract<ClientEmitted, { type: T }> => event.type === type),
    connectionIds: () => Object.keys(actor.getSnapshot().children).filter((id) => id.startsWith('connection:')),
    requests: () => datagrams.filter((d) => d.command.draft.discoveryType === 'ClientServiceDiscoveryRequest'),
  };
}

/** `Type:taskId` of every draft a fake socket was asked to send. */
const drafts = (socket: FakeSocket): string[] =>
  socket.commands.flatMap((command) => {
    if (command.type !== 'transport.send') return [];
    const draft = command.draft as ClientDraft;
    return [`${draft.type}:${'taskId' in draft.payload ? draft.payload.taskId : ''}`];
  });

// ---- (a) fakes --------------------------------------------------------------------------------

describe('client: discovery', () => {
  it('DISC-2: broadcasts a discovery request with its clientId at start', () => {
    const client = startClient();
    expect(client.requests()).toEqual([
      { atMs: 0, command: { type: 'datagram.send', to: 'broadcast', draft: { discoveryType: 'ClientServiceDiscoveryRequest', clientId: CLIENT } } },
    ]);
  });

  it('DISC-2: client.refresh sends a discovery request at once and restarts the period', () => {
    const client = startClient({ input: { repository: { ...smallClientOptions.repository, discoveryPeriodMs: 4_000 } } });
    client.clock.increment(1_500);
    client.actor.send({ type: 'client.refresh' });
    expect(client.requests().map((d) => d.atMs)).toEqual([0, 1_500]);
    client.clock.increment(3_999);
    expect(client.requests().map((d) => d.atMs)).toEqual([0, 1_500]);
    client.clock.increment(1);
    expect(client.requests().map((d) => d.atMs)).toEqual([0, 1_500, 5_500]);
  });

  it('DISC-8: every change of the repository is emitted as services.changed with the full view', () => {
    const client = startClient();
    client.advertise('a', A);
    client.advertise('b', B, { load: 0.5 });
    client.advertise('a', A, { status: 'Busy', load: 1 });
    const views = client.of('services.changed').map((event) => event.services.map((s) => `${s.serviceId}:${s.status}:${s.load}`));
    expect(views).toEqual([['a:Online:0'], ['a:Online:0', 'b:Online:0.5'], ['a:Busy:1', 'b:Online:0.5']]);
    expect(client.actor.getSnapshot().context.services.map((s) => s.serviceId)).toEqual(['a', 'b']);
  });

  it('DISC-10: a goodbye removes the service from the view at once', () => {
    const client = startClient();
    client.advertise('a', A);
    client.advertise('a', A, { status: 'Offline' });
    expect(client.of('services.changed').at(-1)?.services).toEqual([]);
    client.assign('t1');
    expect(client.of('task.settled').map((e) => e.outcome)).toMatchObject([{ status: 'Failed', error: { code: 'SERVICE_UNAVAILABLE' } }]);
  });
});

describe('client: assignment', () => {
  it('DISC-11: assign picks an instance by selection and emits task.submitted with its serviceId and endpoint', () => {
    const client = startClient();
    client.advertise('busy', A, { status: 'Busy', load: 1 });
    client.advertise('idle', B, { load: 0.2 });
    client.assign('t1');
    expect(client.of('task.submitted')).toEqual([{ type: 'task.submitted', taskId: 't1', serviceId: 'idle', endpoint: B }]);
    expect(client.sockets.map((socket) => socket.endpoint)).toEqual([B]);
    // The AssignTask waits in the outbox until the connection opens (CONN-5).
    expect(drafts(client.socketTo(B))).toEqual([]);
    client.open(B);
    expect(drafts(client.socketTo(B))).toEqual(['AssignTask:t1']);
    const sent = client.socketTo(B).commands[0] as Extract<StreamCommand, { type: 'transport.send' }>;
    expect(sent.draft).toEqual({
      type: 'AssignTask',
      messageId: 'assign-t1',
      payload: { taskId: 't1', serviceName: 'Imaging', operation: 'resize', taskParameters: {}, callbackClientId: CLIENT },
    });
  });

  it('DISC-11: round-robin among equal instances', () => {
    const client = startClient();
    client.advertise('b', B);
    client.advertise('a', A);
    client.advertise('c', C);
    for (const taskId of ['t1', 't2', 't3', 't4', 't5']) client.assign(taskId);
    expect(client.of('task.submitted').map((e) => e.serviceId)).toEqual(['a', 'b', 'c', 'a', 'b']);
  });

  it('CONN-1: one connection per endpoint, reused for every task to it', () => {
    const client = startClient();
    client.advertise('a', A);
    client.advertise('a2', A, { serviceName: 'Imaging' }); // a second service on the same endpoint
    client.advertise('b', B);
    for (let i = 1; i <= 6; i++) client.assign(`t${i}`);
    expect(client.sockets.map((socket) => socket.endpoint).sort()).toEqual([A, B]);
    expect(client.connectionIds().sort()).toEqual([`connection:${A}`, `connection:${B}`]);
    client.open(A);
    client.open(B);
    expect(drafts(client.socketTo(A))).toEqual(['AssignTask:t1', 'AssignTask:t2', 'AssignTask:t4', 'AssignTask:t5']);
    expect(drafts(client.socketTo(B))).toEqual(['AssignTask:t3', 'AssignTask:t6']);
    // Later tasks reuse the open connection.
    client.assign('t7', { excludeServiceIds: ['b'] });
    expect(client.sockets).toHaveLength(2);
    expect(drafts(client.socketTo(A)).at(-1)).toBe('AssignTask:t7');
  });

  it('DISC-13: SERVICE_UNAVAILABLE when nothing offers the operation; nothing is sent and no connection opened', () => {
    const client = startClient();
    client.advertise('a', A, { operations: ['resize'] });
    client.advertise('d', B, { status: 'Draining', operations: ['rotate'] });
    client.assign('t1', { operation: 'rotate' });
    client.assign('t2', { serviceName: 'Audio' });
    expect(client.of('task.submitted')).toEqual([]);
    expect(client.of('task.settled').map((e) => [e.taskId, e.outcome])).toEqual([
      ['t1', { status: 'Failed', error: { code: 'SERVICE_UNAVAILABLE', message: 'No known provider offers this service and operation. (Imaging.rotate)' } }],
      ['t2', { status: 'Failed', error: { code: 'SERVICE_UNAVAILABLE', message: 'No known provider offers this service and operation. (Audio.resize)' } }],
    ]);
    expect(client.sockets).toEqual([]);
    expect(client.connectionIds()).toEqual([]);
  });

  it('DISC-11: excludeServiceIds is honoured; excluding every candidate is SERVICE_UNAVAILABLE', () => {
    const client = startClient();
    client.advertise('a', A);
    client.advertise('b', B);
    for (const taskId of ['t1', 't2', 't3']) client.assign(taskId, { excludeServiceIds: ['a'] });
    expect(client.of('task.submitted').map((e) => e.serviceId)).toEqual(['b', 'b', 'b']);
    client.assign('t4', { excludeServiceIds: ['a', 'b'] });
    expect(client.of('task.settled').map((e) => [e.taskId, e.outcome.status === 'Failed' && e.outcome.error.code])).toEqual([
      ['t4', 'SERVICE_UNAVAILABLE'],
    ]);
    expect(client.sockets.map((socket) => socket.endpoint)).toEqual([B]);
  });

  it('DISC-11: a replaced selection policy decides', () => {
    const calls: string[] = [];
    const lastEndpoint: SelectionPolicy = (services, request, state) => {
      calls.push(`${request.serviceName}/${request.operation}`);
      return { service: candidatesFor(services, request).at(-1), state };
    };
    const client = startClient({ selectionPolicy: lastEndpoint });
    client.advertise('a', A);
    client.advertise('b', B);
    client.assign('t1');
    client.assign('t2');
    expect(calls).toEqual(['Imaging/resize', 'Imaging/resize']);
    expect(client.of('task.submitted').map((e) => e.serviceId)).toEqual(['b', 'b']);
  });

  it('TASK-1: a second assign of an unfinished taskId is ignored, even when selection would pick another instance', () => {
    const client = startClient();
    client.advertise('a', A);
    client.advertise('b', B);
    client.assign('t1');
    client.assign('t1');
    client.assign('t2');
    expect(client.of('task.submitted').map((e) => `${e.taskId}@${e.serviceId}`)).toEqual(['t1@a', 't2@b']);
    client.open(A);
    client.open(B);
    expect(drafts(client.socketTo(A))).toEqual(['AssignTask:t1']);
    expect(drafts(client.socketTo(B))).toEqual(['AssignTask:t2']);
    // Once settled, the taskId may be used again (a new task, TASK-4 notes).
    client.deliver(A, failedOf('t1', 'OVERLOADED'));
    client.assign('t1');
    expect(client.of('task.submitted').map((e) => `${e.taskId}@${e.serviceId}`)).toEqual(['t1@a', 't2@b', 't1@a']);
  });

  it('relays progress and the outcome as task.progress and task.settled, without the endpoint', () => {
    const client = startClient();
    client.advertise('a', A);
    client.assign('t1');
    client.open(A);
    client.deliver(A, ackOf('assign-t1', { taskId: 't1', status: 'Processing' }));
    client.deliver(A, updateOf('t1', 40, 'Processing', { message: 'resizing' }));
    client.deliver(A, resultOf('t1', { out: 'x.png' }));
    expect(client.of('task.progress')).toEqual([
      { type: 'task.progress', taskId: 't1', status: 'Processing', progressPercentage: 0 },
      { type: 'task.progress', taskId: 't1', status: 'Processing', progressPercentage: 40, message: 'resizing' },
    ]);
    expect(client.of('task.settled')).toEqual([{ type: 'task.settled', taskId: 't1', outcome: { status: 'Completed', resultData: { out: 'x.png' } } }]);
    expect(client.actor.getSnapshot().context.taskEndpoints.size).toBe(0);
    expect(client.of('connection.opened')).toEqual([{ type: 'connection.opened', endpoint: A, reconnected: false }]);
  });
});

describe('client: cancel', () => {
  it('TASK-11: cancel goes to the connection the task was sent on, and only there', () => {
    const client = startClient();
    client.advertise('a', A);
    client.advertise('b', B);
    client.assign('t1');
    client.assign('t2');
    client.open(A);
    client.open(B);
    client.deliver(A, ackOf('assign-t1', { taskId: 't1', status: 'Processing' }));
    client.deliver(B, ackOf('assign-t2', { taskId: 't2', status: 'Processing' }));
    client.actor.send({ type: 'client.cancel', taskId: 't2' });
    expect(drafts(client.socketTo(A))).toEqual(['AssignTask:t1']);
    expect(drafts(client.socketTo(B))).toEqual(['AssignTask:t2', 'CancelTask:t2']);
    client.deliver(B, failedOf('t2', 'CANCELLED', 'Cancelled'));
    expect(client.of('task.settled')).toEqual([{ type: 'task.settled', taskId: 't2', outcome: { status: 'Cancelled' } }]);
  });

  it('a cancel of an unknown or settled task sends nothing', () => {
    const client = startClient();
    client.advertise('a', A);
    client.assign('t1');
    client.open(A);
    client.deliver(A, resultOf('t1'));
    client.actor.send({ type: 'client.cancel', taskId: 't1' });
    client.actor.send({ type: 'client.cancel', taskId: 'never' });
    expect(drafts(client.socketTo(A))).toEqual(['AssignTask:t1']);
  });
});

describe('client: connections that end', () => {
  it('CONN-4: a connection that gives up fails its tasks CONNECTION_LOST, is forgotten, and the next assign opens a new one', () => {
    const client = startClient({
      input: { connection: { ...smallClientOptions.connection, backoff: { delayMsBase: 50, delayMsMax: 800, attemptsMax: 1 } } },
    });
    client.advertise('a', A);
    client.assign('t1');
    const first = client.socketTo(A);
    first.emit({ type: 'transport.closed', graceful: false, code: 1006, reason: 'connection refused' });
    client.clock.increment(50);
    expect(client.sockets).toHaveLength(2);
    client.socketTo(A).emit({ type: 'transport.closed', graceful: false, code: 1006, reason: 'connection refused' });
    expect(client.of('task.settled')).toMatchObject([{ taskId: 't1', outcome: { status: 'Failed', error: { code: 'CONNECTION_LOST' } } }]);
    expect(client.of('connection.closed')).toEqual([{ type: 'connection.closed', endpoint: A, gaveUp: true }]);
    expect(client.connectionIds()).toEqual([]);
    expect(client.actor.getSnapshot().context.endpoints).toEqual({});

    client.assign('t2');
    expect(client.sockets).toHaveLength(3);
    expect(client.connectionIds()).toEqual([`connection:${A}`]);
    client.open(A);
    expect(drafts(client.socketTo(A))).toEqual(['AssignTask:t2']);
    client.deliver(A, resultOf('t2', 'ok'));
    expect(client.of('task.settled').at(-1)).toEqual({ type: 'task.settled', taskId: 't2', outcome: { status: 'Completed', resultData: 'ok' } });
  });

  it('TASK-16: a retry assigned from a task.settled listener as its connection gives up opens a new connection, never a lost task', () => {
    const client = startClient({
      input: { connection: { ...smallClientOptions.connection, backoff: { delayMsBase: 50, delayMsMax: 800, attemptsMax: 1 } } },
    });
    // The application retries a CONNECTION_LOST at once, from inside the listener.
    client.actor.on('task.settled', (event) => {
      if (event.taskId === 't1') client.assign('t1-retry');
    });
    client.advertise('a', A);
    client.assign('t1');
    client.socketTo(A).emit({ type: 'transport.closed', graceful: false, code: 1006, reason: 'connection refused' });
    client.clock.increment(50);
    client.socketTo(A).emit({ type: 'transport.closed', graceful: false, code: 1006, reason: 'connection refused' });
    expect(client.of('task.settled').map((e) => e.taskId)).toEqual(['t1']);
    expect(client.of('task.submitted').map((e) => `${e.taskId}@${e.endpoint}`)).toEqual([`t1@${A}`, `t1-retry@${A}`]);
    // The ended connection was replaced; its late connection.closed did not take the new one down.
    expect(client.of('connection.closed')).toEqual([{ type: 'connection.closed', endpoint: A, gaveUp: true }]);
    expect(client.socketsTo(A)).toHaveLength(3);
    expect(client.connectionIds()).toEqual([`connection:${A}`]);
    expect(client.actor.getSnapshot().context.endpoints).toEqual({ [A]: true });
    client.open(A);
    expect(drafts(client.socketTo(A))).toEqual(['AssignTask:t1-retry']);
    client.deliver(A, resultOf('t1-retry', 'ok'));
    expect(client.of('task.settled').map((e) => `${e.taskId}:${e.outcome.status}`)).toEqual(['t1:Failed', 't1-retry:Completed']);
  });

  it('CONN-3, CONN-6: a dropped connection reconnects after backoff and asks GetResult for its accepted task', () => {
    const client = startClient();
    client.advertise('a', A);
    client.assign('t1');
    client.open(A);
    client.deliver(A, ackOf('assign-t1', { taskId: 't1', status: 'Processing' }));
    client.socketTo(A).emit({ type: 'transport.closed', graceful: false, code: 1006, reason: '' });
    expect(client.of('connection.down')).toEqual([{ type: 'connection.down', endpoint: A, reason: 'transport closed (1006)', graceful: false }]);
    const delayMs = (client.actor.getSnapshot().children[`connection:${A}`] as AnyActorRef).getSnapshot().context.backoffDelayMs as number;
    client.clock.increment(delayMs);
    expect(client.socketsTo(A)).toHaveLength(2);
    client.open(A);
    expect(drafts(client.socketTo(A))).toEqual(['GetResult:t1']);
    expect(client.of('connection.opened').at(-1)).toEqual({ type: 'connection.opened', endpoint: A, reconnected: true });
  });

  it('CONN-7: client.stop closes every connection with 1000, settles unfinished tasks CONNECTION_LOST, and stops', () => {
    const client = startClient();
    client.advertise('a', A);
    client.advertise('b', B);
    client.assign('t1');
    client.assign('t2');
    client.open(A);
    client.open(B);
    client.deliver(A, resultOf('t1'));
    client.actor.send({ type: 'client.stop' });
    expect(client.socketTo(A).commands.at(-1)).toEqual({ type: 'transport.close', code: 1000 });
    expect(client.socketTo(B).commands.at(-1)).toEqual({ type: 'transport.close', code: 1000 });
    expect(client.of('task.settled').map((e) => [e.taskId, e.outcome.status === 'Failed' ? e.outcome.error.code : e.outcome.status])).toEqual([
      ['t1', 'Completed'],
      ['t2', 'CONNECTION_LOST'],
    ]);
    expect(client.of('connection.closed').map((e) => [e.endpoint, e.gaveUp])).toEqual([
      [A, false],
      [B, false],
    ]);
    expect(client.actor.getSnapshot().status).toBe('done');
    expect(client.actor.getSnapshot().value).toBe('stopped');
  });

  it('CONN-7: a close handshake that never completes is terminated after closeTimeoutMs; the client then stops', () => {
    const client = startClient({ cooperative: false, input: { stopTimeoutMs: 2_000 } });
    client.advertise('a', A);
    client.assign('t1');
    client.open(A);
    client.actor.send({ type: 'client.stop' });
    expect(client.socketTo(A).commands.map((c) => c.type)).toEqual(['transport.send', 'transport.close']);
    client.clock.increment(smallClientOptions.connection.closeTimeoutMs - 1);
    expect(client.actor.getSnapshot().value).toBe('stopping');
    client.clock.increment(1);
    expect(client.socketTo(A).commands.at(-1)).toEqual({ type: 'transport.terminate' });
    expect(client.actor.getSnapshot().value).toBe('stopped');
  });

  it('client.stop with no connections stops at once', () => {
    const client = startClient();
    client.advertise('a', A);
    client.actor.send({ type: 'client.stop' });
    expect(client.actor.getSnapshot().status).toBe('done');
    expect(client.actor.getSnapshot().value).toBe('stopped');
  });

  it('a connection still connecting at stop is terminated, not left behind', () => {
    const client = startClient();
    client.advertise('a', A);
    client.assign('t1');
    client.actor.send({ type: 'client.stop' });
    expect(client.socketTo(A).commands).toEqual([{ type: 'transport.terminate' }]);
    expect(client.actor.getSnapshot().value).toBe('stopped');
    expect(client.of('task.settled')).toMatchObject([{ taskId: 't1', outcome: { status: 'Failed', error: { code: 'CONNECTION_LOST' } } }]);
  });
});

describe('client: properties', () => {
  const serviceArb = fc.record({
    endpoint: fc.constantFrom(A, B, C),
    status: fc.constantFrom<ServiceStatus>('Online', 'Busy', 'Draining'),
    load: fc.constantFrom(0, 0.5, 1),
    operations: fc.subarray(['resize', 'rotate'], { minLength: 1 }),
  });

  it('CONN-1, DISC-11, DISC-13: at most one connection per endpoint; each task goes to an instance that offers it, or fails SERVICE_UNAVAILABLE', () => {
    fc.assert(
      fc.property(
        fc.array(serviceArb, { maxLength: 5 }),
        fc.array(fc.record({ operation: fc.constantFrom('resize', 'rotate', 'crop'), exclude: fc.nat(5) }), { minLength: 1, maxLength: 12 }),
        (services, assignments) => {
          const client = startClient();
          services.forEach((service, i) => client.advertise(`s${i}`, service.endpoint, service));
          assignments.forEach(({ operation, exclude }, i) => client.assign(`t${i}`, { operation, excludeServiceIds: [`s${exclude}`] }));
          const endpoints = client.sockets.map((socket) => socket.endpoint);
          expect(new Set(endpoints).size).toBe(endpoints.length);
          const submitted = new Map(client.of('task.submitted').map((e) => [e.taskId, e]));
          const unavailable = new Set(client.of('task.settled').map((e) => e.taskId));
          assignments.forEach(({ operation, exclude }, i) => {
            const taskId = `t${i}`;
            const offering = services
              .map((service, index) => ({ ...service, serviceId: `s${index}` }))
              .filter((s) => s.operations.includes(operation) && s.status !== 'Draining' && s.serviceId !== `s${exclude}`);
            const choice = submitted.get(taskId);
            if (offering.length === 0) {
              expect(choice).toBeUndefined();
              expect(unavailable.has(taskId)).toBe(true);
            } else {
              expect(unavailable.has(taskId)).toBe(false);
              expect(offering.map((s) => s.serviceId)).toContain(choice?.serviceId);
              expect(choice?.endpoint).toBe(offering.find((s) => s.serviceId === choice?.serviceId)?.endpoint);
              // DISC-11: Online before Busy.
              if (offering.some((s) => s.status === 'Online')) {
                expect(offering.find((s) => s.serviceId === choice?.serviceId)?.status).toBe('Online');
              }
            }
          });
          expect(new Set(endpoints)).toEqual(new Set([...submitted.values()].map((e) => e.endpoint)));
          client.actor.stop();
        },
      ),
      { numRuns: 200 },
    );
  });
});

// ---- (b) on the simulated network -------------------------------------------------------------

describe('client: on the simulated network', () => {
  it('DISC-2, DISC-3, DISC-8: services.changed announces a provider; client.refresh reaches it and is answered', () => {
    const world = new World({ seed: 21, provider: smallProviderOptions, client: smallClientOptions });
    const provider = world.startProvider('10.0.1.1');
    world.run(20);
    const client = world.startClient('10.0.2.1');
    world.run(20);
    // The start-up request was answered (the provider started before the client).
    expect(world.emittedBy(client, 'services.changed').at(-1)?.services.map((s) => s.serviceId)).toEqual([provider.serviceId]);
    const answered = provider.actor.getSnapshot().context.stats.discoveryRequestsAnswered;
    client.actor.send({ type: 'client.refresh' });
    world.run(20);
    expect(provider.actor.getSnapshot().context.stats.discoveryRequestsAnswered).toBe(answered + 1);
    world.stopAll();
  });

  it('CONN-1: many tasks from one client to one provider share one connection (one session at the provider)', () => {
    const world = new World({ seed: 22, provider: smallProviderOptions, client: smallClientOptions });
    const provider = world.startProvider('10.0.1.1');
    const client = world.startClient('10.0.2.1');
    world.run(20);
    for (let i = 1; i <= 6; i++) world.assign(client, { taskId: `t${i}`, params: { steps: 2, stepMs: 50 } });
    world.run(100);
    world.assign(client, { taskId: 't7', params: { steps: 1, stepMs: 10 } });
    world.run(1_000);
    expect([...client.settled.values()].map((outcomes) => outcomes.map((o) => o.status))).toEqual(Array(7).fill(['Completed']));
    expect(Object.keys(world.connectionsOf(client))).toEqual(['ws://10.0.1.1:8080']);
    expect(provider.emitted.filter(({ event }) => event.type === 'session.opened')).toHaveLength(1);
    expect(world.emittedBy(client, 'task.submitted').every((e) => e.endpoint === 'ws://10.0.1.1:8080')).toBe(true);
    world.stopAll();
  });

  it('DISC-13: an operation the known service does not offer fails UNKNOWN_OPERATION (as a provider would say) and opens no connection', () => {
    const world = new World({ seed: 23, provider: smallProviderOptions, client: smallClientOptions });
    const provider = world.startProvider('10.0.1.1');
    const client = world.startClient('10.0.2.1');
    world.run(20);
    client.actor.send({
      type: 'client.assign',
      request: { taskId: 'x', messageId: 'm-x', serviceName: WORK_SERVICE, operation: `${WORK_OPERATION}-not`, params: {} },
    });
    world.run(100);
    expect(world.emittedBy(client, 'task.settled').map((e) => e.outcome)).toMatchObject([
      { status: 'Failed', error: { code: 'UNKNOWN_OPERATION', message: expect.stringContaining(`it offers: ${WORK_OPERATION}`) } },
    ]);
    expect(world.connectionsOf(client)).toEqual({});
    expect(provider.emitted.filter(({ event }) => event.type === 'session.opened')).toEqual([]);
    world.stopAll();
  });

  it('CONN-7: client.stop closes its connection gracefully: the provider sees the session end as closed', () => {
    const world = new World({ seed: 24, provider: smallProviderOptions, client: smallClientOptions });
    const provider = world.startProvider('10.0.1.1');
    const client = world.startClient('10.0.2.1');
    world.run(20);
    world.assign(client, { taskId: 't1', params: { steps: 1, stepMs: 10 } });
    world.run(100);
    client.actor.send({ type: 'client.stop' });
    world.run(50);
    expect(client.actor.getSnapshot().status).toBe('done');
    const ended = provider.emitted.flatMap(({ event }) => (event.type === 'session.ended' ? [event] : []));
    expect(ended).toEqual([
      { type: 'session.ended', connectionId: expect.any(String), clientId: client.clientId, graceful: true, reason: 'closed by client (1000)' },
    ]);
    world.stopAll();
  });
});

describe('client: stopping', () => {
  it('TASK-16: a task assigned while the client stops still settles, with CONNECTION_LOST', async () => {
    const { World } = await import('./support/world.js');
    const world = new World({ seed: 77 });
    world.startProvider('10.0.0.1');
    const client = world.startClient('10.0.0.2');
    world.run(100);
    world.assign(client, { taskId: 'slow', params: { steps: 5, stepMs: 1_000 } });
    world.run(50);
    client.actor.send({ type: 'client.stop' });
    world.assign(client, { taskId: 'late', params: { steps: 1, stepMs: 10 } });
    expect(client.settled.get('late')).toEqual([
      { status: 'Failed', error: { code: 'CONNECTION_LOST', message: 'The client is stopping.' } },
    ]);
    world.run(3_000);
    expect(client.settled.get('slow')).toHaveLength(1);
    world.stopAll();
  });
});
