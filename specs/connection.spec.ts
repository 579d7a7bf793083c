import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, fromTransition, SimulatedClock } from 'xstate';
import { backoffCeilingMs, type BackoffOptions } from '../machines/backoff.js';
import { connectionDefaults, connectionMachine, type ConnectionToParentEvent } from '../machines/connection.js';
import type { ClientDraft } from '../machines/messages.js';
import { ackOf, errorOf, resultOf, updateOf } from './support/clientTaskFixtures.js';
import { CLIENT, ENDPOINT, fakeTransport, startConnection, type Connection, type FakeSocket } from './support/connectionHarness.js';

const { pingIntervalMs: PING_MS, pongTimeoutMs: PONG_MS, closeTimeoutMs: CLOSE_MS } = connectionDefaults;
const ACK_MS = connectionDefaults.task.ackTimeoutMs;

const drafts = (socket: FakeSocket): ClientDraft[] =>
  socket.commands.flatMap((command) => (command.type === 'transport.send' ? [command.draft as ClientDraft] : []));
const draftSummary = (socket: FakeSocket) =>
  drafts(socket).map((draft) => `${draft.type}:${'taskId' in draft.payload ? draft.payload.taskId : ''}`);
const commandTypes = (socket: FakeSocket) => socket.commands.map((command) => command.type);

/** Drops the connection and waits out the backoff: returns the new socket (not yet open). */
function reconnect(connection: Connection): FakeSocket {
  connection.drop();
  expect(connection.actor.getSnapshot().matches('backoff')).toBe(true);
  connection.clock.increment(connection.actor.getSnapshot().context.backoffDelayMs);
  return connection.socket();
}

