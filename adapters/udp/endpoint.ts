/**
 * The two sockets behind one UDP discovery actor, and their lifecycle.
 *
 * - The SHARED socket is bound to `bindAddress:port` with SO_REUSEADDR (DISC-1): every provider
 *   and client on the host binds the same well-known port, and a broadcast (or multicast) to it
 *   reaches all of them. It joins the multicast group when one is configured.
 * - The EPHEMERAL socket is bound to `bindAddress:0` (a port of its own, chosen by the kernel) and
 *   sends everything. A datagram's source is therefore this port, and a reply to a request goes
 *   unicast to it (DISC-3). That matters because on Linux a unicast to a port shared with
 *   SO_REUSEADDR reaches only ONE of the sockets bound to it (the most recently bound); a reply
 *   sent to the shared port could land in another process. Sent to the requester's ephemeral port,
 *   it reaches exactly the requester.
 *
 * Both sockets deliver what they receive. The shared socket also receives this actor's own
 * broadcasts (the kernel loops them back to every socket bound to the port); they arrive with
 * `from` = this actor's ephemeral address, and the machines ignore them (a provider ignores
 * advertisements, a repository ignores requests). The simulated network never echoes to the sender.
 *
 * Two independent states: the sending socket is `binding` (sends are queued, bounded), `bound`
 * (sends leave at once) or `failed` (sends are dropped and counted); the endpoint is `running`,
 * `draining` (stopped: queued and in-flight sends may finish, for at most closeFlushMs) or
 * `closed`. Nothing here throws on network input or network errors: they are counted and logged.
 */
import dgram from 'node:dgram';
import { Buffer } from 'node:buffer';
import { AnswerBounds } from '../../machines/discovery/answers.js';
import type { DatagramCommand, DatagramEvent, PeerAddress } from '../../machines/transport.js';
import { defaultBroadcastAddresses } from './addresses.js';
import type { UdpConfig } from './options.js';
import { SignatureChecker } from './signature.js';
import { encodeOutgoing, incomingEvent } from './wire.js';

type SenderState = 'binding' | 'bound' | 'failed';
type Lifecycle = 'running' | 'draining' | 'closed';

interface Outgoing {
  readonly bytes: Buffer;
  readonly targets: readonly PeerAddress[];
}

const label = (peer: PeerAddress): string => `${peer.host}:${peer.port}`;

export class DiscoveryEndpoint {
  readonly #config: UdpConfig;
  readonly #deliver: (event: DatagramEvent) => void;
  readonly #shared: dgram.Socket;
  readonly #sender: dgram.Socket;
  /** Where a 'broadcast' goes, fixed when the actor starts. */
  readonly #broadcastTargets: readonly PeerAddress[];
  #senderState: SenderState = 'binding';
  /** The shared socket: `binding` until the port is bound or refused (reported once, DISC-1). */
  #sharedState: SenderState = 'binding';
  #lifecycle: Lifecycle = 'running';
  #queue: Outgoing[] = [];
  #inFlight = 0;
  #joinedGroup = false;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  /** DISC-16, DISC-17: which requests get answers, and how many bytes of them. */
  readonly #answers: AnswerBounds;
  readonly #checker: SignatureChecker | undefined;

