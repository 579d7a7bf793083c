/**
 * Per machine: the inputs and the alphabet of events the engine-versus-interpreter property
 * draws from (specs/engine.equivalence.spec.ts, and its long run in the slow tier). Alphabets
 * are small on purpose: a handful of ids and values so that events about "this" task, session
 * or endpoint come up often, with strays mixed in, and the internal events XState itself would
 * deliver (done and error events of children, after-timers fire through the harness).
 */
import fc from 'fast-check';
import type { EventObject } from 'xstate';
import { clientMachine } from '../../machines/client.js';
import { constructsMachine } from './constructsMachine.js';
import { clientTaskMachine } from '../../machines/clientTask.js';
import { connectionMachine } from '../../machines/connection.js';
import { providerMachine } from '../../machines/provider.js';
import { providerTaskMachine } from '../../machines/providerTask.js';
import { repositoryMachine } from '../../machines/repository.js';
import { repositoryEntryMachine } from '../../machines/repositoryEntry.js';
import { sessionMachine } from '../../machines/session.js';
import { receiveTransferMachine } from '../../machines/files/receiveTransfer.js';
import { sendTransferMachine } from '../../machines/files/sendTransfer.js';
import { ackOf, errorOf, failedOf, resultOf, updateOf } from './clientTaskFixtures.js';
import { parentStub, type EquivalenceCase } from './engineEquivalence.js';

const anyValue = fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 4 }), fc.constant({ ok: true }));
const unknownEvent = fc.constantFrom<EventObject>({ type: 'nobody.listens' }, { type: 'xstate.done.actor.stray' });

// ---- providerTask ----------------------------------------------------------------------------

const failure = fc.record(
  { code: fc.constantFrom('TIMEOUT', 'INTERNAL_ERROR', 'E1'), message: fc.string({ maxLength: 5 }), details: fc.string({ maxLength: 3 }) },
  { requiredKeys: ['code', 'message'] },
);

export const providerTaskCase: EquivalenceCase<unknown> = {
  machine: providerTaskMachine,
  input: fc.record(
    {
      clientId: fc.constantFrom('c1', 'c2'),
      taskId: fc.constantFrom('t1', 't2'),
      serviceName: fc.constant('Svc'),
      operation: fc.constant('op'),
      params: fc.constant({ a: 1 }),
      deadlineMs: fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.constant(3_000_000_000)),
      parentRef: fc.constant(parentStub),
    },
    { requiredKeys: ['clientId', 'taskId', 'serviceName', 'operation', 'params', 'parentRef'] },
  ),
  events: fc.oneof(
    fc.constantFrom<EventObject>({ type: 'task.start' }, { type: 'task.cancel' }, { type: 'task.deadline' }),
    fc.record({
      type: fc.constant('handler.progress'),
      progressPercentage: fc.oneof(fc.integer({ min: -10, max: 120 }), fc.constant(Number.NaN)),
      message: fc.option(fc.string({ maxLength: 3 }), { nil: undefined }),
      estimatedTimeRemainingSeconds: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
    }),
    anyValue.map((resultData) => ({ type: 'handler.done', resultData })),
    failure.map((error) => ({ type: 'handler.failed', error })),
    fc.oneof(fc.string({ maxLength: 4 }), fc.constant(new Error('boom')), fc.constant({ code: 'E2', message: 'm' })).map(
      (error) => ({ type: 'xstate.error.actor.handler', error, actorId: 'handler' }) as EventObject,
    ),
    fc.constant<EventObject>({ type: 'xstate.done.actor.handler', output: undefined } as EventObject),
    unknownEvent,
  ),
};

// ---- clientTask ------------------------------------------------------------------------------

