/**
 * The runtime's supervisor (SEC-21): an unexpected error in any actor becomes a logged, coded
 * failure of that one session or task, never of the process.
 *
 * Why it is needed: XState turns a throw inside an actor's transition into the actor's `error`
 * status; a machine that does not handle a child's `xstate.error.actor.*` event errors in turn,
 * and an error that reaches the root actor with no error observer is rethrown in a separate
 * macrotask (`reportUnhandledError`), which ends a Node process. A single malformed-but-valid
 * message that trips a bug would then lose every client's tasks.
 *
 * Three layers, from the inside out:
 * - `machine(logic, name, recover)`: wraps a logic's `transition`. A throw is logged with a fresh
 *   errorId and the actor, instead of failing, processes `recover(errorId, event)` from the
 *   snapshot it had before (the session closes itself with Error INTERNAL_ERROR and 1011; a task
 *   fails INTERNAL_ERROR; the registry fails the one task the event was about). With no recovery
 *   event the offending event is dropped. A throw while recovering fails the actor, which its
 *   parent handles (machines/provider.ts, machines/client.ts: `xstate.error.actor.*`).
 * - `effect(logic, name)`: wraps an effect (callback or promise logic: a handler, a transport, a
 *   policy). A throw at creation, at start or while handling a command, or a rejected promise, is logged with
 *   a fresh errorId and becomes a coded INTERNAL_ERROR carrying only that id, so whatever the parent tells a peer
 *   (machines/providerTask.ts failureFromThrown, sessionRules.rejectionFromError) holds no text
 *   of the original error (SEC-11).
 * - `root(actor, name)`: an error observer on the root actor, so nothing ever reaches XState's
 *   unhandled-error path; and `listener(fn)`, for the application's own event listeners.
 *
 * The wrapper keeps everything else of the logic (its id, states, implementations): inspection
 * still identifies a participant by `actorRef.logic.id` (see CONTRACTS.md). It is also marked
 * with what it does (machines/host/supervision.ts), so that a host running tasks without an actor
 * each (a task table) supervises their steps and their handlers the same way.
 */
import type { AnyActorLogic, AnyActorRef, EventObject } from 'xstate';
import { ERROR_CODES } from '../machines/errors.js';
import { markSupervised } from '../machines/host/supervision.js';
import type { Logger } from './service.js';

export interface SupervisorOptions {
  readonly log: Logger;
  /** A fresh id per fault (the errorId a peer sees and the log line carries). */
  readonly newId: () => string;
}

/** Builds the event an actor processes instead of the one whose handling threw. */
export type Recovery = (errorId: string, event: EventObject) => EventObject | undefined;

/** What an effect's throw becomes: a coded error carrying nothing but its errorId. */
export class InternalFault extends Error {
  override readonly name = 'InternalFault';
  readonly code = 'INTERNAL_ERROR';
  readonly errorId: string;
  constructor(errorId: string) {
    super(`${ERROR_CODES.INTERNAL_ERROR} (errorId ${errorId})`);
    this.errorId = errorId;
  }
}

export interface Supervisor {
  /** Logs `cause` with a fresh errorId and returns the id. */
  fault(where: string, cause: unknown, detail?: Record<string, unknown>): string;
  machine<T extends AnyActorLogic>(logic: T, name: string, recover?: Recovery): T;
  effect<T extends AnyActorLogic>(logic: T, name: string): T;
  /** Observes the root actor's error (logged; the process lives on). */
  root(actor: AnyActorRef, name: string): void;
  /** The application's listener, its throws logged instead of rethrown by XState. */
  listener<A extends unknown[]>(name: string, fn: (...args: A) => void): (...args: A) => void;
}

/** What the log says about an event, without its payload (which may hold parameters or keys). */
function eventSummary(event: EventObject): Record<string, unknown> {
  const summary: Record<string, unknown> = { event: event.type };
  const { clientId, connectionId, taskId, message } = event as { clientId?: unknown; connectionId?: unknown; taskId?: unknown; message?: unknown };
  if (typeof clientId === 'string') summary.clientId = clientId;
  if (typeof connectionId === 'string') summary.connectionId = connectionId;
  if (typeof taskId === 'string') summary.taskId = taskId;
  const wire = message as { type?: unknown; payload?: { taskId?: unknown } } | undefined;
  if (typeof wire?.type === 'string') summary.messageType = wire.type;
  if (typeof wire?.payload?.taskId === 'string') summary.taskId = wire.payload.taskId;
  return summary;
}

