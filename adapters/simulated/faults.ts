/**
 * Faults of the simulated network, as data (STYLE principle 8, after TigerBeetle's
 * PacketSimulatorOptions): per-delivery loss, duplication and delay, plus a table of directed
 * partitions. Pure helpers only; the network applies them.
 *
 * Loss, duplication and reordering apply to datagrams only: a stream (TCP) neither loses,
 * duplicates nor reorders, it only goes silent when a partition cuts its path. The same options
 * may be set per directed link (SimulatedNetwork.setLinkFaults), on top of the network's.
 */
import type { Prng } from './prng.js';

export interface FaultOptions {
  /** Probability that one datagram delivery is lost, 0..1. @default 0 */
  readonly lossProbability: number;
  /** Probability that one datagram delivery arrives twice (each copy with its own delay), 0..1. @default 0 */
  readonly duplicateProbability: number;
  /** Smallest one-way delay of a delivery, integer ms. @default 1 */
  readonly delayMsMin: number;
  /** Largest one-way delay (uniform in [delayMsMin, delayMsMax]); a range reorders datagrams. @default 5 */
  readonly delayMsMax: number;
  /** Probability that a datagram is held back by an extra delay, so later ones overtake it, 0..1. @default 0 */
  readonly reorderProbability: number;
  /** Largest extra delay of a held-back datagram (uniform in [1, reorderDelayMsMax]). @default 50 */
  readonly reorderDelayMsMax: number;
}

export const defaultFaultOptions: FaultOptions = {
  lossProbability: 0,
  duplicateProbability: 0,
  delayMsMin: 1,
  delayMsMax: 5,
  reorderProbability: 0,
  reorderDelayMsMax: 50,
};

/** Largest accepted one-way delay: a day of simulated time is already a bug in the spec. */
const DELAY_MS_LIMIT = 86_400_000;

function checkProbability(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0 && value <= 1)) {
    throw new RangeError(`switchboard: simulated network: ${name} must be in [0, 1], got ${value}`);
  }
}

function checkDelay(name: string, value: number): void {
  if (!(Number.isInteger(value) && value >= 0 && value <= DELAY_MS_LIMIT)) {
    throw new RangeError(`switchboard: simulated network: ${name} must be an integer in [0, ${DELAY_MS_LIMIT}], got ${value}`);
  }
}

/** `base` with `patch` applied; throws RangeError on a value out of range (a programmer error). */
export function resolveFaults(base: FaultOptions, patch: Partial<FaultOptions> = {}): FaultOptions {
  const faults: FaultOptions = { ...base, ...stripUndefined(patch) };
  checkProbability('lossProbability', faults.lossProbability);
  checkProbability('duplicateProbability', faults.duplicateProbability);
  checkDelay('delayMsMin', faults.delayMsMin);
  checkDelay('delayMsMax', faults.delayMsMax);
  checkProbability('reorderProbability', faults.reorderProbability);
  checkDelay('reorderDelayMsMax', faults.reorderDelayMsMax);
  if (faults.delayMsMin > faults.delayMsMax) {
    throw new RangeError(
      `switchboard: simulated network: delayMsMin (${faults.delayMsMin}) exceeds delayMsMax (${faults.delayMsMax})`,
    );
  }
  return faults;
}

function stripUndefined<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}

// ---- random choices -----------------------------------------------------------------------------

/** The PRNG streams the fault draws come from (each derived from the run's seed). */
export interface FaultStreams {
  readonly loss: Prng;
  readonly duplicate: Prng;
  readonly delay: Prng;
  /** Its own stream, so turning reordering on does not shift the other draws. */
  readonly reorder: Prng;
}

export interface DatagramDraw {
  readonly lost: boolean;
  readonly duplicated: boolean;
  readonly delayMs: number;
  /** The delay of the second copy (drawn even when there is none, to keep the streams aligned). */
  readonly duplicateDelayMs: number;
}

/**
 * One datagram delivery's fate. Draws exactly one loss, one duplicate and two delay values, and
 * from the reorder stream one value (two when the datagram is held back).
 */
export function drawDatagram(faults: FaultOptions, streams: FaultStreams): DatagramDraw {
  const lost = streams.loss.chance(faults.lossProbability);
  const duplicated = streams.duplicate.chance(faults.duplicateProbability);
  const heldBackMs = streams.reorder.chance(faults.reorderProbability) ? streams.reorder.integer(1, Math.max(1, faults.reorderDelayMsMax)) : 0;
  const delayMs = drawDelayMs(faults, streams.delay) + heldBackMs;
  const duplicateDelayMs = drawDelayMs(faults, streams.delay);
  return { lost, duplicated, delayMs, duplicateDelayMs };
}

/** One one-way delay in [delayMsMin, delayMsMax]. Draws exactly one value. */
export function drawDelayMs(faults: FaultOptions, delay: Prng): number {
  return delay.integer(faults.delayMsMin, faults.delayMsMax);
}

// ---- partitions ---------------------------------------------------------------------------------

/** One cut: nothing sent from a host in `from` reaches a host in `to`. */
interface DirectedCut {
  readonly from: ReadonlySet<string>;
  readonly to: ReadonlySet<string>;
}

/** Bound on the partitions in force at once (each call of partition() adds one or two cuts). */
export const CUTS_MAX = 256;

export class PartitionTable {
  #cuts: DirectedCut[] = [];

  /** Cuts A -> B, and B -> A too when `symmetric`; returns them (for remove). Throws if a host is in both groups. */
  add(groupA: readonly string[], groupB: readonly string[], symmetric: boolean): readonly object[] {
    const a = new Set(groupA);
    const b = new Set(groupB);
    for (const host of a) {
      if (b.has(host)) throw new RangeError(`switchboard: simulated network: ${host} is on both sides of a partition`);
    }
    if (this.#cuts.length + (symmetric ? 2 : 1) > CUTS_MAX) {
      throw new RangeError(`switchboard: simulated network: more than ${CUTS_MAX} partitions in force; heal() first`);
    }
    const added: DirectedCut[] = [{ from: a, to: b }];
    if (symmetric) added.push({ from: b, to: a });
    this.#cuts.push(...added);
    return added;
  }

  /** Removes cuts `add` returned (the other partitions stay). */
  remove(cuts: readonly object[]): void {
    this.#cuts = this.#cuts.filter((cut) => !cuts.includes(cut));
  }

  clear(): void {
    this.#cuts = [];
  }

  /** Whether traffic from `fromHost` to `toHost` is cut. A host always reaches itself. */
  isCut(fromHost: string, toHost: string): boolean {
    if (fromHost === toHost) return false;
    return this.#cuts.some((cut) => cut.from.has(fromHost) && cut.to.has(toHost));
  }
}
