/**
 * Bounds on what a provider's discovery socket sends back (DISC-16, DISC-17): a discovery request
 * is a datagram anyone can send with anyone's source address, so answering it must not turn the
 * provider into an amplifier or a flood source.
 *
 * - Rate: requests are answered at most `requestsPerSourceMax` per source address (host) and
 *   `requestsMax` in all per `windowMs` (fixed windows). Beyond, the request is dropped unanswered.
 * - Amplification: the answers to one request are at most `amplificationFactor` times its size in
 *   bytes. Each admitted request grants its source address and port that many bytes (replacing
 *   what an earlier request left), for `budgetTtlMs`; a unicast answer that does not fit in the
 *   budget is not sent. A switchboard
 *   client pads its requests to `REQUEST_BYTES_MIN` bytes (`padding`, below) so that the answers
 *   of a provider hosting a few services fit; other answers still come with the heartbeats.
 * - Unpadded requests: a peer built from the seed alone sends a short request (about 120 bytes)
 *   and often listens on a port of its own, where heartbeats never reach it: under the byte bound
 *   it would never discover anything. Such a request (shorter than `paddedBytesMin`) is answered
 *   with ONE advertisement of at most `amplificationFactor x paddedBytesMin` bytes, as if it had
 *   been padded, but only `unpaddedPerSourceMax` of them per source host and `unpaddedMax` in
 *   all per window. What a provider reflects for unpadded requests is then bounded whatever an
 *   attacker sends: 20 x 3600 bytes a second in all, 3600 to any one host, by default. Successive
 *   requests from one source address and port get the provider's advertisements in turn.
 *
 * Pure bookkeeping with the time passed in: the UDP adapter and the simulated network both use it,
 * so both behave the same.
 */
import type { PeerAddress } from '../transport.js';

/**
 * The size a switchboard client pads its ClientServiceDiscoveryRequest to: one Ethernet frame
 * with room to spare (QUIC pads its first packets to the same size). With the default factor it
 * lets 3600 bytes of answers through: the demo's signed advertisement (about 2.3 KB) and a small
 * one, or a few signed advertisements of small services; the others come with the heartbeats.
 */
export const REQUEST_BYTES_MIN = 1_200;

export interface AnswerBoundsOptions {
  /** Reply bytes per request byte. @default 3 */
  readonly amplificationFactor: number;
  /** Requests answered per source host per window. @default 10 */
  readonly requestsPerSourceMax: number;
  /** Requests answered per window, all sources together (spoofed sources included). @default 200 */
  readonly requestsMax: number;
  /** @default 1_000 */
  readonly windowMs: number;
  /** How long the reply budget a request grants lasts. @default 2_000 */
  readonly budgetTtlMs: number;
  /** A request at least this long is padded; a shorter one gets one advertisement. @default REQUEST_BYTES_MIN */
  readonly paddedBytesMin: number;
  /** Unpadded requests answered per source host per window. @default 1 */
  readonly unpaddedPerSourceMax: number;
  /** Unpadded requests answered per window, all sources together. @default 20 */
  readonly unpaddedMax: number;
}

export const answerBoundsDefaults: AnswerBoundsOptions = {
  amplificationFactor: 3,
  requestsPerSourceMax: 10,
  requestsMax: 200,
  windowMs: 1_000,
  budgetTtlMs: 2_000,
  paddedBytesMin: REQUEST_BYTES_MIN,
  unpaddedPerSourceMax: 1,
  unpaddedMax: 20,
};


/**
 * `answer`: read it and answer it. `unanswered`: read it (it is within the request rate) but
 * send nothing back (an unpadded request beyond its own bounds). `sourceLimited`, `limited`: drop it.
 */
export type RequestAdmission = 'answer' | 'unanswered' | 'sourceLimited' | 'limited';

/** Whether a unicast leaves: yes, not within its request's bytes, or not the one answer an unpadded request gets. */
export type SpendVerdict = 'send' | 'overBudget' | 'notItsTurn';

interface Budget {
  bytes: number;
  expiresAtMs: number;
  /** An unpadded request's: answers are offered in turn; the `skip`-th is the one that may leave. */
  single?: { readonly skip: number; offered: number; sent: boolean };
}

const peerKey = (peer: PeerAddress): string => `${peer.host}|${peer.port}`;

export class AnswerBounds {
  readonly options: AnswerBoundsOptions;
  #windowStartMs = Number.NEGATIVE_INFINITY;
  #inWindow = 0;
  readonly #perSource = new Map<string, number>();
  #unpaddedInWindow = 0;
  readonly #unpaddedPerSource = new Map<string, number>();
  readonly #budgets = new Map<string, Budget>();

