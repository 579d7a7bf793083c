/**
 * A stateful wrapper over the pure PRNG of machines/random.ts, for the simulated network.
 *
 * The network keeps one stream per kind of choice (loss, duplication, delay, ids), each derived
 * from the run's seed with deriveSeed, and draws a FIXED number of values per decision whatever
 * the fault settings (TigerBeetle's VOPR does the same with its sub-PRNGs). So turning loss on or
 * off does not shift the delays of the other deliveries, and one seed reproduces a whole run.
 */
import { deriveSeed, nextRandom, type RandomState } from '../../machines/random.js';

export class Prng {
  #state: RandomState;

  constructor(seed: number) {
    this.#state = seed | 0;
  }

  /** An independent stream for `label`, derived from `seed`. */
  static derive(seed: number, label: string): Prng {
    return new Prng(deriveSeed(seed | 0, label));
  }

  /** A float in [0, 1). */
  next(): number {
    const [value, state] = nextRandom(this.#state);
    this.#state = state;
    return value;
  }

  /** True with probability `probability` (0 never, 1 always). Always draws exactly one value. */
  chance(probability: number): boolean {
    return this.next() < probability;
  }

  /** A uniform integer in [min, max] (both integers, min <= max). Always draws exactly one value. */
  integer(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** 32 random bits as 8 lowercase hex digits. */
  hex32(): string {
    return Math.floor(this.next() * 4_294_967_296)
      .toString(16)
      .padStart(8, '0');
  }
}
