/**
 * What a client says about its connections while they fail and come back (CONN-12): every loss and
 * every reconnect attempt at debug, one summary at info when the connection opens again or is
 * given up on (its unfinished tasks then fail with CONNECTION_LOST).
 *
 *   debug connection to ws://10.0.0.5:7000 lost: transport closed (1006 connection reset)
 *   debug reconnecting to ws://10.0.0.5:7000: attempt 1 in 63 ms (after: transport closed (1006 connection reset))
 *   debug reconnecting to ws://10.0.0.5:7000: attempt 2 in 141 ms (after: transport closed (1006 connection refused))
 *   info  gave up on ws://10.0.0.5:7000 after 3 attempts, 512 ms after transport closed (1006 connection reset) ...
 */
import type { ClientEmitted } from '../../machines/client.js';
import type { Logger } from '../service.js';

type Emitted<T extends ClientEmitted['type']> = Extract<ClientEmitted, { type: T }>;

type ConnectionEventType = 'connection.down' | 'connection.retrying' | 'connection.opened' | 'connection.closed';

/** The part of a client actor this needs: its emitted events (`actor.on`). */
export interface ConnectionEventSource {
  on(type: ConnectionEventType, listener: (event: any) => void): { unsubscribe(): void };
}

interface Outage {
  /** When the connection went down (or the first attempt failed, for one that never opened). */
  readonly since: number;
  /** What ended the connection. */
  readonly cause: string;
  /** Attempts announced so far. */
  attempts: number;
  /** The failure before the latest attempt. */
  last: string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Logs `source`'s connection losses, attempts and outcomes; `now()` in ms (the actor system's clock). */
export function logReconnects(source: ConnectionEventSource, log: Logger, now: () => number): () => void {
  const outages = new Map<string, Outage>();
  const on = <T extends ConnectionEventType>(type: T, listener: (event: Emitted<T>) => void) => source.on(type, listener);
  const subscriptions = [
    on('connection.down', ({ endpoint, reason }) => {
      outages.set(endpoint, { since: now(), cause: reason, attempts: 0, last: reason });
      log('debug', `connection to ${endpoint} lost: ${reason}`, { endpoint, reason });
    }),
    on('connection.retrying', ({ endpoint, attempt, delayMs, reason }) => {
      let outage = outages.get(endpoint);
      if (outage === undefined) {
        // A connection that never opened: its outage starts with its first failure.
        outage = { since: now(), cause: reason, attempts: 0, last: reason };
        outages.set(endpoint, outage);
      }
      // `retrying` announces attempt `attempt`; a give-up during its delay overcounts by one.
      outage.attempts = attempt;
      outage.last = reason;
      log('debug', `reconnecting to ${endpoint}: attempt ${attempt} in ${delayMs} ms (after: ${reason})`, { endpoint, attempt, delayMs, reason });
    }),
    on('connection.opened', ({ endpoint, reconnected }) => {
      const outage = outages.get(endpoint);
      if (outage === undefined) return;
      outages.delete(endpoint);
      const elapsedMs = Math.round(now() - outage.since);
      const what = reconnected ? 'reconnected to' : 'connected to';
      log('info', `${what} ${endpoint} after ${plural(outage.attempts, 'attempt')}, ${elapsedMs} ms after ${outage.cause}`, {
        endpoint,
        attempts: outage.attempts,
        elapsedMs,
      });
    }),
    on('connection.closed', ({ endpoint, gaveUp }) => {
      const outage = outages.get(endpoint);
      outages.delete(endpoint);
      if (!gaveUp) return;
      const attempts = outage?.attempts ?? 0;
      const elapsedMs = outage === undefined ? 0 : Math.round(now() - outage.since);
      const why = outage === undefined ? '' : `, ${elapsedMs} ms after ${outage.cause} (last: ${outage.last})`;
      log('info', `gave up on ${endpoint} after ${plural(attempts, 'attempt')}${why}; its unfinished tasks fail with CONNECTION_LOST`, {
        endpoint,
        attempts,
        elapsedMs,
      });
    }),
  ];
  return () => {
    for (const subscription of subscriptions) subscription.unsubscribe();
  };
}
