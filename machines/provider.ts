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
import { ERROR_CODES, internalFailure, type ErrorShape } from './errors.js';
import type { GetResult, GetStatus, ProviderDraft, ServiceStatus } from './messages.js';
import { placeholder } from './placeholder.js';
import type { ServiceDescriptor } from './service.js';
import { sessionDefaults, sessionMachine, type EventsRequestMessage, type SessionInput, type SessionToParentEvent } from './session.js';
import { taskLimitDefaults, type TaskLimits } from './taskLedger.js';
import { createTaskRegistry, type Authorizer, type TaskRegistryEvent, type TaskRegistryToParentEvent } from './taskRegistry.js';
import { providerTaskMachine } from './providerTask.js';
import {
  CloseCode,
  type DatagramCommand,
  type DatagramEvent,
  type ServerCommand,
  type ServerEvent,
} from './transport.js';
import type { TaskOutcome } from './outcome.js';
import {
  emptyClientBook,
  replyTargetOf,
  standingOf,
  withClientRecords,
  withSessionAuthenticated,
  withSessionBound,
  withSessionGone,
  withSessionOpened,
  type ClientBook,
} from './providerClients.js';
import { withEntry, withoutEntry } from './keyed.js';
import { aboutSubscription, errorReply, notOwnerReply, unsupportedReply, withClientId } from './sessionRules.js';
import { claimClient, type SessionIdentity } from './identity.js';
import { errorFor } from './taskReplies.js';

export type SessionOptions = Omit<SessionInput, 'connectionId' | 'remoteAddress' | 'token' | 'parentRef'>;

export interface ProviderInput {
  readonly providerId: string;
  readonly services: readonly ServiceDescriptor[];
  /** How often advertisements are broadcast (DISC-4). @default 30_000 */
  readonly heartbeatIntervalMs: number;
  readonly limits: TaskLimits;
  /** Connections served at once; beyond it a connection is refused with 1013 (CONN-10). @default 1_024 */
  readonly sessionsMax: number;
  /**
   * SEC-15: of those, connections without a credential while authentication is required; beyond
   * it an anonymous connection is refused with 1013, so they never crowd out key holders. @default 256
   */
  readonly anonymousSessionsMax: number;
  /** SEC-15: sessions one principal (API key, certificate) may hold; beyond it, closed with 1013. @default 64 */
  readonly sessionsPerPrincipalMax: number;
  /**
   * SEC-16: task messages one principal may send per window over all its sessions; beyond it,
   * Error RATE_LIMITED and no effect. @default { messagesMax: 10_000, windowMs: 1_000 }
   */
  readonly principalRateLimit: { readonly messagesMax: number; readonly windowMs: number };
  readonly session: SessionOptions;
  /** SEC-4: decides each new AssignTask (runtime/acl.ts); undefined allows everything. */
  readonly authorize?: Authorizer | undefined;
  /**
   * The `flat-status` compat profile: GetStatus of a finished task is answered with its final
   * status (the seed's "Status (Completed)"), the outcome being GetResult's. @default false
   */
  readonly finishedStatusOnGetStatus?: boolean | undefined;
  /** How long stopping waits for tasks to cancel and sessions to close. @default 2_000 */
  readonly stopTimeoutMs: number;
  /** Deliberate bugs for checker self-tests (docs/simulation.md); absent in production. */
  readonly injectBug?: { readonly skipDuplicateCheck?: boolean };
}

export const providerDefaults: Omit<ProviderInput, 'providerId' | 'services'> = {
  heartbeatIntervalMs: 30_000,
  limits: taskLimitDefaults,
  sessionsMax: 1_024,
  anonymousSessionsMax: 256,
  sessionsPerPrincipalMax: 64,
  principalRateLimit: { messagesMax: 10_000, windowMs: 1_000 },
  session: sessionDefaults,
  stopTimeoutMs: 2_000,
};

export type ProviderEvent =
  | ServerEvent
  | DatagramEvent
  | SessionToParentEvent
  | TaskRegistryToParentEvent
  | { readonly type: 'provider.drain' }
  | { readonly type: 'provider.stop' }
  /** Internal: the principals' message window (SEC-16) ends. */
  | { readonly type: 'provider.principalWindow' }
  /** The provider's events (runtime/events/) send these to a client's current session (EVT-2). */
  | { readonly type: 'provider.deliverEvents'; readonly deliveries: readonly { readonly clientId: string; readonly draft: ProviderDraft }[] };

