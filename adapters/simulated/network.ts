/**
 * The simulated network: hosts in one broadcast domain, UDP discovery and WebSocket streams
 * between them, driven by the ONE SimulatedClock that every actor system of the run shares.
 *
 * Deterministic by construction (STYLE principles 5, 7, 8; TigerBeetle's VOPR): no Date, no
 * Math.random, no real timers. Every random choice (loss, duplication, delay, ids) comes from
 * PRNG streams derived from `seed`; in-flight deliveries sit in our own (dueAtMs, seq) queue that
 * drains from clock timeouts. So the same seed and the same sequence of calls give the same run,
 * and a failing spec reproduces from the `seed` it prints.
 *
 * Every message goes through the real codec (machines/codec.ts): the sender stamps and encodes,
 * the receiver decodes, and a decode failure reaches the receiving actor as a coded rejection.
 */
import { advanceClock } from './advance.js';
import type { SimulatedClock } from 'xstate';
import { VirtualClock } from './virtualClock.js';
import { defaultCodecLimits, type CodecLimits, type StampSource } from '../../machines/codec.js';
import { answerBoundsDefaults, type AnswerBoundsOptions } from '../../machines/discovery/answers.js';
import type { PeerAddress } from '../../machines/transport.js';
import { DatagramLayer } from './datagrams.js';
import { PartitionTable, defaultFaultOptions, resolveFaults, type FaultOptions, type FaultStreams } from './faults.js';
import { Prng } from './prng.js';
import { DeliveryQueue } from './queue.js';
import { StreamLayer } from './streams.js';
import { createSimulatedHost, type SimulatedHost } from './transports.js';

export interface SimulatedNetworkOptions {
  /**
   * The clock every actor system of the run shares; deliveries are scheduled on it. XState's
   * SimulatedClock, or VirtualClock for long runs.
   */
  readonly clock: SimulatedClock | VirtualClock;
  /** Every random choice derives from it (only its low 32 bits matter). */
  readonly seed: number;
  /** @default defaultFaultOptions (no loss, no duplication, delay 1..5 ms) */
  readonly faults?: Partial<FaultOptions>;
  /** Epoch ms corresponding to clock time 0, for message timestamps. @default 1_750_000_000_000 */
  readonly epochMs?: number;
  /** @default defaultCodecLimits */
  readonly limits?: Partial<CodecLimits>;
  /** Deliveries in flight at most; beyond it a datagram is dropped and a stream path dies. @default 100_000 */
  readonly inFlightMax?: number;
  /** Called with every delivery outcome (logs, determinism checks). */
  readonly trace?: (record: TraceRecord) => void;
  /** Bounds on answering discovery requests, per socket, as the UDP adapter's (DISC-16, DISC-17). @default answerBoundsDefaults */
  readonly answers?: Partial<AnswerBoundsOptions>;
}

export type Outcome = 'delivered' | 'lost' | 'duplicated' | 'partitioned' | 'rejected' | 'dropped';

export interface NetworkStats {
  /** Datagrams and stream messages decoded and handed to an actor. */
  readonly delivered: number;
  /** Datagram deliveries lost to `lossProbability`. */
  readonly lost: number;
  /** Extra datagram copies made by `duplicateProbability`. */
  readonly duplicated: number;
  /** Datagrams and stream frames eaten by a partition (or by a stream path a partition killed). */
  readonly partitioned: number;
  /** Datagrams and stream messages that failed decoding (the actor got a rejection). */
  readonly rejected: number;
  /** Deliveries with nobody to receive them: unknown or crashed host, stopped actor, full queue. */
  readonly dropped: number;
}

export interface TraceEntry {
  readonly channel: 'datagram' | 'stream';
  /** `datagram`, or the stream frame: syn, accept, data, ping, pong, close, rst, ... */
  readonly kind: string;
  readonly from: string;
  readonly to: string;
  /** The message's type (AssignTask, ServiceAdvertisement, ...) once decoded at delivery. */
  readonly message?: string;
  /** The stream connection a frame travels on. */
  readonly connectionId?: string;
}

