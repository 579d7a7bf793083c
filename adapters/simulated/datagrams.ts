/**
 * UDP on the simulated network: discovery sockets, broadcast and unicast, loss, duplication,
 * delay (so reordering) and partitions.
 *
 * Addressing mirrors the real UDP adapter. Each discovery socket is bound to the shared discovery
 * port (address reuse, DISC-1: several sockets per host) AND owns an ephemeral port of its own,
 * from which it sends everything. So:
 * - a broadcast reaches every socket bound to the sender's discovery port on every host, including
 *   the other sockets of the sender's host, never the sending socket itself;
 * - a unicast to {host, sharedPort} reaches ONE socket, the most recently bound (Linux with
 *   SO_REUSEADDR);
 * - the `from` of a received datagram is the sender's ephemeral {host, port}, and a reply sent
 *   there reaches that socket only (the real adapter sends requests from an ephemeral socket for
 *   the same reason; docs/protocol.md, discovery notes).
 *
 * Datagrams are encoded and received exactly as by the real adapter (adapters/udp/wire.ts):
 * advertisements signed by the socket's signer and checked on arrival (SEC-8), requests padded,
 * and answers bounded per source and in size (AnswerBounds, DISC-16, DISC-17); a request over the
 * rate or an answer over its budget is counted as `dropped`.
 */
import { AnswerBounds, REQUEST_BYTES_MIN } from '../../machines/discovery/answers.js';
import type { DatagramCommand, DatagramEvent, PeerAddress } from '../../machines/transport.js';
import { SignatureChecker, type DatagramSigner } from '../udp/signature.js';
import { encodeOutgoing, incomingEvent } from '../udp/wire.js';
import { drawDatagram } from './faults.js';
import type { Fabric, Origin, TraceEntry } from './network.js';

/** Ephemeral ports are handed out in order from this range, per host, never reused in a run. */
export const EPHEMERAL_PORT_FIRST = 40_000;
export const EPHEMERAL_PORT_LAST = 49_151;

export interface DatagramSocket {
  readonly host: string;
  /** The shared discovery port it is bound to (and broadcasts to). */
  readonly port: number;
  /** Its own port: the source of everything it sends. */
  readonly ephemeralPort: number;
  readonly origin: Origin;
  readonly emit: (event: DatagramEvent) => void;
  /** False once closed, its actor stopped, or its host crashed: nothing more reaches it. */
  open: boolean;
  readonly signer: DatagramSigner | undefined;
  readonly checker: SignatureChecker | undefined;
  readonly answers: AnswerBounds;
}

/** What a simulated discovery socket does beyond routing, as the real adapter's options. */
export interface DatagramSocketOptions {
  /** Signs this socket's advertisements. @default unsigned */
  readonly signer?: DatagramSigner | undefined;
  /** Check received advertisements' signatures. @default true */
  readonly verifySignatures?: boolean | undefined;
}

export interface InjectedDatagram {
  /** The claimed source; need not be a host of the network (spoofed garbage is fine). */
  readonly from: PeerAddress;
  readonly to: string | 'broadcast';
  readonly port: number;
  readonly text: string;
}

export class DatagramLayer {
  readonly #fabric: Fabric;
  /** Open sockets by host, in bind order. */
  readonly #sockets = new Map<string, DatagramSocket[]>();
  readonly #ephemeralNext = new Map<string, number>();
  /** One for the whole network: a broadcast reaches many sockets, and its proof is found once. */
  readonly #checker = new SignatureChecker();

  constructor(fabric: Fabric) {
    this.#fabric = fabric;
  }

