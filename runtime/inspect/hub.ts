/**
 * One actor system's inspection stream, shared by whoever watches it (the web UI, metrics, the
 * Stately bridge, the application's own observer).
 *
 * XState builds an inspection event only while someone observes the system, so the hub observes
 * it only while it has subscribers: a client or provider nobody watches pays nothing. A hub given
 * to `createActor` as `inspect` (because something watched from the start) also sees the root
 * actor's creation, which happens inside `createActor`; one attached later learns actors as
 * they act. A subscriber that throws is isolated: counted, never allowed to break the system.
 */
import type { AnyActorRef, InspectionEvent, Observer } from 'xstate';

export type InspectionListener = (event: InspectionEvent) => void;

export interface InspectionSource {
  /** Calls `listener` with every inspection event of the system; returns the unsubscribe. */
  subscribe(listener: InspectionListener): () => void;
}

export interface InspectionHub extends InspectionSource {
  /** The observer to pass as `createActor(..., { inspect })`. */
  readonly observer: Observer<InspectionEvent>;
  /**
   * The actor whose system this hub watches. `viaObserver`: `observer` was given to its
   * `createActor` (it already sees everything); otherwise the hub attaches to the system while it
   * has subscribers.
   */
  attach(actor: AnyActorRef, viaObserver: boolean): void;
  /** Subscriber exceptions caught so far. */
  readonly listenerErrors: number;
}

export function createInspectionHub(): InspectionHub {
  const listeners = new Set<InspectionListener>();
  let listenerErrors = 0;
  let actor: AnyActorRef | undefined;
  let viaObserver = false;
  let systemSubscription: { unsubscribe(): void } | undefined;
  const dispatch = (event: InspectionEvent) => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch {
        listenerErrors++;
      }
    }
  };
  const observer: Observer<InspectionEvent> = { next: dispatch };
  const sync = () => {
    if (actor === undefined || viaObserver) return;
    if (listeners.size > 0 && systemSubscription === undefined) systemSubscription = actor.system.inspect(dispatch);
    if (listeners.size === 0 && systemSubscription !== undefined) {
      systemSubscription.unsubscribe();
      systemSubscription = undefined;
    }
  };
  return {
    observer,
    get listenerErrors() {
      return listenerErrors;
    },
    attach(target, observed) {
      actor = target;
      viaObserver = observed;
      sync();
    },
    subscribe(listener) {
      listeners.add(listener);
      sync();
      return () => {
        listeners.delete(listener);
        sync();
      };
    },
  };
}