const taskIds = fc.constantFrom('t1', 't1', 't2');
const providerMessage = fc.oneof(
  fc.record({ id: fc.constantFrom('m1', 'm2'), taskId: fc.option(taskIds, { nil: undefined }), status: fc.constantFrom(undefined, 'Queued', 'Processing') }).map(
    ({ id, taskId, status }) => ackOf(id, { ...(taskId === undefined ? {} : { taskId }), ...(status === undefined ? {} : { status: status as 'Queued' }) }),
  ),
  fc
    .record({
      taskId: taskIds,
      progress: fc.integer({ min: 0, max: 100 }),
      status: fc.constantFrom('Queued', 'Processing', 'Completed', 'Failed', 'Cancelled'),
      message: fc.option(fc.string({ maxLength: 3 }), { nil: undefined }),
      eta: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
    })
    .map(({ taskId, progress, status, message, eta }) =>
      updateOf(taskId, progress, status as 'Queued', {
        ...(message === undefined ? {} : { message }),
        ...(eta === undefined ? {} : { estimatedTimeRemainingSeconds: eta }),
      }),
    ),
  fc.tuple(taskIds, anyValue).map(([taskId, data]) => resultOf(taskId, data)),
  fc
    .tuple(taskIds, fc.constantFrom('E1', 'CANCELLED', 'TIMEOUT'), fc.constantFrom('Failed', 'Cancelled'))
    .map(([taskId, code, status]) => failedOf(taskId, code, status as 'Failed')),
  fc
    .tuple(fc.constantFrom('RATE_LIMITED', 'OVERLOADED', 'TASK_NOT_FOUND', 'INTERNAL_ERROR'), fc.option(taskIds, { nil: undefined }))
    .map(([code, taskId]) => errorOf(code, taskId === undefined ? {} : { taskId })),
);

export const clientTaskCase: EquivalenceCase<unknown> = {
  machine: clientTaskMachine,
  input: fc.record(
    {
      clientId: fc.constant('c1'),
      taskId: fc.constant('t1'),
      messageId: fc.constant('m1'),
      serviceName: fc.constant('Svc'),
      operation: fc.constant('op'),
      params: fc.constant({}),
      deadlineMs: fc.integer({ min: 1, max: 60_000 }),
      ackTimeoutMs: fc.integer({ min: 1, max: 5_000 }),
      assignAttemptsMax: fc.integer({ min: 1, max: 4 }),
      cancelTimeoutMs: fc.integer({ min: 1, max: 5_000 }),
      parentRef: fc.constant(parentStub),
    },
    { requiredKeys: ['clientId', 'taskId', 'messageId', 'serviceName', 'operation', 'params', 'ackTimeoutMs', 'assignAttemptsMax', 'cancelTimeoutMs', 'parentRef'] },
  ),
  events: fc.oneof(
    { weight: 6, arbitrary: providerMessage.map((message) => ({ type: 'task.message', message })) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.constantFrom<EventObject>({ type: 'task.cancel' }, { type: 'connection.down' }, { type: 'connection.lost' }),
        fc.boolean().map((reconnected) => ({ type: 'connection.up', reconnected })),
      ),
    },
    { weight: 1, arbitrary: unknownEvent },
  ),
};

// ---- connection ------------------------------------------------------------------------------

const submission = fc.record({
  taskId: taskIds,
  messageId: fc.constantFrom('m1', 'm2'),
  clientId: fc.constant('c1'),
  serviceName: fc.constant('Svc'),
  operation: fc.constant('op'),
  params: fc.constant({}),
});

const transportEvents = fc.oneof(
  fc.constantFrom<EventObject>({ type: 'transport.opened' }, { type: 'transport.pong' }),
  fc
    .record({ graceful: fc.boolean(), code: fc.constantFrom(1000, 1006), reason: fc.constantFrom('', 'bye'), refused: fc.boolean() })
    // `refused` (CONN-12: nothing listens at the endpoint) only on a close that is not graceful.
    .map(({ refused, ...closed }) => ({ type: 'transport.closed', ...closed, ...(refused && !closed.graceful ? { refused } : {}) })),
  fc.constant<EventObject>({ type: 'transport.rejected', error: { code: 'INVALID_MESSAGE', message: 'bad' } } as EventObject),
);

