/**
 * File links on the simulated network (FILE-1): a client opens one to a provider and both ends
 * run the real file transfer code (runtime/files: `attachFileLink`, `socketTransferLink`,
 * `FileTransfers` and their statecharts, the store's verification) over a socket of this module,
 * which has the few members of a `ws` WebSocket that code uses. Text messages are JSON, chunks are
 * binary frames, both decoded by the real link code.
 *
 * The link suffers the run's faults as the simulated network's WebSocket streams do: a delay
 * drawn from the seed (the base network delay, or the link fault's), order kept per direction (a
 * TCP connection), a partition eats what crosses it and that direction stays dead for good (no
 * retransmission is modelled, as for streams), a crashed end vanishes without a word (the other
 * end's `transferIdleMs` must notice, FILE-7), a stalled or frozen receiver reads nothing until it
 * resumes. And one fault streams do not have: `corrupt`, the probability that a chunk arrives with
 * one byte of its content flipped (a broken link or a lying sender), which the receiver must catch
 * (FILE-2) and the checker too.
 *
 * Why not the WebSocket streams themselves: those carry protocol envelopes only; a file link is a
 * side channel of the provider's WebSocket server with binary messages.
 */
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { Prng } from '../../adapters/simulated/prng.js';
import type { VirtualClock } from '../../adapters/simulated/virtualClock.js';
import type { Range } from './scenario.js';

/** Per-direction faults of file links (set by `link` faults; `corrupt` also by the network's base faults). */
export interface FileLinkFaults {
  readonly delay?: Range | undefined;
  readonly corrupt?: number | undefined;
}

/** What a provider does with a file link a client opened (its own FileTransfers over the socket). */
export type FileLinkAccept = (socket: WebSocket, clientId: string) => void;

const OPEN = 1;
const CLOSED = 3;
/** How often a message for a stalled receiver looks again. */
const STALL_RETRY_MS = 20;

/** One end of a file link, shaped like the `ws` WebSocket the file link code expects. */
export class SimulatedFileSocket extends EventEmitter {
  readyState = OPEN;
  readonly bufferedAmount = 0;
  #out: (data: string | Uint8Array, binary: boolean) => void = () => {};
  #closed: (code: number, reason: string) => void = () => {};
  #held: [string | Uint8Array, boolean][] | undefined;

  /** @internal wires the end to its link. */
  wire(out: (data: string | Uint8Array, binary: boolean) => void, closed: (code: number, reason: string) => void): void {
    this.#out = out;
    this.#closed = closed;
  }

  send(data: string | Uint8Array, options?: { binary?: boolean } | ((error?: Error) => void), callback?: (error?: Error) => void): void {
    const done = typeof options === 'function' ? options : callback;
    const binary = typeof options === 'object' && options.binary === true;
    if (this.readyState === OPEN) this.#out(binary ? Uint8Array.from(data as Uint8Array) : String(data), binary);
    done?.();
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState !== OPEN) return;
    this.#closed(code, reason);
    this.hangUp(code, reason);
  }

  terminate(): void {
    this.close(1006, 'terminated');
  }

  /** @internal the link closed (this end's close, the peer's, or a crash): 'close' once. */
  hangUp(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.emit('close', code, Buffer.from(reason));
  }

  /** Stops reading (the link code's read gate): what arrives waits, in order, until `resume`. */
  pause(): void {
    this.#held ??= [];
  }

  resume(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const [data, binary] of held) this.deliver(data, binary);
  }

  /** @internal a message arrives. */
  deliver(data: string | Uint8Array, binary: boolean): void {
    if (this.readyState !== OPEN) return;
    if (this.#held !== undefined) {
      this.#held.push([data, binary]);
      return;
    }
    this.emit('message', binary ? Buffer.from(data as Uint8Array) : Buffer.from(data as string), binary);
  }
}

interface Direction {
  readonly from: string;
  readonly to: string;
  readonly socket: SimulatedFileSocket;
  /** When the last message of this direction is due: the next is never earlier (TCP order). */
  lastDueAt: number;
  /** A partition ate a message: nothing more gets through. */
  dead: boolean;
  /** Messages on their way, in order. */
  readonly queue: Pending[];
}

interface Pending {
  readonly due: number;
  readonly arrive: () => void;
}

interface Link {
  readonly client: string;
  readonly provider: string;
  readonly up: Direction;
  readonly down: Direction;
  open: boolean;
}

export interface FileFabricOptions {
  readonly clock: VirtualClock;
  readonly seed: number;
  /** The base delay of every link (the network's). */
  readonly delay: Range;
  /** Whether a host reads nothing now (stalled or frozen). */
  readonly stalled: (host: string) => boolean;
  /** Counts corrupted chunks, for the run's summary. */
  readonly onCorrupt?: (from: string, to: string) => void;
}

/** Every file link of a run. */
export class FileFabric {
  readonly #options: FileFabricOptions;
  readonly #prng: Prng;
  readonly #listeners = new Map<string, FileLinkAccept>();
  readonly #links = new Set<Link>();
  readonly #cuts = new Map<string, number>();
  readonly #linkFaults = new Map<string, FileLinkFaults>();
  #baseCorrupt = 0;
  corrupted = 0;

  constructor(options: FileFabricOptions) {
    this.#options = options;
    this.#prng = Prng.derive(options.seed, 'file links');
  }

  /** A provider incarnation takes file links from now on. */
  listen(provider: string, accept: FileLinkAccept): void {
    this.#listeners.set(provider, accept);
  }

