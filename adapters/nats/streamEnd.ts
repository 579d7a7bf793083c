/**
 * One end of a task connection over NATS, bound to the stream contract of machines/transport.ts
 * (the same semantics as adapters/ws/binding.ts): StreamCommands become envelopes published to
 * the peer's subject; envelopes received become StreamEvents, every frame through the codec.
 *
 * connecting (client, until the open handshake is answered) -> open -> closing -> closed.
 * `transport.closed` is emitted exactly once, last, unless the end was released first (its actor
 * stopped: nobody is left to tell). Until a sink attaches (an accepted connection before its
 * transport actor starts) events wait in a bounded inbox.
 *
 * What WebSocket gets from TCP and NATS core does not give, this end adds (./envelope.ts):
 * per-direction sequence numbers, so a lost frame ends the connection (1006, `frames lost`)
 * instead of leaving a task waiting for a result that will never come; the close handshake
 * (`close` answered by `closed`); pong on ping; `reset` for terminate.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeFrame, encodeFrame, stampFrame, type CodecLimits, type StampSource } from '../../machines/codec.js';
import { errorShape } from '../../machines/errors.js';
import type { WireDraft, WireMessage } from '../../machines/messages.js';
import { CloseCode, type StreamCommand, type StreamEvent } from '../../machines/transport.js';
import { decodeCloseBody, decodeEnvelope, encodeEnvelope, type EnvelopeOp } from './envelope.js';
import { messageOf } from './link.js';
import { countRejected, type NatsLog, type NatsMetrics } from './options.js';

export interface EndContext {
  readonly limits: CodecLimits;
  readonly stamp: StampSource;
  readonly metrics: NatsMetrics;
  readonly log: NatsLog;
  /** For logs: `client nats://...` or `server <connectionId>`. */
  readonly label: string;
  /** Sees every decoded frame in and every frame out (the micro STATS counters). */
  readonly observer?: { inbound(message: WireMessage): void; outbound(message: WireMessage): void } | undefined;
  /** May take an outgoing message and send something else later (./outcomes.ts); true when it took it. */
  readonly interceptor?:
    | { inbound(message: WireMessage): void; outbound(message: WireMessage, send: (draft: WireDraft) => void): boolean }
    | undefined;
}

type Sink = (event: StreamEvent) => void;
type State = 'connecting' | 'open' | 'closing' | 'closed';

export class StreamEnd {
  readonly #nc: NatsConnection;
  /** Where this end publishes (the peer's subject) and the subject it is reached at. */
  readonly #to: string;
  readonly #self: string;
  readonly #context: EndContext;
  #state: State;
  #sink: Sink | undefined;
  readonly #inbox: StreamEvent[] = [];
  readonly #inboxMax: number;
  /** Envelopes that arrived before the open handshake was answered (client side). */
  readonly #early: Uint8Array[] = [];
  #sentSeq = 0;
  #receivedSeq = 0;
  #close: { code: number; reason: string } | undefined;
  #released = false;
  #settled = false;
  #closedEmitted = false;
  /** Called once when nothing more will happen here (closed and delivered, or released). */
  onSettled: (() => void) | undefined;