const clientDraft = fc.oneof(
  fc.constant({ type: 'AssignTask', messageId: 'm1', payload: { taskId: 't1', serviceName: 'Svc', operation: 'op', taskParameters: {}, callbackClientId: 'c1' } }),
  fc.constant({ type: 'CancelTask', payload: { taskId: 't1', originalClientId: 'c1' } }),
  fc.constant({ type: 'GetResult', payload: { taskId: 't2', originalClientId: 'c1' } }),
);

export const connectionCase: EquivalenceCase<unknown> = {
  machine: connectionMachine,
  prelude: fc.oneof(
    { weight: 1, arbitrary: fc.constant([]) },
    { weight: 3, arbitrary: fc.array(submission.map((task) => ({ type: 'connection.submit', task }) as EventObject), { maxLength: 2 }).map((submits) => [...submits, { type: 'transport.opened' }]) },
  ),
  input: fc.record({
    endpoint: fc.constant('ws://127.0.0.1:1'),
    clientId: fc.constant('c1'),
    pingIntervalMs: fc.integer({ min: 1, max: 100 }),
    pongTimeoutMs: fc.integer({ min: 1, max: 100 }),
    connectTimeoutMs: fc.integer({ min: 1, max: 100 }),
    closeTimeoutMs: fc.integer({ min: 1, max: 100 }),
    backoff: fc.record({
      delayMsBase: fc.integer({ min: 1, max: 50 }),
      delayMsMax: fc.constant(1_000),
      attemptsMax: fc.integer({ min: 0, max: 3 }),
      // CONN-12's give-up rules, their timer among the others.
      refusalsMax: fc.integer({ min: 1, max: 3 }),
      giveUpAfterMs: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constant(Number.POSITIVE_INFINITY)),
    }),
    outboxMax: fc.integer({ min: 1, max: 3 }),
    tasksMax: fc.integer({ min: 1, max: 3 }),
    seed: fc.integer({ min: 1, max: 1_000 }),
    task: fc.constant({ ackTimeoutMs: 10, assignAttemptsMax: 2, cancelTimeoutMs: 10 }),
    parentRef: fc.constant(parentStub),
  }),
  events: fc.oneof(
    { weight: 3, arbitrary: transportEvents },
    { weight: 3, arbitrary: providerMessage.map((message) => ({ type: 'transport.message', message })) },
    { weight: 2, arbitrary: submission.map((task) => ({ type: 'connection.submit', task })) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        taskIds.map((taskId) => ({ type: 'connection.cancel', taskId })),
        fc.constant<EventObject>({ type: 'connection.close' }),
        fc.tuple(taskIds, clientDraft).map(([taskId, draft]) => ({ type: 'task.send', taskId, draft })),
        taskIds.map((taskId) => ({ type: 'task.acknowledged', taskId })),
        taskIds.map((taskId) => ({ type: 'task.progress', taskId, status: 'Processing', progressPercentage: 5 })),
        fc.tuple(taskIds, fc.constantFrom({ status: 'Completed', resultData: 1 }, { status: 'Cancelled' })).map(([taskId, outcome]) => ({ type: 'task.settled', taskId, outcome })),
      ),
    },
    { weight: 1, arbitrary: unknownEvent },
  ),
};

// ---- session ---------------------------------------------------------------------------------

const envelopeOf = (n: number) => ({ messageId: `cm${n}`, timestamp: 1_751_457_600_000 });
const clientMessage = fc.oneof(
  fc.tuple(fc.nat(3), fc.constantFrom('c1', 'c2')).map(([n, clientId]) => ({
    type: 'AssignTask',
    ...envelopeOf(n),
    payload: { taskId: `t${n}`, serviceName: 'Svc', operation: 'op', taskParameters: {}, callbackClientId: clientId },
  })),
  fc.tuple(fc.nat(3), fc.constantFrom('c1', 'c2'), fc.constantFrom('CancelTask', 'GetStatus', 'GetResult')).map(([n, clientId, type]) => ({
    type,
    ...envelopeOf(n),
    payload: { taskId: `t${n}`, originalClientId: clientId },
  })),
  fc.tuple(fc.nat(3), fc.constantFrom('c1', 'c2')).map(([n, clientId]) => ({ type: 'Authenticate', ...envelopeOf(n), payload: { clientId, token: 'tok' } })),
  providerMessage,
);

