/**
 * Read budgets (SEC-16): frames a connection, or all connections from one address, may hand the
 * provider per window. Over budget, the socket is paused until the window ends: plain TCP
 * backpressure, invisible to the protocol, so a flood slows itself down instead of taking the
 * event loop from every other client (SEC-17), and nothing is sent in answer to the excess.
 */
import type { ReadGate } from './readGate.js';

/** A fixed window of `max` frames per `windowMs`. */
export class FrameWindow {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  #startedAt = Number.NEGATIVE_INFINITY;
  #frames = 0;

  constructor(max: number, windowMs = 1_000, now: () => number = Date.now) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Counts one frame; 0 while within budget, else how long until the window ends (ms). */
  spend(): number {
    const now = this.#now();
    if (now - this.#startedAt >= this.#windowMs) {
      this.#startedAt = now;
      this.#frames = 0;
    }
    this.#frames++;
    return this.#frames > this.#max ? Math.max(1, this.#startedAt + this.#windowMs - now) : 0;
  }
}

/** The shared windows of the addresses with live connections (kept while any connection is open). */
export class AddressWindows {
  readonly #max: number;
  readonly #windows = new Map<string, { window: FrameWindow; connections: number }>();

  constructor(max: number) {
    this.#max = max;
  }

  /** The window of `address`, held until `release`. */
  hold(address: string): FrameWindow {
    let entry = this.#windows.get(address);
    if (entry === undefined) {
      entry = { window: new FrameWindow(this.#max), connections: 0 };
      this.#windows.set(address, entry);
    }
    entry.connections++;
    return entry.window;
  }

  release(address: string): void {
    const entry = this.#windows.get(address);
    if (entry === undefined) return;
    entry.connections--;
    if (entry.connections <= 0) this.#windows.delete(address);
  }
}

/** Spends one frame against each window per message; over any, the gate stops reading until it ends. */
export class ReadBudgets {
  readonly #windows: readonly FrameWindow[];
  readonly #gate: ReadGate;
  #timer: NodeJS.Timeout | undefined;

  constructor(windows: readonly FrameWindow[], gate: ReadGate) {
    this.#windows = windows;
    this.#gate = gate;
  }

  spend(): void {
    let waitMs = 0;
    for (const window of this.#windows) waitMs = Math.max(waitMs, window.spend());
    if (waitMs === 0 || this.#timer !== undefined) return;
    this.#gate.pause('budget');
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#gate.resume('budget');
    }, waitMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