describe('connection: lifecycle', () => {
  it('CONN-1: invokes the transport for its endpoint and opens on transport.opened', () => {
    const connection = startConnection();
    expect(connection.sockets.map((socket) => socket.endpoint)).toEqual([ENDPOINT]);
    expect(connection.actor.getSnapshot().matches({ active: 'connecting' })).toBe(true);
    connection.open();
    expect(connection.actor.getSnapshot().matches({ active: 'open' })).toBe(true);
    expect(connection.parentEvents()).toEqual([{ type: 'connection.opened', endpoint: ENDPOINT, reconnected: false }]);
  });

  it('CONN-3: pings every pingIntervalMs while pongs come back', () => {
    const connection = startConnection();
    connection.open();
    connection.clock.increment(PING_MS - 1);
    expect(commandTypes(connection.socket())).toEqual([]);
    for (let pings = 1; pings <= 3; pings++) {
      connection.clock.increment(1);
      expect(commandTypes(connection.socket())).toEqual(Array(pings).fill('transport.ping'));
      connection.clock.increment(PONG_MS - 1);
      connection.socket().emit({ type: 'transport.pong' });
      connection.clock.increment(PING_MS - 1);
    }
    expect(connection.actor.getSnapshot().matches({ active: 'open' })).toBe(true);
  });

  it('CONN-3: no pong within pongTimeoutMs terminates the socket (not close) and backs off', () => {
    const connection = startConnection();
    connection.open();
    connection.clock.increment(PING_MS);
    connection.clock.increment(PONG_MS - 1);
    expect(connection.actor.getSnapshot().matches({ active: 'open' })).toBe(true);
    connection.clock.increment(1);
    const first = connection.sockets[0] as FakeSocket;
    expect(commandTypes(first)).toEqual(['transport.ping', 'transport.terminate']);
    expect(first.stopped).toBe(true);
    expect(connection.actor.getSnapshot().matches('backoff')).toBe(true);
    const { backoffDelayMs } = connection.actor.getSnapshot().context;
    expect(connection.parentEvents().slice(-2)).toEqual([
      { type: 'connection.down', endpoint: ENDPOINT, reason: 'no pong within pongTimeoutMs', graceful: false },
      { type: 'connection.retrying', endpoint: ENDPOINT, attempt: 1, delayMs: backoffDelayMs, reason: 'no pong within pongTimeoutMs' },
    ]);
  });

  it('CONN-4: reconnects after the drawn backoff delay with a new transport, and reports reconnected', () => {
    const connection = startConnection({ backoff: { delayMsBase: 1_000, delayMsMax: 10_000, attemptsMax: 10 } });
    connection.open();
    connection.drop();
    const delayMs = connection.actor.getSnapshot().context.backoffDelayMs;
    expect(delayMs).toBeGreaterThanOrEqual(0);
    expect(delayMs).toBeLessThan(1_000);
    if (delayMs > 0) {
      connection.clock.increment(delayMs - 1);
      expect(connection.sockets).toHaveLength(1);
    }
    connection.clock.increment(delayMs === 0 ? 0 : 1);
    expect(connection.sockets).toHaveLength(2);
    connection.open();
    expect(connection.parentEvents().at(-1)).toEqual({ type: 'connection.opened', endpoint: ENDPOINT, reconnected: true });
  });

  it('CONN-4: backoff delays stay within [0, min(cap, base x 2^attempt)); after attemptsMax attempts the connection gives up', () => {
    const backoff: BackoffOptions = { delayMsBase: 100, delayMsMax: 1_000, attemptsMax: 6 };
    const connection = startConnection({ backoff });
    connection.drop();
    for (let attempt = 0; attempt < backoff.attemptsMax; attempt++) {
      const { backoffDelayMs, attempt: attemptInContext } = connection.actor.getSnapshot().context;
      expect(attemptInContext).toBe(attempt);
      expect(backoffDelayMs).toBeGreaterThanOrEqual(0);
      expect(backoffDelayMs).toBeLessThan(backoffCeilingMs(attempt, backoff));
      connection.clock.increment(backoffDelayMs);
      expect(connection.sockets).toHaveLength(attempt + 2);
      connection.drop();
    }
    expect(connection.actor.getSnapshot().status).toBe('done');
    expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: true });
    expect(connection.parentEvents().at(-1)).toEqual({ type: 'connection.closed', endpoint: ENDPOINT, gaveUp: true });
  });

  it('CONN-4: on giving up every unfinished task fails with CONNECTION_LOST before connection.closed', () => {
    const connection = startConnection({ backoff: { delayMsBase: 100, delayMsMax: 1_000, attemptsMax: 0 } });
    connection.open();
    connection.submit('t1');
    connection.submit('t2');
    connection.deliver(ackOf('assign-t1', { taskId: 't1', status: 'Processing' }));
    connection.drop();
    const events = connection.parentEvents();
    expect(events.slice(-3)).toEqual([
      expect.objectContaining({ type: 'task.settled', taskId: 't1', endpoint: ENDPOINT, outcome: expect.objectContaining({ error: expect.objectContaining({ code: 'CONNECTION_LOST' }) }) }),
      expect.objectContaining({ type: 'task.settled', taskId: 't2', outcome: expect.objectContaining({ error: expect.objectContaining({ code: 'CONNECTION_LOST' }) }) }),
      { type: 'connection.closed', endpoint: ENDPOINT, gaveUp: true },
    ]);
  });

  it('CONN-4: the attempt counter restarts at 0 once a connection opens', () => {
    const connection = startConnection();
    connection.drop();
    connection.clock.increment(connection.actor.getSnapshot().context.backoffDelayMs);
    connection.drop();
    expect(connection.actor.getSnapshot().context.attempt).toBe(1);
    connection.clock.increment(connection.actor.getSnapshot().context.backoffDelayMs);
    connection.open();
    expect(connection.actor.getSnapshot().context.attempt).toBe(0);
  });

  it('CONN-7: a graceful close sends close 1000 and ends closed when the handshake completes', () => {
    const connection = startConnection();
    connection.open();
    connection.actor.send({ type: 'connection.close' });
    expect(connection.socket().commands).toEqual([{ type: 'transport.close', code: 1000 }]);
    connection.socket().emit({ type: 'transport.closed', graceful: true, code: 1000, reason: '' });
    expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: false });
    expect(connection.parentEvents().slice(-2)).toEqual([
      { type: 'connection.down', endpoint: ENDPOINT, reason: 'close requested', graceful: true },
      { type: 'connection.closed', endpoint: ENDPOINT, gaveUp: false },
    ]);
  });

  it('CONN-7: a close handshake that does not complete within closeTimeoutMs becomes a terminate', () => {
    const connection = startConnection();
    connection.open();
    connection.actor.send({ type: 'connection.close' });
    connection.clock.increment(CLOSE_MS - 1);
    expect(connection.actor.getSnapshot().status).toBe('active');
    connection.clock.increment(1);
    expect(commandTypes(connection.socket())).toEqual(['transport.close', 'transport.terminate']);
    expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: false });
  });

  it('CONN-7: connection.close while connecting terminates and closes at once; in backoff it closes at once', () => {
    const connecting = startConnection();
    connecting.actor.send({ type: 'connection.close' });
    expect(commandTypes(connecting.socket())).toEqual(['transport.terminate']);
    expect(connecting.actor.getSnapshot().output).toEqual({ gaveUp: false });

    const backingOff = startConnection();
    backingOff.drop();
    backingOff.actor.send({ type: 'connection.close' });
    expect(backingOff.actor.getSnapshot().output).toEqual({ gaveUp: false });
    backingOff.clock.increment(60_000);
    expect(backingOff.sockets).toHaveLength(1);
  });

  it('CONN-7: tasks still in flight at a close settle CONNECTION_LOST before connection.closed', () => {
    const connection = startConnection();
    connection.open();
    connection.submit('t1');
    connection.actor.send({ type: 'connection.close' });
    connection.submit('t2');
    connection.socket().emit({ type: 'transport.closed', graceful: true, code: 1000, reason: '' });
    const settled = connection.settled().map((event) => [event.taskId, event.outcome.status === 'Failed' && event.outcome.error.code]);
    expect(settled).toEqual([
      ['t2', 'CONNECTION_LOST'],
      ['t1', 'CONNECTION_LOST'],
    ]);
    expect(connection.parentEvents().at(-1)).toMatchObject({ type: 'connection.closed', gaveUp: false });
  });
});

