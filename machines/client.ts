/**
 * The client root: one per client application. It owns the repository (what is on the network)
 * and one connection per provider endpoint it talks to (CONN-1), picks an instance for each task
 * with the selection policy (DISC-11, DISC-13), and tells the application what happens through
 * emitted events.
 *
 *   running -> stopping -> stopped
 */
import { assign, emit, enqueueActions, sendTo, setup, type AnyActorRef } from 'xstate';
import { connectionDefaults, connectionMachine, type ConnectionInput, type ConnectionToParentEvent } from './connection.js';
import type { ClientTaskInput } from './clientTask.js';
import type { EventsProviderMessage } from './connectionTypes.js';
import type { ClientDraft } from './messages.js';
import { ERROR_CODES, internalFailure } from './errors.js';
import { OwnedMap, withEntry, withoutEntry } from './keyed.js';
import type { ProgressReport, TaskFailure, TaskOutcome } from './outcome.js';
import { deriveSeed, type RandomState } from './random.js';
import { repositoryDefaults, repositoryMachine, type RepositoryInput, type RepositoryToParentEvent, type ServiceView } from './repository.js';
import { defaultSelectionPolicy, initialSelectionState, type SelectionPolicy, type SelectionState } from './selection.js';

export type ConnectionOptions = Omit<ConnectionInput, 'endpoint' | 'tlsFingerprint256' | 'clientId' | 'seed' | 'parentRef'>;
export type RepositoryOptions = Omit<RepositoryInput, 'clientId' | 'parentRef'>;

export interface ClientInput {
  readonly clientId: string;
  /** Seeds every jitter PRNG of this client (one per connection, derived). */
  readonly seed: RandomState;
  readonly repository: RepositoryOptions;
  readonly connection: ConnectionOptions;
  /** How long stopping waits for connections to close. @default 2_000 */
  readonly stopTimeoutMs: number;
}

export const clientDefaults: Omit<ClientInput, 'clientId' | 'seed'> = {
  repository: {
    discoveryPeriodMs: repositoryDefaults.discoveryPeriodMs,
    defaultHeartbeatIntervalMs: repositoryDefaults.defaultHeartbeatIntervalMs,
    entriesMax: repositoryDefaults.entriesMax,
    entriesPerSourceMax: repositoryDefaults.entriesPerSourceMax,
    trust: repositoryDefaults.trust,
  },
  connection: connectionDefaults,
  stopTimeoutMs: 2_000,
};

export type AssignRequest = Pick<
  ClientTaskInput,
  'taskId' | 'messageId' | 'serviceName' | 'operation' | 'params' | 'deadlineMs'
> & {
  /** Service instances not to use (e.g. one that just failed this task). */
  readonly excludeServiceIds?: readonly string[];
};

export type ClientEvent =
  | { readonly type: 'client.assign'; readonly request: AssignRequest }
  | { readonly type: 'client.cancel'; readonly taskId: string }
  | { readonly type: 'client.refresh' }
  | { readonly type: 'client.stop' }
  /** A subscription's connection (EVT-13): opened if the client has none to that service's endpoint. */
  | { readonly type: 'client.eventsConnect'; readonly service: Pick<ServiceView, 'endpoint' | 'tlsFingerprint256'> }
  /** A subscription's draft for the endpoint's connection (dropped if it has none open). */
  | { readonly type: 'client.eventsSend'; readonly endpoint: string; readonly draft: ClientDraft }
  | RepositoryToParentEvent
  | ConnectionToParentEvent;

/** What the client tells the application (subscribe with `actor.on(type, ...)`). */
export type ClientEmitted =
  | { readonly type: 'services.changed'; readonly services: readonly ServiceView[] }
  | { readonly type: 'task.submitted'; readonly taskId: string; readonly serviceId: string; readonly endpoint: string }
  | ({ readonly type: 'task.progress'; readonly taskId: string; readonly status: 'Queued' | 'Processing' } & ProgressReport)
  | { readonly type: 'task.settled'; readonly taskId: string; readonly outcome: TaskOutcome }
  | { readonly type: 'connection.opened'; readonly endpoint: string; readonly reconnected: boolean }
  /**
   * HOOK-4: an open connection ended: `graceful` when a close frame was exchanged (the provider's
   * `code` and `closeReason`: 1001 when it stops, 1008 when it refused) or the client closed it;
   * false when it was lost (no pong, a reset). Told before any reconnect.
   */
  | {
      readonly type: 'connection.down';
      readonly endpoint: string;
      readonly reason: string;
      readonly graceful: boolean;
      readonly code?: number | undefined;
      readonly closeReason?: string | undefined;
    }
  /** A provider's message about a subscription (EVT-2), for the client's subscriptions (runtime/events/). */
  | { readonly type: 'events.message'; readonly endpoint: string; readonly message: EventsProviderMessage }
  /** A message from a provider could not be understood: the reason, and the task it named if any. */
  | { readonly type: 'connection.unreadable'; readonly endpoint: string; readonly taskId: string | undefined; readonly reason: string }
  /** Backing off before reconnect attempt `attempt` (1-based) to `endpoint`, after `reason` (CONN-4). */
  | { readonly type: 'connection.retrying'; readonly endpoint: string; readonly attempt: number; readonly delayMs: number; readonly reason: string }
  | { readonly type: 'connection.closed'; readonly endpoint: string; readonly gaveUp: boolean }
  /** The repository refused an advertisement (SEC-8): the first one per source and reason. */
  | ({ readonly type: 'discovery.ignored' } & Omit<Extract<RepositoryToParentEvent, { type: 'repository.ignored' }>, 'type'>)
  /** Trust on first use bound a serviceId to a key (persist it to keep the binding across restarts). */
  | ({ readonly type: 'trust.learned' } & Omit<Extract<RepositoryToParentEvent, { type: 'repository.learned' }>, 'type'>);

