/**
 * The simulated network's in-flight queue: deliveries ordered by (dueAtMs, seq), drained from the
 * shared clock.
 *
 * Why our own queue: SimulatedClock orders its timeouts with a comparator that never returns 0, so
 * equal deadlines come out in insertion order only because Array.prototype.sort is stable (STYLE,
 * "Verified XState facts"). We keep at most ONE clock timeout, for the earliest due time, and
 * deliver everything due in (dueAtMs, seq) order ourselves, so the order is ours by construction.
 *
 * A binary min-heap: O(log n) push and pop, bounded by `sizeMax`.
 */
import type { NetworkClock } from './virtualClock.js';

export interface QueuedDelivery {
  readonly dueAtMs: number;
  /** Insertion order: breaks ties between equal due times (first in, first out). */
  readonly seq: number;
  readonly run: () => void;
}

function before(a: QueuedDelivery, b: QueuedDelivery): boolean {
  return a.dueAtMs < b.dueAtMs || (a.dueAtMs === b.dueAtMs && a.seq < b.seq);
}

/** Deliveries in one drain (one instant) beyond which we call it a livelock and throw. */
export const DELIVERIES_PER_INSTANT_MAX = 1_000_000;

export class DeliveryQueue {
  readonly #clock: NetworkClock;
  readonly #sizeMax: number;
  readonly #heap: QueuedDelivery[] = [];
  #seq = 0;
  /** The one clock timeout we hold, for the earliest due time. */
  #timer: { readonly id: unknown; readonly dueAtMs: number } | undefined;
  #draining = false;

  constructor(clock: NetworkClock, sizeMax: number) {
    this.#clock = clock;
    this.#sizeMax = sizeMax;
  }

  get size(): number {
    return this.#heap.length;
  }

  /**
   * Queues `run` for `dueAtMs` (clamped to now). Returns false, queueing nothing, when the queue
   * is full. Deliveries pushed while draining with a due time of now run in the same drain.
   */
  push(dueAtMs: number, run: () => void): boolean {
    if (this.#heap.length >= this.#sizeMax) return false;
    const item: QueuedDelivery = { dueAtMs: Math.max(dueAtMs, this.#clock.now()), seq: this.#seq++, run };
    this.#heap.push(item);
    this.#siftUp(this.#heap.length - 1);
    if (!this.#draining) this.#schedule();
    return true;
  }

  /** (Re)arms the clock timeout when the earliest due time changed. */
  #schedule(): void {
    const earliest = this.#heap[0];
    if (this.#timer !== undefined && earliest?.dueAtMs === this.#timer.dueAtMs) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer.id);
    this.#timer = undefined;
    if (earliest === undefined) return;
    const id = this.#clock.setTimeout(() => this.#drain(), Math.max(0, earliest.dueAtMs - this.#clock.now()));
    this.#timer = { id, dueAtMs: earliest.dueAtMs };
  }

  #drain(): void {
    this.#timer = undefined;
    this.#draining = true;
    try {
      let delivered = 0;
      while (this.#heap.length > 0 && (this.#heap[0] as QueuedDelivery).dueAtMs <= this.#clock.now()) {
        if (++delivered > DELIVERIES_PER_INSTANT_MAX) {
          throw new Error(`switchboard: simulated network: more than ${DELIVERIES_PER_INSTANT_MAX} deliveries at t=${this.#clock.now()} ms (zero-delay livelock?)`);
        }
        this.#pop().run();
      }
    } finally {
      this.#draining = false;
      this.#schedule();
    }
  }

  #pop(): QueuedDelivery {
    const heap = this.#heap;
    const top = heap[0] as QueuedDelivery;
    const last = heap.pop() as QueuedDelivery;
    if (heap.length > 0) {
      heap[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    let child = index;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!before(heap[child] as QueuedDelivery, heap[parent] as QueuedDelivery)) return;
      [heap[child], heap[parent]] = [heap[parent] as QueuedDelivery, heap[child] as QueuedDelivery];
      child = parent;
    }
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    let parent = index;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < heap.length && before(heap[left] as QueuedDelivery, heap[smallest] as QueuedDelivery)) smallest = left;
      if (right < heap.length && before(heap[right] as QueuedDelivery, heap[smallest] as QueuedDelivery)) smallest = right;
      if (smallest === parent) return;
      [heap[parent], heap[smallest]] = [heap[smallest] as QueuedDelivery, heap[parent] as QueuedDelivery];
      parent = smallest;
    }
  }
}