/** What the provider tells the application (subscribe with `actor.on(type, ...)`). */
export type ProviderEmitted =
  | { readonly type: 'provider.listening'; readonly endpoint: string }
  | { readonly type: 'provider.status'; readonly status: ServiceStatus }
  | { readonly type: 'provider.failed'; readonly error: ErrorShape }
  /**
   * SEC-21: a child actor failed (`actorId`: `session:<connectionId>`, `tasks`, `discovery`,
   * `server`). A session's failure ends only that session (reported as session.ended, lost); the
   * task registry's ends the provider (provider.failed). The runtime logs `error`.
   */
  | { readonly type: 'provider.fault'; readonly actorId: string; readonly error: unknown }
  | { readonly type: 'session.opened'; readonly connectionId: string }
  | { readonly type: 'session.bound'; readonly connectionId: string; readonly clientId: string }
  /** SEC-10: the session bound a clientId that belongs to another client; it gets FORBIDDEN for every task message. */
  | { readonly type: 'session.forbidden'; readonly connectionId: string; readonly clientId: string; readonly reason: string }
  | {
      readonly type: 'session.ended';
      readonly connectionId: string;
      readonly clientId: string | undefined;
      readonly graceful: boolean;
      readonly reason: string;
    }
  /** EVT-8: the session's socket rose above its send mark (`above`) or fell back below it (SEC-13). */
  | { readonly type: 'session.sendMark'; readonly connectionId: string; readonly above: boolean }
  | { readonly type: 'task.settled'; readonly clientId: string; readonly taskId: string; readonly outcome: TaskOutcome }
  /** EVT-2: an events message from a session that may act for its clientId (SEC-10), for the provider's events. */
  | {
      readonly type: 'events.request';
      readonly connectionId: string;
      readonly clientId: string;
      readonly message: EventsRequestMessage;
      /** Who the session is (SEC-4: what the ACL is asked about a Subscribe, EVT-4). */
      readonly identity: SessionIdentity | undefined;
    };

export interface ProviderStats {
  /** Datagrams the discovery socket could not decode (dropped unanswered, WIRE-8). */
  readonly datagramsRejected: number;
  /** Discovery requests answered with at least one advertisement (DISC-3). */
  readonly discoveryRequestsAnswered: number;
  /** Registry replies for a client with no session at the time (TASK-13: GetResult fetches them later). */
  readonly repliesUndeliverable: number;
  /** Connections refused with 1013 because sessionsMax sessions were open (CONN-10). */
  readonly sessionsRefused: number;
  /** Sessions that bound a clientId belonging to another client (SEC-10). */
  readonly bindingsRefused: number;
  /** Task messages answered FORBIDDEN because their session may not act for its clientId (SEC-10). */
  readonly requestsForbidden: number;
}

/**
 * `sessions`, `clients` and `owners` (machines/providerClients.ts) are Maps, never plain objects:
 * every key is wire data (a clientId can be `__proto__` or `constructor`), and an object lookup
 * would find Object.prototype's members (SEC-9).
 */
export interface ProviderContext extends ProviderInput, ClientBook {
  readonly endpoint: string | undefined;
  /** SEC-16: task messages per principal in the current window (empty: no window running). */
  readonly principalMessages: ReadonlyMap<string, number>;
  /** Sessions that ended and whose actor's done event has not arrived yet. */
  readonly sessionsEnding: ReadonlyMap<string, true>;
  readonly load: number;
  readonly unfinishedTasks: number;
  readonly stats: ProviderStats;
  readonly failure: ErrorShape | undefined;
}

export interface ProviderOutput {
  readonly failure: ErrorShape | undefined;
}

