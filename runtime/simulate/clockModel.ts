/**
 * How much time a participant's own clock saw between two instants of run time: frozen intervals
 * (SIGSTOP) count for nothing, skewed ones at their rate. Built from the fault observations of a
 * history, so the checker measures each bound on the clock whose timer enforces it.
 */
import type { Observation } from './history.js';
import { resolveTarget, type Plan } from './plan.js';

interface Segment {
  readonly from: number;
  /** Clock speed from `from` on: 0 while frozen. */
  readonly rate: number;
}

export class ClockModel {
  readonly #segments = new Map<string, Segment[]>();

  constructor(plan: Pick<Plan, 'participants'>, history: readonly Observation[]) {
    const state = new Map<string, { frozen: boolean; rate: number }>();
    const change = (name: string, t: number, patch: Partial<{ frozen: boolean; rate: number }>) => {
      const current = { ...(state.get(name) ?? { frozen: false, rate: 1 }), ...patch };
      state.set(name, current);
      const segments = this.#segments.get(name) ?? [];
      segments.push({ from: t, rate: current.frozen ? 0 : current.rate });
      this.#segments.set(name, segments);
    };
    for (const observation of history) {
      if (observation.type === 'heal') {
        for (const name of state.keys()) change(name, observation.t, { frozen: false, rate: 1 });
        continue;
      }
      if (observation.type === 'down') {
        // A crashed process is not frozen any more: its next incarnation starts running.
        if (state.get(observation.participant)?.frozen === true) change(observation.participant, observation.t, { frozen: false });
        continue;
      }
      if (observation.type !== 'fault' || observation.skipped === true) continue;
      const { fault, undo = false } = observation;
      if (fault.type !== 'freeze' && fault.type !== 'skew') continue;
      const names = fault.target === '*' ? plan.participants.map((p) => p.name) : resolveTarget(plan, fault.target).map((p) => p.name);
      for (const name of names) {
        if (fault.type === 'freeze') change(name, observation.t, { frozen: !undo });
        else change(name, observation.t, { rate: undo ? 1 : fault.rate });
      }
    }
  }

  /** Milliseconds `participant`'s clock advanced between run times `from` and `to`. */
  elapsed(participant: string, from: number, to: number): number {
    const segments = this.#segments.get(participant);
    if (segments === undefined) return to - from;
    let total = 0;
    let rate = 1;
    let cursor = from;
    for (const segment of segments) {
      if (segment.from <= from) {
        rate = segment.rate;
        continue;
      }
      if (segment.from >= to) break;
      total += (segment.from - cursor) * rate;
      cursor = segment.from;
      rate = segment.rate;
    }
    return total + (to - cursor) * rate;
  }
}
