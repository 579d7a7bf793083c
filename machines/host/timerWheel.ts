/**
 * One timer source per host (a provider's task registry, a client's connection) for the many
 * per-task timers (deadlines, ack re-sends): entries in an indexed binary heap ordered by due
 * time, and ONE timer of the actor system's clock armed for the earliest entry. Scheduling a
 * timer that is not the new earliest (the usual case: ack timers share one delay, so each new one
 * is the latest) touches no clock at all; cancelling is O(log n) and leaves nothing behind.
 *
 * It runs on the clock it is given, normally the actor system's (XState's `clock` option), so a
 * SimulatedClock drives it in specs as it drives XState's own delayed events. When its clock
 * timer fires, every entry due by then runs, in due order (ties in scheduling order). Advanced
 * the way specs advance time (adapters/simulated/advance.ts: to each next due time in turn), that
 * is the order and the simulated times one clock timer per entry would give; a single big
 * `increment` runs the wheel's due entries together at the wheel's turn, the same kind of drift
 * such a jump causes for chained XState timers.
 *
 * Pure in the layering sense: it reads no clock of its own; `now` comes with the clock.
 */
import type { ActorOptions, AnyActorLogic } from 'xstate';

/** The actor system's clock (XState's `clock` option), with its notion of now (a SimulatedClock has one; runtime/ adds it to the real one). */
export type WheelClock = NonNullable<ActorOptions<AnyActorLogic>['clock']> & { now(): number };

export interface TimerEntry {
  /** Absolute due time on the clock's `now()` scale. */
  readonly due: number;
  /** @internal position in the heap, -1 once fired or cancelled */
  index: number;
  /** @internal tie-break: scheduling order */
  readonly seq: number;
  /** @internal */
  readonly fire: () => void;
}

/** setTimeout's largest delay; longer waits re-arm when it fires. */
const CLOCK_DELAY_MAX = 2_147_483_647;

export class TimerWheel {
  private readonly heap: TimerEntry[] = [];
  private seq = 0;
  private armed: { readonly id: unknown; readonly due: number } | undefined;
  private firing = false;

  constructor(
    private readonly clock: WheelClock,
    /**
     * Receives what a timer's callback threw. The wheel never throws into the clock: that would
     * abort the clock's own loop (a SimulatedClock would stop flushing for good), and the other
     * timers due with it must still run.
     */
    private readonly onError: (error: unknown) => void,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /** Runs `fire` after `delayMs` on the clock; returns the entry to cancel it. */
  schedule(delayMs: number, fire: () => void): TimerEntry {
    const entry: TimerEntry = { due: this.clock.now() + Math.max(0, delayMs), index: this.heap.length, seq: this.seq++, fire };
    this.heap.push(entry);
    this.siftUp(entry.index);
    if (!this.firing && (this.armed === undefined || entry.due < this.armed.due)) this.arm();
    return entry;
  }

  /** Cancels an entry; a fired or already cancelled one is left alone. */
  cancel(entry: TimerEntry): void {
    const index = entry.index;
    if (index < 0 || this.heap[index] !== entry) return;
    entry.index = -1;
    const last = this.heap.pop()!;
    if (last !== entry) {
      this.heap[index] = last;
      last.index = index;
      this.siftDown(index);
      this.siftUp(last.index);
    }
    // The armed clock timer stays: when it fires with nothing due it re-arms for the new head.
    if (this.heap.length === 0) this.disarm();
  }

  /** Cancels everything (the host is stopping). */
  clear(): void {
    for (const entry of this.heap) entry.index = -1;
    this.heap.length = 0;
    this.disarm();
  }

  private disarm(): void {
    if (this.armed !== undefined) this.clock.clearTimeout(this.armed.id);
    this.armed = undefined;
  }

  private arm(): void {
    this.disarm();
    const head = this.heap[0];
    if (!head) return;
    const delay = Math.min(head.due - this.clock.now(), CLOCK_DELAY_MAX);
    const due = head.due;
    const id = this.clock.setTimeout(() => this.onClock(due), delay);
    this.armed = { id, due };
  }

  private onClock(armedDue: number): void {
    this.armed = undefined;
    const limit = Math.max(armedDue, this.clock.now());
    this.firing = true;
    for (let head = this.heap[0]; head !== undefined && head.due <= limit; head = this.heap[0]) {
      this.cancel(head);
      try {
        head.fire();
      } catch (error) {
        this.onError(error);
      }
    }
    this.firing = false;
    this.arm();
  }

  private before(a: TimerEntry, b: TimerEntry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!this.before(entry, parent)) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.index = index;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const entry = heap[index];
    if (!entry) return;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.before(heap[right]!, heap[left]!) ? right : left;
      const childEntry = heap[child]!;
      if (!this.before(childEntry, entry)) break;
      heap[index] = childEntry;
      childEntry.index = index;
      index = child;
    }
    heap[index] = entry;
    entry.index = index;
  }
}
