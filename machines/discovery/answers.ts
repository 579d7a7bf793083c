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
 *
 * Pure bookkeeping with the time passed in: the UDP adapter and the simulated network both use it,
 * so both behave the same.
 */
import type { PeerAddress } from '../transport.js';

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
}

export const answerBoundsDefaults: AnswerBoundsOptions = {
  amplificationFactor: 3,
  requestsPerSourceMax: 10,
  requestsMax: 200,
  windowMs: 1_000,
  budgetTtlMs: 2_000,
};

/**
 * The size a switchboard client pads its ClientServiceDiscoveryRequest to: one Ethernet frame
 * with room to spare (QUIC pads its first packets to the same size). With the default factor it
 * lets 3600 bytes of answers through: the demo's signed advertisement (about 2.3 KB) and a small
 * one, or a few signed advertisements of small services; the others come with the heartbeats.
 */
export const REQUEST_BYTES_MIN = 1_200;

export type RequestAdmission = 'answer' | 'sourceLimited' | 'limited';

interface Budget {
  bytes: number;
  expiresAtMs: number;
}

const peerKey = (peer: PeerAddress): string => `${peer.host}|${peer.port}`;

export class AnswerBounds {
  readonly options: AnswerBoundsOptions;
  #windowStartMs = Number.NEGATIVE_INFINITY;
  #inWindow = 0;
  readonly #perSource = new Map<string, number>();
  readonly #budgets = new Map<string, Budget>();

  constructor(options: AnswerBoundsOptions = answerBoundsDefaults) {
    this.options = options;
  }

  /** Whether to answer a request of `bytes` from `from`; when answered, grants its reply budget. */
  admitRequest(from: PeerAddress, bytes: number, nowMs: number): RequestAdmission {
    this.#roll(nowMs);
    const fromSource = this.#perSource.get(from.host) ?? 0;
    if (fromSource >= this.options.requestsPerSourceMax) return 'sourceLimited';
    if (this.#inWindow >= this.options.requestsMax) return 'limited';
    this.#perSource.set(from.host, fromSource + 1);
    this.#inWindow++;
    // The budget is this request's alone (not added to an earlier one's leftovers): the provider
    // answers a request at once, before the next datagram is read, so each request's answers are
    // bounded by its own size.
    this.#budgets.set(peerKey(from), { bytes: bytes * this.options.amplificationFactor, expiresAtMs: nowMs + this.options.budgetTtlMs });
    return 'answer';
  }

  /**
   * Whether a unicast of `bytes` to `to` may leave. A peer that sent an admitted request within
   * `budgetTtlMs` is being answered: the bytes come out of its budget, and do not leave when they
   * do not fit. A unicast to a peer that asked nothing is not an answer and is not bounded here
   * (the provider only ever unicasts answers; a request that was not admitted never reached it).
   */
  spend(to: PeerAddress, bytes: number, nowMs: number): boolean {
    const budget = this.#budgets.get(peerKey(to));
    if (budget === undefined || budget.expiresAtMs <= nowMs) return true;
    if (budget.bytes < bytes) return false;
    budget.bytes -= bytes;
    return true;
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
