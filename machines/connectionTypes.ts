/**
 * Types and defaults of the client connection (machines/connection.ts), which re-exports them.
 */
import type { ActorRef, CallbackActorLogic } from 'xstate';
import { backoffDefaults, type BackoffOptions } from './backoff.js';
import { clientTaskDefaults, type ClientTaskInput, type ClientTaskToParentEvent, type TaskOutcome } from './clientTask.js';
import type { OwnedMap } from './keyed.js';
import type { OwnedOutbox } from './outbox.js';
import type { RandomState } from './random.js';
import type { ConnectInput, StreamCommand, StreamEvent } from './transport.js';
import type { ClientDraft, ErrorMessage } from './messages.js';
import type { EventMessage, Subscribed, SubscriptionEnded } from './events/messages.js';

/** What a provider sends about subscriptions (EVT-2): routed to the client's subscriptions, never to tasks. */
export type EventsProviderMessage = Subscribed | EventMessage | SubscriptionEnded | ErrorMessage;

/** The stream transport a connection invokes (adapters/ws.ts, adapters/simulated, or a spec's fake). */
export type StreamTransportLogic = CallbackActorLogic<StreamCommand, ConnectInput>;

export interface ConnectionInput {
  endpoint: string;
  /** SHA-256 fingerprint of the provider's certificate, from its verified advertisement: pinned on wss:// (SEC-8). */
  tlsFingerprint256?: string | undefined;
  clientId: string;
  /** Period of pings while open (CONN-3). @default 5_000 */
  pingIntervalMs: number;
  /** Time to wait for a pong before terminating (CONN-3). @default 5_000 */
  pongTimeoutMs: number;
  /** Time for the opening handshake before terminating and backing off (CONN-3). @default 5_000 */
  connectTimeoutMs: number;
  /** Time for the close handshake before terminating (CONN-7). @default 2_000 */
  closeTimeoutMs: number;
  /** Reconnect backoff (CONN-4). @default backoffDefaults */
  backoff: BackoffOptions;
  /** AssignTask and CancelTask drafts kept for re-sending (CONN-5). @default 1_024 */
  outboxMax: number;
  /** In-flight tasks on this connection; beyond it a submission fails with OVERLOADED. @default 4_096 */
  tasksMax: number;
  /** Jitter PRNG seed (machines/random.ts). */
  seed: RandomState;
  /** Options of every task on this connection. @default clientTaskDefaults */
  task: Pick<ClientTaskInput, 'ackTimeoutMs' | 'assignAttemptsMax' | 'cancelTimeoutMs' | 'pollIntervalMs' | 'pollFirstMs'>;
  /** The client root. */
  parentRef: ActorRef<any, ConnectionToParentEvent>;
}

export const connectionDefaults: Omit<ConnectionInput, 'endpoint' | 'tlsFingerprint256' | 'clientId' | 'seed' | 'parentRef'> = {
  pingIntervalMs: 5_000,
  pongTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  closeTimeoutMs: 2_000,
  backoff: backoffDefaults,
  outboxMax: 1_024,
  tasksMax: 4_096,
  task: clientTaskDefaults,
};

export type ConnectionSubmission = Omit<ClientTaskInput, 'parentRef' | 'ackTimeoutMs' | 'assignAttemptsMax' | 'cancelTimeoutMs' | 'pollIntervalMs' | 'pollFirstMs'>;

export type ConnectionEvent =
  | StreamEvent
  | { type: 'connection.submit'; task: ConnectionSubmission }
  | { type: 'connection.cancel'; taskId: string }
  /** Graceful close, then closed (final). */
  | { type: 'connection.close' }
  /** A subscription's draft (Subscribe, Unsubscribe, EventAck): sent while open, else dropped (it re-subscribes on open, EVT-13). */
  | { type: 'connection.sendEvents'; draft: ClientDraft }
  /** Internal: a message arrived, so the provider is alive (CONN-3). */
  | { type: 'liveness.activity' }
  /** Internal: `backoff.giveUpAfterMs` passed since the connection was lost, and it did not open again (CONN-12). */
  | { type: 'connection.giveUpDue' }
  | ClientTaskToParentEvent;

export type ConnectionToParentEvent =
  | { type: 'connection.opened'; endpoint: string; reconnected: boolean }
  /**
   * The open connection ended (HOOK-4): `graceful` when a close frame was exchanged (`code` and
   * `closeReason` the provider's) or the client closed it itself; false when it was lost.
   */
  | { type: 'connection.down'; endpoint: string; reason: string; graceful: boolean; code?: number | undefined; closeReason?: string | undefined }
  /** Subscribed, Event, SubscriptionEnded, or an Error about a subscription (EVT-2): for the client's subscriptions. */
  | { type: 'connection.events'; endpoint: string; message: EventsProviderMessage }
  /** A message from the provider could not be understood (logged with the reason; the task it names is told). */
  | { type: 'connection.unreadable'; endpoint: string; taskId: string | undefined; reason: string }
  /** Backing off before reconnect attempt `attempt` (1-based), after `reason`. */
  | { type: 'connection.retrying'; endpoint: string; attempt: number; delayMs: number; reason: string }
  | { type: 'connection.closed'; endpoint: string; gaveUp: boolean }
  | {
      type: 'task.progress';
      endpoint: string;
      taskId: string;
      status: 'Queued' | 'Processing';
      progressPercentage: number;
      message?: string;
      estimatedTimeRemainingSeconds?: number;
    }
  | { type: 'task.settled'; endpoint: string; taskId: string; outcome: TaskOutcome };

export interface ConnectionStats {
  /** Inbound messages about no task in flight here (late repeats, unknown ids, Acks of other messages). */
  readonly messagesUnroutable: number;
  /** Inbound input the transport rejected at the boundary. */
  readonly messagesRejected: number;
  /** Outbox entries dropped because the outbox was full. */
  readonly outboxDropped: number;
}

export interface ConnectionContext extends Omit<ConnectionInput, 'seed'> {
  /** The jitter PRNG's state, advanced on every draw. */
  readonly random: RandomState;
  /** Reconnect attempts since the connection last opened (CONN-4). */
  readonly attempt: number;
  /** Attempts refused in a row since the connection last opened (CONN-12, `backoff.refusalsMax`). */
  readonly refusals: number;
  /** The delay drawn on entering backoff, used by the `backoffDelayMs` delay. */
  readonly backoffDelayMs: number;
  /** How many times the connection has opened: every open after the first is a reconnect. */
  readonly opensTotal: number;
  /** Owned (machines/keyed.ts): changed in place by this machine's actions. */
  readonly outbox: OwnedOutbox;
  /** Ids of the tasks in flight (spawned, not settled), at most tasksMax. Owned (machines/keyed.ts). */
  readonly tasks: OwnedMap<string, true>;
  readonly tasksInFlight: number;
  /** Set when the attempts ran out; the output of `closed`. */
  readonly gaveUp: boolean;
  readonly stats: ConnectionStats;
}

export interface ConnectionOutput {
  readonly gaveUp: boolean;
}
