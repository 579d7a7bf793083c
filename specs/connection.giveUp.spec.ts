/**
 * CONN-4 and CONN-12, when a connection gives up (machines/connection.ts, machines/backoff.ts): after
 * `refusalsMax` refused attempts in a row (nothing listens: the provider's process is gone), after
 * `giveUpAfterMs` without opening again, or after `attemptsMax` attempts, whichever comes first;
 * every unfinished task then fails with CONNECTION_LOST. Each attempt is announced to the parent
 * (connection.retrying) for the reconnect log. On a SimulatedClock with a fake transport; the
 * real-process figure is specs/connection.sigkill.slow.spec.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, backoffDefaults } from '../machines/backoff.js';
import { connectionDefaults } from '../machines/connection.js';
import { ENDPOINT, startConnection, type Connection } from './support/connectionHarness.js';

const { refusalsMax, giveUpAfterMs } = backoffDefaults;

/** Waits out the current backoff delay: the next attempt's transport is then connecting. */
function waitBackoff(connection: Connection): void {
  expect(connection.actor.getSnapshot().matches('backoff')).toBe(true);
  connection.clock.increment(connection.actor.getSnapshot().context.backoffDelayMs);
  expect(connection.actor.getSnapshot().matches({ active: 'connecting' })).toBe(true);
}

const lostCodes = (connection: Connection) =>
  connection.settled().map((event) => (event.outcome.status === 'Failed' ? event.outcome.error.code : event.outcome.status));

/** An open connection with tasks in flight, then the provider killed: the socket reset, every reconnect refused. */
function killProvider(connection: Connection, tasks: readonly string[]): void {
  connection.open();
  for (const taskId of tasks) connection.submit(taskId);
  connection.drop();
}

