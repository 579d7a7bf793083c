/**
 * The provider (DISC-3..7, TASK-7, TASK-8, CONN-10):
 *
 *   starting -> online <-> busy -> draining -> stopping -> stopped
 *
 * It owns the discovery socket and the WebSocket server (both placeholders the runtime provides),
 * one session per accepted connection, and the task registry (which owns the task actors).
 * It advertises on start, in reply to each discovery request (unicast to the requester), every
 * heartbeat and on every status change, and says goodbye (status Offline) on stop.
 * Status uses hysteresis (DISC-6): Busy when load reaches 1, Online again at load <= 0.5.
 */
import { assign, emit, enqueueActions, sendTo, setup, spawnChild, type CallbackActorLogic } from 'xstate';
import { advertisementsFor } from './advertisement.js';
import type { ErrorShape } from './errors.js';
import type { ServiceStatus } from './messages.js';
import { placeholder } from './placeholder.js';
import type { ServiceDescriptor } from './service.js';
import { sessionDefaults, sessionMachine, type SessionInput, type SessionToParentEvent } from './session.js';
import { taskLimitDefaults, type TaskLimits } from './taskLedger.js';
import { createTaskRegistry, type TaskRegistryEvent, type TaskRegistryToParentEvent } from './taskRegistry.js';
import { providerTaskMachine } from './providerTask.js';
import {
  CloseCode,
  type DatagramCommand,
  type DatagramEvent,
  type ServerCommand,
  type ServerEvent,
} from './transport.js';
import type { TaskOutcome } from './outcome.js';

export type SessionOptions = Omit<SessionInput, 'connectionId' | 'remoteAddress' | 'token' | 'parentRef'>;

export interface ProviderInput {
  readonly providerId: string;
  readonly services: readonly ServiceDescriptor[];
  /** How often advertisements are broadcast (DISC-4). @default 30_000 */
  readonly heartbeatIntervalMs: number;
  readonly limits: TaskLimits;
  /** Connections served at once; beyond it a connection is refused with 1013 (CONN-10). @default 1_024 */
  readonly sessionsMax: number;
  readonly session: SessionOptions;
  /** How long stopping waits for tasks to cancel and sessions to close. @default 2_000 */
  readonly stopTimeoutMs: number;
  /** Deliberate bugs for checker self-tests (docs/simulation.md); absent in production. */
  readonly injectBug?: { readonly skipDuplicateCheck?: boolean };
}

export const providerDefaults: Omit<ProviderInput, 'providerId' | 'services'> = {
  heartbeatIntervalMs: 30_000,
  limits: taskLimitDefaults,
  sessionsMax: 1_024,
  session: sessionDefaults,
  stopTimeoutMs: 2_000,
};

export type ProviderEvent =
  | ServerEvent
  | DatagramEvent
  | SessionToParentEvent
  | TaskRegistryToParentEvent
  | { readonly type: 'provider.drain' }
  | { readonly type: 'provider.stop' };

/** What the provider tells the application (subscribe with `actor.on(type, ...)`). */
export type ProviderEmitted =
  | { readonly type: 'provider.listening'; readonly endpoint: string }
  | { readonly type: 'provider.status'; readonly status: ServiceStatus }
  | { readonly type: 'provider.failed'; readonly error: ErrorShape }
  | { readonly type: 'session.opened'; readonly connectionId: string }
  | { readonly type: 'session.bound'; readonly connectionId: string; readonly clientId: string }
  | {
      readonly type: 'session.ended';
      readonly connectionId: string;
      readonly clientId: string | undefined;
      readonly graceful: boolean;
      readonly reason: string;
    }
  | { readonly type: 'task.settled'; readonly clientId: string; readonly taskId: string; readonly outcome: TaskOutcome };

interface SessionRecord {
  readonly clientId: string | undefined;
}

export interface ProviderStats {
  /** Datagrams the discovery socket could not decode (dropped unanswered, WIRE-8). */
  readonly datagramsRejected: number;
  /** Discovery requests answered with at least one advertisement (DISC-3). */
  readonly discoveryRequestsAnswered: number;
  /** Registry replies for a client with no session at the time (TASK-13: GetResult fetches them later). */
  readonly repliesUndeliverable: number;
  /** Connections refused with 1013 because sessionsMax sessions were open (CONN-10). */
  readonly sessionsRefused: number;
}

export interface ProviderContext extends ProviderInput {
  readonly endpoint: string | undefined;
  readonly sessions: Readonly<Record<string, SessionRecord>>;
  /**
   * clientId -> connectionIds of the sessions bound to it, newest last. Replies go to the newest;
   * when it ends, the next newest still open takes over (a client may hold several connections).
   */
  readonly clients: Readonly<Record<string, readonly string[]>>;
  readonly load: number;
  readonly unfinishedTasks: number;
  readonly stats: ProviderStats;
  readonly failure: ErrorShape | undefined;
}

export interface ProviderOutput {
  readonly failure: ErrorShape | undefined;
}

const sessionId = (connectionId: string) => `session:${connectionId}`;
const countUp = (stats: ProviderStats, key: keyof ProviderStats): ProviderStats => ({ ...stats, [key]: stats[key] + 1 });

