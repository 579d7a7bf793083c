/**
 * One participant's view of the run's virtual clock: its actor system and its simulated
 * operations set timers here, and the faults that act on a process's time act here.
 *
 * - skew: the clock runs at `rate` (0.5: a timer of 1 s takes 2 s of run time). A change of rate
 *   applies to the timers already set too, as a clock that speeds up fires them all sooner.
 * - freeze (SIGSTOP): nothing this participant scheduled runs until thaw; then what fell due runs
 *   at once, in order (as Node's timers do after SIGCONT: the monotonic clock kept going).
 * - kill (a crash): nothing it scheduled ever runs again.
 */
import type { VirtualClock } from '../../adapters/simulated/virtualClock.js';

interface Pending {
  readonly fn: () => void;
  /** Run time the current shared timer was set at, and the local time it still had to wait then. */
  setAtMs: number;
  remainingMs: number;
  sharedId: unknown;
}

export class ParticipantClock {
  #rate = 1;
  #frozen = false;
  #dead = false;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  /** What fell due while frozen; a timer's entry keeps its id, so clearing it still works. */
  readonly #deferred: { readonly id: number | undefined; readonly fn: () => void }[] = [];

  constructor(private readonly shared: VirtualClock) {}

  get rate(): number {
    return this.#rate;
  }

  /** Changes the clock's speed; pending timers keep the local time they had left. */
  set rate(rate: number) {
    if (rate === this.#rate) return;
    const now = this.shared.now();
    for (const [id, pending] of this.#pending) {
      const left = Math.max(0, pending.remainingMs - (now - pending.setAtMs) * this.#rate);
      this.shared.clearTimeout(pending.sharedId);
      pending.setAtMs = now;
      pending.remainingMs = left;
      pending.sharedId = this.shared.setTimeout(() => this.#fire(id), Math.round(left / rate));
    }
    this.#rate = rate;
  }

  setTimeout(fn: () => void, timeoutMs: number): unknown {
    const id = this.#nextId++;
    const remainingMs = Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 0;
    const sharedId = this.shared.setTimeout(() => this.#fire(id), this.#rate === 1 ? remainingMs : Math.round(remainingMs / this.#rate));
    this.#pending.set(id, { fn, setAtMs: this.shared.now(), remainingMs, sharedId });
    return id;
  }

  clearTimeout(id: unknown): void {
    const pending = this.#pending.get(id as number);
    if (pending === undefined) {
      const index = this.#deferred.findIndex((entry) => entry.id === id);
      if (index >= 0) this.#deferred.splice(index, 1);
      return;
    }
    this.shared.clearTimeout(pending.sharedId);
    this.#pending.delete(id as number);
  }

  /** Runs `fn` now as this participant's code: deferred while frozen, never once killed. */
  run(fn: () => void, id?: number): void {
    if (this.#dead) return;
    if (this.#frozen) this.#deferred.push({ id, fn });
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
    while (this.#deferred.length > 0 && !this.#frozen) {
      const entry = this.#deferred.shift() as { id: number | undefined; fn: () => void };
      this.run(entry.fn, entry.id);
    }
  }

  kill(): void {
    this.#dead = true;
    this.#deferred.length = 0;
    for (const pending of this.#pending.values()) this.shared.clearTimeout(pending.sharedId);
    this.#pending.clear();
  }

  #fire(id: number): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    this.run(pending.fn, id);
  }
}
