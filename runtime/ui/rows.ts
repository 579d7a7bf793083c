/**
 * The rows the web UI shows, as sent to the browser (plain JSON). Shared by the server
 * (runtime/ui/model.ts) and the page (runtime/ui/web/), so both agree on every field.
 */
import type { Capability } from '../../machines/capabilities.js';

/** A service instance as the client's repository sees it; kept a while after it ends. */
export interface ServiceRow {
  readonly serviceId: string;
  readonly serviceName: string;
  readonly serviceVersion: string;
  readonly endpoint: string;
  readonly status: string;
  readonly load: number;
  /** alive / suspect while in the repository; expired (no heartbeat) or gone (goodbye) after. */
  readonly health: 'alive' | 'suspect' | 'expired' | 'gone';
  readonly capabilities: readonly Capability[];
  /** Epoch ms of the last advertisement heard (undefined before the UI heard one). */
  readonly lastHeardMs: number | undefined;
  /** Epoch ms when the client learned of it (for the page's own latency figure). */
  readonly learnedAtMs: number;
  readonly endedAtMs: number | undefined;
}

export type TaskSide = 'client' | 'provider';

export interface TaskRow {
  /** `<side>:<clientId>/<taskId>` */
  readonly key: string;
  readonly side: TaskSide;
  readonly taskId: string;
  readonly clientId: string;
  readonly serviceName: string;
  readonly operation: string;
  readonly endpoint: string | undefined;
  /** The task machine's state, leaf states joined: `active.lifecycle.accepted.processing`. */
  readonly state: string;
  readonly status: 'Submitted' | 'Queued' | 'Processing' | 'Cancelling' | 'Completed' | 'Failed' | 'Cancelled';
  readonly progressPercentage: number;
  readonly message: string | undefined;
  readonly etaSeconds: number | undefined;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly endedAtMs: number | undefined;
  readonly errorCode: string | undefined;
  readonly errorMessage: string | undefined;
  /** The task's actor (or stand-in) in the statecharts view. */
  readonly actor: string | undefined;
}

export interface HistoryEntry {
  readonly atMs: number;
  readonly side: TaskSide;
  readonly kind: 'state' | 'sent' | 'received' | 'event' | 'progress' | 'settled';
  readonly title: string;
  readonly detail?: unknown;
}

export interface ActorRow {
  readonly sessionId: string;
  readonly id: string;
  readonly kind: string;
  readonly parent: string | undefined;
  /** What it is about: an endpoint, a serviceId, a taskId, a clientId. */
  readonly label: string;
  readonly value: unknown;
  readonly status: string;
  readonly lastEvent: string | undefined;
  readonly updatedAtMs: number;
}

/** The page's view of one actor's transition (the statecharts view animates it). */
export interface TransitionNote {
  readonly sessionId: string;
  readonly event: string;
  readonly value: unknown;
  readonly status: string;
  readonly atMs: number;
}

export interface Participants {
  readonly clientId: string | undefined;
  readonly providerId: string | undefined;
  readonly providerEndpoint: string | undefined;
}

/** Server -> page over /api/live. */
export type LiveMessage =
  | { readonly type: 'hello'; readonly participants: Participants; readonly services: readonly ServiceRow[]; readonly tasks: readonly TaskRow[]; readonly actors: readonly ActorRow[]; readonly sentAtMs: number }
  | {
      readonly type: 'delta';
      readonly services: readonly ServiceRow[];
      readonly tasks: readonly TaskRow[];
      readonly tasksRemoved: readonly string[];
      readonly actors: readonly ActorRow[];
      readonly actorsRemoved: readonly string[];
      readonly transitions: readonly TransitionNote[];
      readonly history: readonly { readonly correlationId: string; readonly entries: readonly HistoryEntry[] }[];
      readonly sentAtMs: number;
    };

/** Page -> server over /api/live. */
export type LiveRequest =
  | { readonly type: 'watchActor'; readonly sessionId: string | null }
  | { readonly type: 'watchTask'; readonly correlationId: string | null };

export const correlationOfKey = (key: string): string => key.slice(key.indexOf(':') + 1);
