/**
 * What createClient and createProvider do with their `inspect` option, and the inspection hub
 * every watcher (the web UI, metrics, the Stately bridge, an application observer) subscribes to.
 *
 * `inspect` is an XState observer (or function), `'stately'` (the Stately inspector through a
 * local relay, see ./stately.ts), or `{ stately: { port, ... } }`.
 */
import type { AnyActorRef, InspectionEvent, Observer } from 'xstate';
import type { Logger } from '../service.js';
import { createInspectionHub, type InspectionHub } from './hub.js';
import { statelyInspection, type StatelyInspection, type StatelyInspectOptions } from './stately.js';

export type InspectOption =
  | Observer<InspectionEvent>
  | ((event: InspectionEvent) => void)
  | 'stately'
  | { readonly stately: StatelyInspectOptions };

export interface Observation {
  readonly hub: InspectionHub;
  /** The `inspect` to give createActor (only when something watches from the start). */
  readonly inspect: Observer<InspectionEvent> | undefined;
  readonly stately: StatelyInspection | undefined;
  /** Call once the actor exists. */
  attach(actor: AnyActorRef): void;
  close(): Promise<void>;
}

function statelyOptionsOf(option: InspectOption | undefined): StatelyInspectOptions | undefined {
  if (option === 'stately') return {};
  if (typeof option === 'object' && option !== null && 'stately' in option) return option.stately;
  return undefined;
}

/**
 * @param watchedFromStart something else (ui, metrics) subscribes before the actor starts, so
 *   the hub must see the root actor's creation too.
 */
export function createObservation(option: InspectOption | undefined, watchedFromStart: boolean, log: Logger | undefined): Observation {
  const hub = createInspectionHub();
  const statelyOptions = statelyOptionsOf(option);
  const stately = statelyOptions === undefined ? undefined : statelyInspection(statelyOptions, log);
  const unsubscribe: Array<() => void> = [];
  if (stately) unsubscribe.push(hub.subscribe((event) => stately.observer.next?.(event)));
  else if (typeof option === 'function') unsubscribe.push(hub.subscribe(option));
  else if (typeof option === 'object' && option !== null && !('stately' in option)) {
    const observer = option;
    unsubscribe.push(hub.subscribe((event) => observer.next?.(event)));
  }
  const fromStart = watchedFromStart || option !== undefined;
  return {
    hub,
    inspect: fromStart ? hub.observer : undefined,
    stately,
    attach: (actor) => hub.attach(actor, fromStart),
    async close() {
      await stately?.close();
      unsubscribe.forEach((stop) => stop());
    },
  };
}
