/**
 * What a run observed, as a list of timestamped facts. The virtual-time runner and the real
 * processes (`--real`) write the same kinds of facts, and the checker reads only these, so one
 * checker judges both. Times are milliseconds from the start of the run.
 *
 * `state` and `message` facts feed the HTML report only; bulk runs leave them out.
 */
import type { Fault } from './scenario.js';

export type OutcomeSummary =
  | { readonly status: 'Completed' }
  | { readonly status: 'Cancelled' }
  | { readonly status: 'Failed'; readonly code: string; readonly message?: string };

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