export interface ClientContext extends ClientInput {
  readonly services: readonly ServiceView[];
  readonly selection: SelectionState;
  readonly selectionPolicy: SelectionPolicy;
  /** Endpoints with a live connection actor. */
  readonly endpoints: Readonly<Record<string, true>>;
  /** Endpoints whose connection said connection.closed and whose done event has not arrived yet. */
  readonly endpointsEnding: ReadonlyMap<string, true>;
  /** Which endpoint each unfinished task went to (for cancel routing). */
  readonly taskEndpoints: OwnedMap<string, string>;
}

const connectionId = (endpoint: string) => `connection:${endpoint}`;

/** The endpoint of the connection a done event is from (`actorId` = `connection:<endpoint>`). */
const connectionEndpointOf = (event: { readonly type: string }): string => {
  const actorId = (event as { actorId?: unknown }).actorId;
  return typeof actorId === 'string' && actorId.startsWith('connection:') ? actorId.slice('connection:'.length) : '';
};

/**
 * The status of the endpoint's connection actor, if the client has one.
 *
 * A connection can be `done` (its final state) while its `connection.closed` has not reached the
 * client yet: the application assigned from inside a `task.settled` listener, and a connection
 * relays its tasks' CONNECTION_LOST before it announces its own end, so that assignment is
 * handled in between. A submission sent to an ended actor would be lost (TASK-16), so `submit`
 * replaces such a connection, and `forgetConnection` then ignores the old one's late goodbye.
 */
function connectionStatus(self: AnyActorRef, endpoint: string): string | undefined {
  const children = self.getSnapshot()?.children as Record<string, AnyActorRef | undefined> | undefined;
  return children?.[connectionId(endpoint)]?.getSnapshot().status;
}

/**
 * Why no instance can take the task: UNKNOWN_OPERATION when the service is known but none of its
 * instances offers the operation (the code a provider would answer, TASK-6), else SERVICE_UNAVAILABLE.
 */
export function unavailableFailure(services: readonly ServiceView[], request: Pick<AssignRequest, 'serviceName' | 'operation'>): TaskFailure {
  const instances = services.filter((service) => service.serviceName === request.serviceName);
  if (instances.length > 0 && !instances.some((service) => service.capabilities.some((capability) => capability.key === request.operation))) {
    const offered = [...new Set(instances.flatMap((service) => service.capabilities.map((capability) => capability.key)))];
    return { code: 'UNKNOWN_OPERATION', message: `${request.serviceName} has no operation "${request.operation}" (it offers: ${offered.join(', ')})` };
  }
  return { code: 'SERVICE_UNAVAILABLE', message: `${ERROR_CODES.SERVICE_UNAVAILABLE} (${request.serviceName}.${request.operation})` };
}

/**
 * Makes sure the endpoint of `service` has a live connection actor: spawns one, or replaces one
 * that already ended (see connectionStatus).
 */
function connect(
  enqueue: { stopChild(id: string): void; spawnChild(src: 'connection', options: { id: string; input: ConnectionInput }): void },
  context: ClientContext,
  self: AnyActorRef,
  service: Pick<ServiceView, 'endpoint' | 'tlsFingerprint256'>,
): void {
  const { endpoint } = service;
  const ended = context.endpoints[endpoint] === true && connectionStatus(self, endpoint) === 'done';
  if (ended) enqueue.stopChild(connectionId(endpoint));
  if (context.endpoints[endpoint] && !ended) return;
  enqueue.spawnChild('connection', {
    id: connectionId(endpoint),
    input: {
      ...context.connection,
      endpoint,
      // Bound to the provider's key by its signed advertisement: pinned on wss:// (SEC-8).
      ...(service.tlsFingerprint256 === undefined ? {} : { tlsFingerprint256: service.tlsFingerprint256 }),
      clientId: context.clientId,
      seed: deriveSeed(context.seed, endpoint),
      parentRef: self,
    },
  });
}

