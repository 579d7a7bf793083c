/**
 * WebSocket connections on the simulated network: listen, connect (or be refused), ordered frames,
 * ping/pong, the close handshake, terminate (RST), and what partitions and crashes do to them.
 *
 * A connection has two ends, each driven by one stream transport. Each end goes
 * connecting -> open -> closing -> closed (the `ws` readyStates); `transport.closed` is emitted
 * exactly once, when the end reaches `closed`, except when its actor was stopped or its host
 * crashed (then nobody is left to tell).
 *
 * TCP neither loses, duplicates nor reorders: frames get a delay but never overtake an earlier
 * frame of the same direction. A partition is a silent blackhole. Once it has eaten a frame, that
 * direction stays dead for good (we do not model retransmission): the receiver sees a prefix of
 * what was sent, never a gap, and the ends' own ping/pong and close timers must notice.
 */
import { decodeFrame, encodeFrame, stampFrame } from '../../machines/codec.js';
import { errorShape } from '../../machines/errors.js';
import { CloseCode, type ServerEvent, type StreamCommand, type StreamEvent } from '../../machines/transport.js';
import { drawDelayMs } from './faults.js';
import type { Fabric, Origin, TraceEntry } from './network.js';
import {
  CONNECTIONS_MAX,
  INBOX_MAX,
  checkClose,
  parseEndpoint,
  type Connection,
  type Frame,
  type Listener,
  type ParsedEndpoint,
  type StreamEnd,
} from './streamParts.js';

export class StreamLayer {
  readonly #fabric: Fabric;
  readonly #listeners = new Map<string, Listener>();
  readonly #connections = new Map<string, Connection>();
  /** Every end whose actor may still hear from it (for crash). */
  readonly #ends = new Set<StreamEnd>();

  constructor(fabric: Fabric) {
    this.#fabric = fabric;
  }

  // ---- server side ----------------------------------------------------------------------------