export const providerMachine = setup({
  types: {
    input: {} as ProviderInput,
    context: {} as ProviderContext,
    events: {} as ProviderEvent,
    emitted: {} as ProviderEmitted,
    output: {} as ProviderOutput,
  },
  actors: {
    discovery: placeholder<CallbackActorLogic<DatagramCommand>>('discovery'),
    server: placeholder<CallbackActorLogic<ServerCommand>>('server'),
    session: sessionMachine,
    taskRegistry: createTaskRegistry(providerTaskMachine),
  },
  delays: {
    heartbeatIntervalMs: ({ context }) => context.heartbeatIntervalMs,
    stopTimeoutMs: ({ context }) => context.stopTimeoutMs,
  },
  guards: {
    saturated: ({ context }) => context.load >= 1,
    relieved: ({ context }) => context.load <= 0.5,
    idle: ({ context }) => context.unfinishedTasks === 0,
    noSessions: ({ context }) => Object.keys(context.sessions).length === 0,
  },
  actions: {
    advertise: enqueueActions(({ context, enqueue }, params: { status: ServiceStatus }) => {
      if (context.endpoint === undefined) return;
      for (const draft of advertisementsFor({ ...context, endpoint: context.endpoint }, params.status)) {
        enqueue.sendTo('discovery', { type: 'datagram.send', draft, to: 'broadcast' } satisfies DatagramCommand);
      }
      enqueue.emit({ type: 'provider.status', status: params.status });
    }),
    /** DISC-3: one advertisement per service, unicast to the requester. */
    answerDiscovery: enqueueActions(({ context, event, enqueue }, params: { status: ServiceStatus }) => {
      if (event.type !== 'datagram.received' || event.message.discoveryType !== 'ClientServiceDiscoveryRequest') return;
      if (context.endpoint === undefined) return;
      const request = event.message;
      const drafts = advertisementsFor({ ...context, endpoint: context.endpoint }, params.status, {
        respondsToClientId: request.clientId,
        serviceName: request.serviceName,
      });
      for (const draft of drafts) {
        enqueue.sendTo('discovery', { type: 'datagram.send', draft, to: event.from } satisfies DatagramCommand);
      }
      // A request filtered to a service not hosted here gets no reply: it was not answered.
      if (drafts.length > 0) enqueue.assign({ stats: countUp(context.stats, 'discoveryRequestsAnswered') });
    }),
    acceptSession: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.accepted') return;
      const full = Object.keys(context.sessions).length >= context.sessionsMax;
      enqueue.spawnChild('session', {
        id: sessionId(event.connectionId),
        input: ({ self }) => ({
          ...context.session,
          connectionId: event.connectionId,
          remoteAddress: event.remoteAddress,
          token: event.token,
          // CONN-10: beyond the limit the session exists only to refuse the connection with 1013.
          ...(full ? { refuseWith: { code: 'OVERLOADED' as const, reason: `${context.sessionsMax} sessions already open` } } : {}),
          parentRef: self,
        }),
      });
      enqueue.assign({
        sessions: { ...context.sessions, [event.connectionId]: { clientId: undefined } },
        stats: full ? countUp(context.stats, 'sessionsRefused') : context.stats,
      });
    }),
    bindClient: assign(({ context, event }) => {
      if (event.type !== 'session.bound') return {};
      return {
        sessions: { ...context.sessions, [event.connectionId]: { clientId: event.clientId } },
        clients: {
          ...context.clients,
          [event.clientId]: [...(context.clients[event.clientId] ?? []).filter((id) => id !== event.connectionId), event.connectionId],
        },
      };
    }),
    forgetSession: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'session.ended') return;
      const { [event.connectionId]: _ended, ...sessions } = context.sessions;
      const clients = { ...context.clients };
      if (event.clientId !== undefined) {
        const remaining = (clients[event.clientId] ?? []).filter((id) => id !== event.connectionId);
        if (remaining.length === 0) delete clients[event.clientId];
        else clients[event.clientId] = remaining;
      }
      enqueue.assign({ sessions, clients });
      enqueue.stopChild(sessionId(event.connectionId));
      enqueue.emit({
        type: 'session.ended',
        connectionId: event.connectionId,
        clientId: event.clientId,
        graceful: event.graceful,
        reason: event.reason,
      });
    }),
    forwardRequest: sendTo('tasks', ({ event }): TaskRegistryEvent => {
      if (event.type !== 'session.request') throw new Error('forwardRequest: unexpected event');
      const { clientId, message } = event;
      switch (message.type) {
        case 'AssignTask':
          return { type: 'registry.assign', clientId, message };
        case 'CancelTask':
          return { type: 'registry.cancel', clientId, message };
        default:
          return { type: 'registry.query', clientId, message };
      }
    }),
    /** Routes a reply to the client's current session; a client that is away gets it later (TASK-13). */
    deliverReply: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'registry.reply') return;
      const connectionId = context.clients[event.clientId]?.at(-1);
      if (connectionId === undefined) {
        enqueue.assign({ stats: countUp(context.stats, 'repliesUndeliverable') });
        return;
      }
      enqueue.sendTo(sessionId(connectionId), { type: 'session.deliver', draft: event.draft });
    }),
    trackLoad: assign(({ event }) =>
      event.type === 'registry.load' ? { load: event.load, unfinishedTasks: event.running + event.queued } : {},
    ),
    countRejectedDatagram: assign(({ context }) => ({ stats: countUp(context.stats, 'datagramsRejected') })),
    closeSessions: enqueueActions(({ context, enqueue }) => {
      for (const connectionId of Object.keys(context.sessions)) {
        enqueue.sendTo(sessionId(connectionId), { type: 'session.close', code: CloseCode.goingAway, reason: 'provider stopping' });
      }
    }),
  },
}).createMachine({
  id: 'provider',
  context: ({ input }) => ({
    ...input,
    endpoint: undefined,
    sessions: {},
    clients: {},
    load: 0,
    unfinishedTasks: 0,
    stats: { datagramsRejected: 0, discoveryRequestsAnswered: 0, repliesUndeliverable: 0, sessionsRefused: 0 },
    failure: undefined,
  }),
  invoke: [
    { id: 'discovery', src: 'discovery' },
    { id: 'server', src: 'server' },
  ],
  entry: spawnChild('taskRegistry', {
    id: 'tasks',
    input: ({ context, self }) => ({
      services: context.services,
      limits: context.limits,
      parentRef: self,
      skipDuplicateCheck: context.injectBug?.skipDuplicateCheck === true,
    }),
  }),
  on: {
    'server.accepted': { actions: 'acceptSession' },
    'session.ready': { actions: emit(({ event }) => ({ type: 'session.opened' as const, connectionId: event.connectionId })) },
    'session.bound': {
      actions: ['bindClient', emit(({ event }) => ({ type: 'session.bound' as const, connectionId: event.connectionId, clientId: event.clientId }))],
    },
    'session.request': { actions: 'forwardRequest' },
    'session.ended': { actions: 'forgetSession' },
    'registry.reply': { actions: 'deliverReply' },
    'registry.load': { actions: 'trackLoad' },
    'registry.settled': {
      actions: emit(({ event }) => ({ type: 'task.settled' as const, clientId: event.clientId, taskId: event.taskId, outcome: event.outcome })),
    },
    'datagram.rejected': { actions: 'countRejectedDatagram' },
    'provider.stop': '.stopping',
  },
  initial: 'starting',
  states: {
    starting: {
      on: {
        'server.listening': {
          target: 'online',
          actions: [assign({ endpoint: ({ event }) => event.endpoint }), emit(({ event }) => ({ type: 'provider.listening' as const, endpoint: event.endpoint }))],
        },
        'server.failed': {
          target: 'stopped',
          actions: [assign({ failure: ({ event }) => event.error }), emit(({ event }) => ({ type: 'provider.failed' as const, error: event.error }))],
        },
        // Nothing was advertised yet, so there is nobody to say goodbye to.
        'provider.stop': 'stopped',
      },
    },
    online: {
      entry: { type: 'advertise', params: { status: 'Online' } },
      after: { heartbeatIntervalMs: { target: 'online', reenter: true } },
      always: { guard: 'saturated', target: 'busy' },
      on: {
        'datagram.received': { actions: { type: 'answerDiscovery', params: { status: 'Online' } } },
        'provider.drain': 'draining',
      },
    },
    busy: {
      entry: { type: 'advertise', params: { status: 'Busy' } },
      after: { heartbeatIntervalMs: { target: 'busy', reenter: true } },
      always: { guard: 'relieved', target: 'online' },
      on: {
        'datagram.received': { actions: { type: 'answerDiscovery', params: { status: 'Busy' } } },
        'provider.drain': 'draining',
      },
    },
    draining: {
      entry: [{ type: 'advertise', params: { status: 'Draining' } }, sendTo('tasks', { type: 'registry.drain' })],
      after: { heartbeatIntervalMs: { target: 'draining', reenter: true } },
      always: { guard: 'idle', target: 'stopping' },
      on: {
        'datagram.received': { actions: { type: 'answerDiscovery', params: { status: 'Draining' } } },
      },
    },
    stopping: {
      initial: 'cancellingTasks',
      states: {
        cancellingTasks: {
          entry: sendTo('tasks', { type: 'registry.cancelAll' }),
          always: { guard: 'idle', target: 'closingSessions' },
          after: { stopTimeoutMs: 'closingSessions' },
        },
        closingSessions: {
          // DISC-7: the goodbye, then close every session with 1001 (going away).
          entry: [{ type: 'advertise', params: { status: 'Offline' } }, 'closeSessions', sendTo('server', { type: 'server.close' })],
          always: { guard: 'noSessions', target: '#provider.stopped' },
          after: { stopTimeoutMs: '#provider.stopped' },
        },
      },
      on: { 'provider.stop': {} },
    },
    stopped: { type: 'final' },
  },
  output: ({ context }) => ({ failure: context.failure }),
});