  /** Binds a socket; on a host that is down the socket is inert (the app is not running there). */
  open(host: string, port: number, emit: (event: DatagramEvent) => void, options: DatagramSocketOptions = {}): DatagramSocket {
    const state = this.#fabric.host(host);
    const up = state?.up === true;
    const socket: DatagramSocket = {
      host,
      port,
      ephemeralPort: up ? this.#allocateEphemeralPort(host) : 0,
      origin: { host, incarnation: state?.incarnation ?? -1 },
      emit,
      open: up,
      signer: options.signer,
      checker: options.verifySignatures === false ? undefined : this.#checker,
      answers: new AnswerBounds(this.#fabric.answers),
    };
    if (up) this.#socketsOf(host).push(socket);
    return socket;
  }

  close(socket: DatagramSocket): void {
    if (!socket.open) return;
    socket.open = false;
    const sockets = this.#socketsOf(socket.host);
    sockets.splice(sockets.indexOf(socket), 1);
  }

  /** The host crashed: its sockets vanish without a word. */
  crash(host: string): void {
    for (const socket of this.#socketsOf(host)) socket.open = false;
    this.#sockets.delete(host);
  }

  send(socket: DatagramSocket, command: DatagramCommand): void {
    if (!socket.open) return;
    const text = encodeOutgoing(command.draft, { nowMs: this.#fabric.stamp.nowMs, signer: socket.signer, requestBytesMin: Math.min(REQUEST_BYTES_MIN, this.#fabric.limits.datagramBytesMax) });
    const from: PeerAddress = { host: socket.host, port: socket.ephemeralPort };
    if (command.to === 'broadcast') {
      for (const target of this.#boundTo(socket.port)) {
        if (target !== socket) this.#transmit(from, socket.origin, target, text);
      }
      return;
    }
    // A unicast send answers a request: only within that request's budget (DISC-17).
    const target = this.#unicastTarget(command.to.host, command.to.port);
    if (target === undefined || socket.answers.spend(command.to, byteLength(text), this.#fabric.now()) !== 'send') {
      this.#fabric.count('dropped', { channel: 'datagram', kind: 'datagram', from: address(from), to: address(command.to) });
      return;
    }
    this.#transmit(from, socket.origin, target, text);
  }

  /** Raw text onto the wire (specs inject garbage); subject to the same faults. */
  inject(datagram: InjectedDatagram): void {
    const targets =
      datagram.to === 'broadcast'
        ? this.#boundTo(datagram.port)
        : [this.#unicastTarget(datagram.to, datagram.port)].filter((target) => target !== undefined);
    for (const target of targets) this.#transmit(datagram.from, undefined, target, datagram.text);
  }

  #transmit(from: PeerAddress, origin: Origin | undefined, target: DatagramSocket, text: string): void {
    const draw = drawDatagram(this.#fabric.faults(from.host, target.host), this.#fabric.streams);
    const entry = { channel: 'datagram', kind: 'datagram', from: address(from), to: socketAddress(target) } as const;
    if (draw.lost) {
      this.#fabric.count('lost', entry);
      return;
    }
    const now = this.#fabric.now();
    this.#fabric.enqueue(now + draw.delayMs, origin, entry, () => this.#arrive(from, target, text));
    if (draw.duplicated) {
      this.#fabric.count('duplicated', entry);
      this.#fabric.enqueue(now + draw.duplicateDelayMs, origin, entry, () => this.#arrive(from, target, text));
    }
  }

  #arrive(from: PeerAddress, target: DatagramSocket, text: string): void {
    const entry = { channel: 'datagram', kind: 'datagram', from: address(from), to: socketAddress(target) } as const;
    if (!target.open) return this.#fabric.count('dropped', entry);
    if (this.#fabric.isCut(from.host, target.host)) return this.#fabric.count('partitioned', entry);
    if (this.#fabric.stalled(target.host)) {
      // Unread in the socket's buffer until the application reads again; a full buffer drops it.
      const kept = this.#fabric.hold(target.host, 'datagram', entry, () => this.#read(from, target, text, entry));
      if (!kept) this.#fabric.count('dropped', entry);
      return;
    }
    this.#read(from, target, text, entry);
  }

  /** The application reads the datagram: checked (signature, freshness) as at this moment. */
  #read(from: PeerAddress, target: DatagramSocket, text: string, entry: TraceEntry): void {
    if (!target.open) return this.#fabric.count('dropped', entry);
    const event = incomingEvent(text, from, { limits: this.#fabric.limits, nowMs: this.#fabric.stamp.nowMs, checker: target.checker });
    if (event.type === 'datagram.rejected') {
      this.#fabric.count('rejected', entry);
    } else if (
      event.message.discoveryType === 'ClientServiceDiscoveryRequest' &&
      ['sourceLimited', 'limited'].includes(target.answers.admitRequest(from, byteLength(text), this.#fabric.now()))
    ) {
      return this.#fabric.count('dropped', entry); // over the request rate (DISC-16)
    } else {
      this.#fabric.count('delivered', { ...entry, message: event.message.discoveryType });
    }
    target.emit(event);
  }

  /** Every open socket bound to `port`, hosts in the order they first bound, sockets in bind order. */
  #boundTo(port: number): DatagramSocket[] {
    return [...this.#sockets.values()].flatMap((sockets) => sockets.filter((socket) => socket.port === port));
  }

  /** The socket whose ephemeral port this is, else the most recently bound one on the shared port. */
  #unicastTarget(host: string, port: number): DatagramSocket | undefined {
    if (this.#fabric.host(host)?.up !== true) return undefined;
    const sockets = this.#sockets.get(host) ?? [];
    return sockets.find((socket) => socket.ephemeralPort === port) ?? sockets.findLast((socket) => socket.port === port);
  }

  #socketsOf(host: string): DatagramSocket[] {
    let sockets = this.#sockets.get(host);
    if (sockets === undefined) {
      sockets = [];
      this.#sockets.set(host, sockets);
    }
    return sockets;
  }

  #allocateEphemeralPort(host: string): number {
    const shared = new Set(this.#socketsOf(host).map((socket) => socket.port));
    let port = this.#ephemeralNext.get(host) ?? EPHEMERAL_PORT_FIRST;
    while (shared.has(port)) port++;
    if (port > EPHEMERAL_PORT_LAST) {
      throw new RangeError(`switchboard: simulated network: ${host} ran out of ephemeral ports`);
    }
    this.#ephemeralNext.set(host, port + 1);
    return port;
  }
}

const utf8 = new TextEncoder();
const byteLength = (text: string): number => utf8.encode(text).byteLength;

function address(peer: PeerAddress): string {
  return `${peer.host}:${peer.port}`;
}

function socketAddress(socket: DatagramSocket): string {
  return `${socket.host}:${socket.port}/${socket.ephemeralPort}`;
}
