/**
 * SEC-13 for one socket: a peer that does not read must not make us hold its replies without
 * bound. Above `pauseBytes` unsent, the peer is no longer read (its requests would make more
 * replies); it is read again once half of that is sent. Beyond `bytesMax`, or above `pauseBytes`
 * for `stallMs` without a byte taken, it is dropped. Used by the task sessions' binding and by
 * file links.
 *
 * Below half the mark again is seen on the poll and, sooner, on the TCP socket's 'drain' (the
 * kernel took every byte written). `onMark` hears each crossing (EVT-8: a session's events wait
 * in their own bounded queues while the socket is above its mark).
 */
import type { ReadGate } from './readGate.js';

/** SEC-13: how much unsent data a peer may leave behind, and for how long. */
export interface SendBounds {
  /** Unsent bytes above which the socket stops being read (its requests make more replies). */
  readonly pauseBytes: number;
  /** Unsent bytes beyond which the connection is closed (1008) and dropped. */
  readonly bytesMax: number;
  /** Time above `pauseBytes` without the peer reading a byte, after which the same happens. */
  readonly stallMs: number;
}

/** The TCP socket under a ws socket, as far as the watch uses it. */
interface DrainSource {
  on(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

export class SendWatch {
  readonly #socket: { readonly bufferedAmount: number };
  readonly #bounds: SendBounds;
  readonly #gate: ReadGate;
  readonly #drop: (why: string) => void;
  readonly #onMark: ((above: boolean) => void) | undefined;
  /** While paused: the timer, the unsent bytes last seen and when they last went down, and the drain listener. */
  #watch: { timer: NodeJS.Timeout; lastBuffered: number; lastProgressAt: number; raw: DrainSource | undefined; onDrain: () => void } | undefined;

  /**
   * `drop` closes and frees the connection; it is called at most once per overflow or stall.
   * `onMark(true)` when the socket goes above `pauseBytes`, `onMark(false)` when it is back below half of it.
   */
  constructor(socket: { readonly bufferedAmount: number }, bounds: SendBounds, gate: ReadGate, drop: (why: string) => void, onMark?: (above: boolean) => void) {
    this.#socket = socket;
    this.#bounds = bounds;
    this.#gate = gate;
    this.#drop = drop;
    this.#onMark = onMark;
  }

  /** Before sending `bytes` more: false, and the peer dropped, when they would pass `bytesMax`. */
  admit(bytes: number): boolean {
    if (this.#socket.bufferedAmount + bytes <= this.#bounds.bytesMax) return true;
    this.stop();
    this.#drop(`more than ${this.#bounds.bytesMax} bytes unsent: the peer does not read`);
    return false;
  }

  /** After a send: above `pauseBytes`, stop reading the peer and watch it drain (or stall). */
  sent(): void {
    if (this.#watch !== undefined || this.#socket.bufferedAmount <= this.#bounds.pauseBytes) return;
    const bounds = this.#bounds;
    this.#gate.pause('send');
    const everyMs = Math.max(10, Math.min(1_000, Math.floor(bounds.stallMs / 4)));
    const watch = {
      lastBuffered: this.#socket.bufferedAmount,
      lastProgressAt: Date.now(),
      raw: (this.#socket as { _socket?: DrainSource })._socket,
      onDrain: () => {
        if (this.#socket.bufferedAmount <= bounds.pauseBytes / 2) this.#below();
      },
      timer: setInterval(() => {
        const buffered = this.#socket.bufferedAmount;
        if (buffered <= bounds.pauseBytes / 2) {
          this.#below();
        } else if (buffered < watch.lastBuffered) {
          watch.lastBuffered = buffered;
          watch.lastProgressAt = Date.now();
        } else if (Date.now() - watch.lastProgressAt >= bounds.stallMs) {
          this.stop();
          this.#drop(`${buffered} bytes unsent for ${bounds.stallMs} ms: the peer does not read`);
        }
      }, everyMs),
    };
    watch.timer.unref();
    watch.raw?.on('drain', watch.onDrain);
    this.#watch = watch;
    this.#onMark?.(true);
  }

  #below(): void {
    this.stop();
    this.#gate.resume('send');
    this.#onMark?.(false);
  }

  stop(): void {
    if (this.#watch === undefined) return;
    clearInterval(this.#watch.timer);
    this.#watch.raw?.off('drain', this.#watch.onDrain);
    this.#watch = undefined;
  }
}