describe('connection: opening handshake (CONN-3)', () => {
  it('CONN-3: a handshake that gets no answer within connectTimeoutMs is terminated and backs off', () => {
    const connection = startConnection({ connectTimeoutMs: 1_000 });
    connection.clock.increment(999);
    expect(connection.actor.getSnapshot().matches({ active: 'connecting' })).toBe(true);
    connection.clock.increment(1);
    expect(connection.actor.getSnapshot().matches('backoff')).toBe(true);
  });
});

describe('connection: outbox (CONN-5) and reconnect (CONN-6)', () => {
  it('CONN-5: drafts sent before the connection opens wait in the outbox and go out in order on open', () => {
    // A slow handshake (but within connectTimeoutMs and giveUpAfterMs): the drafts wait for it.
    const connection = startConnection({
      connectTimeoutMs: ACK_MS * 20,
      backoff: { ...connectionDefaults.backoff, giveUpAfterMs: ACK_MS * 40 },
    });
    connection.submit('t1');
    connection.submit('t2');
    connection.submit('t3');
    // The tasks wait for the connection: no ack timeout while it is not open.
    connection.clock.increment(ACK_MS * 10);
    expect(connection.settled()).toEqual([]);
    // A CancelTask replaces its task's unsent AssignTask (machines/outbox.ts).
    connection.actor.send({ type: 'connection.cancel', taskId: 't2' });
    expect(drafts(connection.socket())).toEqual([]);
    expect(connection.actor.getSnapshot().context.outbox.map((entry) => `${entry.draft.type}:${entry.taskId}`)).toEqual([
      'AssignTask:t1',
      'AssignTask:t3',
      'CancelTask:t2',
    ]);
    connection.open();
    expect(draftSummary(connection.socket())).toEqual(['AssignTask:t1', 'AssignTask:t3', 'CancelTask:t2']);
  });

  it('CONN-5: unacknowledged drafts are re-sent in order after a reconnect, before the GetResult of accepted tasks (CONN-6)', () => {
    const connection = startConnection();
    connection.open();
    connection.submit('t1');
    connection.submit('t2');
    connection.submit('t3');
    expect(draftSummary(connection.socket())).toEqual(['AssignTask:t1', 'AssignTask:t2', 'AssignTask:t3']);
    connection.deliver(ackOf('assign-t2', { taskId: 't2', status: 'Processing' }));
    expect(connection.actor.getSnapshot().context.outbox.map((entry) => entry.taskId)).toEqual(['t1', 't3']);
    const next = reconnect(connection);
    expect(drafts(next)).toEqual([]);
    connection.open();
    expect(draftSummary(next)).toEqual(['AssignTask:t1', 'AssignTask:t3', 'GetResult:t2']);
    expect(drafts(next)[0]).toMatchObject({ messageId: 'assign-t1' });
  });

  it('CONN-3: a message while a pong is awaited is routed to its task AND counts as a pong', () => {
    const connection = startConnection({ pingIntervalMs: 1_000, pongTimeoutMs: 1_000 });
    connection.open();
    connection.submit('t1');
    connection.deliver(ackOf('assign-t1', { taskId: 't1', status: 'Processing' }));
    connection.clock.increment(1_000); // ping sent, pong awaited
    expect(commandTypes(connection.socket())).toContain('transport.ping');
    connection.clock.increment(900);
    connection.deliver(resultOf('t1', { ok: true })); // the pong is queued behind this frame
    expect(connection.settled().map((event) => event.taskId)).toEqual(['t1']);
    connection.clock.increment(100); // the old pong deadline passes: still open
    expect(connection.actor.getSnapshot().matches({ active: 'open' })).toBe(true);
  });

  it('CONN-6: GetResult after a reconnect delivers an outcome reached while away', () => {
    const connection = startConnection();
    connection.open();
    connection.submit('t1');
    connection.deliver(ackOf('assign-t1', { taskId: 't1', status: 'Processing' }));
    connection.deliver(updateOf('t1', 40));
    reconnect(connection);
    connection.open();
    expect(draftSummary(connection.socket())).toEqual(['GetResult:t1']);
    connection.deliver(resultOf('t1', { ok: true }));
    expect(connection.settled()).toEqual([
      { type: 'task.settled', endpoint: ENDPOINT, taskId: 't1', outcome: { status: 'Completed', resultData: { ok: true } } },
    ]);
    expect(connection.actor.getSnapshot().context.tasksInFlight).toBe(0);
    expect(connection.pool().members.size).toBe(0);
  });

  it('CONN-5: a task that settles leaves the outbox; GetStatus and GetResult are never kept', () => {
    const connection = startConnection();
    connection.submit('t1');
    connection.actor.send({ type: 'task.send', taskId: 'x', draft: { type: 'GetStatus', payload: { taskId: 'x', originalClientId: CLIENT } } });
    expect(connection.actor.getSnapshot().context.outbox.map((entry) => entry.taskId)).toEqual(['t1']);
    connection.actor.send({ type: 'connection.cancel', taskId: 't1' });
    connection.clock.increment(connectionDefaults.task.cancelTimeoutMs);
    expect(connection.settled().map((event) => event.outcome)).toEqual([{ status: 'Cancelled' }]);
    expect([...connection.actor.getSnapshot().context.outbox]).toEqual([]);
  });

  it('CONN-5: the outbox is bounded by outboxMax; the oldest entry is dropped and counted', () => {
    const connection = startConnection({ outboxMax: 2 });
    connection.submit('t1');
    connection.submit('t2');
    connection.submit('t3');
    const { outbox, stats } = connection.actor.getSnapshot().context;
    expect(outbox.map((entry) => entry.taskId)).toEqual(['t2', 't3']);
    expect(stats.outboxDropped).toBe(1);
    // t1 is not lost: its own ack timer re-sends it once the connection is open (TASK-3).
    connection.open();
    expect(draftSummary(connection.socket())).toEqual(['AssignTask:t2', 'AssignTask:t3']);
    connection.clock.increment(ACK_MS);
    expect(draftSummary(connection.socket())).toContain('AssignTask:t1');
  });
});

