/**
 * Random fault schedules: `random: { faults: N, kinds, longest }` in a scenario draws N faults per
 * run from the run's seed (the same seed, the same schedule). Each fault starts somewhere in the
 * first 80% of the fault phase and lasts up to `longest`, so the run also sees the system recover
 * before the final heal.
 */
import { Prng } from '../../adapters/simulated/prng.js';
import type { PlannedParticipant } from './plan.js';
import type { Fault, RandomFaultKind } from './scenario.js';

const DEFAULT_KINDS: readonly RandomFaultKind[] = ['partition', 'link', 'crash'];

export interface RandomFaultOptions {
  readonly faults: number;
  readonly kinds?: readonly RandomFaultKind[] | undefined;
  readonly longest?: number | undefined;
}

function pick<T>(prng: Prng, items: readonly T[]): T {
  return items[prng.integer(0, items.length - 1)] as T;
}

/** Two non-empty groups drawn at random (each participant on either side). */
function split(prng: Prng, names: readonly string[]): [string[], string[]] {
  const shuffled = [...names];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = prng.integer(0, i);
    [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
  }
  const cut = prng.integer(1, shuffled.length - 1);
  return [shuffled.slice(0, cut).sort(), shuffled.slice(cut).sort()];
}

export function randomFaults(options: RandomFaultOptions, participants: readonly PlannedParticipant[], phaseMs: number, seed: number): Fault[] {
  const prng = new Prng(seed);
  const kinds = options.kinds ?? DEFAULT_KINDS;
  const longest = Math.max(1, options.longest ?? Math.floor(phaseMs / 4));
  const names = participants.map((participant) => participant.name);
  const providers = participants.filter((participant) => participant.kind === 'provider').map((p) => p.name);
  const faults: Fault[] = [];
  for (let n = 0; n < options.faults; n++) {
    const kind = pick(prng, kinds);
    const at = prng.integer(0, Math.max(0, Math.floor(phaseMs * 0.8)));
    const lasting = prng.integer(Math.max(1, Math.floor(longest / 10)), longest);
    switch (kind) {
      case 'partition': {
        if (names.length < 2) break;
        faults.push({ type: 'partition', at, for: lasting, groups: split(prng, names), oneWay: prng.chance(0.3) });
        break;
      }
      case 'link': {
        if (names.length < 2) break;
        const from = pick(prng, names);
        const to = pick(prng, names.filter((name) => name !== from));
        const least = prng.integer(1, 50);
        faults.push({
          type: 'link',
          at,
          for: lasting,
          from,
          to,
          loss: pick(prng, [0, 0.1, 0.3, 0.6]),
          duplicate: pick(prng, [0, 0.1, 0.3]),
          reorder: pick(prng, [0, 0.2]),
          delay: { min: least, max: least + prng.integer(0, 400) },
        });
        break;
      }
      case 'crash':
        faults.push({ type: 'crash', at, target: pick(prng, prng.chance(0.8) ? providers : names), restartAfter: lasting });
        break;
      case 'stall':
      case 'freeze':
        faults.push({ type: kind, at, for: lasting, target: pick(prng, names) });
        break;
      case 'skew':
        faults.push({ type: 'skew', at, for: lasting, target: pick(prng, names), rate: pick(prng, [0.5, 0.8, 1.25, 2]) });
        break;
    }
  }
  return faults;
}
