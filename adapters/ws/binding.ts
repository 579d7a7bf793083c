/**
 * One `ws` socket bound to the stream contract of machines/transport.ts, for either side.
 *
 * Socket events become StreamEvents (frames through the codec); StreamCommands become socket
 * calls. Until a sink is attached (an accepted socket before its transport actor starts), events
 * wait in a bounded inbox. `transport.closed` is emitted exactly once, last, from ws's single
 * 'close' event, unless the binding was released first (its actor stopped: nobody is left to tell).
 *
 * Outgoing frames leave in batches (one write per batch, the TCP socket corked around it): the
 * frames sent in the turn in which the socket was read (the replies to a read batch) leave
 * together at the end of that turn, after its microtasks (setImmediate); a frame sent in a turn
 * without a read (a client's new request, a result of a slow operation) leaves as soon as the
 * current code and its microtasks are done, without waiting for the turn to end. On a provider's
 * socket a batch drops an Ack whose task's final message follows in the same batch (TASK-2,
 * machines/wire/coalesce.ts), unless `coalesceAcks` is off.
 *
 * With `readBatches`, the frames of one socket read reach the sink as one event: ws hands over
 * every complete frame of a chunk synchronously, so they are gathered until that code and its
 * microtasks are done and then delivered together (`transport.batch`, machines/transport.ts; a
 * lone frame as itself). Any other event delivers the gathered frames first, so order is kept.
 */
import type { WebSocket } from 'ws';
import { decodeFrame, encodeFrame, stampFrame, type CodecLimits, type StampSource } from '../../machines/codec.js';
import { toFlatStatus } from '../../machines/dialect.js';
import type { WireDraft } from '../../machines/messages.js';
import { coalesceAcks } from '../../machines/wire/coalesce.js';
import { CloseCode, type StreamBatch, type StreamCommand, type StreamEvent, type StreamInput } from '../../machines/transport.js';
import { ReadBudgets, type FrameWindow } from './budget.js';
import { isRefusedConnect, isSendableCloseCode, reasonOf, truncate, type WsLog, type WsMetrics } from './options.js';
import { ReadGate } from './readGate.js';
import { SendWatch, type SendBounds } from './sendWatch.js';

export interface BindingContext {
  readonly limits: CodecLimits;
  readonly stamp: StampSource;
  readonly metrics: WsMetrics;
  readonly log: WsLog;
  /** For logs: `client ws://...` or `server <connectionId>`. */
  readonly label: string;
  /** The `flat-status` compat profile: answers about a task go out as the seed's flat Status (machines/dialect.ts). */
  readonly flatStatus?: boolean;
  /** TASK-2: leave out an Ack whose task's final message is in the same outgoing batch. @default false */
  readonly coalesceAcks?: boolean;
  /** Deliver the frames of one socket read as one event (StreamBatch). @default false */
  readonly readBatches?: boolean;
}

type Sink = (event: StreamEvent | StreamBatch) => void;

export interface BindingOptions {
  readonly sink?: Sink;
  readonly inboxMax?: number;
  readonly inboxBytesMax?: number;
  readonly send?: SendBounds;
  /** SEC-16: frame budgets of this connection and of its address; over either, reading pauses. */
  readonly budgets?: readonly FrameWindow[];
}

/** ws readyState values. */
const OPEN = 1;
const CLOSED = 3;

export class SocketBinding {
  readonly #socket: WebSocket;
  /** Drafts waiting for the batch's flush, in the order sent. */
  #outgoing: WireDraft[] = [];
  #flushScheduled = false;
  /** True from a read until the end of its turn: replies sent meanwhile form one batch. */
  #readThisTurn = false;
  readonly #context: BindingContext;
  #sink: Sink | undefined;
  readonly #inbox: StreamEvent[] = [];
  /** With readBatches: the frames of the current read, delivered when its microtasks are done. */
  #reads: StreamInput[] = [];
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
  /** SEC-13 (with `send` bounds: a provider's sessions); it also tells the session about its mark (EVT-8). */
  readonly #sendWatch: SendWatch | undefined;
  /** SEC-16 (with `budgets`). */
  readonly #budgets: ReadBudgets | undefined;
  /** Why this side ended the socket, for the transport.closed reason. */
  #endedWhy: string | undefined;