describe('connection: tasks and routing', () => {
  it('routes messages by payload.taskId and relays progress with the endpoint', () => {
    const connection = startConnection();
    connection.open();
    connection.submit('t1');
    connection.submit('t2');
    connection.deliver(updateOf('t2', 25, 'Processing', { message: 'resizing' }));
    expect(connection.parentEvents().filter((event) => event.type === 'task.progress')).toEqual([
      { type: 'task.progress', endpoint: ENDPOINT, taskId: 't2', status: 'Processing', progressPercentage: 25, message: 'resizing' },
    ]);
  });

  it('TASK-2: routes a seed-style Ack without taskId by its acknowledgmentId through the outbox', () => {
    const connection = startConnection();
    connection.open();
    connection.submit('t1');
    connection.submit('t2');
    connection.deliver(ackOf('assign-t2'));
    expect(connection.parentEvents().filter((event) => event.type === 'task.progress')).toEqual([
      { type: 'task.progress', endpoint: ENDPOINT, taskId: 't2', status: 'Processing', progressPercentage: 0 },
    ]);
    expect(connection.actor.getSnapshot().context.outbox.map((entry) => entry.taskId)).toEqual(['t1']);
  });

  it('WIRE-8: routes an Error without taskId by relatesTo through the outbox', () => {
    const connection = startConnection();
    connection.open();
    connection.submit('t1');
    connection.deliver(errorOf('FORBIDDEN', { relatesTo: 'assign-t1' }));
    expect(connection.settled()).toEqual([
      expect.objectContaining({ taskId: 't1', outcome: expect.objectContaining({ error: expect.objectContaining({ code: 'FORBIDDEN' }) }) }),
    ]);
  });

  it('counts unroutable messages and rejected input and otherwise ignores them', () => {
    const connection = startConnection();
    connection.open();
    connection.submit('t1');
    connection.deliver(ackOf('unknown-message'));
    connection.deliver(errorOf('INVALID_MESSAGE', { relatesTo: 'unknown-message' }));
    connection.deliver(resultOf('not-a-task-here'));
    connection.socket().emit({ type: 'transport.rejected', error: { code: 'INVALID_MESSAGE', message: 'bad' } });
    expect(connection.actor.getSnapshot().context.stats).toEqual({ messagesUnroutable: 3, messagesRejected: 1, outboxDropped: 0 });
    expect(connection.settled()).toEqual([]);
    expect(connection.actor.getSnapshot().matches({ active: 'open' })).toBe(true);
  });

  it('TASK-7: beyond tasksMax a submission settles at once with OVERLOADED', () => {
    const connection = startConnection({ tasksMax: 2 });
    connection.open();
    connection.submit('t1');
    connection.submit('t2');
    connection.submit('t3');
    expect(connection.settled()).toEqual([
      expect.objectContaining({ taskId: 't3', outcome: expect.objectContaining({ error: expect.objectContaining({ code: 'OVERLOADED' }) }) }),
    ]);
    expect(draftSummary(connection.socket())).toEqual(['AssignTask:t1', 'AssignTask:t2']);
    expect(connection.pool().members.size).toBe(2);
  });

  it('TASK-7: a submission made in reaction to a task.settled at full capacity is accepted, not an error', () => {
    const clock = new SimulatedClock();
    const transport = fakeTransport(clock);
    const submission = (taskId: string) => ({
      type: 'connection.submit' as const,
      task: { clientId: CLIENT, taskId, messageId: `assign-${taskId}`, serviceName: 'Svc', operation: 'op', params: {} },
    });
    let connection: { send: (event: ReturnType<typeof submission>) => void } | undefined;
    // A client root that assigns the next task as soon as one settles.
    const parent = createActor(
      fromTransition((settled: readonly string[], event: ConnectionToParentEvent) => {
        if (event.type !== 'task.settled') return settled;
        if (event.taskId === 't1') connection?.send(submission('t2'));
        return [...settled, event.taskId];
      }, [] as readonly string[]),
    ).start();
    const actor = createActor(connectionMachine.provide({ actors: { transport: transport.logic } }), {
      clock,
      input: { ...connectionDefaults, pingIntervalMs: 600_000, tasksMax: 1, endpoint: ENDPOINT, clientId: CLIENT, seed: 7, parentRef: parent },
    });
    connection = actor;
    actor.start();
    (transport.sockets[0] as FakeSocket).emit({ type: 'transport.opened' });
    actor.send(submission('t1'));
    // t1 runs out of AssignTask attempts on a timer and settles TIMEOUT.
    for (let step = 0; step < connectionDefaults.task.assignAttemptsMax; step++) clock.increment(ACK_MS);
    expect(parent.getSnapshot().context).toEqual(['t1']);
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().context.tasksInFlight).toBe(1);
    expect(draftSummary(transport.sockets[0] as FakeSocket).at(-1)).toBe('AssignTask:t2');
  });

  it('TASK-1: a second submission of a task in flight is ignored', () => {
    const connection = startConnection();
    connection.open();
    connection.submit('t1');
    connection.submit('t1');
    expect(draftSummary(connection.socket())).toEqual(['AssignTask:t1']);
    expect(connection.actor.getSnapshot().context.tasksInFlight).toBe(1);
  });

  it('TASK-11: connection.cancel reaches the task, which sends CancelTask', () => {
    const connection = startConnection();
    connection.open();
    connection.submit('t1');
    connection.actor.send({ type: 'connection.cancel', taskId: 't1' });
    connection.deliver(ackOf('cancel', { taskId: 't1' }));
    connection.deliver({ ...resultOf('t1'), type: 'TaskFailed', payload: { taskId: 't1', status: 'Cancelled', errorCode: 'CANCELLED', errorMessage: 'cancelled' } });
    expect(draftSummary(connection.socket())).toEqual(['AssignTask:t1', 'CancelTask:t1']);
    expect(connection.settled().map((event) => event.outcome)).toEqual([{ status: 'Cancelled' }]);
  });
});