const sessionId = (connectionId: string) => `session:${connectionId}`;
const SESSION_PREFIX = 'session:';
const CHILD_ERROR_PREFIX = 'xstate.error.actor.';
/** The id of the child a `xstate.error.actor.<id>` event is about. */
const failedChildOf = (event: { type: string }): string => event.type.slice(CHILD_ERROR_PREFIX.length);

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
    principalWindowMs: ({ context }) => context.principalRateLimit.windowMs,
  },
  guards: {
    saturated: ({ context }) => context.load >= 1,
    relieved: ({ context }) => context.load <= 0.5,
    idle: ({ context }) => context.unfinishedTasks === 0,
    noSessions: ({ context }) => context.sessions.size === 0 && context.sessionsEnding.size === 0,
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
      const { standing, refusal } = standingOf(context, context, {
        authRequired: context.session.authRequired,
        claimsCredential: event.token !== undefined || event.peerCertificate !== undefined,
      });
      enqueue.spawnChild('session', {
        id: sessionId(event.connectionId),
        input: ({ self }) => ({
          ...context.session,
          connectionId: event.connectionId,
          remoteAddress: event.remoteAddress,
          token: event.token,
          ...(event.clientProof === undefined ? {} : { clientProof: event.clientProof }),
          ...(event.peerCertificate === undefined ? {} : { peerCertificate: event.peerCertificate }),
          // CONN-10, SEC-15: beyond a limit the session exists only to refuse the connection with 1013.
          ...(refusal === undefined ? {} : { refuseWith: refusal }),
          parentRef: self,
        }),
      });
      enqueue.assign({
        ...withSessionOpened(context, event.connectionId, standing),
        stats: refusal === undefined ? context.stats : countUp(context.stats, 'sessionsRefused'),
      });
    }),
    /** SEC-15: counted for its principal; one session too many for it is closed with 1013. */
    noteAuthenticated: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'session.authenticated') return;
      const book = withSessionAuthenticated(context, event.connectionId, event.principal);
      enqueue.assign(book);
      const count = book.principalSessions?.get(event.principal) ?? 0;
      if (count <= context.sessionsPerPrincipalMax) return;
      enqueue.assign({ stats: countUp(context.stats, 'sessionsRefused') });
      enqueue.sendTo(sessionId(event.connectionId), {
        type: 'session.close',
        code: CloseCode.tryAgainLater,
        reason: `${context.sessionsPerPrincipalMax} sessions already open for this credential`,
      });
    }),
    /** CONN-9, SEC-10: the session acts for a clientId now, if it may (else it gets FORBIDDEN from now on). */
    bindClient: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'session.bound') return;
      const { book, outcome } = withSessionBound(context, event.connectionId, event.clientId, event.identity);
      if (outcome.allowed) {
        enqueue.assign(book);
        enqueue.emit({ type: 'session.bound', connectionId: event.connectionId, clientId: event.clientId });
        return;
      }
      enqueue.assign({ ...book, stats: countUp(context.stats, 'bindingsRefused') });
      enqueue.emit({ type: 'session.forbidden', connectionId: event.connectionId, clientId: event.clientId, reason: outcome.reason });
    }),
    /**
     * The session ended: replies no longer go to it. Its actor is released when its own done
     * event follows (`releaseSession`), so that a stopping provider reaches `stopped` only once
     * every session's done event has arrived, never with one still on its way.
     */
    forgetSession: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'session.ended') return;
      enqueue.assign({ ...withSessionGone(context, event.connectionId), sessionsEnding: withEntry(context.sessionsEnding, event.connectionId, true) });
      enqueue.emit({
        type: 'session.ended',
        connectionId: event.connectionId,
        clientId: event.clientId,
        graceful: event.graceful,
        reason: event.reason,
      });
    }),
    releaseSession: enqueueActions(({ context, event, enqueue }) => {
      const childId = event.type.slice('xstate.done.actor.'.length);
      if (!childId.startsWith(SESSION_PREFIX)) return;
      enqueue.assign({ sessionsEnding: withoutEntry(context.sessionsEnding, childId.slice(SESSION_PREFIX.length)) });
      enqueue.stopChild(childId);
    }),
    /**
     * SEC-21: a child failed. A session: forget it like a lost session, and have the server drop
     * its socket (a session that failed in its own transition cannot close it). Anything else:
     * report it; the registry's failure also ends the provider (see `registryFailed`).
     */
    childFailed: enqueueActions(({ context, event, enqueue }) => {
      const actorId = failedChildOf(event);
      enqueue.emit({ type: 'provider.fault', actorId, error: (event as { error?: unknown }).error });
      if (!actorId.startsWith(SESSION_PREFIX)) return;
      const connectionId = actorId.slice(SESSION_PREFIX.length);
      const record = context.sessions.get(connectionId);
      if (record === undefined) return;
      enqueue.assign(withSessionGone(context, connectionId));
      enqueue.sendTo('server', { type: 'server.drop', connectionId } satisfies ServerCommand);
      enqueue.emit({ type: 'session.ended', connectionId, clientId: record.clientId, graceful: false, reason: 'internal error' });
    }),
    /**
     * A task message goes to the registry only from a session that may act for its clientId;
     * any other gets FORBIDDEN, the same answer whether the task exists or not (SEC-10).
     */
    forwardRequest: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'session.request') return;
      const { clientId, connectionId, message } = event;
      const record = context.sessions.get(connectionId);
      const refuse = () => {
        enqueue.sendTo(sessionId(connectionId), { type: 'session.deliver', draft: notOwnerReply(message) });
        enqueue.assign({ stats: countUp(context.stats, 'requestsForbidden') });
      };
      if (record === undefined) return refuse();
      // A query naming no client from a session not bound yet (a seed-only peer): whose task it is comes later.
      const unnamedIdentity = clientId === undefined && (message.type === 'GetStatus' || message.type === 'GetResult') ? event.identity : undefined;
      if (unnamedIdentity === undefined && (!record.verified || clientId === undefined || record.clientId !== clientId)) return refuse();
      // SEC-16: a principal's messages over all its sessions are bounded per window.
      const principal = (unnamedIdentity ?? record.identity)?.principal;
      if (principal !== undefined) {
        const sent = context.principalMessages.get(principal) ?? 0;
        if (sent >= context.principalRateLimit.messagesMax) {
          enqueue.sendTo(sessionId(connectionId), { type: 'session.deliver', draft: errorReply('RATE_LIMITED', ERROR_CODES.RATE_LIMITED, message.messageId, message.payload.taskId) });
          return;
        }
        if (context.principalMessages.size === 0) enqueue.raise({ type: 'provider.principalWindow' }, { id: 'principalWindow', delay: 'principalWindowMs' });
        enqueue.assign({ principalMessages: withEntry(context.principalMessages, principal, sent + 1) });
      }
      if (unnamedIdentity !== undefined) {
        enqueue.sendTo('tasks', { type: 'registry.whose', connectionId, message: message as GetStatus | GetResult, identity: unnamedIdentity });
        return;
      }
      if (clientId === undefined) return;
      let request: TaskRegistryEvent;
      switch (message.type) {
        case 'AssignTask':
          request = { type: 'registry.assign', clientId, message, owner: context.owners.get(clientId)?.owner, identity: record.identity };
          break;
        case 'CancelTask':
          request = { type: 'registry.cancel', clientId, message };
          break;
        default:
          request = { type: 'registry.query', clientId, message };
      }
      enqueue.sendTo('tasks', request);
    }),
    /**
     * TASK-12, SEC-10: a query naming no client is answered for the one client whose task has that
     * taskId, when the asking session may act for that client (the identity rules); otherwise, or
     * when several clients have such a task, it gets the answer an unknown task gets.
     */
    answerUnnamedQuery: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'registry.taskOwners') return;
      const { connectionId, message, clientIds, identity } = event;
      const [clientId] = clientIds;
      // Only a client the provider knows the owner of, and only for a session that may act for it.
      const owner = clientId === undefined ? undefined : context.owners.get(clientId)?.owner;
      if (clientIds.length !== 1 || owner === undefined || !claimClient(owner, identity, clientId!).allowed) {
        enqueue.sendTo(sessionId(connectionId), { type: 'session.deliver', draft: errorFor(message, 'TASK_NOT_FOUND') });
        return;
      }
      enqueue.sendTo('tasks', { type: 'registry.query', clientId: clientId!, message: withClientId(message, clientId!), replyTo: connectionId });
    }),
    /** Routes a reply to the client's current session (or to the session that asked); a client that is away gets it later (TASK-13). */
    deliverReply: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'registry.reply') return;
      const connectionId = event.replyTo !== undefined && context.sessions.has(event.replyTo) ? event.replyTo : replyTargetOf(context, event.clientId);
      if (connectionId === undefined) {
        enqueue.assign({ stats: countUp(context.stats, 'repliesUndeliverable') });
        return;
      }
      enqueue.sendTo(sessionId(connectionId), { type: 'session.deliver', draft: event.draft });
    }),
    trackRecords: assign(({ context, event }) =>
      event.type === 'registry.clientRecords' ? withClientRecords(context, event.clientId, event.present, event.owner) : {},
    ),
    trackLoad: assign(({ event }) =>
      event.type === 'registry.load' ? { load: event.load, unfinishedTasks: event.running + event.queued } : {},
    ),
    /**
     * EVT-2: Subscribe, Unsubscribe, EventAck of a session that may act for its clientId (CONN-9,
     * SEC-10) go to the provider's events (runtime/events/) as `events.request`; any other gets
     * FORBIDDEN naming its subscription, counted with the task messages refused the same way.
     */
    forwardEvents: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'session.events') return;
      const { connectionId, clientId, message } = event;
      const record = context.sessions.get(connectionId);
      // EVT-1: a provider none of whose services publishes events does not speak them.
      if (!context.services.some((service) => service.events !== undefined && service.events.length > 0)) {
        enqueue.sendTo(sessionId(connectionId), { type: 'session.deliver', draft: aboutSubscription(message, unsupportedReply(message)) });
        return;
      }
      if (record === undefined || !record.verified || record.clientId !== clientId) {
        enqueue.sendTo(sessionId(connectionId), { type: 'session.deliver', draft: notOwnerReply(message) });
        enqueue.assign({ stats: countUp(context.stats, 'requestsForbidden') });
        return;
      }
      enqueue.emit({ type: 'events.request', connectionId, clientId, message, identity: record.identity });
    }),
    /** EVT-2: what the events send a client goes to its current session only (a client away gets nothing, EVT-10). */
    deliverEvents: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'provider.deliverEvents') return;
      // One provider event per publication, however many subscribers it reaches.
      for (const { clientId, draft } of event.deliveries) {
        const connectionId = replyTargetOf(context, clientId);
        if (connectionId !== undefined) enqueue.sendTo(sessionId(connectionId), { type: 'session.deliver', draft });
      }
    }),
    countRejectedDatagram: assign(({ context }) => ({ stats: countUp(context.stats, 'datagramsRejected') })),
    closeSessions: enqueueActions(({ context, enqueue }) => {
      for (const connectionId of context.sessions.keys()) {
        enqueue.sendTo(sessionId(connectionId), { type: 'session.close', code: CloseCode.goingAway, reason: 'provider stopping' });
      }
    }),
  },
}).createMachine({
  id: 'provider',
  context: ({ input }) => ({
    ...input,
    endpoint: undefined,
    ...emptyClientBook,
    principalMessages: new Map(),
    sessionsEnding: new Map(),
    load: 0,
    unfinishedTasks: 0,
    stats: {
      datagramsRejected: 0,
      discoveryRequestsAnswered: 0,
      repliesUndeliverable: 0,
      sessionsRefused: 0,
      bindingsRefused: 0,
      requestsForbidden: 0,
    },
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
      authorize: context.authorize,
      finishedStatusOnGetStatus: context.finishedStatusOnGetStatus,
      parentRef: self,
      skipDuplicateCheck: context.injectBug?.skipDuplicateCheck === true,
    }),
  }),
  on: {
    'server.accepted': { actions: 'acceptSession' },
    'session.ready': { actions: emit(({ event }) => ({ type: 'session.opened' as const, connectionId: event.connectionId })) },
    'session.bound': { actions: 'bindClient' },
    'session.authenticated': { actions: 'noteAuthenticated' },
    'provider.principalWindow': { actions: assign({ principalMessages: () => new Map() }) },
    'session.request': { actions: 'forwardRequest' },
    'session.events': { actions: 'forwardEvents' },
    // EVT-8: whether a session's socket is above its send mark, for the provider's events.
    'session.sendMark': { actions: emit(({ event }) => ({ type: 'session.sendMark' as const, connectionId: event.connectionId, above: event.above })) },
    'provider.deliverEvents': { actions: 'deliverEvents' },
    'session.ended': { actions: 'forgetSession' },
    'xstate.done.actor.*': { actions: 'releaseSession' },
    'registry.reply': { actions: 'deliverReply' },
    'registry.taskOwners': { actions: 'answerUnnamedQuery' },
    'registry.load': { actions: 'trackLoad' },
    'registry.clientRecords': { actions: 'trackRecords' },
    'registry.settled': {
      actions: emit(({ event }) => ({ type: 'task.settled' as const, clientId: event.clientId, taskId: event.taskId, outcome: event.outcome })),
    },
    'datagram.rejected': { actions: 'countRejectedDatagram' },
    'provider.stop': '.stopping',
    // SEC-21: a child's failure is handled here, never left to fail the provider itself.
    'xstate.error.actor.*': [
      {
        guard: ({ event }: { event: { type: string } }) => failedChildOf(event) === 'tasks',
        target: '.stopping',
        actions: [
          'childFailed',
          assign({ failure: () => internalFailure(undefined) }),
          emit(() => ({ type: 'provider.failed' as const, error: internalFailure(undefined) })),
        ],
      },
      { actions: 'childFailed' },
    ],
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