/** A logic like `logic` whose listed methods go through `wrap` (the rest is inherited). */
function derived<T extends AnyActorLogic>(logic: T, methods: Partial<Record<'transition' | 'start' | 'getInitialSnapshot', (...args: never[]) => unknown>>): T {
  const wrapper = Object.create(logic) as T;
  Object.assign(wrapper, methods);
  return wrapper;
}

export function createSupervisor({ log, newId }: SupervisorOptions): Supervisor {
  const fault: Supervisor['fault'] = (where, cause, detail = {}) => {
    const errorId = newId();
    try {
      log('error', `${where}: unexpected error (errorId ${errorId})`, { ...detail, errorId, error: cause });
    } catch {
      // A failing logger must not turn a contained fault into an uncontained one.
    }
    return errorId;
  };

  return {
    fault,
    machine(logic, name, recover) {
      const transition = logic.transition;
      const supervision = { fault: (cause: unknown, event: EventObject) => fault(name, cause, eventSummary(event)), recover };
      const wrapper = derived(logic, {
        transition(this: AnyActorLogic, snapshot: unknown, event: EventObject, scope: unknown) {
          let cause: unknown;
          try {
            const next = transition.call(this, snapshot as never, event as never, scope as never) as { status?: unknown; error?: unknown };
            // A machine that does not handle a child's failure fails with it (no throw): the last
            // resort for a root actor, since the machines handle the failures they expect.
            if (next?.status !== 'error' || (snapshot as { status?: unknown })?.status !== 'active') return next;
            cause = next.error;
          } catch (thrown) {
            cause = thrown;
          }
          const errorId = fault(name, cause, eventSummary(event));
          const replacement = recover?.(errorId, event);
          if (replacement === undefined) return snapshot;
          return transition.call(this, snapshot as never, replacement as never, scope as never);
        },
      } as never);
      return markSupervised(wrapper, supervision);
    },
    effect(logic, name) {
      const transition = logic.transition;
      const start = logic.start;
      const contain = (cause: unknown, detail: Record<string, unknown>): InternalFault =>
        cause instanceof InternalFault ? cause : new InternalFault(fault(name, cause, detail));
      const rethrow = (cause: unknown, detail: Record<string, unknown>): never => {
        throw contain(cause, detail);
      };
      const getInitialSnapshot = logic.getInitialSnapshot;
      const wrapper = derived(logic, {
        // A policy decided synchronously (runtime/decided.ts) runs here: a throw would fail the actor.
        getInitialSnapshot(this: AnyActorLogic, scope: unknown, input: unknown) {
          try {
            return getInitialSnapshot.call(this, scope as never, input as never);
          } catch (cause) {
            return rethrow(cause, { event: 'init' });
          }
        },
        transition(this: AnyActorLogic, snapshot: unknown, event: EventObject, scope: unknown) {
          let next: { status?: unknown; error?: unknown };
          try {
            next = transition.call(this, snapshot as never, event as never, scope as never);
          } catch (cause) {
            return rethrow(cause, eventSummary(event));
          }
          // A promise logic fails by returning an error snapshot (its promise rejected), not by
          // throwing: log that cause too, and pass on only the coded fault.
          if (next?.status === 'error' && !(next.error instanceof InternalFault) && (snapshot as { status?: unknown })?.status !== 'error') {
            return { ...next, error: new InternalFault(fault(name, next.error, eventSummary(event))) };
          }
          return next;
        },
        ...(start === undefined
          ? {}
          : {
              start(this: AnyActorLogic, snapshot: unknown, scope: unknown) {
                try {
                  return start.call(this, snapshot as never, scope as never);
                } catch (cause) {
                  return rethrow(cause, { event: 'start' });
                }
              },
            }),
      } as never);
      return markSupervised(wrapper, {
        fault: (cause: unknown, event: EventObject) => fault(name, cause, eventSummary(event)),
        contain: (cause: unknown, event: EventObject) => contain(cause, eventSummary(event)),
      });
    },
    root(actor, name) {
      actor.subscribe({ error: (cause: unknown) => void fault(`${name} (root actor stopped)`, cause) });
    },
    listener(name, fn) {
      return (...args) => {
        try {
          fn(...args);
        } catch (cause) {
          fault(`${name} listener`, cause);
        }
      };
    },
  };
}
