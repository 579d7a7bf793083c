/**
 * Time spent in each statechart state, for every participant, derived from the inspection stream:
 * each snapshot's state value gives the states an actor is in (ancestors included); a state left
 * adds the time since it was entered. The label sets come from the machine definitions
 * (runtime/inspect/charts.ts), so every state of every machine is exported, at 0 until entered.
 */
import type { StateValue } from 'xstate';
import type { InspectedActor } from '../inspect/kinds.js';
import { chartOfKind, participantMachines, statePathsOf } from '../inspect/charts.js';

export interface StateTimeSink {
  /** `seconds` more spent in `state` of `machine`. */
  spent(machine: string, state: string, seconds: number): void;
  entered(machine: string, state: string): void;
  /** Actors now in the state: +1 or -1. */
  occupancy(machine: string, state: string, delta: 1 | -1): void;
}

interface Tracked {
  readonly machine: string;
  states: Map<string, number>; // state path -> entered at (seconds)
}

export interface StateTimeTracker {
  /** A snapshot of `actor` (a participant of kind `machine`); `done` ends its tracking. */
  snapshot(actor: InspectedActor, machine: string, value: StateValue | undefined, done: boolean): void;
  /** The actor was stopped (no final snapshot will come). */
  stopped(actor: InspectedActor): void;
  /** Adds the time spent so far in every current state (before a scrape). */
  flush(): void;
  readonly tracked: number;
}

/** Every (machine, state) pair of the participants' definitions. */
export function chartedStates(): Array<{ machine: string; state: string }> {
  return Object.keys(participantMachines).flatMap((machine) =>
    (chartOfKind(machine)?.states ?? []).map((state) => ({ machine, state })),
  );
}

export function createStateTimeTracker(sink: StateTimeSink, now: () => number, trackedMax = 200_000): StateTimeTracker {
  const actors = new Map<InspectedActor, Tracked>();
  const leave = (entry: Tracked, state: string, at: number, time: number) => {
    sink.spent(entry.machine, state, Math.max(0, time - at));
    sink.occupancy(entry.machine, state, -1);
  };
  const end = (actor: InspectedActor) => {
    const entry = actors.get(actor);
    if (!entry) return;
    const time = now();
    for (const [state, at] of entry.states) leave(entry, state, at, time);
    actors.delete(actor);
  };
  return {
    get tracked() {
      return actors.size;
    },
    snapshot(actor, machine, value, done) {
      let entry = actors.get(actor);
      if (entry === undefined) {
        if (done || actors.size >= trackedMax) return;
        entry = { machine, states: new Map() };
        actors.set(actor, entry);
      }
      const time = now();
      const next = new Set(statePathsOf(value));
      for (const [state, at] of entry.states) {
        if (!next.has(state)) {
          leave(entry, state, at, time);
          entry.states.delete(state);
        }
      }
      for (const state of next) {
        if (entry.states.has(state)) continue;
        entry.states.set(state, time);
        sink.entered(machine, state);
        sink.occupancy(machine, state, 1);
      }
      if (done) end(actor);
    },
    stopped: end,
    flush() {
      const time = now();
      for (const entry of actors.values()) {
        for (const [state, at] of entry.states) {
          sink.spent(entry.machine, state, Math.max(0, time - at));
          entry.states.set(state, time);
        }
      }
    },
  };
}