  constructor(options: AnswerBoundsOptions = answerBoundsDefaults) {
    this.options = options;
  }

  /** Whether to answer a request of `bytes` from `from`; when answered, grants its reply budget. */
  admitRequest(from: PeerAddress, bytes: number, nowMs: number): RequestAdmission {
    this.#roll(nowMs);
    const { amplificationFactor, paddedBytesMin } = this.options;
    const unpadded = bytes < paddedBytesMin;
    const fromSource = this.#perSource.get(from.host) ?? 0;
    const unpaddedFromSource = this.#unpaddedPerSource.get(from.host) ?? 0;
    if (fromSource >= this.options.requestsPerSourceMax) return 'sourceLimited';
    if (this.#inWindow >= this.options.requestsMax) return 'limited';
    this.#perSource.set(from.host, fromSource + 1);
    this.#inWindow++;
    const key = peerKey(from);
    const expiresAtMs = nowMs + this.options.budgetTtlMs;
    if (unpadded && (unpaddedFromSource >= this.options.unpaddedPerSourceMax || this.#unpaddedInWindow >= this.options.unpaddedMax)) {
      // Beyond the unpadded bounds: read like any request within the rate, answered with nothing.
      // The turn is kept, so the source's next answered request gets the next advertisement.
      const skip = this.#budgets.get(key)?.single?.skip ?? -1;
      this.#budgets.set(key, { bytes: 0, expiresAtMs, single: { skip, offered: 0, sent: true } });
      return 'unanswered';
    }
    if (unpadded) {
      this.#unpaddedPerSource.set(from.host, unpaddedFromSource + 1);
      this.#unpaddedInWindow++;
      // The next advertisement in turn; back to the first after the last one was offered.
      const previous = this.#budgets.get(key)?.single;
      const skip = previous !== undefined && previous.offered > previous.skip + 1 ? previous.skip + 1 : 0;
      this.#budgets.set(key, { bytes: paddedBytesMin * amplificationFactor, expiresAtMs, single: { skip, offered: 0, sent: false } });
      return 'answer';
    }
    // The budget is this request's alone (not added to an earlier one's leftovers): the provider
    // answers a request at once, before the next datagram is read, so each request's answers are
    // bounded by its own size.
    this.#budgets.set(key, { bytes: bytes * amplificationFactor, expiresAtMs });
    return 'answer';
  }

  /**
   * Whether a unicast of `bytes` to `to` may leave. A peer that sent an admitted request within
   * `budgetTtlMs` is being answered: the bytes come out of its budget, and do not leave when they
   * do not fit. A unicast to a peer that asked nothing is not an answer and is not bounded here
   * (the provider only ever unicasts answers; a request that was not admitted never reached it).
   */
  spend(to: PeerAddress, bytes: number, nowMs: number): SpendVerdict {
    const budget = this.#budgets.get(peerKey(to));
    if (budget === undefined || budget.expiresAtMs <= nowMs) return 'send';
    const single = budget.single;
    if (single !== undefined) {
      const turn = single.offered++;
      if (turn !== single.skip || single.sent) return 'notItsTurn';
    }
    if (budget.bytes < bytes) return 'overBudget';
    budget.bytes -= bytes;
    if (single !== undefined) single.sent = true;
    return 'send';
  }

  /** Budgets held (bounded by `requestsMax` per window times the windows a budget lives). */
  get budgets(): number {
    return this.#budgets.size;
  }

  #roll(nowMs: number): void {
    if (nowMs - this.#windowStartMs < this.options.windowMs && nowMs >= this.#windowStartMs) return;
    this.#windowStartMs = nowMs;
    this.#inWindow = 0;
    this.#perSource.clear();
    this.#unpaddedInWindow = 0;
    this.#unpaddedPerSource.clear();
    for (const [key, budget] of this.#budgets) if (budget.expiresAtMs <= nowMs) this.#budgets.delete(key);
  }
}

/**
 * `text` (a request's JSON) with a `padding` member of spaces, so that it is at least `bytesMin`
 * UTF-8 bytes long. Receivers ignore the member (WIRE-5); it only makes the request big enough to
 * be answered in full (DISC-17).
 */
export function padRequest(text: string, bytesMin: number): string {
  const bytes = new TextEncoder().encode(text).byteLength;
  if (bytes >= bytesMin || !text.endsWith('}')) return text;
  const opening = text === '{}' ? '"padding":"' : ',"padding":"';
  const spaces = Math.max(0, bytesMin - bytes - opening.length - 1);
  return `${text.slice(0, -1)}${opening}${' '.repeat(spaces)}"}`;
}
