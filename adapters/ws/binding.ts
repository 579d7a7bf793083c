/**
 * One `ws` socket bound to the stream contract of machines/transport.ts, for either side.
 *
 * Socket events become StreamEvents (frames through the codec); StreamCommands become socket
 * calls. Until a sink is attached (an accepted socket before its transport actor starts), events
 * wait in a bounded inbox. `transport.closed` is emitted exactly once, last, from ws's single
 * 'close' event, unless the binding was released first (its actor stopped: nobody is left to tell).
 */
import type { WebSocket } from 'ws';
import { decodeFrame, encodeFrame, stampFrame, type CodecLimits, type StampSource } from '../../machines/codec.js';
import { CloseCode, type StreamCommand, type StreamEvent } from '../../machines/transport.js';
import { isSendableCloseCode, reasonOf, truncate, type WsLog, type WsMetrics } from './options.js';

export interface BindingContext {
  readonly limits: CodecLimits;
  readonly stamp: StampSource;
  readonly metrics: WsMetrics;
  readonly log: WsLog;
  /** For logs: `client ws://...` or `server <connectionId>`. */
  readonly label: string;
}

type Sink = (event: StreamEvent) => void;

/** ws readyState values. */
const OPEN = 1;
const CLOSED = 3;

export class SocketBinding {
  readonly #socket: WebSocket;
  #corked = false;
  readonly #context: BindingContext;
  #sink: Sink | undefined;
  readonly #inbox: StreamEvent[] = [];
  readonly #inboxMax: number;
  readonly #inboxBytesMax: number;
  #inboxBytes = 0;
  #overflowed = false;
  #released = false;
  #closed = false;
  #terminatedHere = false;
  #lastError: Error | undefined;
  #settled = false;
  /** Called once when nothing more will happen here (closed and delivered, or released). */
  onSettled: (() => void) | undefined;
  /** Called on 'open' (client side), before transport.opened is emitted. */
  onOpened: (() => void) | undefined;
  /** Called on 'close' of a socket that never opened (client side). */
  onNeverOpened: (() => void) | undefined;
  #opened: boolean;

