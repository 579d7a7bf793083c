/**
 * What one scenario saw, as a flat, time-ordered log: datagrams and frames the client sent,
 * connection attempts (accepted or refused), pings, closes, what the scripted provider did
 * (`sent`, `mark`), and the client process's exit. The checks are pure functions over this log.
 *
 * `at` is milliseconds since the scenario started (a monotonic clock). The log is bounded
 * (`EVENTS_MAX`): a client that floods the provider cannot grow the suite's memory; what was
 * dropped is counted.
 */
import { performance } from 'node:perf_hooks';

export interface PeerAddress {
  readonly address: string;
  readonly port: number;
}

export type ScenarioEvent =
  /** A UDP datagram that was not the scripted provider's own. `raw` is the parsed JSON, if it parsed. */
  | { readonly kind: 'datagram'; readonly at: number; readonly from: PeerAddress; readonly text: string; readonly raw: unknown }
  /** A WebSocket upgrade request; `refused` ones got HTTP 503 and a closed socket. */
  | { readonly kind: 'upgrade'; readonly at: number; readonly connId: number; readonly path: string; readonly refused: boolean }
  | { readonly kind: 'refused'; readonly at: number; readonly connId: number }
  | { readonly kind: 'open'; readonly at: number; readonly connId: number }
  /** A message from the client (`binary` when it came as a binary message: `raw` is then undefined). */
  | { readonly kind: 'frame'; readonly at: number; readonly connId: number; readonly text: string; readonly raw: unknown; readonly binary?: true }
  /** A message the scripted provider sent. */
  | { readonly kind: 'sent'; readonly at: number; readonly connId: number; readonly raw: Record<string, unknown> }
  | { readonly kind: 'ping'; readonly at: number; readonly connId: number }
  /** The connection ended; code 1006 means no close frame (terminated or lost). `by` says who ended it. */
  | { readonly kind: 'close'; readonly at: number; readonly connId: number; readonly code: number; readonly by: 'client' | 'provider' }
  /** A milestone of the scenario script: `dropped`, `result-sent`, `junk-sent`, ... */
  | { readonly kind: 'mark'; readonly at: number; readonly label: string; readonly detail?: string }
  | { readonly kind: 'exit'; readonly at: number; readonly code: number | null; readonly signal: string | null; readonly error?: string };

export type ScenarioEventKind = ScenarioEvent['kind'];

/** Events kept per scenario. */
export const EVENTS_MAX = 20_000;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class Recorder {
  readonly #origin = performance.now();
  readonly #events: ScenarioEvent[] = [];
  readonly #waiters = new Set<() => void>();
  dropped = 0;

  now(): number {
    return Math.round((performance.now() - this.#origin) * 10) / 10;
  }

  get events(): readonly ScenarioEvent[] {
    return this.#events;
  }

  push(event: DistributiveOmit<ScenarioEvent, 'at'>): ScenarioEvent {
    const stamped = { ...event, at: this.now() } as ScenarioEvent;
    if (this.#events.length >= EVENTS_MAX) this.dropped++;
    else this.#events.push(stamped);
    for (const wake of [...this.#waiters]) wake();
    return stamped;
  }

  mark(label: string, detail?: string): void {
    this.push({ kind: 'mark', label, ...(detail === undefined ? {} : { detail }) });
  }

  /**
   * The first event at index `from` or later that passes `test`, or undefined once `timeoutMs`
   * have passed. Never rejects.
   */
  waitFor<E extends ScenarioEvent>(test: (event: ScenarioEvent) => event is E, timeoutMs: number, from?: number): Promise<E | undefined>;
  waitFor(test: (event: ScenarioEvent) => boolean, timeoutMs: number, from?: number): Promise<ScenarioEvent | undefined>;
  waitFor(test: (event: ScenarioEvent) => boolean, timeoutMs: number, from = 0): Promise<ScenarioEvent | undefined> {
    let index = from;
    const scan = (): ScenarioEvent | undefined => {
      for (; index < this.#events.length; index++) {
        const event = this.#events[index] as ScenarioEvent;
        if (test(event)) return event;
      }
      return undefined;
    };
    const found = scan();
    if (found !== undefined || timeoutMs <= 0) return Promise.resolve(found);
    return new Promise((resolve) => {
      const done = (event: ScenarioEvent | undefined) => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(event);
      };
      const wake = () => {
        const event = scan();
        if (event !== undefined) done(event);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.#waiters.add(wake);
    });
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