const admitted = fc.boolean().map((authenticated) => ({ type: 'xstate.done.actor.admission', output: { accept: true, authenticated }, actorId: 'admission' }) as EventObject);

export const sessionCase: EquivalenceCase<unknown> = {
  machine: sessionMachine,
  prelude: fc.oneof(
    { weight: 1, arbitrary: fc.constant([]) },
    { weight: 4, arbitrary: fc.tuple(fc.array(clientMessage.map((message) => ({ type: 'transport.message', message }) as EventObject), { maxLength: 2 }), admitted).map(([held, done]) => [...held, done]) },
  ),
  input: fc.record(
    {
      connectionId: fc.constant('k1'),
      remoteAddress: fc.constant('127.0.0.1'),
      token: fc.constantFrom('tok', 'other'),
      answerDelayMs: fc.integer({ min: 1, max: 100 }),
      pingIntervalMs: fc.integer({ min: 1, max: 100 }),
      pongTimeoutMs: fc.integer({ min: 1, max: 100 }),
      closeTimeoutMs: fc.integer({ min: 1, max: 100 }),
      authRequired: fc.boolean(),
      rateLimit: fc.record({ messagesMax: fc.integer({ min: 1, max: 3 }), windowMs: fc.integer({ min: 1, max: 100 }) }),
      pendingMax: fc.integer({ min: 0, max: 3 }),
      refuseWith: fc.option(fc.constant({ code: 'OVERLOADED', reason: 'full' }), { nil: undefined, freq: 10 }),
      parentRef: fc.constant(parentStub),
    },
    { requiredKeys: ['connectionId', 'remoteAddress', 'answerDelayMs', 'pingIntervalMs', 'pongTimeoutMs', 'closeTimeoutMs', 'authRequired', 'pendingMax', 'parentRef'] },
  ),
  events: fc.oneof(
    { weight: 4, arbitrary: clientMessage.map((message) => ({ type: 'transport.message', message })) },
    { weight: 2, arbitrary: transportEvents },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc
          .oneof(
            fc.constant({ accept: true, authenticated: false }),
            fc.constant({ accept: true, authenticated: true }),
            fc.constant({ accept: false, code: 'FORBIDDEN', reason: 'no' }),
          )
          .map((output) => ({ type: 'xstate.done.actor.admission', output, actorId: 'admission' }) as EventObject),
        fc.boolean().map((ok) => ({ type: 'xstate.done.actor.authenticate', output: { ok }, actorId: 'authenticate' }) as EventObject),
        fc.constantFrom('admission', 'authenticate', 'transport').map((id) => ({ type: `xstate.error.actor.${id}`, error: new Error('denied'), actorId: id }) as EventObject),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.constant<EventObject>({ type: 'session.deliver', draft: { type: 'Ack', payload: { acknowledgmentId: 'x' } } } as EventObject),
        fc.constant<EventObject>({ type: 'session.close', code: 1001, reason: 'stopping' } as EventObject),
        fc.constant<EventObject>({ type: 'session.fault', errorId: 'e-1' } as EventObject),
      ),
    },
    { weight: 1, arbitrary: unknownEvent },
  ),
};

// ---- repositoryEntry and repository -----------------------------------------------------------

const advertisementFor = (serviceId: string, status: string, heartbeatIntervalMs: number | undefined, load: number) => ({
  discoveryType: 'ServiceAdvertisement',
  serviceId,
  serviceName: 'Svc',
  serviceVersion: '1.0.0',
  endpoint: 'ws://127.0.0.1:1',
  capabilities: [{ key: 'op', settings: [] }],
  status,
  load,
  timestamp: 1_751_457_600_000,
  ...(heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs }),
});

const advertisement = fc
  .tuple(fc.constantFrom('s1', 's1', 's2', 's3'), fc.constantFrom('Online', 'Busy', 'Draining', 'Offline'), fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }), fc.nat(2))
  .map(([serviceId, status, heartbeat, load]) => advertisementFor(serviceId, status, heartbeat, load));

