/**
 * A recording `parentRef` for child machines and the task registry.
 *
 * Why a plain object and not an actor: children reach their parent in two ways, and both end in a
 * method call on the ref, never in a check that it is a real actor (xstate 5.33.3, verified in
 * dist/log-*.js and dist/raise-*.js):
 * - `sendTo(({ context }) => context.parentRef, ...)` resolves the ref, then (deferred) calls
 *   `system._relay(self, ref, event)`, which calls `ref._send(event)`;
 * - custom logic such as the task registry calls `parentRef.send(event)` directly.
 * So an object with `send` and `_send` that push onto an array records every event, synchronously,
 * in order, whichever actor system the sender lives in, and with no actor of its own to start or
 * stop. (A `fromCallback` actor would work too, but needs starting and a system.)
 */
import type { ActorRef, EventObject, Snapshot } from 'xstate';
import type { ProviderDraft } from '../../machines/messages.js';

export interface Recorder<TEvent extends EventObject> {
  /** Pass this as `parentRef` in an input. */
  readonly ref: ActorRef<Snapshot<unknown>, TEvent>;
  /** Every event received, in order. */
  readonly events: TEvent[];
  /** The events of one type, in order. */
  ofType<T extends TEvent['type']>(type: T): Extract<TEvent, { type: T }>[];
  /** Forgets what was recorded so far. */
  clear(): void;
}

export function createRecorder<TEvent extends EventObject>(): Recorder<TEvent> {
  const events: TEvent[] = [];
  const record = (event: TEvent): void => {
    events.push(event);
  };
  const ref = { id: 'recorder', send: record, _send: record } as unknown as ActorRef<Snapshot<unknown>, TEvent>;
  return {
    ref,
    events,
    ofType: <T extends TEvent['type']>(type: T) => events.filter((event) => event.type === type) as Extract<TEvent, { type: T }>[],
    clear: () => {
      events.length = 0;
    },
  };
}

/** A reply as the task registry sends it to its parent. */
export interface RecordedReply {
  readonly clientId: string;
  readonly draft: ProviderDraft;
}

/** The `registry.reply` drafts among recorded events, optionally only those about one task. */
export function repliesOf(events: readonly EventObject[], taskId?: string): RecordedReply[] {
  const replies: RecordedReply[] = [];
  for (const event of events) {
    if (event.type !== 'registry.reply') continue;
    const reply = event as unknown as RecordedReply;
    if (taskId === undefined || draftTaskId(reply.draft) === taskId) replies.push(reply);
  }
  return replies;
}

/** The task a provider draft is about (every task draft names it; Error may). */
export function draftTaskId(draft: ProviderDraft): string | undefined {
  return (draft.payload as { taskId?: string }).taskId;
}

/** A compact, readable form of a reply sequence: `Ack:Processing`, `TaskStatusUpdate:Processing:40`. */
export function summarize(draft: ProviderDraft): string {
  switch (draft.type) {
    case 'Ack':
      return `Ack:${draft.payload.status ?? ''}`;
    case 'TaskStatusUpdate':
      return `TaskStatusUpdate:${draft.payload.status}:${draft.payload.progressPercentage}`;
    case 'TaskResult':
      return 'TaskResult';
    case 'TaskFailed':
      return `TaskFailed:${draft.payload.errorCode}`;
    case 'Error':
      return `Error:${draft.payload.code}`;
    default:
      return draft.type;
  }
}
