/**
 * Whether a socket is read (SEC-13, SEC-16). Several causes may stop reading at once (the peer
 * leaves our replies unread; it is over a frame budget); the socket is read again only when every
 * cause has gone. Pausing a ws socket pauses its TCP stream: plain backpressure, invisible to the
 * protocol, so the peer's excess waits in its own buffers, not in our memory.
 */
export type PauseCause = 'budget' | 'send';

export class ReadGate {
  readonly #socket: { pause(): void; resume(): void };
  readonly #onPause: (() => void) | undefined;
  readonly #causes = new Set<PauseCause>();

  constructor(socket: { pause(): void; resume(): void }, onPause?: () => void) {
    this.#socket = socket;
    this.#onPause = onPause;
  }

  pause(cause: PauseCause): void {
    if (this.#causes.size === 0) {
      this.#onPause?.();
      this.#socket.pause();
    }
    this.#causes.add(cause);
  }

  resume(cause: PauseCause): void {
    if (!this.#causes.delete(cause) || this.#causes.size > 0) return;
    this.#socket.resume();
  }
}