export const repositoryEntryCase: EquivalenceCase<unknown> = {
  machine: repositoryEntryMachine,
  input: fc.record({
    advertisement: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }).map((heartbeat) => advertisementFor('s1', 'Online', heartbeat, 0)),
    defaultHeartbeatIntervalMs: fc.integer({ min: 1, max: 60 }),
    parentRef: fc.constant(parentStub),
  }),
  events: fc.oneof(
    { weight: 5, arbitrary: advertisement.map((adv) => ({ type: 'entry.advertised', advertisement: { ...adv, serviceId: 's1' } })) },
    { weight: 1, arbitrary: fc.constantFrom<EventObject>({ type: 'entry.expiryDue' }, { type: 'nobody.listens' }) },
  ),
};

export const repositoryCase: EquivalenceCase<unknown> = {
  machine: repositoryMachine,
  input: fc.record({
    clientId: fc.constant('c1'),
    discoveryPeriodMs: fc.integer({ min: 1, max: 100 }),
    defaultHeartbeatIntervalMs: fc.integer({ min: 1, max: 60 }),
    entriesMax: fc.integer({ min: 0, max: 3 }),
    parentRef: fc.constant(parentStub),
  }),
  events: fc.oneof(
    { weight: 4, arbitrary: advertisement.map((message) => ({ type: 'datagram.received', message, from: { host: '127.0.0.1', port: 1 } })) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.constant<EventObject>({ type: 'datagram.received', message: { discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'c2', timestamp: 0 }, from: { host: '127.0.0.1', port: 1 } } as EventObject),
        fc.constant<EventObject>({ type: 'datagram.rejected', error: { code: 'INVALID_MESSAGE', message: 'bad' }, from: { host: '127.0.0.1', port: 1 } } as EventObject),
        fc.constant<EventObject>({ type: 'repository.refresh' }),
        fc.tuple(fc.constantFrom('s1', 's2', 's4'), fc.constantFrom('alive', 'suspect')).map(([serviceId, health]) => ({
          type: 'entry.changed',
          serviceId,
          health,
          advertisement: advertisementFor(serviceId, 'Online', 10, 1),
        })),
        fc.tuple(fc.constantFrom('s1', 's2', 's4'), fc.constantFrom('expired', 'goodbye')).map(([serviceId, reason]) => ({ type: 'entry.ended', serviceId, reason })),
      ),
    },
    { weight: 1, arbitrary: unknownEvent },
  ),
};

// ---- provider --------------------------------------------------------------------------------