describe('CONN-12: giving up on a provider whose process is gone (refusals in a row)', () => {
  it(`with the defaults, ${refusalsMax} refused attempts end the connection: every task in flight fails CONNECTION_LOST, within the sum of the first ${refusalsMax} backoff ceilings`, () => {
    const connection = startConnection();
    killProvider(connection, ['t1', 't2', 't3']);
    const lostAtMs = connection.clock.now();
    for (let refusal = 1; refusal <= refusalsMax; refusal++) {
      expect(connection.settled()).toEqual([]);
      waitBackoff(connection);
      connection.refuse();
    }
    const snapshot = connection.actor.getSnapshot();
    expect(snapshot.status).toBe('done');
    expect(snapshot.output).toEqual({ gaveUp: true });
    expect(lostCodes(connection)).toEqual(['CONNECTION_LOST', 'CONNECTION_LOST', 'CONNECTION_LOST']);
    const ceilingsMs = Array.from({ length: refusalsMax }, (_, attempt) => backoffCeilingMs(attempt, backoffDefaults)).reduce((a, b) => a + b);
    expect(ceilingsMs).toBe(700);
    expect(connection.clock.now() - lostAtMs).toBeLessThan(ceilingsMs);
    expect(connection.parentEvents().at(-1)).toEqual({ type: 'connection.closed', endpoint: ENDPOINT, gaveUp: true });
  });

  it('each attempt is announced before its delay (connection.retrying: 1-based attempt, the drawn delay, the failure before it)', () => {
    const connection = startConnection();
    killProvider(connection, ['t1']);
    const delays = [connection.actor.getSnapshot().context.backoffDelayMs];
    waitBackoff(connection);
    connection.refuse();
    delays.push(connection.actor.getSnapshot().context.backoffDelayMs);
    const retrying = connection.parentEvents().filter((event) => event.type === 'connection.retrying');
    expect(retrying).toEqual([
      { type: 'connection.retrying', endpoint: ENDPOINT, attempt: 1, delayMs: delays[0], reason: 'transport closed (1006)' },
      { type: 'connection.retrying', endpoint: ENDPOINT, attempt: 2, delayMs: delays[1], reason: 'transport closed (1006 connection refused)' },
    ]);
  });

  it('only refusals in a row count: a failure of another kind (no answer in time) starts the count again', () => {
    const connection = startConnection({ backoff: { ...backoffDefaults, giveUpAfterMs: Number.POSITIVE_INFINITY } });
    killProvider(connection, ['t1']);
    for (let refusal = 1; refusal < refusalsMax; refusal++) {
      waitBackoff(connection);
      connection.refuse();
    }
    expect(connection.actor.getSnapshot().context.refusals).toBe(refusalsMax - 1);
    waitBackoff(connection);
    connection.drop(); // closed, but not refused (a reset, a timeout)
    expect(connection.actor.getSnapshot().context.refusals).toBe(0);
    for (let refusal = 1; refusal < refusalsMax; refusal++) {
      waitBackoff(connection);
      connection.refuse();
    }
    expect(connection.actor.getSnapshot().matches('backoff')).toBe(true);
    expect(connection.settled()).toEqual([]);
    waitBackoff(connection);
    connection.refuse();
    expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: true });
    expect(lostCodes(connection)).toEqual(['CONNECTION_LOST']);
  });

  it('opening again clears the count: a provider restarted in time keeps its connection', () => {
    const connection = startConnection();
    killProvider(connection, ['t1']);
    for (let refusal = 1; refusal < refusalsMax; refusal++) {
      waitBackoff(connection);
      connection.refuse();
    }
    waitBackoff(connection);
    connection.open();
    expect(connection.actor.getSnapshot().context.refusals).toBe(0);
    connection.drop();
    for (let refusal = 1; refusal < refusalsMax; refusal++) {
      waitBackoff(connection);
      connection.refuse();
    }
    expect(connection.actor.getSnapshot().matches('backoff')).toBe(true);
  });

  it('a connection refused from its first attempt on gives up the same way (a stale advertisement)', () => {
    const connection = startConnection();
    connection.submit('t1');
    connection.refuse();
    for (let refusal = 2; refusal <= refusalsMax; refusal++) {
      waitBackoff(connection);
      connection.refuse();
    }
    expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: true });
    expect(lostCodes(connection)).toEqual(['CONNECTION_LOST']);
  });

  it('refusalsMax: Infinity rides out a restart of any length, up to attemptsMax', () => {
    const backoff = { ...backoffDefaults, refusalsMax: Number.POSITIVE_INFINITY, giveUpAfterMs: Number.POSITIVE_INFINITY, attemptsMax: 8 };
    const connection = startConnection({ backoff });
    killProvider(connection, ['t1']);
    for (let attempt = 1; attempt < backoff.attemptsMax; attempt++) {
      waitBackoff(connection);
      connection.refuse();
    }
    expect(connection.actor.getSnapshot().matches('backoff')).toBe(true);
    waitBackoff(connection);
    connection.refuse();
    expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: true });
  });

  it('for any seed and refusalsMax, the connection gives up after exactly refusalsMax refusals, within the sum of their backoff ceilings', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 9 }), (seed, refusals) => {
        // The time bound off: nine doubling delays outlast its default.
        const connection = startConnection({ seed, backoff: { ...backoffDefaults, refusalsMax: refusals, giveUpAfterMs: Number.POSITIVE_INFINITY } });
        killProvider(connection, ['t1', 't2']);
        const lostAtMs = connection.clock.now();
        for (let refusal = 1; refusal <= refusals; refusal++) {
          expect(connection.actor.getSnapshot().status).toBe('active');
          waitBackoff(connection);
          connection.refuse();
        }
        expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: true });
        expect(lostCodes(connection)).toEqual(['CONNECTION_LOST', 'CONNECTION_LOST']);
        let boundMs = 0;
        for (let attempt = 0; attempt < refusals; attempt++) boundMs += backoffCeilingMs(attempt, backoffDefaults);
        expect(connection.clock.now() - lostAtMs).toBeLessThanOrEqual(boundMs);
      }),
      { numRuns: 100 },
    );
  });
});