describe('connection: properties', () => {
  it('CONN-4: for any seed and attempt schedule, every backoff delay is within [0, min(cap, base x 2^attempt)) and is the delay the clock waits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.record({
          delayMsBase: fc.integer({ min: 1, max: 2_000 }),
          delayMsMax: fc.integer({ min: 1, max: 20_000 }),
          attemptsMax: fc.integer({ min: 0, max: 12 }),
        }),
        // What each transport does: fail to connect, or open and then drop (resets the attempt counter).
        fc.array(fc.constantFrom('fail', 'fail', 'fail', 'openThenDrop'), { maxLength: 30 }),
        (seed, backoff, outcomes) => {
          // Only the attempt bound here: the time bound has its own specs (connection.giveUp.spec.ts).
          const connection = startConnection({ seed, backoff: { ...backoff, giveUpAfterMs: Number.POSITIVE_INFINITY } });
          let attempt = 0;
          for (const outcome of [...outcomes, ...Array(backoff.attemptsMax + 1).fill('fail')]) {
            if (connection.actor.getSnapshot().status === 'done') break;
            if (outcome === 'openThenDrop') {
              connection.open();
              attempt = 0;
            }
            connection.drop();
            if (attempt >= backoff.attemptsMax) {
              expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: true });
              break;
            }
            const { backoffDelayMs } = connection.actor.getSnapshot().context;
            expect(backoffDelayMs).toBeGreaterThanOrEqual(0);
            expect(backoffDelayMs).toBeLessThan(Math.min(backoff.delayMsMax, backoff.delayMsBase * 2 ** attempt));
            const socketsBefore = connection.sockets.length;
            if (backoffDelayMs > 0) {
              connection.clock.increment(backoffDelayMs - 1);
              expect(connection.sockets).toHaveLength(socketsBefore);
            }
            connection.clock.increment(backoffDelayMs > 0 ? 1 : 0);
            expect(connection.sockets).toHaveLength(socketsBefore + 1);
            expect(connection.socket().createdAtMs - (connection.sockets[socketsBefore - 1] as FakeSocket).createdAtMs).toBeGreaterThanOrEqual(backoffDelayMs);
            attempt += 1;
          }
          expect(connection.actor.getSnapshot().output).toEqual({ gaveUp: true });
        },
      ),
      { numRuns: 300 },
    );
  });
});
