/**
 * What a run observed, as a list of timestamped facts. The virtual-time runner and the real
 * processes (`--real`) write the same kinds of facts, and the checker reads only these, so one
 * checker judges both. Times are milliseconds from the start of the run.
 *
 * `state` and `message` facts feed the HTML report only; bulk runs leave them out.
 */
import type { PublicationTarget } from './plan.js';
import type { Fault } from './scenario.js';

export type OutcomeSummary =
  | { readonly status: 'Completed' }
  | { readonly status: 'Cancelled' }
  | { readonly status: 'Failed'; readonly code: string; readonly message?: string };

/** One file a client moved to or from a provider for a task. */
interface ClientTransfer {
  readonly t: number;
  readonly participant: string;
  readonly clientId: string;
  readonly taskId: string;
  readonly provider: string;
  readonly sha256: string;
  readonly status: 'done' | 'failed';
  readonly code?: string;
}

export type Observation =
  /**
   * A fault was applied (`undo` when a fault with a duration ends). `note` says how (`--real`);
   * `skipped`: its target was down, so it changed nothing.
   */
  | { readonly t: number; readonly type: 'fault'; readonly fault: Fault; readonly undo?: boolean; readonly note?: string; readonly skipped?: boolean }
  /** The final heal: partitions and link faults removed, everyone restarted and reading again. */
  | { readonly t: number; readonly type: 'heal' }
  | {
      readonly t: number;
      readonly type: 'up';
      readonly participant: string;
      readonly incarnation: number;
      /** A provider's serviceIds; a client's clientId. */
      readonly serviceIds?: readonly string[];
      readonly clientId?: string;
    }
  | { readonly t: number; readonly type: 'down'; readonly participant: string; readonly incarnation: number }
  | {
      readonly t: number;
      readonly type: 'submitted';
      readonly participant: string;
      readonly clientId: string;
      readonly taskId: string;
      readonly probe?: boolean;
    }
  | { readonly t: number; readonly type: 'cancel'; readonly participant: string; readonly taskId: string }
  | { readonly t: number; readonly type: 'progress'; readonly participant: string; readonly taskId: string; readonly percent: number }
  | { readonly t: number; readonly type: 'settled'; readonly participant: string; readonly clientId: string; readonly taskId: string; readonly outcome: OutcomeSummary }
  /** An operation started running on a provider instance (the service's own code). */
  | { readonly t: number; readonly type: 'ran'; readonly participant: string; readonly incarnation: number; readonly clientId: string; readonly taskId: string }
  /** A provider instance finished a task (provider `task.settled`). */
  | {
      readonly t: number;
      readonly type: 'finished';
      readonly participant: string;
      readonly incarnation: number;
      readonly clientId: string;
      readonly taskId: string;
      readonly outcome: OutcomeSummary;
    }
  /** A client's repository acted on an advertisement (one its trust policy let through, SEC-8). */
  | { readonly t: number; readonly type: 'advert'; readonly participant: string; readonly serviceId: string; readonly heartbeatMs: number | undefined }
  /** A client's repository changed: the serviceIds it lists now. */
  | { readonly t: number; readonly type: 'services'; readonly participant: string; readonly serviceIds: readonly string[] }
  | { readonly t: number; readonly type: 'session.opened'; readonly participant: string; readonly incarnation: number; readonly connectionId: string }
  /** A provider session received something from its client (a message or a pong). */
  | { readonly t: number; readonly type: 'session.heard'; readonly participant: string; readonly connectionId: string }
  | { readonly t: number; readonly type: 'session.ended'; readonly participant: string; readonly connectionId: string; readonly graceful: boolean }
  // ---- events (EVT-n) ----
  /** A provider instance published one planned event; `queued`: subscriptions the hub queued it for. */
  | {
      readonly t: number;
      readonly type: 'published';
      readonly participant: string;
      readonly incarnation: number;
      readonly id: string;
      readonly n: number;
      readonly service: string;
      readonly event: string;
      readonly kind: string;
      readonly target: PublicationTarget;
      readonly queued: number;
    }
  /** A client asked for a subscription (client.subscribe). */
  | { readonly t: number; readonly type: 'subscribing'; readonly participant: string; readonly clientId: string; readonly subscriptionId: string }
  /** Subscribed reached the client's subscription (`resumed`: the provider still held it, EVT-10). */
  | { readonly t: number; readonly type: 'sub.opened'; readonly participant: string; readonly clientId: string; readonly subscriptionId: string; readonly resumed: boolean }
  /** An event the client's application was handed (`id`: the publication; `lost`: the gap in seq before it). */
  | {
      readonly t: number;
      readonly type: 'event';
      readonly participant: string;
      readonly clientId: string;
      readonly subscriptionId: string;
      readonly seq: number;
      readonly lost: number;
      readonly id: string;
    }
  /** A client's subscription ended: `how` is unsubscribed, ended:<reason> or failed:<code>. */
  | { readonly t: number; readonly type: 'sub.ended'; readonly participant: string; readonly clientId: string; readonly subscriptionId: string; readonly how: string }
  /**
   * A provider's subscription (the providerSubscription statechart, seen by inspection): created,
   * its overflow policy dropped events (`dropped`: the total so far, EVT-11), or ended (`reason`).
   */
  | {
      readonly t: number;
      readonly type: 'psub';
      readonly participant: string;
      readonly incarnation: number;
      readonly clientId: string;
      readonly subscriptionId: string;
      readonly change: 'created' | 'dropped' | 'ended';
      readonly dropped: number;
      readonly reason?: string;
    }
  // ---- task files (FILE-n) ----
  /** A client's upload of a task file to a provider ended (done, with `have` when nothing moved, or failed with a code). */
  | (ClientTransfer & { readonly type: 'file.transfer'; readonly have?: boolean })
  /** A client fetched a file a result names (FILE-12): done, with the SHA-256 of the bytes its cache then holds, or failed with a code. */
  | (ClientTransfer & { readonly type: 'file.fetched'; readonly actual?: string })
  /** A provider's receiver ended a transfer done (FileDone): the FileRef offered and the SHA-256 of the bytes its store now holds under it. */
  | { readonly t: number; readonly type: 'file.stored'; readonly participant: string; readonly incarnation: number; readonly clientId: string; readonly sha256: string; readonly actual: string }
  /** An operation was handed a task file: the FileRef in its parameters and the SHA-256 of the bytes it read. */
  | {
      readonly t: number;
      readonly type: 'file.used';
      readonly participant: string;
      readonly incarnation: number;
      readonly clientId: string;
      readonly taskId: string;
      readonly sha256: string;
      readonly actual: string;
    }
  /** A statechart changed state (report only). */
  | {
      readonly t: number;
      readonly type: 'state';
      readonly participant: string;
      readonly actor: string;
      readonly machine: string;
      readonly value: string;
      readonly event: string;
    }
  /** A datagram or frame on the wire (report only; virtual time). */
  | {
      readonly t: number;
      readonly type: 'message';
      readonly from: string;
      readonly to: string;
      readonly kind: string;
      readonly outcome: string;
      readonly message?: string;
    };

export type ObservationType = Observation['type'];

/** The facts of one type, typed. */
export function ofType<T extends ObservationType>(history: readonly Observation[], type: T): Extract<Observation, { type: T }>[] {
  return history.filter((observation): observation is Extract<Observation, { type: T }> => observation.type === type);
}

/** A failure's outcome as recorded (message kept short). */
export function summarise(outcome: { status: string; error?: { code: string; message?: string } }): OutcomeSummary {
  if (outcome.status === 'Completed') return { status: 'Completed' };
  if (outcome.status === 'Cancelled') return { status: 'Cancelled' };
  const code = outcome.error?.code ?? '';
  const message = outcome.error?.message;
  return message === undefined ? { status: 'Failed', code } : { status: 'Failed', code, message: message.slice(0, 200) };
}