export const providerCase: EquivalenceCase<unknown> = {
  machine: providerMachine,
  input: fc.record({
    providerId: fc.constant('p1'),
    services: fc.constant([{ serviceId: 's1', serviceName: 'Svc', serviceVersion: '1.0.0', capabilities: [{ key: 'op', settings: [] }] }]),
    heartbeatIntervalMs: fc.integer({ min: 1, max: 100 }),
    limits: fc.constant({ tasksRunningMax: 2, tasksRunningPerClientMax: 1, tasksQueuedMax: 2, ledgerMax: 10 }),
    sessionsMax: fc.integer({ min: 0, max: 2 }),
    session: fc.constant({ answerDelayMs: 10, pingIntervalMs: 10, pongTimeoutMs: 10, closeTimeoutMs: 10, authRequired: false, pendingMax: 2 }),
    stopTimeoutMs: fc.integer({ min: 1, max: 100 }),
  }),
  events: fc.oneof(
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.constant<EventObject>({ type: 'server.listening', endpoint: 'ws://127.0.0.1:1' } as EventObject),
        fc.constant<EventObject>({ type: 'server.failed', error: { code: 'INTERNAL_ERROR', message: 'EADDRINUSE' } } as EventObject),
        fc.constantFrom('k1', 'k2', 'k3').map((connectionId) => ({ type: 'server.accepted', connectionId, remoteAddress: '127.0.0.1' })),
        fc.constant<EventObject>({ type: 'datagram.received', message: { discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'c2', timestamp: 0 }, from: { host: '127.0.0.1', port: 9 } } as EventObject),
        fc.constant<EventObject>({ type: 'datagram.rejected', error: { code: 'INVALID_MESSAGE', message: 'bad' }, from: { host: '127.0.0.1', port: 9 } } as EventObject),
      ),
    },
    {
      weight: 4,
      arbitrary: fc.oneof(
        fc.constantFrom('k1', 'k2').map((connectionId) => ({ type: 'session.ready', connectionId })),
        fc
          .tuple(fc.constantFrom('k1', 'k2'), fc.constantFrom('c1', 'c2'), fc.constantFrom(undefined, 'key:alice', 'key:bob'))
          .map(([connectionId, clientId, principal]) => ({ type: 'session.bound', connectionId, clientId, identity: { host: '127.0.0.1', ...(principal ? { principal } : {}) } })),
        fc.tuple(fc.constantFrom('k1', 'k2'), fc.constantFrom('key:alice', 'key:bob')).map(([connectionId, principal]) => ({ type: 'session.authenticated', connectionId, principal })),
        fc.tuple(fc.constantFrom('k1', 'k2'), fc.constantFrom('c1', 'c2'), clientMessage.filter((m) => m.type !== 'Authenticate' && m.type in { AssignTask: 1, CancelTask: 1, GetStatus: 1, GetResult: 1 })).map(
          ([connectionId, clientId, message]) => ({ type: 'session.request', connectionId, clientId, message }),
        ),
        fc.tuple(fc.constantFrom('k1', 'k2', 'k3'), fc.constantFrom('c1', undefined), fc.boolean()).map(([connectionId, clientId, graceful]) => ({ type: 'session.ended', connectionId, clientId, graceful, reason: 'r' })),
      ),
    },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.constantFrom('c1', 'c2').map((clientId) => ({ type: 'registry.reply', clientId, draft: { type: 'Ack', payload: { acknowledgmentId: 'x' } } })),
        fc.tuple(fc.nat(3), fc.nat(2)).map(([running, queued]) => ({ type: 'registry.load', running, queued, load: (running + queued) / 2 })),
        fc.constant<EventObject>({ type: 'registry.settled', clientId: 'c1', taskId: 't1', outcome: { status: 'Cancelled' } } as EventObject),
        fc.constantFrom<EventObject>({ type: 'provider.drain' }, { type: 'provider.stop' }, { type: 'provider.principalWindow' }),
        fc
          .tuple(fc.constantFrom('c1', 'c2'), fc.boolean())
          .map(([clientId, present]) => ({ type: 'registry.clientRecords', clientId, present, ...(present ? { owner: { host: '127.0.0.1' } } : {}) })),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.constantFrom('session:k1', 'session:k2', 'session:k3').map((id) => ({ type: `xstate.done.actor.${id}`, output: { graceful: true, reason: '' }, actorId: id }) as EventObject),
        fc.constantFrom('session:k1', 'tasks', 'discovery', 'server').map((id) => ({ type: `xstate.error.actor.${id}`, error: new Error('crash'), actorId: id }) as EventObject),
      ),
    },
    { weight: 1, arbitrary: unknownEvent },
  ),
};

// ---- client ----------------------------------------------------------------------------------

const serviceView = (serviceId: string, endpoint: string) => ({
  serviceId,
  serviceName: 'Svc',
  serviceVersion: '1.0.0',
  endpoint,
  capabilities: [{ key: 'op', settings: [] }],
  status: 'Online',
  load: 0,
  health: 'alive',
});
const endpoints = fc.constantFrom('ws://127.0.0.1:1', 'ws://127.0.0.1:2');