  constructor(
    nc: NatsConnection,
    subjects: { readonly to: string; readonly self: string },
    context: EndContext,
    options: { readonly state: 'connecting' | 'open'; readonly sink?: Sink; readonly inboxMax?: number },
  ) {
    this.#nc = nc;
    this.#to = subjects.to;
    this.#self = subjects.self;
    this.#context = context;
    this.#state = options.state;
    this.#sink = options.sink;
    this.#inboxMax = options.inboxMax ?? Number.POSITIVE_INFINITY;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Starts delivering to `sink`: first what waited in the inbox (on a microtask), then live. */
  attach(sink: Sink): void {
    queueMicrotask(() => {
      if (this.#released) return;
      this.#sink = sink;
      for (const event of this.#inbox.splice(0)) sink(event);
      if (this.#state === 'closed') this.#settle();
    });
  }

  /** Client side: the provider accepted the connection. */
  opened(): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'open';
    this.#context.metrics.connectionsOpened++;
    this.#emit({ type: 'transport.opened' });
    for (const data of this.#early.splice(0)) this.receive(data);
  }

  /**
   * The connection never opened, or the NATS connection under it closed for good. `refused`:
   * nobody listens under the endpoint's name (CONN-12: the provider is gone).
   */
  fail(reason: string, refused = false): void {
    this.#end(false, CloseCode.abnormal, reason, refused);
  }

  receive(data: Uint8Array): void {
    if (this.#state === 'closed' || this.#released) return;
    if (this.#state === 'connecting') {
      if (this.#early.length < this.#inboxMax) this.#early.push(data);
      return;
    }
    const { metrics } = this.#context;
    metrics.messagesIn++;
    const envelope = decodeEnvelope(data);
    if (envelope === undefined) {
      countRejected(metrics, 'INVALID_MESSAGE');
      this.#emit({ type: 'transport.rejected', error: errorShape('INVALID_MESSAGE', 'not a switchboard envelope') });
      return;
    }
    if (envelope.op === 'reset') {
      this.#end(false, CloseCode.abnormal, 'connection reset');
      return;
    }
    if (envelope.seq <= this.#receivedSeq) {
      metrics.messagesDropped++; // a replay: NATS core never duplicates, so someone sent it twice
      return;
    }
    if (envelope.seq !== this.#receivedSeq + 1) {
      metrics.framesLost++;
      const reason = `frames lost (expected ${this.#receivedSeq + 1}, got ${envelope.seq})`;
      this.#context.log('warn', `nats: ${reason}; ending the connection`, { label: this.#context.label });
      this.#publish('reset');
      this.#end(false, CloseCode.abnormal, reason);
      return;
    }
    this.#receivedSeq = envelope.seq;
    switch (envelope.op) {
      case 'msg': {
        const decoded = decodeFrame(envelope.payload, this.#context.limits);
        if (decoded.ok) {
          this.#context.observer?.inbound(decoded.message);
          this.#context.interceptor?.inbound(decoded.message);
          this.#emit({ type: 'transport.message', message: decoded.message });
          return;
        }
        countRejected(metrics, decoded.error.code);
        this.#emit({ type: 'transport.rejected', error: decoded.error.toShape(), messageId: decoded.messageId });
        return;
      }
      case 'ping':
        this.#publish('pong');
        return;
      case 'pong':
        this.#emit({ type: 'transport.pong' });
        return;
      case 'close': {
        const { code, reason } = decodeCloseBody(envelope.payload);
        if (this.#state === 'open') this.#publish('closed');
        // Both ends closed at once: each completes its handshake with the other's close.
        const ours = this.#close;
        this.#end(true, ours?.code ?? code, ours?.reason ?? reason);
        return;
      }
      case 'closed':
        if (this.#state === 'closing' && this.#close !== undefined) this.#end(true, this.#close.code, this.#close.reason);
        return;
    }
  }

  command(command: StreamCommand): void {
    if (this.#released) return;
    const { metrics } = this.#context;
    switch (command.type) {
      case 'transport.send': {
        if (this.#state !== 'open') {
          metrics.messagesDropped++;
          return;
        }
        let message: WireMessage;
        let text: string;
        try {
          message = stampFrame(command.draft, this.#context.stamp);
          text = encodeFrame(message);
        } catch (error) {
          // A draft that does not encode is a machine bug; report it, keep the connection.
          metrics.messagesDropped++;
          this.#context.log('error', 'nats: a draft did not encode; dropped', { label: this.#context.label, error: messageOf(error) });
          return;
        }
        if (Buffer.byteLength(text) > this.#payloadMax()) {
          // As over WebSocket, a frame above the limit ends the connection with 1009.
          metrics.messagesDropped++;
          this.#context.log('warn', 'nats: a frame exceeds the server max_payload; closing with 1009', { label: this.#context.label });
          this.command({ type: 'transport.close', code: CloseCode.tooBig, reason: 'message too big' });
          return;
        }
        if (this.#context.interceptor?.outbound(message, (draft) => this.command({ type: 'transport.send', draft })) === true) return;
        this.#context.observer?.outbound(message);
        this.#publish('msg', text);
        return;
      }
      case 'transport.ping':
        if (this.#state !== 'open') {
          metrics.messagesDropped++;
          return;
        }
        this.#publish('ping');
        return;
      case 'transport.close':
        if (this.#state === 'connecting') {
          this.#end(false, CloseCode.abnormal, 'closed before the handshake completed');
          return;
        }
        if (this.#state !== 'open') return;
        this.#state = 'closing';
        this.#close = { code: command.code, reason: (command.reason ?? '').slice(0, 123) };
        this.#publish('close', JSON.stringify(this.#close));
        return;
      case 'transport.terminate':
        if (this.#state === 'closed') return;
        if (this.#state !== 'connecting') this.#publish('reset');
        this.#end(false, CloseCode.abnormal, 'terminated');
        return;
    }
  }

  /** The actor stopped: reset the peer if still connected, and emit nothing more. */
  release(): void {
    if (this.#released) return;
    if (this.#state === 'open' || this.#state === 'closing') this.#publish('reset');
    this.#released = true;
    this.#state = 'closed';
    this.#sink = undefined;
    this.#inbox.length = 0;
    this.#settle();
  }

  /** Ends a connection nobody attached to (overflow, attach timeout, server stopped). */
  terminateUnattached(why: string): void {
    if (this.#state === 'closed' || this.#released) return;
    this.#context.log('warn', `nats: resetting an accepted connection: ${why}`, { label: this.#context.label });
    this.#publish('reset');
    this.#end(false, CloseCode.abnormal, 'terminated');
  }

  #payloadMax(): number {
    // The envelope line takes at most 32 bytes.
    return (this.#nc.info?.max_payload ?? 1_048_576) - 32;
  }

  #publish(op: EnvelopeOp, payload?: string): void {
    const text = encodeEnvelope(op, op === 'reset' ? 1 : ++this.#sentSeq, payload);
    try {
      this.#nc.publish(this.#to, text, { reply: this.#self });
      if (op === 'msg') this.#context.metrics.messagesOut++;
    } catch (error) {
      this.#context.metrics.messagesDropped++;
      this.#context.log('warn', `nats: publish failed: ${messageOf(error)}`, { label: this.#context.label });
    }
  }

  #end(graceful: boolean, code: number, reason: string, refused = false): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#early.length = 0;
    this.#emit(refused ? { type: 'transport.closed', graceful, code, reason, refused } : { type: 'transport.closed', graceful, code, reason });
  }

  #emit(event: StreamEvent): void {
    if (this.#released) return;
    if (event.type === 'transport.closed') {
      if (this.#closedEmitted) return;
      this.#closedEmitted = true;
    }
    if (this.#sink !== undefined) {
      this.#sink(event);
      if (event.type === 'transport.closed') this.#settle();
      return;
    }
    if (event.type === 'transport.closed') {
      this.#inbox.push(event); // always kept: the last event, and there is only one
      return;
    }
    if (this.#inbox.length >= this.#inboxMax) {
      this.terminateUnattached(`more than ${this.#inboxMax} events before a transport attached`);
      return;
    }
    this.#inbox.push(event);
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.onSettled?.();
  }
}