export interface TraceRecord extends TraceEntry {
  readonly atMs: number;
  /** `received`: a control frame (ping, pong, close) reached its end; not counted in the stats. */
  readonly outcome: Outcome | 'received' | 'held';
}

/** Who sent a delivery: dropped if that host has crashed (or restarted) since. */
export interface Origin {
  readonly host: string;
  readonly incarnation: number;
}

export interface HostState {
  readonly address: string;
  up: boolean;
  /** Bumped by each crash: sockets and deliveries of an older incarnation are dead. */
  incarnation: number;
}

/** What the datagram and stream layers need from the network (internal). */
export interface Fabric {
  readonly limits: CodecLimits;
  readonly answers: AnswerBoundsOptions;
  readonly stamp: StampSource;
  readonly streams: FaultStreams;
  now(): number;
  newId(): string;
  /** The faults of deliveries from `fromHost` to `toHost` (the link's own, else the network's). */
  faults(fromHost: string, toHost: string): FaultOptions;
  isCut(fromHost: string, toHost: string): boolean;
  host(address: string): HostState | undefined;
  alive(origin: Origin): boolean;
  /** Queues `run` at `dueAtMs`; false (and counted as dropped) when the queue is full. */
  enqueue(dueAtMs: number, origin: Origin | undefined, entry: TraceEntry, run: () => void): boolean;
  count(outcome: Outcome, entry: TraceEntry): void;
  /** Traces without counting (control frames reaching their end). */
  note(outcome: 'received' | 'held', entry: TraceEntry): void;
  /** The host stopped reading: arrivals wait until it reads again (see `stall`). */
  stalled(host: string): boolean;
  /** Keeps `deliver` until the host reads again; false when its buffer of `channel` is full. */
  hold(host: string, channel: 'datagram' | 'stream', entry: TraceEntry, deliver: () => void): boolean;
}

/** Datagrams a host that stopped reading keeps (its socket's receive buffer); more are dropped. */
export const HELD_DATAGRAMS_MAX = 64;
/** Stream frames a host that stopped reading keeps; beyond, the sending path dies (no gap in TCP). */
export const HELD_FRAMES_MAX = 10_000;

interface Held {
  datagrams: number;
  frames: number;
  readonly deliveries: (() => void)[];
}

const ADDRESS_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

