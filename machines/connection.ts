/**
 * The client's WebSocket connection to one provider endpoint (CONN-1, CONN-3 to CONN-7), and the
 * owner of the tasks sent over it. See docs/protocol.md, "Client connection".
 *
 * active (the transport is invoked here)
 *   connecting -> open -> closing          open = liveness (ping / pong, CONN-3) || traffic
 *   unresponsive: no pong in time, or no handshake answer in time: terminate (CONN-3)
 * backoff: full-jitter exponential delay (CONN-4); gives up after `attemptsMax` attempts,
 *   `refusalsMax` refusals in a row (the provider's process is gone) or `giveUpAfterMs` without
 *   opening again, whichever comes first (CONN-12, machines/backoff.ts)
 * settlingTasks: every unfinished task is told connection.lost and settles (CONNECTION_LOST)
 * closed (final, output { gaveUp })
 *
 * Tasks live in a task pool (machines/host/taskPool.ts: snapshots stepped by the compiled task
 * machine, no actor each; an actor pool when the engine is off) so that thousands of them do not
 * weigh on this machine's snapshot; the connection keeps only their ids, in a map it owns
 * (machines/keyed.ts). AssignTask and CancelTask drafts
 * wait in a bounded outbox until answered and are re-sent, in order, whenever the connection
 * opens again (CONN-5; machines/outbox.ts).
 */
import { assign, cancel, enqueueActions, raise, sendTo, setup, spawnChild } from 'xstate';
import { createTaskPool } from './host/taskPool.js';
import { backoffDelayMs, giveUpRuleOf } from './backoff.js';
import { clientTaskMachine, type ClientTaskInput } from './clientTask.js';
import type {
  ConnectionContext,
  ConnectionEvent,
  ConnectionInput,
  ConnectionOutput,
  ConnectionToParentEvent,
  EventsProviderMessage,
  StreamTransportLogic,
} from './connectionTypes.js';
import type { WireMessage } from './messages.js';
import { errorShape, type ErrorCode } from './errors.js';
import { isOutboxDraft, OwnedOutbox, routeOf } from './outbox.js';
import { OwnedMap } from './keyed.js';
import { placeholder } from './placeholder.js';
import { nextRandom } from './random.js';
import { CloseCode, type ConnectInput, type StreamCommand } from './transport.js';

export { connectionDefaults } from './connectionTypes.js';
export type {
  ConnectionContext,
  ConnectionEvent,
  ConnectionInput,
  ConnectionOutput,
  ConnectionStats,
  ConnectionSubmission,
  ConnectionToParentEvent,
  StreamTransportLogic,
} from './connectionTypes.js';

function settledFailure(context: ConnectionContext, taskId: string, code: ErrorCode): ConnectionToParentEvent {
  return { type: 'task.settled', endpoint: context.endpoint, taskId, outcome: { status: 'Failed', error: errorShape(code) } };
}

/** HOOK-4: a close frame was exchanged (the provider's code and reason), or the client closed it; else lost. */
function downHow(event: ConnectionEvent): { graceful: boolean; code?: number; closeReason?: string } {
  if (event.type === 'transport.closed') return event.graceful ? { graceful: true, code: event.code, closeReason: event.reason } : { graceful: false };
  return { graceful: event.type === 'connection.close' };
}

/** Provider messages about subscriptions (EVT-2): Subscribed, Event, SubscriptionEnded, an Error naming a subscription. */
function isEventsMessage(message: WireMessage): message is EventsProviderMessage {
  switch (message.type) {
    case 'Subscribed':
    case 'Event':
    case 'SubscriptionEnded':
      return true;
    case 'Error':
      return message.payload.subscriptionId !== undefined;
    default:
      return false;
  }
}

function downReason(event: ConnectionEvent): string {
  if (event.type === 'transport.closed') return `transport closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`;
  if (event.type === 'connection.close') return 'close requested';
  // The delayed events of `after` are named after their delay.
  if ((event.type as string).includes('connectTimeoutMs')) return 'no answer to the opening handshake within connectTimeoutMs';
  return 'no pong within pongTimeoutMs';
}