  constructor(config: UdpConfig, deliver: (event: DatagramEvent) => void) {
    this.#config = config;
    this.#answers = new AnswerBounds(config.answers);
    this.#checker = config.verifySignatures ? new SignatureChecker() : undefined;
    this.#deliver = deliver;
    this.#broadcastTargets = broadcastTargets(config);
    this.#shared = this.#open('shared', { type: 'udp4', reuseAddr: true });
    this.#sender = this.#open('ephemeral', { type: 'udp4' });
    this.#shared.bind({ port: config.port, address: config.bindAddress }, () => this.#sharedBound());
    this.#sender.bind({ port: 0, address: config.bindAddress }, () => this.#senderBound());
    config.log('debug', 'udp discovery: binding', { port: config.port, broadcastTargets: this.#broadcastTargets.map(label) });
  }

  /**
   * Stamps, encodes (signs, pads) and sends (or queues) one datagram. A unicast send is an answer
   * to a request: it leaves only within that request's budget (DISC-17). Throws only on a
   * programmer error: an invalid or oversized draft.
   */
  send(command: DatagramCommand): void {
    if (this.#lifecycle !== 'running') return;
    const { nowMs, signer, requestBytesMin, capabilitiesForm, limits, metrics, log } = this.#config;
    const text = encodeOutgoing(command.draft, { nowMs, signer, requestBytesMin, capabilitiesForm });
    const bytes = Buffer.from(text, 'utf8');
    const max = limits.datagramBytesMax;
    if (bytes.byteLength > max) {
      throw new RangeError(
        `switchboard: udp discovery: a ${command.draft.discoveryType} of ${bytes.byteLength} bytes exceeds datagramBytesMax (${max}); it was not sent`,
      );
    }
    const verdict = command.to === 'broadcast' ? 'send' : this.#answers.spend(command.to, bytes.byteLength, nowMs());
    if (verdict !== 'send') {
      metrics.answersOverBudget++;
      const why = verdict === 'overBudget' ? "exceeds its request's budget" : 'is not the one answer its unpadded request gets';
      log('debug', `udp discovery: an answer of ${bytes.byteLength} bytes to ${label(command.to as PeerAddress)} ${why}; not sent`);
      return;
    }
    const outgoing: Outgoing = { bytes, targets: command.to === 'broadcast' ? this.#broadcastTargets : [command.to] };
    if (this.#senderState === 'bound') this.#transmit(outgoing);
    else if (this.#senderState === 'binding') this.#enqueue(outgoing);
    else this.#drop(1, 'the sending socket failed to bind');
  }

  /** Stops delivering, lets pending sends leave (bounded by closeFlushMs), then closes both sockets. Idempotent. */
  close(): void {
    if (this.#lifecycle !== 'running') return;
    this.#lifecycle = 'draining';
    this.#drainTimer = setTimeout(() => this.#finish(), this.#config.closeFlushMs);
    this.#drainTimer.unref();
    this.#finishIfDrained();
  }

  #open(role: 'shared' | 'ephemeral', options: dgram.SocketOptions): dgram.Socket {
    const socket = dgram.createSocket(options);
    socket.on('error', (error) => this.#socketError(role, error));
    socket.on('message', (bytes, rinfo) => this.#receive(bytes, { host: rinfo.address, port: rinfo.port }));
    return socket;
  }

  #sharedBound(): void {
    if (this.#lifecycle === 'closed') return;
    this.#sharedState = 'bound';
    this.#config.onPortState({ port: this.#config.port, listening: true });
    const multicast = this.#config.multicast;
    if (multicast !== undefined) {
      this.#try('shared', `join multicast group ${multicast.group}`, () => {
        this.#shared.addMembership(multicast.group, multicast.interface);
        this.#joinedGroup = true;
      });
    }
    this.#config.log('debug', 'udp discovery: listening', { port: this.#config.port, joinedGroup: this.#joinedGroup });
  }

  #senderBound(): void {
    if (this.#lifecycle === 'closed') return;
    this.#senderState = 'bound';
    const { multicast, log } = this.#config;
    this.#try('ephemeral', 'enable broadcast', () => this.#sender.setBroadcast(true));
    if (multicast !== undefined) {
      this.#try('ephemeral', 'set the multicast TTL', () => this.#sender.setMulticastTTL(multicast.ttl));
      this.#try('ephemeral', 'enable multicast loopback', () => this.#sender.setMulticastLoopback(true));
      const viaInterface = multicast.interface;
      if (viaInterface !== undefined) {
        this.#try('ephemeral', 'set the multicast interface', () => this.#sender.setMulticastInterface(viaInterface));
      }
    }
    log('debug', 'udp discovery: bound', { port: this.#config.port, ephemeralPort: this.#sender.address().port });
    const queued = this.#queue;
    this.#queue = [];
    for (const outgoing of queued) this.#transmit(outgoing);
    this.#finishIfDrained();
  }

  #receive(bytes: Buffer, from: PeerAddress): void {
    if (this.#lifecycle !== 'running') return;
    const { metrics, limits, log, nowMs } = this.#config;
    const event = incomingEvent(bytes, from, { limits, nowMs, checker: this.#checker });
    if (event.type === 'datagram.received') {
      metrics.received++;
      if (event.proof !== undefined && event.proof.kind !== 'unsigned') {
        metrics.signaturesChecked++;
        if (event.proof.kind === 'invalid') metrics.signaturesInvalid++;
      }
      if (event.message.discoveryType === 'ClientServiceDiscoveryRequest') {
        const admission = this.#answers.admitRequest(from, bytes.byteLength, nowMs());
        if (admission !== 'answer') {
          metrics.requestsRateLimited++;
          const why = admission === 'sourceLimited' ? 'rate of its source' : admission === 'limited' ? 'overall rate' : 'unpadded, beyond the unpadded bounds';
          log('debug', `udp discovery: a request from ${label(from)} is not answered (${why})`);
          if (admission !== 'unanswered') return;
        }
      }
    } else {
      const code = event.error.code;
      metrics.rejected++;
      metrics.rejectedByCode[code] = (metrics.rejectedByCode[code] ?? 0) + 1;
      log('debug', `udp discovery: rejected a datagram from ${label(from)}: ${code}`, event.error);
    }
    try {
      this.#deliver(event);
    } catch (error) {
      // The parent's reaction is its business; it must not take down the socket's event loop.
      log('error', 'udp discovery: delivering a datagram failed', error);
    }
  }

  #enqueue(outgoing: Outgoing): void {
    if (this.#queue.length >= this.#config.sendQueueMax) {
      this.#queue.shift();
      this.#drop(1, `more than ${this.#config.sendQueueMax} datagrams queued before bind; dropped the oldest`);
    }
    this.#queue.push(outgoing);
  }

  #transmit(outgoing: Outgoing): void {
    for (const target of outgoing.targets) {
      this.#inFlight++;
      try {
        this.#sender.send(outgoing.bytes, target.port, target.host, (error) => this.#settled(target, error));
      } catch (error) {
        // Thrown synchronously for a bad port (a spoofed source port 0, say) or a closed socket.
        this.#settled(target, error);
      }
    }
  }

  #settled(target: PeerAddress, error: unknown): void {
    this.#inFlight--;
    if (error) {
      this.#config.metrics.sendErrors++;
      this.#config.log('warn', `udp discovery: could not send to ${label(target)}`, error);
    } else {
      this.#config.metrics.sent++;
    }
    this.#finishIfDrained();
  }

  #socketError(role: 'shared' | 'ephemeral', error: Error): void {
    this.#config.metrics.socketErrors++;
    if (role === 'ephemeral' && this.#senderState === 'binding') {
      this.#senderState = 'failed';
      this.#config.log('error', 'udp discovery: the sending socket could not bind; discovery sends are dropped', error);
      this.#drop(this.#queue.length, 'the sending socket failed to bind');
      this.#queue = [];
      this.#finishIfDrained();
      return;
    }
    if (role === 'shared' && this.#sharedState === 'binding') {
      this.#sharedState = 'failed';
      this.#portUnavailable(error);
      return;
    }
    const what = role === 'shared' ? `the discovery port ${this.#config.port}` : 'the sending socket';
    this.#config.log('error', `udp discovery: socket error on ${what}`, error);
  }

  /**
   * DISC-1: the port is held exclusively by another process (bound without SO_REUSEADDR) or not
   * allowed. Said loudly, once: requests and heartbeats sent to the port on this host go to that
   * process, not to this one.
   */
  #portUnavailable(error: Error): void {
    const { port } = this.#config;
    const code = (error as { code?: string }).code ?? 'ERROR';
    const reason =
      code === 'EADDRINUSE'
        ? `another process holds UDP port ${port} exclusively (bound without SO_REUSEADDR, as peers built from the seed alone often are)`
        : `UDP port ${port} cannot be bound (${code}: ${error.message})`;
    this.#config.log(
      'error',
      `udp discovery: ${reason}: discovery requests and heartbeats sent to port ${port} on this host do not reach this process; answers to its own requests still do. See "Sharing the discovery port" in docs/guide.md`,
      error,
    );
    this.#config.onPortState({ port, listening: false, code, reason });
  }

  #try(role: 'shared' | 'ephemeral', what: string, action: () => void): void {
    try {
      action();
    } catch (error) {
      this.#config.metrics.socketErrors++;
      this.#config.log('warn', `udp discovery: could not ${what} (${role} socket)`, error);
    }
  }

  #drop(count: number, reason: string): void {
    if (count === 0) return;
    this.#config.metrics.sendsDropped += count;
    this.#config.log('warn', `udp discovery: dropped ${count} datagram(s): ${reason}`);
  }

  #finishIfDrained(): void {
    if (this.#lifecycle !== 'draining') return;
    if (this.#senderState === 'binding' || this.#queue.length > 0 || this.#inFlight > 0) return;
    this.#finish();
  }

  #finish(): void {
    if (this.#lifecycle === 'closed') return;
    this.#lifecycle = 'closed';
    clearTimeout(this.#drainTimer);
    this.#drop(this.#queue.length, 'still queued when the actor stopped');
    this.#queue = [];
    const multicast = this.#config.multicast;
    if (this.#joinedGroup && multicast !== undefined) {
      this.#try('shared', 'leave the multicast group', () => this.#shared.dropMembership(multicast.group, multicast.interface));
    }
    let open = 2;
    const closed = (): void => {
      if (--open === 0) this.#config.log('debug', 'udp discovery: closed', { port: this.#config.port });
    };
    for (const socket of [this.#shared, this.#sender]) {
      try {
        socket.close(closed);
      } catch {
        closed(); // already closed (ERR_SOCKET_DGRAM_NOT_RUNNING)
      }
    }
  }
}

function broadcastTargets(config: UdpConfig): PeerAddress[] {
  const addresses = config.broadcast ? (config.broadcastAddresses ?? defaultBroadcastAddresses()) : [];
  return [
    ...addresses.map((host) => ({ host, port: config.port })),
    ...(config.multicast === undefined ? [] : [{ host: config.multicast.group, port: config.port }]),
    ...config.unicastPeers,
  ];
}