export const clientCase: EquivalenceCase<unknown> = {
  machine: clientMachine,
  input: fc.record({
    clientId: fc.constant('c1'),
    seed: fc.integer({ min: 1, max: 1_000 }),
    repository: fc.constant({ discoveryPeriodMs: 100, defaultHeartbeatIntervalMs: 10, entriesMax: 4 }),
    connection: fc.constant({ pingIntervalMs: 10, pongTimeoutMs: 10, connectTimeoutMs: 10, closeTimeoutMs: 10, backoff: { delayMsBase: 1, delayMsMax: 10, attemptsMax: 1 }, outboxMax: 4, tasksMax: 4, task: { ackTimeoutMs: 10, assignAttemptsMax: 2, cancelTimeoutMs: 10 } }),
    stopTimeoutMs: fc.integer({ min: 1, max: 100 }),
  }),
  events: fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .record({ taskId: taskIds, exclude: fc.boolean() })
        .map(({ taskId, exclude }) => ({
          type: 'client.assign',
          request: { taskId, messageId: `m-${taskId}`, serviceName: 'Svc', operation: 'op', params: {}, ...(exclude ? { excludeServiceIds: ['s1'] } : {}) },
        })),
    },
    {
      weight: 2,
      arbitrary: fc
        .subarray([serviceView('s1', 'ws://127.0.0.1:1'), serviceView('s2', 'ws://127.0.0.1:2')])
        .map((services) => ({ type: 'repository.changed', services })),
    },
    {
      weight: 4,
      arbitrary: fc.oneof(
        taskIds.map((taskId) => ({ type: 'client.cancel', taskId })),
        fc.constantFrom<EventObject>({ type: 'client.refresh' }, { type: 'client.stop' }),
        fc.tuple(taskIds, endpoints).map(([taskId, endpoint]) => ({ type: 'task.progress', endpoint, taskId, status: 'Processing', progressPercentage: 1 })),
        fc.tuple(taskIds, endpoints).map(([taskId, endpoint]) => ({ type: 'task.settled', endpoint, taskId, outcome: { status: 'Completed', resultData: 2 } })),
        fc.tuple(endpoints, fc.boolean()).map(([endpoint, reconnected]) => ({ type: 'connection.opened', endpoint, reconnected })),
        endpoints.map((endpoint) => ({ type: 'connection.down', endpoint, reason: 'r' })),
        fc.tuple(endpoints, fc.boolean()).map(([endpoint, gaveUp]) => ({ type: 'connection.closed', endpoint, gaveUp })),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.oneof(
        endpoints.map((endpoint) => ({ type: `xstate.done.actor.connection:${endpoint}`, output: { gaveUp: false }, actorId: `connection:${endpoint}` }) as EventObject),
        fc.constantFrom('connection:ws://127.0.0.1:1', 'repository').map((id) => ({ type: `xstate.error.actor.${id}`, error: new Error('crash'), actorId: id }) as EventObject),
        fc.constantFrom<EventObject>({ type: 'repository.ignored', serviceId: 's9', reason: 'unsigned' } as EventObject, { type: 'repository.learned', serviceId: 's9', publicKey: 'k' } as EventObject),
      ),
    },
    { weight: 1, arbitrary: unknownEvent },
  ),
};

// ---- constructs (a synthetic machine: every construct the engine executes) ---------------------