/** The id of the delayed `connection.giveUpDue` (backoff.giveUpAfterMs), cancelled when the connection opens. */
const GIVE_UP_TIMER_ID = 'giveUp';

/** The longest delay a timer takes as given (setTimeout fires at once beyond it). */
const TIMER_DELAY_MS_MAX = 2 ** 31 - 1;

/** A transport that was refused: nothing listens at the endpoint (ECONNREFUSED). */
const isRefusal = (event: ConnectionEvent): boolean => event.type === 'transport.closed' && event.refused === true;

const toParent = ({ context }: { context: ConnectionContext }) => context.parentRef;

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    input: {} as ConnectionInput,
    events: {} as ConnectionEvent,
    output: {} as ConnectionOutput,
  },
  actors: {
    transport: placeholder<StreamTransportLogic>('transport'),
    tasks: createTaskPool(clientTaskMachine),
  },
  delays: {
    pingIntervalMs: ({ context }) => context.pingIntervalMs,
    pongTimeoutMs: ({ context }) => context.pongTimeoutMs,
    connectTimeoutMs: ({ context }) => context.connectTimeoutMs,
    closeTimeoutMs: ({ context }) => context.closeTimeoutMs,
    backoffDelayMs: ({ context }) => context.backoffDelayMs,
  },
  guards: {
    /** CONN-4: out of attempts; CONN-12: refused `refusalsMax` times in a row (counting this failure). */
    attemptsExhausted: ({ context, event }) =>
      context.attempt >= context.backoff.attemptsMax || (isRefusal(event) && context.refusals + 1 >= giveUpRuleOf(context.backoff).refusalsMax),
    taskInFlight: ({ context, event }) => event.type === 'connection.submit' && context.tasks.has(event.task.taskId),
    tasksFull: ({ context }) => context.tasksInFlight >= context.tasksMax,
    noTasksInFlight: ({ context }) => context.tasksInFlight === 0,
  },
  actions: {
    spawnTask: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'connection.submit') return;
      const { taskId } = event.task;
      const { task } = event;
      const options = context.task;
      // Field by field: spreading two objects and adding to them is slow on Node 20 (per task).
      const input: ClientTaskInput = {
        clientId: task.clientId,
        taskId,
        messageId: task.messageId,
        serviceName: task.serviceName,
        operation: task.operation,
        params: task.params,
        deadlineMs: task.deadlineMs,
        ackTimeoutMs: options.ackTimeoutMs,
        assignAttemptsMax: options.assignAttemptsMax,
        cancelTimeoutMs: options.cancelTimeoutMs,
        pollIntervalMs: options.pollIntervalMs,
        pollFirstMs: options.pollFirstMs,
        parentRef: self,
      };
      enqueue.sendTo('tasks', { type: 'pool.spawn', id: taskId, input });
      context.tasks.record(taskId, true);
      enqueue.assign({ tasksInFlight: context.tasksInFlight + 1 });
    }),
    /** A task spawned while the connection is not open must not run its ack timer yet. */
    pauseTask: sendTo('tasks', ({ event }) => ({
      type: 'pool.send',
      id: event.type === 'connection.submit' ? event.task.taskId : '',
      event: { type: 'connection.down' },
    })),
    refuseTask: sendTo(toParent, ({ context, event }, params: { code: ErrorCode }) =>
      settledFailure(context, event.type === 'connection.submit' ? event.task.taskId : '', params.code),
    ),
    forwardCancel: sendTo('tasks', ({ event }) => ({
      type: 'pool.send',
      id: event.type === 'connection.cancel' ? event.taskId : '',
      event: { type: 'task.cancel' },
    })),
    broadcast: sendTo('tasks', (_, params: { event: { type: 'connection.down' | 'connection.lost' } }) => ({
      type: 'pool.broadcast',
      event: params.event,
    })),
    /** CONN-5: AssignTask and CancelTask wait here until answered. */
    keepDraft: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'task.send' || !isOutboxDraft(event.draft)) return;
      const dropped = context.outbox.put(event.taskId, event.draft, context.outboxMax);
      if (dropped > 0) enqueue.assign({ stats: { ...context.stats, outboxDropped: context.stats.outboxDropped + dropped } });
    }),
    sendEventsDraft: sendTo('transport', ({ event }) => {
      if (event.type !== 'connection.sendEvents') throw new Error(`sendEventsDraft: unexpected ${event.type}`);
      return { type: 'transport.send', draft: event.draft } satisfies StreamCommand;
    }),
    sendDraft: sendTo('transport', ({ event }) => {
      if (event.type !== 'task.send') throw new Error(`sendDraft: unexpected ${event.type}`);
      return { type: 'transport.send', draft: event.draft } satisfies StreamCommand;
    }),
    releaseAssign: enqueueActions(({ context, event }) => {
      if (event.type === 'task.acknowledged') context.outbox.remove(event.taskId, 'AssignTask');
    }),
    relayProgress: sendTo(toParent, ({ context, event }) => {
      if (event.type !== 'task.progress') throw new Error(`relayProgress: unexpected ${event.type}`);
      return { ...event, endpoint: context.endpoint };
    }),
    relaySettled: sendTo(toParent, ({ context, event }) => {
      if (event.type !== 'task.settled') throw new Error(`relaySettled: unexpected ${event.type}`);
      return { ...event, endpoint: context.endpoint };
    }),
    forgetTask: assign(({ context, event }) => {
      if (event.type !== 'task.settled' || !context.tasks.forget(event.taskId)) return {};
      context.outbox.remove(event.taskId);
      return { tasksInFlight: context.tasksInFlight - 1 };
    }),
    routeMessage: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'transport.message') return;
      if (isEventsMessage(event.message)) {
        enqueue.sendTo(context.parentRef, { type: 'connection.events', endpoint: context.endpoint, message: event.message });
        return;
      }
      const route = routeOf(event.message, context.outbox);
      if (route !== undefined && context.tasks.has(route.taskId)) {
        enqueue.sendTo('tasks', { type: 'pool.send', id: route.taskId, event: { type: 'task.message', message: route.message } });
      } else {
        enqueue.assign({ stats: { ...context.stats, messagesUnroutable: context.stats.messagesUnroutable + 1 } });
      }
    }),
    countRejected: assign({ stats: ({ context }) => ({ ...context.stats, messagesRejected: context.stats.messagesRejected + 1 }) }),
    /** An answer not understood: the task it names hears why (its TIMEOUT says so), and the client logs it. */
    reportUnreadable: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'transport.rejected') return;
      const reason = `${event.error.code}: ${event.error.message}`;
      const taskId = event.taskId !== undefined && context.tasks.has(event.taskId) ? event.taskId : undefined;
      if (taskId !== undefined) enqueue.sendTo('tasks', { type: 'pool.send', id: taskId, event: { type: 'task.unreadable', reason } });
      enqueue.sendTo(context.parentRef, { type: 'connection.unreadable', endpoint: context.endpoint, taskId, reason });
    }),
    ping: sendTo('transport', { type: 'transport.ping' } satisfies StreamCommand),
    terminate: sendTo('transport', { type: 'transport.terminate' } satisfies StreamCommand),
    closeGracefully: sendTo('transport', { type: 'transport.close', code: CloseCode.normal } satisfies StreamCommand),
    markOpened: enqueueActions(({ context, enqueue }) => {
      enqueue.cancel(GIVE_UP_TIMER_ID);
      enqueue.assign({ attempt: 0, refusals: 0, opensTotal: context.opensTotal + 1 });
    }),
    /** Refusals in a row: a failure of another kind (a timeout) starts the count again. */
    countRefusal: assign({ refusals: ({ context, event }) => (isRefusal(event) ? context.refusals + 1 : 0) }),
    /**
     * CONN-12: the bound on the whole reconnect cycle, from the loss (or the first try) on. None
     * when `giveUpAfterMs` is not a timer's delay (Infinity turns it off; a real timer would fire
     * at once past 2^31 - 1 ms).
     */
    scheduleGiveUp: enqueueActions(({ context, enqueue }) => {
      const delay = giveUpRuleOf(context.backoff).giveUpAfterMs;
      if (Number.isFinite(delay) && delay >= 0 && delay <= TIMER_DELAY_MS_MAX) {
        enqueue.raise({ type: 'connection.giveUpDue' }, { id: GIVE_UP_TIMER_ID, delay });
      }
    }),
    cancelGiveUp: cancel(GIVE_UP_TIMER_ID),
    announceRetrying: sendTo(toParent, ({ context, event }) => ({
      type: 'connection.retrying' as const,
      endpoint: context.endpoint,
      attempt: context.attempt + 1,
      delayMs: context.backoffDelayMs,
      reason: downReason(event),
    })),
    /** CONN-5: re-send the outbox in order, before the tasks hear connection.up (and ask GetResult, CONN-6). */
    flushOutbox: enqueueActions(({ context, enqueue }) => {
      for (const { draft } of context.outbox) enqueue.sendTo('transport', { type: 'transport.send', draft } satisfies StreamCommand);
    }),
    announceUp: enqueueActions(({ context, enqueue }) => {
      const reconnected = context.opensTotal > 1;
      enqueue.sendTo('tasks', { type: 'pool.broadcast', event: { type: 'connection.up', reconnected } });
      enqueue.sendTo(context.parentRef, { type: 'connection.opened', endpoint: context.endpoint, reconnected });
    }),
    announceDown: enqueueActions(({ context, event, enqueue }) => {
      enqueue.sendTo('tasks', { type: 'pool.broadcast', event: { type: 'connection.down' } });
      enqueue.sendTo(context.parentRef, { type: 'connection.down', endpoint: context.endpoint, reason: downReason(event), ...downHow(event) });
    }),
    /** CONN-4: full jitter, drawn from the context's PRNG. */
    drawBackoffDelay: assign(({ context }) => {
      const [random01, random] = nextRandom(context.random);
      return { random, backoffDelayMs: backoffDelayMs(context.attempt, context.backoff, random01) };
    }),
    countAttempt: assign({ attempt: ({ context }) => context.attempt + 1 }),
    giveUp: assign({ gaveUp: true }),
    announceClosed: sendTo(toParent, ({ context }) => ({ type: 'connection.closed', endpoint: context.endpoint, gaveUp: context.gaveUp })),
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => {
    const { seed, ...options } = input;
    return {
      ...options,
      random: seed,
      attempt: 0,
      refusals: 0,
      backoffDelayMs: 0,
      opensTotal: 0,
      outbox: new OwnedOutbox(),
      tasks: new OwnedMap(),
      tasksInFlight: 0,
      gaveUp: false,
      stats: { messagesUnroutable: 0, messagesRejected: 0, outboxDropped: 0 },
    };
  },
  output: ({ event }) => event.output as ConnectionOutput,
  // The connection enforces tasksMax itself. The pool gets one slot more: a task reports
  // task.settled a moment before the pool hears it is done, so a submission made in reaction to
  // that report (synchronously, at full capacity) finds the settled member still in the pool.
  entry: [spawnChild('tasks', { id: 'tasks', input: ({ context }) => ({ membersMax: context.tasksMax + 1 }) }), 'scheduleGiveUp'],
  on: {
    'connection.submit': [
      { guard: 'taskInFlight' },
      { guard: 'tasksFull', actions: { type: 'refuseTask', params: { code: 'OVERLOADED' } } },
      { actions: ['spawnTask', 'pauseTask'] },
    ],
    'connection.cancel': { actions: 'forwardCancel' },
    'task.send': { actions: 'keepDraft' },
    'task.acknowledged': { actions: 'releaseAssign' },
    'task.progress': { actions: 'relayProgress' },
    'task.settled': { actions: ['relaySettled', 'forgetTask'] },
    // CONN-3: a message is proof of life too. Raised rather than handled in the liveness region:
    // a region's own handler would pre-empt this root-level routing for the same event.
    'transport.message': { actions: ['routeMessage', raise({ type: 'liveness.activity' })] },
    'transport.rejected': { actions: ['countRejected', 'reportUnreadable'] },
  },
  initial: 'active',
  states: {
    active: {
      invoke: {
        id: 'transport',
        src: 'transport',
        input: ({ context }): ConnectInput =>
          context.tlsFingerprint256 === undefined
            ? { endpoint: context.endpoint }
            : { endpoint: context.endpoint, tlsFingerprint256: context.tlsFingerprint256 },
      },
      initial: 'connecting',
      states: {
        connecting: {
          // A handshake whose answer never comes (a blackholed path) must not hang the connection.
          after: { connectTimeoutMs: 'unresponsive' },
          on: {
            'transport.opened': 'open',
            'transport.closed': [
              { guard: 'attemptsExhausted', target: '#connection.settlingTasks', actions: 'giveUp' },
              { target: '#connection.backoff', actions: 'countRefusal' },
            ],
            'connection.close': 'closing.terminating',
            // CONN-12: giveUpAfterMs passed while this attempt still waits for its handshake.
            'connection.giveUpDue': 'givingUp',
          },
        },
        open: {
          type: 'parallel',
          entry: 'markOpened',
          exit: ['announceDown', 'scheduleGiveUp'],
          on: {
            'connection.submit': [
              { guard: 'taskInFlight' },
              { guard: 'tasksFull', actions: { type: 'refuseTask', params: { code: 'OVERLOADED' } } },
              { actions: 'spawnTask' },
            ],
            'task.send': { actions: ['keepDraft', 'sendDraft'] },
            'connection.sendEvents': { actions: 'sendEventsDraft' },
            'transport.closed': [
              { guard: 'attemptsExhausted', target: '#connection.settlingTasks', actions: 'giveUp' },
              { target: '#connection.backoff' },
            ],
            'connection.close': 'closing',
          },
          states: {
            liveness: {
              initial: 'waiting',
              states: {
                waiting: { after: { pingIntervalMs: 'awaitingPong' } },
                awaitingPong: {
                  entry: 'ping',
                  // CONN-3: any message is as good as a pong (it may be queued behind them).
                  on: { 'transport.pong': 'waiting', 'liveness.activity': 'waiting' },
                  after: { pongTimeoutMs: '#connection.active.unresponsive' },
                },
              },
            },
            traffic: {
              initial: 'flushing',
              states: {
                flushing: { entry: ['flushOutbox', 'announceUp'], always: 'steady' },
                steady: {},
              },
            },
          },
        },
        // CONN-3: terminate (not close), then reconnect; a transient state so the terminate
        // reaches the transport before leaving `active` stops it.
        unresponsive: {
          entry: 'terminate',
          always: [
            { guard: 'attemptsExhausted', target: '#connection.settlingTasks', actions: 'giveUp' },
            { target: '#connection.backoff' },
          ],
        },
        givingUp: { entry: ['terminate', 'giveUp'], always: '#connection.settlingTasks' },
        // CONN-7
        closing: {
          initial: 'handshaking',
          on: {
            'connection.submit': { actions: { type: 'refuseTask', params: { code: 'CONNECTION_LOST' } } },
            'connection.close': {},
          },
          states: {
            handshaking: {
              entry: 'closeGracefully',
              on: { 'transport.closed': '#connection.settlingTasks' },
              after: { closeTimeoutMs: 'terminating' },
            },
            terminating: { entry: 'terminate', always: '#connection.settlingTasks' },
          },
        },
      },
    },
    backoff: {
      entry: ['drawBackoffDelay', 'announceRetrying'],
      after: { backoffDelayMs: { target: 'active', actions: 'countAttempt' } },
      on: { 'connection.close': 'settlingTasks', 'connection.giveUpDue': { target: 'settlingTasks', actions: 'giveUp' } },
    },
    // CONN-4: unfinished tasks fail CONNECTION_LOST; each reports task.settled (relayed above)
    // before `closed` is entered, since a final machine no longer takes events.
    settlingTasks: {
      entry: { type: 'broadcast', params: { event: { type: 'connection.lost' } } },
      always: { guard: 'noTasksInFlight', target: 'closed' },
      on: {
        'connection.submit': { actions: { type: 'refuseTask', params: { code: 'CONNECTION_LOST' } } },
        'connection.close': {},
      },
    },
    closed: {
      type: 'final',
      entry: ['cancelGiveUp', 'announceClosed'],
      output: ({ context }) => ({ gaveUp: context.gaveUp }),
    },
  },
});