  /** A host crashed: its links vanish without a word to the other end, and it takes none until it listens again. */
  crash(host: string): void {
    this.#listeners.delete(host);
    for (const link of [...this.#links]) {
      if (link.client !== host && link.provider !== host) continue;
      link.open = false;
      link.up.dead = link.down.dead = true;
      // Without a word: the crashed side's code is gone, the surviving end hears nothing (its idle timers must notice, FILE-7).
      this.#links.delete(link);
    }
  }

  /** Opens a link from a client to a provider; undefined (connection refused) when the provider takes none. */
  connect(client: string, provider: string, clientId: string): SimulatedFileSocket | undefined {
    const accept = this.#listeners.get(provider);
    if (accept === undefined || this.#isCut(client, provider) || this.#isCut(provider, client)) return undefined;
    const clientEnd = new SimulatedFileSocket();
    const providerEnd = new SimulatedFileSocket();
    const now = this.#options.clock.now();
    const link: Link = {
      client,
      provider,
      up: { from: client, to: provider, socket: providerEnd, lastDueAt: now, dead: false, queue: [] },
      down: { from: provider, to: client, socket: clientEnd, lastDueAt: now, dead: false, queue: [] },
      open: true,
    };
    this.#links.add(link);
    const wire = (end: SimulatedFileSocket, out: Direction) =>
      end.wire(
        (data, binary) => this.#send(link, out, data, binary),
        (code, reason) => {
          // A close frame travels like a message; the link is gone for both ends after it arrives.
          this.#send(link, out, undefined, false, () => {
            link.open = false;
            this.#links.delete(link);
            out.socket.hangUp(code, reason);
          });
        },
      );
    wire(clientEnd, link.up);
    wire(providerEnd, link.down);
    accept(providerEnd as unknown as WebSocket, clientId);
    return clientEnd;
  }

  /** A partition from `from` to `to` begins; returns its undo. */
  cut(from: string, to: string): () => void {
    const key = `${from}\u0000${to}`;
    this.#cuts.set(key, (this.#cuts.get(key) ?? 0) + 1);
    return () => {
      const count = (this.#cuts.get(key) ?? 1) - 1;
      if (count <= 0) this.#cuts.delete(key);
      else this.#cuts.set(key, count);
    };
  }

  setLinkFaults(from: string, to: string, faults: FileLinkFaults | undefined): void {
    const key = `${from}\u0000${to}`;
    if (faults === undefined) this.#linkFaults.delete(key);
    else this.#linkFaults.set(key, faults);
  }

  /** The network's base corruption (the fault phase's; 0 after the heal). */
  setBaseCorrupt(probability: number): void {
    this.#baseCorrupt = probability;
  }

  /** The final heal: no partitions, no link faults (dead directions stay dead, as streams do). */
  heal(): void {
    this.#cuts.clear();
    this.#linkFaults.clear();
    this.#baseCorrupt = 0;
  }

  #isCut(from: string, to: string): boolean {
    return this.#cuts.has(`${from}\u0000${to}`);
  }

  #send(link: Link, direction: Direction, data: string | Uint8Array | undefined, binary: boolean, onArrival?: () => void): void {
    if (!link.open || direction.dead) return;
    if (this.#isCut(direction.from, direction.to)) {
      direction.dead = true;
      return;
    }
    const faults = this.#linkFaults.get(`${direction.from}\u0000${direction.to}`);
    const delay = faults?.delay ?? this.#options.delay;
    const now = this.#options.clock.now();
    const due = Math.max(direction.lastDueAt, now + (delay.min === delay.max ? delay.min : this.#prng.integer(delay.min, delay.max)));
    direction.lastDueAt = due;
    let payload = data;
    if (binary && payload instanceof Uint8Array && this.#prng.chance(Math.max(this.#baseCorrupt, faults?.corrupt ?? 0))) {
      payload = corruptChunk(payload, this.#prng);
      if (payload !== data) {
        this.corrupted++;
        this.#options.onCorrupt?.(direction.from, direction.to);
      }
    }
    direction.queue.push({ due, arrive: onArrival ?? (() => direction.socket.deliver(payload as string | Uint8Array, binary)) });
    if (direction.queue.length === 1) this.#options.clock.setTimeout(() => this.#pump(link, direction), due - now);
  }

  /** Delivers what is due in one direction, in order; a receiver that reads nothing now (stalled, frozen) reads it later. */
  #pump(link: Link, direction: Direction): void {
    const clock = this.#options.clock;
    while (direction.queue.length > 0) {
      if (this.#isCut(direction.from, direction.to)) direction.dead = true;
      if (!link.open || direction.dead) {
        direction.queue.length = 0;
        return;
      }
      const head = direction.queue[0] as Pending;
      const now = clock.now();
      if (head.due > now) {
        clock.setTimeout(() => this.#pump(link, direction), head.due - now);
        return;
      }
      if (this.#options.stalled(direction.to)) {
        clock.setTimeout(() => this.#pump(link, direction), STALL_RETRY_MS);
        return;
      }
      direction.queue.shift();
      head.arrive();
    }
  }
}

/** The chunk frame with one byte of its content flipped (FILE-5: 0x01, L, transferId, 4-byte index, content); unchanged when it has no content. */
export function corruptChunk(frame: Uint8Array, prng: Prng): Uint8Array {
  const header = 2 + (frame[1] ?? 0) + 4;
  if (frame.byteLength <= header) return frame;
  const copy = Uint8Array.from(frame);
  const at = prng.integer(header, copy.byteLength - 1);
  copy[at] = (copy[at] as number) ^ (1 + prng.integer(0, 254));
  return copy;
}