  constructor(socket: WebSocket, context: BindingContext, options: BindingOptions) {
    this.#socket = socket;
    this.#context = context;
    this.#sink = options.sink;
    this.#inboxMax = options.inboxMax ?? Number.POSITIVE_INFINITY;
    this.#inboxBytesMax = options.inboxBytesMax ?? Number.POSITIVE_INFINITY;
    const gate = new ReadGate(socket, () => context.metrics.readsPaused++);
    this.#sendWatch =
      options.send === undefined
        ? undefined
        : new SendWatch(socket, options.send, gate, (why) => this.#dropNotReading(why), (above) => this.#tellSendMark(above));
    this.#budgets = options.budgets === undefined || options.budgets.length === 0 ? undefined : new ReadBudgets(options.budgets, gate);
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
        this.#outgoing.push(command.draft);
        if (this.#flushScheduled) return;
        this.#flushScheduled = true;
        if (this.#readThisTurn) setImmediate(this.#flush);
        else queueMicrotask(this.#flush);
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
        // What was sent before the close goes first.
        this.#flush();
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

  /** Writes the batch: coalesced (TASK-2), stamped and encoded, in one corked write when it holds more than one frame. */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const queued = this.#outgoing;
    if (queued.length === 0) return;
    this.#outgoing = [];
    const socket = this.#socket;
    const metrics = this.#context.metrics;
    if (socket.readyState !== OPEN || this.#released) {
      metrics.messagesDropped += queued.length;
      return;
    }
    const batch = this.#context.coalesceAcks === true ? coalesceAcks(queued) : queued;
    metrics.acksCoalesced += queued.length - batch.length;
    metrics.batchesOut++;
    const raw = batch.length > 1 ? (socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket : undefined;
    raw?.cork();
    try {
      for (const draft of batch) if (!this.#write(draft)) break;
    } finally {
      raw?.uncork();
    }
  };

  /** One frame to ws; false when the connection was dropped for it (SEC-13). */
  #write(draft: WireDraft): boolean {
    const socket = this.#socket;
    const metrics = this.#context.metrics;
    let text: string;
    try {
      const flat = this.#context.flatStatus === true ? toFlatStatus(draft) : undefined;
      text = flat === undefined ? encodeFrame(stampFrame(draft, this.#context.stamp)) : JSON.stringify(flat);
    } catch (error) {
      // A draft that does not encode is a machine bug; report it, keep the connection.
      metrics.messagesDropped++;
      this.#context.log('error', 'ws: a draft did not encode; dropped', { label: this.#context.label, error });
      return true;
    }
    // SEC-13: a peer that does not read must not make us hold its replies without bound.
    if (this.#sendWatch?.admit(text.length) === false) {
      metrics.messagesDropped++;
      return false;
    }
    metrics.messagesOut++;
    socket.send(text, this.#afterSend);
    if (socket.bufferedAmount > metrics.sendBufferedMax) metrics.sendBufferedMax = socket.bufferedAmount;
    this.#sendWatch?.sent();
    return true;
  }

  readonly #afterSend = (error?: Error): void => {
    if (error) this.#context.log('debug', 'ws: send failed', { label: this.#context.label, error: error.message });
  };

  /** Marks this turn as one with a read; its replies then leave together at its end. */
  #noteRead(): void {
    if (this.#readThisTurn) return;
    this.#readThisTurn = true;
    setImmediate(this.#endReadTurn);
  }

  readonly #endReadTurn = (): void => {
    this.#readThisTurn = false;
  };

  // ---- bounds (SEC-13, SEC-16) ----------------------------------------------------------------

  /**
   * EVT-8: the session hears when its socket goes above its send mark and when it is back below
   * (SendWatch), so that what can wait (events) waits in its own bounded queues instead of here.
   * Only to an attached sink, and never after the socket closed: it is news about a live socket.
   */
  #tellSendMark(above: boolean): void {
    if (this.#sink === undefined || this.#closed) return;
    this.#emit({ type: 'transport.sendMark', above });
  }

  /**
   * Closes with 1008 and drops the socket: its close frame would wait behind the unsent data of
   * a peer that does not read, so the memory is freed at once (the peer sees the connection end).
   */
  #dropNotReading(why: string): void {
    if (this.#closed || this.#endedWhy !== undefined) return;
    this.#context.metrics.sendOverflows++;
    this.#context.log('warn', `ws: ${why}; closing 1008`, { label: this.#context.label });
    this.#endedWhy = why;
    this.#sendWatch?.stop();
    if (this.#socket.readyState === OPEN) this.#socket.close(CloseCode.policy, truncate(why, 123));
    this.#terminatedHere = true;
    this.#socket.terminate();
  }

  #stopBounds(): void {
    this.#sendWatch?.stop();
    this.#budgets?.stop();
  }

  /** The actor stopped: end the socket if still open, and emit nothing more. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#outgoing = [];
    this.#reads = [];
    this.#stopBounds();
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
    this.#noteRead();
    this.#budgets?.spend();
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    // Text frames were UTF-8-validated by ws; binary ones are checked by the codec.
    const decoded = decodeFrame(isBinary ? bytes : bytes.toString('utf8'), this.#context.limits);
    let input: StreamInput;
    if (decoded.ok) input = { type: 'transport.message', message: decoded.message };
    else {
      const { rejected } = this.#context.metrics;
      rejected[decoded.error.code] = (rejected[decoded.error.code] ?? 0) + 1;
      input = { type: 'transport.rejected', error: decoded.error.toShape(), messageId: decoded.messageId, taskId: decoded.taskId };
    }
    if (this.#context.readBatches === true && this.#sink !== undefined && !this.#released) {
      if (this.#reads.push(input) === 1) queueMicrotask(this.#deliverReads);
      return;
    }
    this.#emit(input, bytes.byteLength);
  }

  /** The frames of the read so far: one event (a lone frame as itself). */
  readonly #deliverReads = (): void => {
    const reads = this.#reads;
    if (reads.length === 0) return;
    this.#reads = [];
    const sink = this.#sink;
    if (sink === undefined || this.#released) return;
    sink(reads.length === 1 ? (reads[0] as StreamInput) : { type: 'transport.batch', events: reads });
  };

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopBounds();
    if (!this.#opened && !this.#released) this.onNeverOpened?.();
    const graceful = code !== CloseCode.abnormal;
    let text = reason;
    if (text === '' && !graceful) {
      if (this.#endedWhy !== undefined) text = truncate(this.#endedWhy, 123);
      else if (this.#terminatedHere) text = 'terminated';
      else if (this.#lastError !== undefined) text = reasonOf(this.#lastError);
      else text = 'connection reset';
    }
    // CONN-12: a refused connect tells the connection that nothing listens there any more.
    const refused = !this.#opened && isRefusedConnect(this.#lastError);
    this.#emit(refused ? { type: 'transport.closed', graceful, code, reason: text, refused } : { type: 'transport.closed', graceful, code, reason: text });
    if (this.#sink !== undefined) this.#settle();
  }

  /** `bytes`: the size of the frame behind the event, for the inbox bound. */
  #emit(event: StreamEvent, bytes = 0): void {
    if (this.#released) return;
    if (this.#sink !== undefined) {
      if (this.#reads.length > 0) this.#deliverReads();
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
