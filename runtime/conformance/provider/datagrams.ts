/**
 * The suite's discovery sockets (node:dgram):
 *
 * - `requester`: an ephemeral port of its own. Requests go unicast from it to the provider's
 *   discovery address, so a reply that arrives here was unicast to the requester's port (DISC-3).
 * - `listeners`: sockets bound to the discovery port on broadcast addresses only (127.255.255.255,
 *   each interface's directed broadcast address, 255.255.255.255), with address reuse. They hear
 *   heartbeats (DISC-4) but never steal a unicast datagram meant for a provider on this host: on
 *   Linux a unicast datagram to a shared port goes to one socket bound to a matching address, and a
 *   socket bound to a broadcast address does not match a unicast one (a socket on 0.0.0.0 would).
 *   Multicast-only discovery is not heard.
 */
import { waitUntil } from './waitUntil.js';
import dgram from 'node:dgram';
import { directedBroadcastAddresses, LOOPBACK_BROADCAST } from '../../../adapters/udp.js';
import { decodeDatagram, type DecodeResult } from '../../../machines/codec.js';
import type { DiscoveryMessage } from '../../../machines/messages.js';
import type { UdpAddress } from './options.js';

export interface Datagram {
  readonly at: number;
  readonly text: string;
  readonly json: unknown;
  readonly decoded: DecodeResult<DiscoveryMessage>;
  readonly from: string;
  /** 'unicast': arrived at the requester's own port; 'broadcast': heard on the discovery port. */
  readonly via: 'unicast' | 'broadcast';
}

const DATAGRAMS_MAX = 5_000;

function toDatagram(message: Buffer, from: dgram.RemoteInfo, via: Datagram['via']): Datagram {
  const text = message.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { at: Date.now(), text, json, decoded: decodeDatagram(message), from: `${from.address}:${from.port}`, via };
}

function bind(socket: dgram.Socket, port: number, address: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const onError = (error: Error) => resolve(`${address}: ${(error as { code?: string }).code ?? error.message}`);
    socket.once('error', onError);
    socket.bind({ port, address }, () => {
      socket.off('error', onError);
      socket.on('error', () => {});
      resolve(undefined);
    });
  });
}

export class DiscoveryProbe {
  readonly target: UdpAddress;
  readonly received: Datagram[] = [];
  /** Broadcast addresses listened on, and why the others could not be. */
  readonly listening: string[] = [];
  readonly listenErrors: string[] = [];
  readonly #sockets: dgram.Socket[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(target: UdpAddress) {
    this.target = target;
  }

  /** Opens the broadcast listeners (best effort: what cannot be bound is noted, not thrown). */
  async listen(): Promise<void> {
    const addresses = [...new Set([LOOPBACK_BROADCAST, ...directedBroadcastAddresses(), '255.255.255.255'])];
    for (const address of addresses) {
      const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      const error = await bind(socket, this.target.port, address);
      if (error !== undefined) {
        this.listenErrors.push(error);
        socket.close();
        continue;
      }
      this.listening.push(address);
      this.#track(socket, 'broadcast');
    }
  }

  /** A fresh requester socket on an ephemeral port. */
  async requester(): Promise<Requester> {
    const socket = dgram.createSocket({ type: 'udp4' });
    const error = await bind(socket, 0, '0.0.0.0');
    if (error !== undefined) throw new Error(`cannot open a UDP socket: ${error}`);
    const port = socket.address().port;
    const mine: Datagram[] = [];
    this.#track(socket, 'unicast', mine);
    return {
      port,
      received: mine,
      send: (text: string | Buffer) =>
        new Promise<string | undefined>((resolve) =>
          socket.send(text, this.target.port, this.target.host, (error) => resolve(error ? error.message : undefined)),
        ),
      close: () => this.#close(socket),
    };
  }

  /** Resolves with `check()`'s first value other than undefined, or undefined after `timeoutMs`. */
  until<T>(check: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    return waitUntil(this.#listeners, check, timeoutMs);
  }


  close(): void {
    for (const socket of [...this.#sockets]) this.#close(socket);
  }

  #track(socket: dgram.Socket, via: Datagram['via'], also?: Datagram[]): void {
    this.#sockets.push(socket);
    socket.unref();
    socket.on('message', (message, from) => {
      const datagram = toDatagram(message, from, via);
      if (this.received.length < DATAGRAMS_MAX) this.received.push(datagram);
      if (also !== undefined && also.length < DATAGRAMS_MAX) also.push(datagram);
      for (const listener of [...this.#listeners]) listener();
    });
  }

  #close(socket: dgram.Socket): void {
    const index = this.#sockets.indexOf(socket);
    if (index < 0) return;
    this.#sockets.splice(index, 1);
    try {
      socket.close();
    } catch {
      // already closed
    }
  }
}

export interface Requester {
  readonly port: number;
  /** What arrived at this socket (unicast to it). */
  readonly received: Datagram[];
  /** Sends to the provider's discovery address; resolves with an error message, or undefined. */
  send(text: string | Buffer): Promise<string | undefined>;
  close(): void;
}