export const clientMachine = setup({
  types: {
    input: {} as ClientInput & { readonly selectionPolicy?: SelectionPolicy },
    context: {} as ClientContext,
    events: {} as ClientEvent,
    emitted: {} as ClientEmitted,
  },
  actors: {
    repository: repositoryMachine,
    connection: connectionMachine,
  },
  delays: { stopTimeoutMs: ({ context }) => context.stopTimeoutMs },
  guards: {
    // The connections' done events arrive after their connection.closed: stopping waits for them
    // too, so none reaches a client that has already stopped.
    noConnections: ({ context }) => Object.keys(context.endpoints).length === 0 && context.endpointsEnding.size === 0,
    /** TASK-1: a taskId names one task; assigning it again while it is unfinished would run it twice. */
    taskUnfinished: ({ context, event }) => event.type === 'client.assign' && context.taskEndpoints.has(event.request.taskId),
  },
  actions: {
    /** Selects an instance (DISC-11) and hands the task to its endpoint's connection. */
    submit: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'client.assign') return;
      const { request } = event;
      const choice = context.selectionPolicy(
        context.services,
        { serviceName: request.serviceName, operation: request.operation, excludeServiceIds: request.excludeServiceIds },
        context.selection,
      );
      if (choice.service === undefined) {
        // DISC-13: nothing to send it to.
        enqueue.emit({ type: 'task.settled', taskId: request.taskId, outcome: { status: 'Failed', error: unavailableFailure(context.services, request) } });
        return;
      }
      const endpoint = choice.service.endpoint;
      connect(enqueue, context, self, choice.service);
      const { excludeServiceIds: _excluded, ...task } = request;
      enqueue.sendTo(connectionId(endpoint), {
        type: 'connection.submit',
        task: { ...task, clientId: context.clientId },
      });
      enqueue.assign({
        selection: choice.state,
        endpoints: { ...context.endpoints, [endpoint]: true },
      });
      context.taskEndpoints.record(request.taskId, endpoint);
      enqueue.emit({ type: 'task.submitted', taskId: request.taskId, serviceId: choice.service.serviceId, endpoint });
    }),
    cancel: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'client.cancel') return;
      const endpoint = context.taskEndpoints.get(event.taskId);
      if (endpoint !== undefined && context.endpoints[endpoint]) {
        enqueue.sendTo(connectionId(endpoint), { type: 'connection.cancel', taskId: event.taskId });
      }
    }),
    settle: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'task.settled') return;
      context.taskEndpoints.forget(event.taskId);
      enqueue.emit({ type: 'task.settled', taskId: event.taskId, outcome: event.outcome });
    }),
    forgetConnection: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'connection.closed') return;
      if (connectionStatus(self, event.endpoint) === 'active') {
        // From a connection that ended and was already replaced (see submit): the endpoint's
        // current connection lives on.
        enqueue.emit({ type: 'connection.closed', endpoint: event.endpoint, gaveUp: event.gaveUp });
        return;
      }
      const { [event.endpoint]: _closed, ...endpoints } = context.endpoints;
      enqueue.assign({ endpoints, endpointsEnding: withEntry(context.endpointsEnding, event.endpoint, true) });
      enqueue.stopChild(connectionId(event.endpoint));
      enqueue.emit({ type: 'connection.closed', endpoint: event.endpoint, gaveUp: event.gaveUp });
    }),
    /**
     * SEC-21: a connection actor failed (an unexpected error its supervisor could not contain):
     * its unfinished tasks fail INTERNAL_ERROR (each still settles once, TASK-16) and the endpoint
     * gets a new connection at its next task. Any other child's failure changes nothing here.
     */
    connectionFailed: enqueueActions(({ context, event, enqueue }) => {
      const failedId = event.type.slice('xstate.error.actor.'.length);
      const endpoint = [...Object.keys(context.endpoints)].find((candidate) => connectionId(candidate) === failedId);
      if (endpoint === undefined) return;
      for (const [taskId, taskEndpoint] of [...context.taskEndpoints]) {
        if (taskEndpoint !== endpoint) continue;
        context.taskEndpoints.forget(taskId);
        enqueue.emit({ type: 'task.settled', taskId, outcome: { status: 'Failed', error: internalFailure(undefined) } });
      }
      const { [endpoint]: _failed, ...endpoints } = context.endpoints;
      enqueue.assign({ endpoints });
      enqueue.emit({ type: 'connection.closed', endpoint, gaveUp: true });
    }),
    connectionDone: assign(({ context, event }) => {
      const endpoint = event.type.startsWith('xstate.done.actor.connection:') ? event.type.slice('xstate.done.actor.connection:'.length) : undefined;
      return endpoint === undefined ? {} : { endpointsEnding: withoutEntry(context.endpointsEnding, endpoint) };
    }),
    closeConnections: enqueueActions(({ context, enqueue }) => {
      for (const endpoint of Object.keys(context.endpoints)) {
        enqueue.sendTo(connectionId(endpoint), { type: 'connection.close' });
      }
    }),
  },
}).createMachine({
  id: 'client',
  context: ({ input }) => ({
    ...input,
    selectionPolicy: input.selectionPolicy ?? defaultSelectionPolicy,
    services: [],
    selection: initialSelectionState,
    endpoints: {},
    endpointsEnding: new Map(),
    taskEndpoints: new OwnedMap(),
  }),
  invoke: {
    id: 'repository',
    src: 'repository',
    input: ({ context, self }) => ({ ...context.repository, clientId: context.clientId, parentRef: self }),
  },
  on: {
    'repository.changed': {
      actions: [
        assign({ services: ({ event }) => event.services }),
        emit(({ event }) => ({ type: 'services.changed' as const, services: event.services })),
      ],
    },
    'repository.ignored': { actions: emit(({ event }) => ({ ...event, type: 'discovery.ignored' as const })) },
    'repository.learned': { actions: emit(({ event }) => ({ ...event, type: 'trust.learned' as const })) },
    'task.progress': {
      actions: emit(({ event }) => {
        const { endpoint: _endpoint, ...progress } = event;
        return progress;
      }),
    },
    'task.settled': { actions: 'settle' },
    'connection.opened': {
      actions: emit(({ event }) => ({ type: 'connection.opened' as const, endpoint: event.endpoint, reconnected: event.reconnected })),
    },
    'connection.down': {
      actions: emit(({ event }) => ({ ...event, type: 'connection.down' as const })),
    },
    'connection.events': {
      actions: emit(({ event }) => ({ type: 'events.message' as const, endpoint: event.endpoint, message: event.message })),
    },
    'connection.unreadable': {
      actions: emit(({ event }) => ({ type: 'connection.unreadable' as const, endpoint: event.endpoint, taskId: event.taskId, reason: event.reason })),
    },
    'connection.retrying': {
      actions: emit(({ event }) => ({
        type: 'connection.retrying' as const,
        endpoint: event.endpoint,
        attempt: event.attempt,
        delayMs: event.delayMs,
        reason: event.reason,
      })),
    },
    'connection.closed': { actions: 'forgetConnection' },
    'xstate.error.actor.*': { actions: 'connectionFailed' },
    'xstate.done.actor.*': { actions: 'connectionDone' },
  },
  initial: 'running',
  states: {
    running: {
      on: {
        'client.assign': [{ guard: 'taskUnfinished' }, { actions: 'submit' }],
        'client.cancel': { actions: 'cancel' },
        'client.eventsConnect': {
          actions: enqueueActions(({ context, event, enqueue, self }) => {
            connect(enqueue, context, self, event.service);
            enqueue.assign({ endpoints: { ...context.endpoints, [event.service.endpoint]: true } });
          }),
        },
        'client.eventsSend': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            if (context.endpoints[event.endpoint]) enqueue.sendTo(connectionId(event.endpoint), { type: 'connection.sendEvents', draft: event.draft });
          }),
        },
        'client.refresh': { actions: sendTo('repository', { type: 'repository.refresh' }) },
        'client.stop': 'stopping',
      },
    },
    stopping: {
      entry: 'closeConnections',
      // TASK-16: a task assigned while stopping still ends, and says why.
      on: {
        'client.assign': {
          actions: emit(({ event }) => ({
            type: 'task.settled' as const,
            taskId: event.request.taskId,
            outcome: { status: 'Failed' as const, error: { code: 'CONNECTION_LOST', message: 'The client is stopping.' } },
          })),
        },
        // A connection's goodbye is followed by its done event: the client may only end after
        // that, or the done event would reach a stopped actor.
        'connection.closed': { actions: emit(({ event }) => ({ type: 'connection.closed' as const, endpoint: event.endpoint, gaveUp: event.gaveUp })) },
        'xstate.done.actor.*': {
          actions: assign({
            endpoints: ({ context, event }) => {
              const { [connectionEndpointOf(event)]: _ended, ...endpoints } = context.endpoints;
              return endpoints;
            },
          }),
        },
      },
      always: { guard: 'noConnections', target: 'stopped' },
      after: { stopTimeoutMs: 'stopped' },
    },
    stopped: { type: 'final' },
  },
});