  constructor(socket: WebSocket, context: BindingContext, options: { sink?: Sink; inboxMax?: number; inboxBytesMax?: number }) {
    this.#socket = socket;
    this.#context = context;
    this.#sink = options.sink;
    this.#inboxMax = options.inboxMax ?? Number.POSITIVE_INFINITY;
    this.#inboxBytesMax = options.inboxBytesMax ?? Number.POSITIVE_INFINITY;
    this.#opened = socket.readyState === OPEN;
    // The 'error' listener is mandatory: without it an invalid frame (e.g. "RSV2 and RSV3 must be
    // clear") is an uncaught exception that ends the process (ws issue #1354, tRPC's note). It
    // stays attached after release for the same reason.
    socket.on('error', (error) => this.#onError(error));
    socket.on('open', () => this.#onOpen());
    socket.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    socket.on('pong', () => this.#emit({ type: 'transport.pong' }));
    socket.on('close', (code, reason) => this.#onClose(code, reason.toString('utf8')));
  }

  /** Starts delivering to `sink`: first what waited in the inbox (on a microtask), then live. */
  attach(sink: Sink): void {
    queueMicrotask(() => {
      if (this.#released) return;
      this.#sink = sink;
      this.#inboxBytes = 0;
      for (const event of this.#inbox.splice(0)) sink(event);
      if (this.#closed) this.#settle();
    });
  }

  command(command: StreamCommand): void {
    if (this.#released) return;
    const socket = this.#socket;
    switch (command.type) {
      case 'transport.send': {
        if (socket.readyState !== OPEN) {
          this.#context.metrics.messagesDropped++;
          return;
        }
        let text: string;
        try {
          text = encodeFrame(stampFrame(command.draft, this.#context.stamp));
        } catch (error) {
          // A draft that does not encode is a machine bug; report it, keep the connection.
          this.#context.metrics.messagesDropped++;
          this.#context.log('error', 'ws: a draft did not encode; dropped', { label: this.#context.label, error });
          return;
        }
        this.#context.metrics.messagesOut++;
        this.#corkUntilNextTurn();
        socket.send(text, (error) => {
          if (error) this.#context.log('debug', 'ws: send failed', { label: this.#context.label, error: error.message });
        });
        return;
      }
      case 'transport.ping':
        if (socket.readyState !== OPEN) {
          this.#context.metrics.messagesDropped++;
          return;
        }
        socket.ping();
        return;
      case 'transport.close': {
        if (socket.readyState === CLOSED) return;
        let { code } = command;
        let reason = command.reason ?? '';
        if (!isSendableCloseCode(code)) {
          this.#context.log('error', `ws: invalid close code ${code}; closing with 1011`, { label: this.#context.label });
          code = CloseCode.internalError;
          reason = 'invalid close code';
        }
        // Before the upgrade completes ws aborts the handshake (closed 1006, never opened).
        socket.close(code, truncate(reason, 123));
        return;
      }
      case 'transport.terminate':
        if (socket.readyState === CLOSED) return;
        this.#terminatedHere = true;
        socket.terminate();
        return;
    }
  }

  /**
   * Frames sent in one turn of the event loop (an Ack, a status update and a result, say) leave
   * in one write instead of one system call each: the TCP socket is corked at the first send and
   * uncorked once the turn's microtasks have run.
   */
  #corkUntilNextTurn(): void {
    if (this.#corked) return;
    const raw = (this.#socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (raw === undefined) return;
    raw.cork();
    this.#corked = true;
    setImmediate(() => {
      this.#corked = false;
      raw.uncork();
    });
  }

  /** The actor stopped: end the socket if still open, and emit nothing more. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#sink = undefined;
    this.#inbox.length = 0;
    this.#inboxBytes = 0;
    if (this.#socket.readyState !== CLOSED) this.#socket.terminate();
    this.#settle();
  }

  /** Ends the socket at once, attached or not (its session failed: SEC-21). */
  drop(why: string): void {
    if (this.#closed) return;
    this.#context.log('warn', `ws: dropping a connection: ${why}`, { label: this.#context.label });
    this.#terminatedHere = true;
    this.#socket.terminate();
  }

  /** Ends a socket nobody attached to (overflow, attach timeout, server stopped). */
  terminateUnattached(why: string): void {
    if (this.#closed || this.#released) return;
    this.#context.metrics.unattachedTerminated++;
    this.#context.log('warn', `ws: terminating an accepted socket: ${why}`, { label: this.#context.label });
    this.#terminatedHere = true;
    this.#socket.terminate();
  }

  // ---- socket events ------------------------------------------------------------------------

  #onError(error: Error): void {
    this.#context.metrics.socketErrors++;
    this.#lastError = error;
    this.#context.log('debug', `ws: socket error: ${error.message}`, {
      label: this.#context.label,
      code: (error as { code?: unknown }).code,
    });
  }

  #onOpen(): void {
    this.#opened = true;
    this.onOpened?.();
    this.#emit({ type: 'transport.opened' });
  }

  #onMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    this.#context.metrics.messagesIn++;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    // Text frames were UTF-8-validated by ws; binary ones are checked by the codec.
    const decoded = decodeFrame(isBinary ? bytes : bytes.toString('utf8'), this.#context.limits);
    if (decoded.ok) {
      this.#emit({ type: 'transport.message', message: decoded.message }, bytes.byteLength);
      return;
    }
    const { rejected } = this.#context.metrics;
    rejected[decoded.error.code] = (rejected[decoded.error.code] ?? 0) + 1;
    this.#emit({ type: 'transport.rejected', error: decoded.error.toShape(), messageId: decoded.messageId }, bytes.byteLength);
  }

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#opened && !this.#released) this.onNeverOpened?.();
    const graceful = code !== CloseCode.abnormal;
    let text = reason;
    if (text === '' && !graceful) {
      if (this.#terminatedHere) text = 'terminated';
      else if (this.#lastError !== undefined) text = reasonOf(this.#lastError);
      else text = 'connection reset';
    }
    this.#emit({ type: 'transport.closed', graceful, code, reason: text });
    if (this.#sink !== undefined) this.#settle();
  }

  /** `bytes`: the size of the frame behind the event, for the inbox bound. */
  #emit(event: StreamEvent, bytes = 0): void {
    if (this.#released) return;
    if (this.#sink !== undefined) {
      this.#sink(event);
      return;
    }
    if (event.type === 'transport.closed') {
      this.#inbox.push(event); // always kept: it is the last event, and there is only one
      return;
    }
    if (this.#overflowed) return;
    if (this.#inbox.length >= this.#inboxMax || this.#inboxBytes + bytes > this.#inboxBytesMax) {
      this.#overflowed = true;
      this.terminateUnattached(`more than ${this.#inboxMax} events or ${this.#inboxBytesMax} bytes before a transport attached`);
      return;
    }
    this.#inboxBytes += bytes;
    this.#inbox.push(event);
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.onSettled?.();
  }
}
