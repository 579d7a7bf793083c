/**
 * Shrinking a failing fault schedule: delta debugging (Zeller's ddmin) over the list of faults,
 * then each remaining fault made shorter while the run still fails. The workload and the network
 * randomness stay those of the seed, so the result replays with `--seed N --faults '<list>'`.
 *
 * "Still fails" means: fails one of the invariants the original run broke (a different failure
 * found on the way is not the bug being shrunk).
 */
import type { Fault } from './scenario.js';

export interface ShrinkResult {
  readonly faults: readonly Fault[];
  /** Runs spent shrinking. */
  readonly runs: number;
}

export type FailsWith = (faults: readonly Fault[]) => Promise<boolean>;

/** ddmin: a 1-minimal sublist of `faults` for which `fails` still holds (within `budget` runs). */
export async function shrinkFaults(faults: readonly Fault[], fails: FailsWith, budget = 150): Promise<ShrinkResult> {
  let runs = 0;
  const test = async (candidate: readonly Fault[]) => {
    runs++;
    return fails(candidate);
  };
  let current = [...faults];
  if (current.length > 0 && (await test([]))) return { faults: [], runs };
  let granularity = 2;
  while (current.length >= 2 && runs < budget) {
    const chunk = Math.ceil(current.length / granularity);
    const chunks = Array.from({ length: Math.ceil(current.length / chunk) }, (_, i) => current.slice(i * chunk, (i + 1) * chunk));
    let reduced = false;
    for (let i = 0; i < chunks.length && runs < budget; i++) {
      const subset = chunks[i] as Fault[];
      if (subset.length < current.length && (await test(subset))) {
        current = subset;
        granularity = 2;
        reduced = true;
        break;
      }
      const complement = chunks.filter((_, j) => j !== i).flat();
      if (chunks.length > 2 && complement.length > 0 && (await test(complement))) {
        current = complement;
        granularity = Math.max(granularity - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (granularity >= current.length) break;
      granularity = Math.min(current.length, granularity * 2);
    }
  }
  // Shorter faults: halve each duration while the failure stays.
  for (let i = 0; i < current.length && runs < budget; i++) {
    for (;;) {
      const fault = current[i] as Fault;
      const shorter = shorten(fault);
      if (shorter === undefined || runs >= budget) break;
      const candidate = current.map((f, j) => (j === i ? shorter : f));
      if (!(await test(candidate))) break;
      current = candidate;
    }
  }
  return { faults: current, runs };
}

/** The fault with half its duration (undefined when it has none worth halving). */
function shorten(fault: Fault): Fault | undefined {
  if (fault.type === 'crash') {
    return fault.restartAfter !== undefined && fault.restartAfter >= 200 ? { ...fault, restartAfter: Math.floor(fault.restartAfter / 2) } : undefined;
  }
  if (!('for' in fault) || fault.for === undefined || fault.for < 200) return undefined;
  return { ...fault, for: Math.floor(fault.for / 2) };
}

/** A fault as a scenario file writes it (ranges as [least, most]), for a replay command. */
export function faultToInput(fault: Fault): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fault)) {
    if (value === undefined) continue;
    input[key] = typeof value === 'object' && value !== null && 'min' in value && 'max' in value ? [value.min, value.max] : value;
  }
  return input;
}
