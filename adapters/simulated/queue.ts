/**
 * The simulated network's in-flight queue: deliveries ordered by (dueAtMs, seq), drained from the
 * shared clock.
 *
 * Why our own queue: SimulatedClock orders its timeouts with a comparator that never returns 0, so
 * equal deadlines come out in insertion order only because Array.prototype.sort is stable (STYLE,
 * "Verified XState facts"). We keep at most ONE clock timeout, for the earliest due time, and
 * deliver everything due in (dueAtMs, seq) order ourselves, so the order is ours by construction.
 *
 * A binary min-heap (./heap.ts): O(log n) push and pop, bounded by `sizeMax`.
 */
import { MinHeap } from './heap.js';
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
  readonly #heap = new MinHeap<QueuedDelivery>(before);
  #seq = 0;
  /** The one clock timeout we hold, for the earliest due time. */
  #timer: { readonly id: unknown; readonly dueAtMs: number } | undefined;
  #draining = false;

  constructor(clock: NetworkClock, sizeMax: number) {
    this.#clock = clock;
    this.#sizeMax = sizeMax;
  }

  get size(): number {
    return this.#heap.size;
  }

  /**
   * Queues `run` for `dueAtMs` (clamped to now). Returns false, queueing nothing, when the queue
   * is full. Deliveries pushed while draining with a due time of now run in the same drain.
   */
  push(dueAtMs: number, run: () => void): boolean {
    if (this.#heap.size >= this.#sizeMax) return false;
    this.#heap.push({ dueAtMs: Math.max(dueAtMs, this.#clock.now()), seq: this.#seq++, run });
    if (!this.#draining) this.#schedule();
    return true;
  }

  /** (Re)arms the clock timeout when the earliest due time changed. */
  #schedule(): void {
    const earliest = this.#heap.peek();
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
      while ((this.#heap.peek()?.dueAtMs ?? Number.POSITIVE_INFINITY) <= this.#clock.now()) {
        if (++delivered > DELIVERIES_PER_INSTANT_MAX) {
          throw new Error(`switchboard: simulated network: more than ${DELIVERIES_PER_INSTANT_MAX} deliveries at t=${this.#clock.now()} ms (zero-delay livelock?)`);
        }
        (this.#heap.pop() as QueuedDelivery).run();
      }
    } finally {
      this.#draining = false;
      this.#schedule();
    }
  }
}
