/**
 * One participant's view of the run's virtual clock: its actor system and its simulated
 * operations set timers here, and the faults that act on a process's time act here.
 *
 * - skew: the clock runs at `rate` (0.5: a timer of 1 s takes 2 s of run time). Timers set before
 *   the change keep their due time.
 * - freeze (SIGSTOP): nothing this participant scheduled runs until thaw; then what fell due runs,
 *   late, in order.
 * - kill (a crash): nothing it scheduled ever runs again.
 */
import type { VirtualClock } from '../../adapters/simulated/virtualClock.js';

export class ParticipantClock {
  rate = 1;
  #frozen = false;
  #dead = false;
  readonly #deferred: (() => void)[] = [];

  constructor(private readonly shared: VirtualClock) {}

  setTimeout(fn: () => void, timeoutMs: number): unknown {
    const scaled = this.rate === 1 ? timeoutMs : Math.round(timeoutMs / this.rate);
    return this.shared.setTimeout(() => this.run(fn), scaled);
  }

  clearTimeout(id: unknown): void {
    this.shared.clearTimeout(id);
  }

  /** Runs `fn` now as this participant's code: deferred while frozen, never once killed. */
  run(fn: () => void): void {
    if (this.#dead) return;
    if (this.#frozen) this.#deferred.push(fn);
    else fn();
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  freeze(): void {
    this.#frozen = true;
  }

  thaw(): void {
    this.#frozen = false;
    for (const fn of this.#deferred.splice(0)) this.run(fn);
  }

  kill(): void {
    this.#dead = true;
    this.#deferred.length = 0;
  }
}
