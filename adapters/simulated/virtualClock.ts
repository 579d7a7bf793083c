/**
 * A virtual clock for long simulations: timers in a binary heap ordered by (dueAtMs, seq), fired
 * one at a time at exactly their due time.
 *
 * XState's SimulatedClock sorts every timeout on each flush and again whenever a callback sets a
 * timer, so a step costs O(n log n) in the timers alive; a simulation of many participants over
 * virtual hours spends most of its time there. This clock answers the same `setTimeout` /
 * `clearTimeout` / `now` interface (so it is an actor system's `clock` and the simulated network's)
 * with O(log n) per timer, and it can tell the next due time without reading private fields,
 * which lets a driver interleave other work (draining microtasks, injecting faults) between
 * timers. Equal due times fire in the order they were set.
 */
import { MinHeap } from './heap.js';

/** What the simulated network and an actor system need from a clock. */
export interface NetworkClock {
  now(): number;
  setTimeout(fn: () => void, timeoutMs: number): unknown;
  clearTimeout(id: unknown): void;
}

interface Timer {
  readonly id: number;
  readonly dueAtMs: number;
  readonly fn: () => void;
  cancelled: boolean;
}

function before(a: Timer, b: Timer): boolean {
  return a.dueAtMs < b.dueAtMs || (a.dueAtMs === b.dueAtMs && a.id < b.id);
}

export class VirtualClock implements NetworkClock {
  #now = 0;
  #nextId = 1;
  readonly #heap = new MinHeap<Timer>(before);
  readonly #live = new Map<number, Timer>();

  now(): number {
    return this.#now;
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.#live.size;
  }

  setTimeout(fn: () => void, timeoutMs: number): number {
    const delay = Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 0;
    const timer: Timer = { id: this.#nextId++, dueAtMs: this.#now + delay, fn, cancelled: false };
    this.#live.set(timer.id, timer);
    this.#heap.push(timer);
    return timer.id;
  }

  clearTimeout(id: unknown): void {
    const timer = this.#live.get(id as number);
    if (timer === undefined) return;
    timer.cancelled = true; // removed lazily when it reaches the top of the heap
    this.#live.delete(timer.id);
  }

  /** The due time of the earliest live timer, or undefined when none is set. */
  nextDueMs(): number | undefined {
    this.#dropCancelled();
    return this.#heap.peek()?.dueAtMs;
  }

  /**
   * Fires the earliest timer if it is due at or before `limitMs`, moving the clock to its due
   * time first. Returns whether one fired.
   */
  fireNext(limitMs: number): boolean {
    this.#dropCancelled();
    const top = this.#heap.peek();
    if (top === undefined || top.dueAtMs > limitMs) return false;
    this.#heap.pop();
    this.#live.delete(top.id);
    if (top.dueAtMs > this.#now) this.#now = top.dueAtMs;
    top.fn();
    return true;
  }

  /** Moves the clock to `targetMs` (absolute), firing every timer due by then at its own time. */
  advanceTo(targetMs: number): void {
    while (this.fireNext(targetMs));
    if (targetMs > this.#now) this.#now = targetMs;
  }

  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  #dropCancelled(): void {
    while ((this.#heap.peek() as Timer | undefined)?.cancelled === true) this.#heap.pop();
  }
}