export class SimulatedNetwork {
  readonly clock: SimulatedClock | VirtualClock;
  /** Reproduce hint printed by failing specs. */
  readonly seed: number;
  readonly #hosts = new Map<string, { readonly state: HostState; readonly handle: SimulatedHost }>();
  readonly #partitions = new PartitionTable();
  /** Directed link faults, by `from\u0000to`, on top of the network's. */
  readonly #links = new Map<string, Partial<FaultOptions>>();
  readonly #resolvedLinks = new Map<string, FaultOptions>();
  /** Hosts that stopped reading, with what arrived since. */
  readonly #stalled = new Map<string, Held>();
  readonly #stats: { -readonly [K in keyof NetworkStats]: number } = {
    delivered: 0,
    lost: 0,
    duplicated: 0,
    partitioned: 0,
    rejected: 0,
    dropped: 0,
  };
  readonly #queue: DeliveryQueue;
  readonly #datagrams: DatagramLayer;
  readonly #streams: StreamLayer;
  #faults: FaultOptions;

  constructor(options: SimulatedNetworkOptions) {
    const { clock, seed, epochMs = 1_750_000_000_000, inFlightMax = 100_000, trace } = options;
    if (!Number.isInteger(seed)) throw new RangeError(`switchboard: simulated network: seed must be an integer, got ${seed}`);
    if (!Number.isInteger(epochMs)) throw new RangeError(`switchboard: simulated network: epochMs must be an integer`);
    if (!(Number.isInteger(inFlightMax) && inFlightMax > 0)) {
      throw new RangeError(`switchboard: simulated network: inFlightMax must be a positive integer`);
    }
    this.clock = clock;
    this.seed = seed;
    this.#faults = resolveFaults(defaultFaultOptions, options.faults);
    this.#queue = new DeliveryQueue(clock, inFlightMax);
    const ids = Prng.derive(seed, 'ids');
    const newId = (): string => `sim-${ids.hex32()}${ids.hex32()}`;
    const count = (outcome: Outcome, entry: TraceEntry): void => {
      this.#stats[outcome]++;
      trace?.({ atMs: clock.now(), outcome, ...entry });
    };
    const fabric: Fabric = {
      limits: { ...defaultCodecLimits, ...options.limits },
      answers: { ...answerBoundsDefaults, ...options.answers },
      stamp: { nowMs: () => epochMs + clock.now(), newId },
      streams: {
        loss: Prng.derive(seed, 'loss'),
        duplicate: Prng.derive(seed, 'duplicate'),
        delay: Prng.derive(seed, 'delay'),
        reorder: Prng.derive(seed, 'reorder'),
      },
      now: () => clock.now(),
      newId,
      faults: (fromHost, toHost) => (this.#links.size === 0 ? this.#faults : this.#linkFaults(fromHost, toHost)),
      isCut: (fromHost, toHost) => this.#partitions.isCut(fromHost, toHost),
      host: (address) => this.#hosts.get(address)?.state,
      alive: (origin) => this.#alive(origin),
      enqueue: (dueAtMs, origin, entry, run) => {
        const queued = this.#queue.push(dueAtMs, () => {
          if (origin === undefined || this.#alive(origin)) run();
          else count('dropped', entry); // the sender crashed while this was in flight
        });
        if (!queued) count('dropped', entry);
        return queued;
      },
      count,
      note: (outcome, entry) => trace?.({ atMs: clock.now(), outcome, ...entry }),
      stalled: (host) => this.#stalled.has(host),
      hold: (host, channel, entry, deliver) => {
        const held = this.#stalled.get(host);
        if (held === undefined) return false;
        if (channel === 'datagram' ? held.datagrams >= HELD_DATAGRAMS_MAX : held.frames >= HELD_FRAMES_MAX) return false;
        if (channel === 'datagram') held.datagrams++;
        else held.frames++;
        held.deliveries.push(deliver);
        trace?.({ atMs: clock.now(), outcome: 'held', ...entry });
        return true;
      },
    };
    this.#datagrams = new DatagramLayer(fabric);
    this.#streams = new StreamLayer(fabric);
  }

  /** The host at `address` (created, up, on first use). One broadcast domain holds them all. */
  host(address: string): SimulatedHost {
    const known = this.#hosts.get(address);
    if (known !== undefined) return known.handle;
    if (!ADDRESS_PATTERN.test(address) || address === 'broadcast') {
      throw new RangeError(`switchboard: simulated network: "${address}" is not a host address`);
    }
    const state: HostState = { address, up: true, incarnation: 0 };
    const handle = createSimulatedHost(address, { datagrams: this.#datagrams, streams: this.#streams });
    this.#hosts.set(address, { state, handle });
    return handle;
  }

  get faults(): FaultOptions {
    return this.#faults;
  }

  /** Changes the faults from now on (deliveries already in flight keep their fate). */
  setFaults(faults: Partial<FaultOptions>): void {
    this.#faults = resolveFaults(this.#faults, faults);
    this.#resolvedLinks.clear();
  }

  /**
   * Faults of the directed link `from -> to` from now on, on top of the network's (loss,
   * duplication, reordering, delay); `undefined` removes the link's own faults.
   */
  setLinkFaults(from: string, to: string, faults: Partial<FaultOptions> | undefined): void {
    const key = `${from}\u0000${to}`;
    this.#resolvedLinks.delete(key);
    if (faults === undefined) {
      this.#links.delete(key);
      return;
    }
    resolveFaults(this.#faults, { ...this.#links.get(key), ...faults }); // throws now on a bad value
    this.#links.set(key, { ...this.#links.get(key), ...faults });
  }

  /** Removes every link's own faults. */
  clearLinkFaults(): void {
    this.#links.clear();
    this.#resolvedLinks.clear();
  }

  /**
   * The application on `address` stops reading its sockets (a stuck event loop, a full
   * pipeline): datagrams and frames that reach it wait, unread (so pings go unanswered), until
   * `resume`. Its timers still run and it can still send.
   */
  stall(address: string): void {
    this.#require(address);
    if (!this.#stalled.has(address)) this.#stalled.set(address, { datagrams: 0, frames: 0, deliveries: [] });
  }

  /** The application reads again: what waited is delivered now, in arrival order. */
  resume(address: string): void {
    const held = this.#stalled.get(address);
    if (held === undefined) return;
    this.#stalled.delete(address);
    for (const deliver of held.deliveries) deliver();
  }

  isStalled(address: string): boolean {
    return this.#stalled.has(address);
  }

  /**
   * Cuts A -> B (and B -> A unless `symmetric: false`), on top of the partitions in force.
   * Returns a function that removes this partition only.
   */
  partition(groupA: readonly string[], groupB: readonly string[], options: { readonly symmetric?: boolean } = {}): () => void {
    const cuts = this.#partitions.add(groupA, groupB, options.symmetric ?? true);
    return () => this.#partitions.remove(cuts);
  }

  /** Removes every partition. A stream path a partition already killed stays dead. */
  heal(): void {
    this.#partitions.clear();
  }

  /**
   * Host down: its sockets, listeners and connections vanish WITHOUT close frames, so peers see
   * nothing until their own timers fire, and its own actors hear nothing more (the app is gone;
   * the spec should stop them). Deliveries in flight to or from it are dropped.
   */
  crash(address: string): void {
    const state = this.#require(address);
    if (!state.up) return;
    state.up = false;
    state.incarnation++;
    this.#stalled.delete(address); // what it had not read dies with it
    this.#datagrams.crash(address);
    this.#streams.crash(address);
  }

  /** Host up again, empty: the app must create its actors (and so its sockets) anew. */
  restart(address: string): void {
    this.#require(address).up = true;
  }

  isUp(address: string): boolean {
    return this.#hosts.get(address)?.state.up === true;
  }

  get stats(): NetworkStats {
    return { ...this.#stats };
  }

  /** Deliveries queued and not yet due. */
  get inFlight(): number {
    return this.#queue.size;
  }

  /**
   * Advances the clock by `ms`, stopping at every instant where something is due, so each actor
   * timer and each delivery fires at its own time. Steps matter: one big clock.increment() fires
   * everything due at the END time, so timers and deliveries would interleave in the wrong order.
   */
  run(ms: number): void {
    if (!(Number.isInteger(ms) && ms >= 0)) throw new RangeError(`switchboard: simulated network: run(ms) needs an integer >= 0`);
    if (this.clock instanceof VirtualClock) this.clock.advance(ms);
    else advanceClock(this.clock, ms);
  }

  /** Raw text as a datagram (garbage for specs): same routing and faults as a real one. */
  injectDatagram(datagram: { readonly from: PeerAddress; readonly to: string | 'broadcast'; readonly port: number; readonly text: string }): void {
    this.#datagrams.inject(datagram);
  }

  /** Raw text as a message on an accepted connection, in order with the other frames of that direction. */
  injectFrame(frame: { readonly connectionId: string; readonly to: 'server' | 'client'; readonly text: string }): void {
    this.#streams.inject(frame.connectionId, frame.to, frame.text);
  }

  #linkFaults(fromHost: string, toHost: string): FaultOptions {
    const key = `${fromHost}\u0000${toHost}`;
    const patch = this.#links.get(key);
    if (patch === undefined) return this.#faults;
    let resolved = this.#resolvedLinks.get(key);
    if (resolved === undefined) {
      resolved = resolveFaults(this.#faults, patch);
      this.#resolvedLinks.set(key, resolved);
    }
    return resolved;
  }

  #alive(origin: Origin): boolean {
    const state = this.#hosts.get(origin.host)?.state;
    return state !== undefined && state.up && state.incarnation === origin.incarnation;
  }

  #require(address: string): HostState {
    const known = this.#hosts.get(address);
    if (known === undefined) throw new RangeError(`switchboard: simulated network: no host ${address}`);
    return known.state;
  }
}