  listen(host: string, port: number, emit: (event: ServerEvent) => void): Listener {
    const state = this.#fabric.host(host);
    const listener: Listener = { host, port, origin: { host, incarnation: state?.incarnation ?? -1 }, emit, open: false };
    if (state?.up !== true) return listener;
    const key = `${host}:${port}`;
    const local = this.#local(host, 'listen');
    if (this.#listeners.get(key)?.open === true) {
      const error = errorShape('INTERNAL_ERROR', `address in use: ${key}`);
      this.#fabric.enqueue(this.#fabric.now(), listener.origin, local, () => emit({ type: 'server.failed', error }));
      return listener;
    }
    listener.open = true;
    this.#listeners.set(key, listener);
    this.#fabric.enqueue(this.#fabric.now(), listener.origin, local, () => {
      if (listener.open) emit({ type: 'server.listening', endpoint: `ws://${host}:${port}` });
    });
    return listener;
  }

  unlisten(listener: Listener): void {
    listener.open = false;
    const key = `${listener.host}:${listener.port}`;
    if (this.#listeners.get(key) === listener) this.#listeners.delete(key);
  }

  /** The provider side of an accepted connection; an unknown id gets closed 1006 at once. */
  attach(host: string, connectionId: string, emit: (event: StreamEvent) => void): StreamEnd {
    const connection = this.#connections.get(connectionId);
    if (connection === undefined || connection.server.gone || connection.server.host !== host) {
      const end = this.#newEnd(host, 'closed', emit);
      this.#later(end, { type: 'transport.closed', graceful: false, code: CloseCode.abnormal, reason: 'unknown connection' });
      return end;
    }
    if (connection.attached) {
      throw new Error(`switchboard: simulated network: connection ${connectionId} already has an accepted transport`);
    }
    connection.attached = true;
    const end = connection.server;
    // Buffered events go out through the queue, and arrivals keep queueing behind them until then.
    this.#fabric.enqueue(this.#fabric.now(), end.origin, this.#local(host, 'attach'), () => {
      if (end.gone) return;
      end.emit = emit;
      for (const event of end.inbox.splice(0)) this.#emit(end, event);
      this.#forgetIfDone(end);
    });
    return end;
  }

  // ---- client side ----------------------------------------------------------------------------

  connect(host: string, endpoint: string, emit: (event: StreamEvent) => void): StreamEnd {
    const state = this.#fabric.host(host);
    const end = this.#newEnd(host, 'connecting', emit);
    if (state?.up !== true) {
      end.state = 'closed';
      end.gone = true;
      this.#ends.delete(end);
      return end;
    }
    const target = parseEndpoint(endpoint);
    const delayMs = drawDelayMs(this.#fabric.faults(host, target?.host ?? host), this.#fabric.streams.delay);
    const entry: TraceEntry = { channel: 'stream', kind: 'syn', from: host, to: target?.key ?? endpoint };
    this.#fabric.enqueue(this.#fabric.now() + delayMs, end.origin, entry, () => this.#arriveSyn(end, target));
    return end;
  }

  #arriveSyn(end: StreamEnd, target: ParsedEndpoint | undefined): void {
    if (end.state !== 'connecting') return; // terminated or stopped meanwhile
    const listener = target && this.#listeners.get(target.key);
    const reachable =
      target !== undefined &&
      listener?.open === true &&
      this.#fabric.host(target.host)?.up === true &&
      !this.#fabric.isCut(end.host, target.host) &&
      this.#connections.size < CONNECTIONS_MAX;
    if (!reachable || listener === undefined) {
      // Refused (no listener, host down or unknown) or unreachable (a partition: really a connect
      // timeout); either way the client hears 1006 after one more delay. Only a host that is up
      // and reachable with nothing listening says so (`refused`, CONN-12), as a real TCP stack would.
      const delayMs = drawDelayMs(this.#fabric.faults(target?.host ?? end.host, end.host), this.#fabric.streams.delay);
      const entry: TraceEntry = { channel: 'stream', kind: 'refused', from: target?.key ?? '?', to: end.host };
      const refused =
        target !== undefined && listener?.open !== true && this.#fabric.host(target.host)?.up === true && !this.#fabric.isCut(end.host, target.host);
      this.#fabric.enqueue(this.#fabric.now() + delayMs, end.origin, entry, () => {
        if (end.state === 'connecting') this.#finish(end, false, CloseCode.abnormal, 'connection refused', refused);
      });
      return;
    }
    const server = this.#newEnd(listener.host, 'open', undefined, listener.origin);
    const connection: Connection = { id: this.#fabric.newId(), client: end, server, attached: false };
    server.peer = end;
    end.peer = server;
    server.connection = connection;
    end.connection = connection;
    this.#connections.set(connection.id, connection);
    const accepted = { type: 'server.accepted', connectionId: connection.id, remoteAddress: end.host } as const;
    listener.emit(target.token === undefined ? accepted : { ...accepted, token: target.token });
    this.#transmit(server, { kind: 'accept' });
  }

  // ---- both sides -----------------------------------------------------------------------------

  command(end: StreamEnd, command: StreamCommand): void {
    if (end.gone || end.state === 'closed') return;
    if (end.state === 'connecting' && (command.type === 'transport.send' || command.type === 'transport.ping')) {
      // Like ws: sending on a socket that is not open yet is a programmer error.
      throw new Error(`switchboard: simulated network: ${command.type} before transport.opened`);
    }
    switch (command.type) {
      case 'transport.send':
        // While closing the message is not sent (ws reports it to the send callback; we have none).
        if (end.state === 'open') {
          this.#transmit(end, { kind: 'data', text: encodeFrame(stampFrame(command.draft, this.#fabric.stamp)) });
        }
        return;
      case 'transport.ping':
        if (end.state === 'open') this.#transmit(end, { kind: 'ping' });
        return;
      case 'transport.close':
        checkClose(command.code, command.reason);
        if (end.state === 'connecting') return this.#abort(end); // ws: closed before established
        if (end.state === 'open') {
          end.state = 'closing';
          this.#transmit(end, { kind: 'close', code: command.code, reason: command.reason ?? '' });
        }
        return;
      case 'transport.terminate':
        return this.#abort(end);
    }
  }

  /** The end's actor stopped: like terminate, but nobody is left to hear transport.closed. */
  release(end: StreamEnd): void {
    if (end.gone) return;
    end.gone = true;
    this.#ends.delete(end);
    if (end.state === 'closed') return this.#forgetIfDone(end);
    const connected = end.state !== 'connecting';
    end.state = 'closed';
    if (connected) this.#transmit(end, { kind: 'rst' });
    this.#forgetIfDone(end);
  }

  /** Raw text onto an open connection (specs inject garbage), in order with the other frames. */
  inject(connectionId: string, to: 'server' | 'client', text: string): void {
    const connection = this.#connections.get(connectionId);
    if (connection === undefined) throw new Error(`switchboard: simulated network: no connection ${connectionId}`);
    this.#transmit(to === 'server' ? connection.client : connection.server, { kind: 'data', text });
  }

  /** The host crashed: its ends and listeners vanish, without a frame or an event. */
  crash(host: string): void {
    for (const end of this.#ends) {
      if (end.host !== host) continue;
      end.state = 'closed';
      end.gone = true;
      this.#ends.delete(end);
    }
    for (const [key, listener] of this.#listeners) {
      if (listener.host !== host) continue;
      listener.open = false;
      this.#listeners.delete(key);
    }
    for (const [id, connection] of this.#connections) {
      if (connection.server.host === host) this.#connections.delete(id); // nobody there can attach now
    }
  }

  // ---- frames ---------------------------------------------------------------------------------

  #transmit(from: StreamEnd, frame: Frame): void {
    const to = from.peer;
    if (to === undefined) return;
    const delayMs = drawDelayMs(this.#fabric.faults(from.host, to.host), this.#fabric.streams.delay);
    const dueAtMs = Math.max(this.#fabric.now() + delayMs, from.lastDueAtMs);
    from.lastDueAtMs = dueAtMs;
    const connectionId = from.connection?.id;
    const entry: TraceEntry =
      connectionId === undefined
        ? { channel: 'stream', kind: frame.kind, from: from.host, to: to.host }
        : { channel: 'stream', kind: frame.kind, from: from.host, to: to.host, connectionId };
    if (!this.#fabric.enqueue(dueAtMs, from.origin, entry, () => this.#arrive(from, to, frame, entry))) {
      from.severed = true; // the queue overflowed: a gap would break TCP order, so the path dies
    }
  }

  #arrive(from: StreamEnd, to: StreamEnd, frame: Frame, entry: TraceEntry): void {
    if (from.severed) return this.#fabric.count('partitioned', entry);
    if (this.#fabric.isCut(from.host, to.host)) {
      from.severed = true;
      return this.#fabric.count('partitioned', entry);
    }
    if (to.gone) {
      // A process that gave up on a connect answers the late accept with a reset (a crashed one cannot).
      if (frame.kind === 'accept' && this.#fabric.alive(to.origin)) this.#transmit(to, { kind: 'rst' });
      return this.#fabric.count('dropped', entry);
    }
    if (this.#fabric.stalled(to.host)) {
      // The application is not reading: the frame waits in the socket (pings go unanswered).
      const kept = this.#fabric.hold(to.host, 'stream', entry, () => {
        if (!to.gone) this.#receive(to, frame, entry);
      });
      if (!kept) {
        from.severed = true; // a gap would break TCP order, so the path dies
        this.#fabric.count('dropped', entry);
      }
      return;
    }
    this.#receive(to, frame, entry);
  }

  #receive(end: StreamEnd, frame: Frame, entry: TraceEntry): void {
    const receiving = end.state === 'open' || end.state === 'closing';
    if (frame.kind !== 'data' && receiving) this.#fabric.note('received', entry);
    switch (frame.kind) {
      case 'accept':
        if (end.state === 'connecting') {
          end.state = 'open';
          this.#emit(end, { type: 'transport.opened' });
        } else if (end.state === 'closed') {
          this.#transmit(end, { kind: 'rst' }); // gave up before the answer came: reset
        }
        return;
      case 'data':
        if (!receiving) return this.#fabric.count('dropped', entry);
        return this.#deliver(end, frame.text, entry);
      case 'ping':
        if (end.state === 'open') this.#transmit(end, { kind: 'pong' }); // auto-pong, as ws does
        return;
      case 'pong':
        if (receiving) this.#emit(end, { type: 'transport.pong' });
        return;
      case 'close':
        if (end.state === 'open') {
          this.#transmit(end, frame); // echo the close frame, completing the handshake
          this.#finish(end, true, frame.code, frame.reason);
        } else if (end.state === 'closing') {
          this.#finish(end, true, frame.code, frame.reason);
        }
        return;
      case 'rst':
        if (end.state !== 'closed') this.#finish(end, false, CloseCode.abnormal, 'connection reset');
        return;
    }
  }

  #deliver(end: StreamEnd, text: string, entry: TraceEntry): void {
    const decoded = decodeFrame(text, this.#fabric.limits);
    if (decoded.ok) {
      this.#fabric.count('delivered', { ...entry, message: decoded.message.type });
      this.#emit(end, { type: 'transport.message', message: decoded.message });
    } else {
      this.#fabric.count('rejected', entry);
      this.#emit(end, { type: 'transport.rejected', error: decoded.error.toShape(), messageId: decoded.messageId, taskId: decoded.taskId });
    }
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /** terminate: closed 1006 for this end on the next tick, a reset for the peer after a delay. */
  #abort(end: StreamEnd): void {
    const connected = end.state === 'open' || end.state === 'closing';
    end.state = 'closed';
    if (connected) this.#transmit(end, { kind: 'rst' });
    this.#later(end, { type: 'transport.closed', graceful: false, code: CloseCode.abnormal, reason: 'terminated' });
    this.#forgetIfDone(end);
  }

  #finish(end: StreamEnd, graceful: boolean, code: number, reason: string, refused = false): void {
    end.state = 'closed';
    this.#forgetIfDone(end);
    this.#emit(end, refused ? { type: 'transport.closed', graceful, code, reason, refused } : { type: 'transport.closed', graceful, code, reason });
  }

  /** Emits `event` to `end` through the queue, at the current time. */
  #later(end: StreamEnd, event: StreamEvent): void {
    this.#fabric.enqueue(this.#fabric.now(), end.origin, this.#local(end.host, event.type), () => this.#emit(end, event));
  }

  #emit(end: StreamEnd, event: StreamEvent): void {
    if (end.gone) return;
    if (end.emit !== undefined) return end.emit(event);
    if (end.inbox.length < INBOX_MAX) end.inbox.push(event);
    else this.#fabric.count('dropped', { channel: 'stream', kind: event.type, from: end.peer?.host ?? '?', to: end.host });
  }

  /** Forgets a connection once both ends are closed and nobody can still attach to it. */
  #forgetIfDone(end: StreamEnd): void {
    const connection = end.connection;
    if (connection === undefined) return;
    const serverDone = connection.server.gone || (connection.attached && connection.server.emit !== undefined);
    if (connection.client.state === 'closed' && connection.server.state === 'closed' && serverDone) {
      this.#connections.delete(connection.id);
    }
  }

  #newEnd(host: string, state: StreamEnd['state'], emit: StreamEnd['emit'], origin?: Origin): StreamEnd {
    const end: StreamEnd = {
      host,
      origin: origin ?? { host, incarnation: this.#fabric.host(host)?.incarnation ?? -1 },
      state,
      gone: false,
      emit,
      inbox: [],
      peer: undefined,
      connection: undefined,
      lastDueAtMs: 0,
      severed: false,
    };
    this.#ends.add(end);
    return end;
  }

  #local(host: string, kind: string): TraceEntry {
    return { channel: 'stream', kind, from: host, to: host };
  }
}