export const constructsCase: EquivalenceCase<unknown> = {
  machine: constructsMachine,
  input: fc.record({ parentRef: fc.constant(parentStub), start: fc.integer({ min: -1, max: 4 }) }),
  events: fc.oneof(
    {
      weight: 12,
      arbitrary: fc.constantFrom<EventObject>(
        ...['go', 'go', 'left.done', 'right.done', 'both', 'again', 'spawn', 'kill', 'loop', 'ping.later', 'ping.cancel', 'finish', 'custom', 'forward', 'note.a', 'note.a.b', 'noted'].map((type) => ({ type })),
      ),
    },
    { weight: 3, arbitrary: fc.integer({ min: -2, max: 3 }).map((by) => ({ type: 'inc', by })) },
    { weight: 1, arbitrary: fc.constantFrom<EventObject>({ type: 'throw.action' }, { type: 'throw.guard' }, { type: 'toParent' }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom<EventObject>(
        { type: 'xstate.done.actor.job', output: 1, actorId: 'job' } as EventObject,
        { type: 'xstate.error.actor.job', error: 'e', actorId: 'job' } as EventObject,
        { type: 'xstate.error.actor.w', error: 'e', actorId: 'w' } as EventObject,
      ),
    },
  ),
};


// ---- file transfers (machines/files/) ----------------------------------------------------------
// Small files and chunks, so that valid chunks (the index expected, its exact length) come up often.

const transferFile = fc.integer({ min: 0, max: 40 }).map((size) => ({ sha256: 'a'.repeat(64), size }));

const peerFileEvent = fc.oneof(
  fc.constantFrom<EventObject>({ type: 'peer.have' }, { type: 'peer.done', sha256: 'a'.repeat(64) } as EventObject, { type: 'peer.offer', file: { sha256: 'a'.repeat(64), size: 7 } } as EventObject),
  fc.record({ type: fc.constant('peer.need'), chunkBytes: fc.integer({ min: 1, max: 20 }), credits: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ type: fc.constant('peer.credit'), credits: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ type: fc.constant('peer.failed'), code: fc.constantFrom('CANCELLED', 'TIMEOUT'), message: fc.constant('m') }),
);

export const sendTransferCase: EquivalenceCase<unknown> = {
  machine: sendTransferMachine,
  input: fc.record({
    transferId: fc.constant('t1'),
    clientId: fc.constant('c1'),
    serviceName: fc.constant('Svc'),
    file: transferFile,
    chunkBytesMax: fc.integer({ min: 1, max: 16 }),
    idleTimeoutMs: fc.integer({ min: 1, max: 100 }),
    parentRef: fc.constant(parentStub),
  }),
  events: fc.oneof(
    { weight: 6, arbitrary: peerFileEvent },
    {
      weight: 1,
      arbitrary: fc.constantFrom<EventObject>({ type: 'transfer.cancel' }, { type: 'transfer.readFailed', code: 'FILE_NOT_FOUND', message: 'gone' } as EventObject),
    },
    { weight: 1, arbitrary: unknownEvent },
  ),
};

export const receiveTransferCase: EquivalenceCase<unknown> = {
  machine: receiveTransferMachine,
  input: fc.record({
    transferId: fc.constant('t1'),
    mode: fc.constantFrom('push', 'pull'),
    clientId: fc.constant('c1'),
    serviceName: fc.constant('Svc'),
    file: transferFile,
    limits: fc.record({
      fileBytesMax: fc.constantFrom(30, 1000),
      chunkBytes: fc.integer({ min: 1, max: 16 }),
      creditsMax: fc.integer({ min: 1, max: 4 }),
      idleTimeoutMs: fc.integer({ min: 1, max: 100 }),
    }),
    parentRef: fc.constant(parentStub),
  }),
  prelude: fc.constantFrom<readonly EventObject[]>([], [{ type: 'store.reserved' }], [{ type: 'peer.offer', file: { sha256: 'a'.repeat(64), size: 7 } } as EventObject, { type: 'store.reserved' }]),
  events: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.oneof(
        fc.tuple(fc.nat(5), fc.nat(16)).map(([index, length]) => ({ type: 'peer.chunk', index, data: new Uint8Array(length) }) as EventObject),
        fc.nat(5).map((index) => ({ type: 'store.written', index }) as EventObject),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom<EventObject>(
        { type: 'store.have' },
        { type: 'store.reserved' },
        { type: 'store.full' },
        { type: 'store.verified' },
        { type: 'store.mismatch', actualSha256: 'b'.repeat(64) } as EventObject,
        { type: 'store.failed', message: 'disk' } as EventObject,
        { type: 'transfer.cancel' },
      ),
    },
    { weight: 2, arbitrary: peerFileEvent },
    { weight: 1, arbitrary: unknownEvent },
  ),
};

export const engineCases: Record<string, EquivalenceCase<unknown>> = {
  constructs: constructsCase,
  providerTask: providerTaskCase,
  clientTask: clientTaskCase,
  connection: connectionCase,
  session: sessionCase,
  repositoryEntry: repositoryEntryCase,
  repository: repositoryCase,
  provider: providerCase,
  client: clientCase,
  sendTransfer: sendTransferCase,
  receiveTransfer: receiveTransferCase,
};