describe('CONN-12: giving up after giveUpAfterMs without opening again', () => {
  it(`a host that no longer answers (no refusal, only timeouts): the connection gives up ${giveUpAfterMs} ms after the loss, not later, and terminates the pending attempt`, () => {
    const connection = startConnection({ backoff: { ...backoffDefaults, attemptsMax: 1_000 } });
    killProvider(connection, ['t1']);
    const lostAtMs = connection.clock.now();
    // Every attempt's handshake goes unanswered until connectTimeoutMs (a blackholed path).
    while (connection.clock.now() - lostAtMs < giveUpAfterMs - 1) {
      const snapshot = connection.actor.getSnapshot();
      if (snapshot.status === 'done') break;
      const stepMs = snapshot.matches('backoff') ? snapshot.context.backoffDelayMs : connectionDefaults.connectTimeoutMs;
      connection.clock.increment(Math.max(1, Math.min(stepMs, giveUpAfterMs - 1 - (connection.clock.now() - lostAtMs))));
    }
    expect(connection.clock.now() - lostAtMs).toBe(giveUpAfterMs - 1);
    expect(connection.actor.getSnapshot().status).toBe('active');
    expect(connection.settled()).toEqual([]);
    const attempt = connection.socket();
    connection.clock.increment(1);
    expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: true });
    expect(lostCodes(connection)).toEqual(['CONNECTION_LOST']);
    if (attempt !== connection.sockets[0]) expect(attempt.stopped).toBe(true);
  });

  it('the bound holds while a handshake is pending: the attempt is terminated and the tasks fail', () => {
    const connection = startConnection({ connectTimeoutMs: 60_000, backoff: { ...backoffDefaults, giveUpAfterMs: 2_000 } });
    killProvider(connection, ['t1']);
    waitBackoff(connection);
    const pending = connection.socket();
    connection.clock.increment(2_000);
    expect(pending.commands.map((command) => command.type)).toEqual(['transport.terminate']);
    expect(pending.stopped).toBe(true);
    expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: true });
    expect(lostCodes(connection)).toEqual(['CONNECTION_LOST']);
  });

  it('opening again cancels the bound: an open connection is never given up on by time', () => {
    const connection = startConnection({ backoff: { ...backoffDefaults, giveUpAfterMs: 1_000 } });
    killProvider(connection, []);
    waitBackoff(connection);
    connection.open();
    // Pongs keep it alive well past the old bound.
    for (let i = 0; i < 5; i++) {
      connection.clock.increment(connectionDefaults.pingIntervalMs);
      connection.socket().emit({ type: 'transport.pong' });
    }
    expect(connection.actor.getSnapshot().matches({ active: 'open' })).toBe(true);
    expect(connection.parentEvents().filter((event) => event.type === 'connection.closed')).toEqual([]);
  });

  it('the bound counts from the latest loss: a connection that opened in between is not given up on by the earlier loss', () => {
    const connection = startConnection({ connectTimeoutMs: 60_000, backoff: { ...backoffDefaults, giveUpAfterMs: 1_000 } });
    killProvider(connection, []);
    waitBackoff(connection);
    connection.open();
    connection.clock.increment(800);
    connection.drop();
    const lostAgainAtMs = connection.clock.now();
    waitBackoff(connection); // the handshake of this attempt hangs
    connection.clock.increment(lostAgainAtMs + 999 - connection.clock.now());
    expect(connection.actor.getSnapshot().status).toBe('active');
    connection.clock.increment(1);
    expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: true });
  });

  it('the bound starts at the first try of a connection that never opened', () => {
    const connection = startConnection({ connectTimeoutMs: 60_000, backoff: { ...backoffDefaults, giveUpAfterMs: 3_000 } });
    connection.submit('t1');
    connection.clock.increment(2_999);
    expect(connection.actor.getSnapshot().matches({ active: 'connecting' })).toBe(true);
    connection.clock.increment(1);
    expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: true });
    expect(lostCodes(connection)).toEqual(['CONNECTION_LOST']);
  });

  it('giveUpAfterMs: Infinity turns the bound off (no timer is set: a real one would fire at once)', () => {
    const connection = startConnection({ connectTimeoutMs: 10 ** 9, backoff: { ...backoffDefaults, giveUpAfterMs: Number.POSITIVE_INFINITY } });
    connection.clock.increment(10 ** 8);
    expect(connection.actor.getSnapshot().matches({ active: 'connecting' })).toBe(true);
  });

  it('a connection closed on request is not given up on (gaveUp false), and the bound stays quiet after it', () => {
    const connection = startConnection({ backoff: { ...backoffDefaults, giveUpAfterMs: 1_000 } });
    connection.open();
    connection.actor.send({ type: 'connection.close' });
    connection.socket().emit({ type: 'transport.closed', graceful: true, code: 1000, reason: '' });
    expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: false });
    connection.clock.increment(5_000);
    expect(connection.parentEvents().filter((event) => event.type === 'connection.closed')).toEqual([
      { type: 'connection.closed', endpoint: ENDPOINT, gaveUp: false },
    ]);
  });
});
