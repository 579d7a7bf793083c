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
  readonly #heap: Timer[] = [];
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
    this.#push(timer);
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
    return this.#heap[0]?.dueAtMs;
  }

  /**
   * Fires the earliest timer if it is due at or before `limitMs`, moving the clock to its due
   * time first. Returns whether one fired.
   */
  fireNext(limitMs: number): boolean {
    this.#dropCancelled();
    const top = this.#heap[0];
    if (top === undefined || top.dueAtMs > limitMs) return false;
    this.#pop();
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
    while (this.#heap.length > 0 && (this.#heap[0] as Timer).cancelled) this.#pop();
  }

  #push(timer: Timer): void {
    const heap = this.#heap;
    heap.push(timer);
    let child = heap.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!before(heap[child] as Timer, heap[parent] as Timer)) return;
      [heap[child], heap[parent]] = [heap[parent] as Timer, heap[child] as Timer];
      child = parent;
    }
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop() as Timer;
    if (heap.length === 0) return;
    heap[0] = last;
    let parent = 0;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < heap.length && before(heap[left] as Timer, heap[smallest] as Timer)) smallest = left;
      if (right < heap.length && before(heap[right] as Timer, heap[smallest] as Timer)) smallest = right;
      if (smallest === parent) return;
      [heap[parent], heap[smallest]] = [heap[smallest] as Timer, heap[parent] as Timer];
      parent = smallest;
    }
  }
}
