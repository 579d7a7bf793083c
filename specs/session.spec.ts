/**
 * The provider-side session (machines/session.ts): the "client thread" of seed 002 that accepts
 * or rejects a connection within an answer delay (CONN-2), screens, authenticates and binds
 * (WIRE-8, SEC-2, SEC-3, SEC-7, CONN-9), pings (CONN-3) and ends exactly once, closed or lost
 * (CONN-7, CONN-8).
 *
 * Three layers: (a) pure transitions, asserting the returned action objects (delayed raises as
 * data); (b) actors on SimulatedClock with a scriptable fake transport, fake policies and a
 * recording provider; (c) a fast-check property over arbitrary input and time.
 * fromPromise policies need a macrotask flush (`settle()`) before the session sees their answer;
 * that is the only use of a real timer here, and protocol time only moves by clock.increment.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, initialTransition, SimulatedClock, transition, type AnyActorRef } from 'xstate';
import type { AssignTask, Authenticate, ProviderDraft, WireMessage } from '../machines/messages.js';
import {
  errorReply,
  sessionDefaults,
  sessionMachine,
  type AdmissionDecision,
  type AdmissionInput,
  type AuthenticateInput,
  type SessionInput,
  type SessionToParentEvent,
} from '../machines/session.js';
import type { AcceptedInput, StreamCommand, StreamEvent } from '../machines/transport.js';

// ---- messages ---------------------------------------------------------------------------------

const T0 = 1_751_456_400_000;

const assignTask = (messageId: string, clientId: string, taskId = 't1'): AssignTask => ({
  type: 'AssignTask',
  messageId,
  timestamp: T0,
  payload: { taskId, serviceName: 'imaging', operation: 'resize', taskParameters: {}, callbackClientId: clientId },
});
const taskRef = (type: 'CancelTask' | 'GetStatus' | 'GetResult', messageId: string, clientId: string, taskId = 't1'): WireMessage =>
  ({ type, messageId, timestamp: T0, payload: { taskId, originalClientId: clientId } }) as WireMessage;
const authenticate = (messageId: string, clientId: string, token = 'secret'): Authenticate => ({
  type: 'Authenticate',
  messageId,
  timestamp: T0,
  payload: { clientId, token },
});
const providerMessages = (messageId: string): WireMessage[] => [
  { type: 'Ack', messageId, timestamp: T0, payload: { acknowledgmentId: 'x' } },
  { type: 'TaskStatusUpdate', messageId, timestamp: T0, payload: { taskId: 't1', status: 'Processing', progressPercentage: 10 } },
  { type: 'TaskResult', messageId, timestamp: T0, payload: { taskId: 't1', status: 'Completed', resultData: 1 } },
  { type: 'TaskFailed', messageId, timestamp: T0, payload: { taskId: 't1', status: 'Failed', errorCode: 'X', errorMessage: 'x' } },
  { type: 'Error', messageId, timestamp: T0, payload: { code: 'X', message: 'x' } },
];

const msg = (message: WireMessage): StreamEvent => ({ type: 'transport.message', message });
const garbage = (messageId?: string): StreamEvent => ({
  type: 'transport.rejected',
  error: { code: 'INVALID_MESSAGE', message: 'payload.taskId: expected string', details: 'payload.taskId' },
  messageId,
});
const closedByClient: StreamEvent = { type: 'transport.closed', graceful: true, code: 1000, reason: 'bye' };
const dropped: StreamEvent = { type: 'transport.closed', graceful: false, code: 1006, reason: '' };

// ---- harness ----------------------------------------------------------------------------------

/** Lets settled promises (the fromPromise policies) reach the session. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Deferred<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

function recordingParent(): { ref: AnyActorRef; events: SessionToParentEvent[] } {
  const events: SessionToParentEvent[] = [];
  const ref = createActor(fromCallback<SessionToParentEvent>(({ receive }) => receive((event) => events.push(event)))).start();
  return { ref, events };
}

interface FakeOptions {
  /** Answer every authentication at once with this verdict; undefined: the test answers by hand. */
  authAnswer?: boolean | undefined;
}

function startSession(overrides: Partial<SessionInput> = {}, options: FakeOptions = {}) {
  const clock = new SimulatedClock();
  const parent = recordingParent();
  const commands: StreamCommand[] = [];
  const transportInputs: AcceptedInput[] = [];
  const admissionInputs: AdmissionInput[] = [];
  const admissions: Deferred<AdmissionDecision>[] = [];
  const authCalls: (Deferred<{ ok: boolean }> & { input: AuthenticateInput })[] = [];
  /** Length of the provider's inbox each time the authentication policy said ok. */
  const authOkAt: number[] = [];
  let sendBack: ((event: StreamEvent) => void) | undefined;
  const errors: unknown[] = [];

  const logic = sessionMachine.provide({
    actors: {
      transport: fromCallback<StreamCommand, AcceptedInput>(({ sendBack: back, receive, input }) => {
        transportInputs.push(input);
        sendBack = back as (event: StreamEvent) => void;
        receive((command) => commands.push(command));
      }),
      admission: fromPromise<AdmissionDecision, AdmissionInput>(({ input }) => {
        admissionInputs.push(input);
        return new Promise((resolve, reject) => admissions.push({ resolve, reject }));
      }),
      authenticate: fromPromise<{ ok: boolean }, AuthenticateInput>(
        ({ input }) =>
          new Promise((resolve, reject) => {
            const answer = (verdict: { ok: boolean }) => {
              if (verdict.ok) authOkAt.push(parent.events.length);
              resolve(verdict);
            };
            authCalls.push({ input, resolve: answer, reject });
            if (options.authAnswer !== undefined) answer({ ok: options.authAnswer });
          }),
      ),
    },
  });
  // The first-message deadline (SEC-14) has specs of its own: out of the others' way here.
  const input: SessionInput = {
    ...sessionDefaults,
    firstMessageTimeoutMs: 3_600_000,
    connectionId: 'conn-1',
    remoteAddress: '192.168.1.20',
    parentRef: parent.ref,
    ...overrides,
  };
  const actor = createActor(logic, { clock, input });
  actor.subscribe({ error: (error) => errors.push(error) });
  actor.start();

  return {
    actor,
    clock,
    commands,
    transportInputs,
    admissionInputs,
    authCalls,
    authOkAt,
    errors,
    toParent: parent.events,
    push(event: StreamEvent) {
      sendBack?.(event);
    },
    async admit(decision: AdmissionDecision | Error) {
      const pending = admissions.at(-1);
      if (decision instanceof Error) pending?.reject(decision);
      else pending?.resolve(decision);
      await settle();
    },
    async answerAuth(ok: boolean | Error) {
      const pending = authCalls.at(-1);
      if (ok instanceof Error) pending?.reject(ok);
      else pending?.resolve({ ok });
      await settle();
    },
    /** Drafts the session sent through its transport, in order. */
    sent(): ProviderDraft[] {
      return commands.flatMap((command) => (command.type === 'transport.send' ? [command.draft as ProviderDraft] : []));
    },
    state: () => actor.getSnapshot().value,
    requests: () => parent.events.filter((event) => event.type === 'session.request'),
    ended: () => parent.events.filter((event) => event.type === 'session.ended'),
  };
}

async function readySession(overrides: Partial<SessionInput> = {}, authenticated = false) {
  const session = startSession(overrides);
  await session.admit({ accept: true, authenticated });
  return session;
}

const readyValue = (auth: unknown, intake = 'unlimited', liveness = 'waiting', firstMessage: unknown = expect.any(String)) => ({
  ready: { firstMessage, liveness, intake, auth },
});

// ---- (a) pure transitions ---------------------------------------------------------------------

type ActionObject = { readonly type: string; readonly params?: unknown };
const paramsOf = (action: ActionObject) => (action.params ?? {}) as Record<string, unknown>;
const dummyParent = createActor(fromCallback(() => {}));
const pureInput = (overrides: Partial<SessionInput> = {}): SessionInput => ({
  ...sessionDefaults,
  connectionId: 'conn-1',
  remoteAddress: '10.0.0.2',
  parentRef: dummyParent,
  ...overrides,
});
const delayedRaises = (actions: readonly ActionObject[]) =>
  actions
    .filter((a) => a.type === 'xstate.raise' && paramsOf(a)['delay'] !== undefined)
    .map((a) => ({ id: paramsOf(a)['id'], delay: paramsOf(a)['delay'] }));
const toTransport = (actions: readonly ActionObject[]) =>
  actions.filter((a) => a.type === 'xstate.sendTo' && paramsOf(a)['targetId'] === 'transport').map((a) => paramsOf(a)['event']);
const toProvider = (actions: readonly ActionObject[]) =>
  actions.filter((a) => a.type === 'xstate.sendTo' && paramsOf(a)['to'] === dummyParent).map((a) => paramsOf(a)['event'] as SessionToParentEvent);

function pureReady(overrides: Partial<SessionInput> = {}, decision: AdmissionDecision = { accept: true, authenticated: false }) {
  const [handshaking] = initialTransition(sessionMachine, pureInput(overrides));
  return transition(sessionMachine, handshaking, { type: 'xstate.done.actor.admission', output: decision, actorId: 'admission' } as never);
}

describe('session: pure transitions', () => {
  it('CONN-2: starts handshaking, invokes the admission policy and schedules the 1000 ms answer delay', () => {
    const [snapshot, actions] = initialTransition(sessionMachine, pureInput());
    expect(snapshot.value).toEqual({ handshaking: 'awaitingAdmission' });
    const spawned = actions.filter((a) => a.type === 'xstate.spawnChild').map((a) => (a.params as { src: string }).src);
    expect(spawned).toEqual(['transport', 'admission']);
    expect(delayedRaises(actions)).toEqual([{ id: 'xstate.after.answerDelayMs.session.handshaking', delay: 1_000 }]);
  });

  it('CONN-2: the elapsed answer delay is a rejection: Error UNAUTHENTICATED, close 1008, close timer', () => {
    const [handshaking] = initialTransition(sessionMachine, pureInput());
    const [closing, actions] = transition(sessionMachine, handshaking, { type: 'xstate.after.answerDelayMs.session.handshaking' } as never);
    expect(closing.value).toBe('closing');
    expect(toTransport(actions)).toEqual([
      { type: 'transport.send', draft: errorReply('UNAUTHENTICATED', 'no answer within answerDelayMs') },
      { type: 'transport.close', code: 1008, reason: 'no answer within answerDelayMs' },
    ]);
    expect(delayedRaises(actions)).toEqual([{ id: 'xstate.after.closeTimeoutMs.session.closing', delay: 2_000 }]);
  });

  it('CONN-10: a refusal decided by the provider skips the policy: Error OVERLOADED, close 1013', () => {
    const [closing, actions] = initialTransition(sessionMachine, pureInput({ refuseWith: { code: 'OVERLOADED', reason: '2 sessions already open' } }));
    expect(closing.value).toBe('closing');
    expect(actions.filter((a) => a.type === 'xstate.spawnChild').map((a) => (a.params as { src: string }).src)).toEqual(['transport']);
    expect(toTransport(actions)).toEqual([
      { type: 'transport.send', draft: errorReply('OVERLOADED', '2 sessions already open') },
      { type: 'transport.close', code: 1013, reason: '2 sessions already open' },
    ]);
  });

  it('CONN-2: an accepted connection is ready, tells the provider and schedules the first ping (CONN-3)', () => {
    const [ready, actions] = pureReady({ authRequired: true });
    expect(ready.value).toEqual(readyValue({ anonymous: 'idle' }));
    expect(toProvider(actions)).toEqual([{ type: 'session.ready', connectionId: 'conn-1' }]);
    expect(delayedRaises(actions)).toEqual([
      { id: 'xstate.after.firstMessageTimeoutMs.session.ready.firstMessage.awaiting', delay: 10_000 },
      { id: 'xstate.after.pingIntervalMs.session.ready.liveness.waiting', delay: 5_000 },
    ]);
  });

  it('SEC-14: a session that sends nothing within firstMessageTimeoutMs gets Error TIMEOUT and close 1008', async () => {
    const session = await readySession({ firstMessageTimeoutMs: 10_000 });
    session.clock.increment(9_999);
    expect(session.sent()).toEqual([]);
    session.clock.increment(1);
    expect(session.sent()).toEqual([errorReply('TIMEOUT', 'no message within firstMessageTimeoutMs')]);
    expect(session.commands.at(-1)).toEqual({ type: 'transport.close', code: 1008, reason: 'no message within firstMessageTimeoutMs' });
  });

  it('SEC-14: one message in time and the deadline is gone for good', async () => {
    const session = await readySession({ firstMessageTimeoutMs: 10_000 });
    session.push(msg(taskRef('GetStatus', 'm1', 'alice', 't1')));
    session.clock.increment(60_000);
    expect(session.state()).toMatchObject({ ready: { firstMessage: 'received' } });
  });

  it('SEC-2: starts authenticated when admission vouched for the upgrade token', () => {
    const [ready] = pureReady({ authRequired: true }, { accept: true, authenticated: true });
    expect(ready.value).toEqual(readyValue('authenticated'));
  });

  it('SEC-7: a rate limit adds a window restarted by a named delay every windowMs', () => {
    const [ready, actions] = pureReady({ rateLimit: { messagesMax: 2, windowMs: 750 } });
    expect(ready.value).toEqual(readyValue('authenticated', 'windowed'));
    expect(delayedRaises(actions)).toContainEqual({ id: 'xstate.after.rateWindowMs.session.ready.intake.windowed', delay: 750 });
  });

  it('CONN-9: the first task message binds the session, then it is forwarded', () => {
    const [ready] = pureReady();
    const [next, actions] = transition(sessionMachine, ready, msg(assignTask('m1', 'alice')));
    expect(next.context.clientId).toBe('alice');
    expect(toProvider(actions).map((e) => e.type)).toEqual(['session.bound', 'session.request']);
    expect(toTransport(actions)).toEqual([]);
  });

  it('handshaking: holds messages and forwards them in order on acceptance', () => {
    const [handshaking] = initialTransition(sessionMachine, pureInput());
    const [s1, a1] = transition(sessionMachine, handshaking, msg(taskRef('GetStatus', 'm1', 'alice')));
    const [s2] = transition(sessionMachine, s1, msg(assignTask('m2', 'alice')));
    expect(a1).toEqual([]);
    expect(s2.context.held).toHaveLength(2);
    const [ready, actions] = transition(sessionMachine, s2, { type: 'xstate.done.actor.admission', output: { accept: true, authenticated: false } } as never);
    expect(ready.context.held).toEqual([]);
    const forwarded = toProvider(actions).flatMap((e) => (e.type === 'session.request' ? [e.message.messageId] : []));
    expect(forwarded).toEqual(['m1', 'm2']);
  });

  it('CONN-3: an overdue pong terminates the socket and ends the session as lost', () => {
    const [ready] = pureReady();
    const [waitingPong, pingActions] = transition(sessionMachine, ready, { type: 'xstate.after.pingIntervalMs.session.ready.liveness.waiting' } as never);
    expect(toTransport(pingActions)).toEqual([{ type: 'transport.ping' }]);
    expect(delayedRaises(pingActions)).toEqual([{ id: 'xstate.after.pongTimeoutMs.session.ready.liveness.awaitingPong', delay: 5_000 }]);
    const [lost, actions] = transition(sessionMachine, waitingPong, { type: 'xstate.after.pongTimeoutMs.session.ready.liveness.awaitingPong' } as never);
    expect(lost.value).toBe('lost');
    expect(lost.status).toBe('done');
    expect(lost.output).toEqual({ graceful: false, reason: 'no pong within pongTimeoutMs' });
    expect(toTransport(actions)).toEqual([{ type: 'transport.terminate' }]);
    expect(toProvider(actions)).toEqual([
      { type: 'session.ended', connectionId: 'conn-1', clientId: undefined, graceful: false, reason: 'no pong within pongTimeoutMs' },
    ]);
  });
});

// ---- (b) actors on SimulatedClock -------------------------------------------------------------

describe('session: handshake (CONN-2)', () => {
  it('CONN-2: asks the admission policy with the connection, address and upgrade token', () => {
    const session = startSession({ token: 'upgrade-token' });
    expect(session.transportInputs).toEqual([{ connectionId: 'conn-1' }]);
    expect(session.admissionInputs).toEqual([{ connectionId: 'conn-1', remoteAddress: '192.168.1.20', token: 'upgrade-token' }]);
    expect(session.state()).toEqual({ handshaking: 'awaitingAdmission' });
  });

  it('CONN-2: an acceptance within the answer delay makes the session ready', async () => {
    const session = startSession();
    session.clock.increment(999);
    await session.admit({ accept: true, authenticated: false });
    expect(session.state()).toEqual(readyValue('authenticated'));
    expect(session.toParent).toEqual([{ type: 'session.ready', connectionId: 'conn-1' }]);
    session.clock.increment(1);
    expect(session.commands).toEqual([]);
  });

  it('CONN-2: no answer within 1000 ms is a rejection with Error UNAUTHENTICATED and close 1008', async () => {
    const session = startSession();
    session.clock.increment(999);
    expect(session.state()).toEqual({ handshaking: 'awaitingAdmission' });
    session.clock.increment(1);
    expect(session.state()).toBe('closing');
    expect(session.commands).toEqual([
      { type: 'transport.send', draft: errorReply('UNAUTHENTICATED', 'no answer within answerDelayMs') },
      { type: 'transport.close', code: 1008, reason: 'no answer within answerDelayMs' },
    ]);
    await session.admit({ accept: true, authenticated: false }); // too late: ignored
    expect(session.state()).toBe('closing');
    session.push(closedByClient);
    expect(session.actor.getSnapshot().output).toEqual({ graceful: true, reason: 'no answer within answerDelayMs' });
    expect(session.toParent.map((e) => e.type)).toEqual(['session.ended']);
  });

  it('CONN-2: a refusal by the policy is answered with its code and reason, then close 1008', async () => {
    const session = startSession();
    await session.admit({ accept: false, code: 'FORBIDDEN', reason: 'address not allowed' });
    expect(session.sent()).toEqual([errorReply('FORBIDDEN', 'address not allowed')]);
    expect(session.commands.at(-1)).toEqual({ type: 'transport.close', code: 1008, reason: 'address not allowed' });
  });

  it('CONN-10: an OVERLOADED refusal closes with 1013', async () => {
    const session = startSession();
    await session.admit({ accept: false, code: 'OVERLOADED', reason: 'session limit reached' });
    expect(session.sent()).toEqual([errorReply('OVERLOADED', 'session limit reached')]);
    expect(session.commands.at(-1)).toEqual({ type: 'transport.close', code: 1013, reason: 'session limit reached' });
  });

  it('CONN-10: a session started beyond the provider limit refuses with 1013 without asking the policy', () => {
    const session = startSession({ refuseWith: { code: 'OVERLOADED', reason: '1024 sessions already open' } });
    expect(session.admissionInputs).toEqual([]);
    expect(session.commands).toEqual([
      { type: 'transport.send', draft: errorReply('OVERLOADED', '1024 sessions already open') },
      { type: 'transport.close', code: 1013, reason: '1024 sessions already open' },
    ]);
    session.push(closedByClient);
    expect(session.ended()).toEqual([
      { type: 'session.ended', connectionId: 'conn-1', clientId: undefined, graceful: true, reason: '1024 sessions already open' },
    ]);
  });

  it('CONN-2, SEC-11: a failing admission policy is a rejection with INTERNAL_ERROR, never the error text', async () => {
    const session = startSession();
    await session.admit(new Error('ACL store unavailable'));
    expect(session.sent()).toEqual([errorReply('INTERNAL_ERROR', 'An internal error occurred.')]);
    expect(session.commands.at(-1)).toEqual({ type: 'transport.close', code: 1008, reason: 'An internal error occurred.' });
    expect(session.errors).toEqual([]);
  });

  it('CONN-2, SEC-11: a policy error coded by the supervisor names its errorId only', async () => {
    const session = startSession();
    await session.admit(Object.assign(new Error('An internal error occurred. (errorId e-1)'), { code: 'INTERNAL_ERROR', errorId: 'e-1' }));
    expect(session.sent()).toEqual([errorReply('INTERNAL_ERROR', 'An internal error occurred. (errorId e-1)')]);
  });

  it('CONN-2: a policy error with one of our codes refuses with that code and its message', async () => {
    const session = startSession();
    await session.admit(Object.assign(new Error('key revoked'), { code: 'FORBIDDEN' }));
    expect(session.sent()).toEqual([errorReply('FORBIDDEN', 'key revoked')]);
  });

  it('CONN-2: messages sent while handshaking are replayed in order once accepted', async () => {
    const session = startSession();
    session.push(msg(assignTask('m1', 'alice', 't1')));
    session.push(garbage('m2'));
    session.push(msg(taskRef('GetStatus', 'm3', 'alice', 't1')));
    expect(session.commands).toEqual([]);
    await session.admit({ accept: true, authenticated: false });
    expect(session.requests().map((e) => e.message.messageId)).toEqual(['m1', 'm3']);
    expect(session.sent()).toEqual([errorReply('INVALID_MESSAGE', 'payload.taskId: expected string', 'm2', undefined, 'payload.taskId')]);
    expect(session.actor.getSnapshot().context.stats).toMatchObject({ messagesReceived: 2, messagesRejected: 1, messagesForwarded: 2 });
  });

  it('SEC-6: beyond pendingMax held messages get RATE_LIMITED and are never replayed', async () => {
    const session = startSession({ pendingMax: 2 });
    session.push(msg(assignTask('m1', 'alice', 't1')));
    session.push(msg(assignTask('m2', 'alice', 't2')));
    session.push(msg(assignTask('m3', 'alice', 't3')));
    expect(session.sent()).toEqual([errorReply('RATE_LIMITED', 'Too many messages on this connection.', 'm3', 't3')]);
    await session.admit({ accept: true, authenticated: false });
    expect(session.requests().map((e) => e.message.messageId)).toEqual(['m1', 'm2']);
    expect(session.actor.getSnapshot().context.stats).toMatchObject({ messagesReceived: 3, messagesRateLimited: 1 });
  });

  it('CONN-2: messages held for a rejected connection have no effect', async () => {
    const session = startSession();
    session.push(msg(assignTask('m1', 'alice')));
    await session.admit({ accept: false, code: 'UNAUTHENTICATED', reason: 'no token' });
    session.push(closedByClient);
    expect(session.requests()).toEqual([]);
    expect(session.actor.getSnapshot().context.stats.messagesReceived).toBe(1);
  });
});

describe('session: binding (CONN-9)', () => {
  it('CONN-9: binds to the first clientId and tells the provider once', async () => {
    const session = await readySession();
    session.push(msg(assignTask('m1', 'alice', 't1')));
    session.push(msg(taskRef('CancelTask', 'm2', 'alice', 't1')));
    expect(session.toParent.map((e) => e.type)).toEqual(['session.ready', 'session.bound', 'session.request', 'session.request']);
    expect(session.toParent[1]).toEqual({ type: 'session.bound', connectionId: 'conn-1', clientId: 'alice', identity: { host: '192.168.1.20' } });
    expect(session.requests()[0]).toEqual({ type: 'session.request', connectionId: 'conn-1', clientId: 'alice', message: assignTask('m1', 'alice', 't1') });
  });

  it('SEC-21: session.fault (the supervisor caught an error here) sends Error INTERNAL_ERROR with the errorId and closes 1011', async () => {
    const session = await readySession();
    session.actor.send({ type: 'session.fault', errorId: 'e-9' });
    expect(session.sent()).toEqual([
      errorReply('INTERNAL_ERROR', 'An internal error occurred. (errorId e-9)', undefined, undefined, undefined, 'e-9'),
    ]);
    expect(session.commands.at(-1)).toEqual({ type: 'transport.close', code: 1011, reason: 'internal error (errorId e-9)' });
    session.actor.send({ type: 'session.fault', errorId: 'e-10' });
    expect(session.sent()).toHaveLength(1);
  });

  it('CONN-9: a message for another clientId gets Error FORBIDDEN and has no effect', async () => {
    const session = await readySession();
    session.push(msg(taskRef('GetStatus', 'm1', 'alice', 't1')));
    session.push(msg(assignTask('m2', 'mallory', 't9')));
    session.push(msg(authenticate('m3', 'mallory')));
    expect(session.requests().map((e) => e.message.messageId)).toEqual(['m1']);
    expect(session.sent()).toEqual([
      errorReply('FORBIDDEN', 'this session acts for another clientId (CONN-9)', 'm2', 't9'),
      errorReply('FORBIDDEN', 'this session acts for another clientId (CONN-9)', 'm3'),
    ]);
    expect(session.actor.getSnapshot().context).toMatchObject({ clientId: 'alice', stats: { messagesForbidden: 2 } });
  });
});

describe('session: authentication (SEC-2, SEC-3)', () => {
  it('SEC-3: without authentication an AssignTask gets TaskFailed UNAUTHENTICATED and nothing is forwarded', async () => {
    const session = await readySession({ authRequired: true });
    session.push(msg(assignTask('m1', 'alice', 't1')));
    session.push(msg(taskRef('GetResult', 'm2', 'alice', 't1')));
    expect(session.sent()).toEqual([
      {
        type: 'TaskFailed',
        payload: { taskId: 't1', status: 'Failed', errorCode: 'UNAUTHENTICATED', errorMessage: 'The client is not authenticated.', originalClientId: 'alice' },
      },
      errorReply('UNAUTHENTICATED', 'The client is not authenticated.', 'm2', 't1'),
    ]);
    expect(session.requests()).toEqual([]);
    expect(session.actor.getSnapshot().context.clientId).toBeUndefined();
  });

  it('SEC-2: a valid Authenticate is acknowledged, binds the clientId and unlocks task messages', async () => {
    const session = await readySession({ authRequired: true });
    session.push(msg(authenticate('a1', 'alice', 'key-1')));
    expect(session.state()).toEqual(readyValue({ anonymous: 'checking' }));
    expect(session.authCalls.map((call) => call.input)).toEqual([{ clientId: 'alice', token: 'key-1', remoteAddress: '192.168.1.20' }]);
    await session.answerAuth(true);
    expect(session.state()).toEqual(readyValue('authenticated'));
    expect(session.sent()).toEqual([{ type: 'Ack', payload: { acknowledgmentId: 'a1' } }]);
    session.push(msg(assignTask('m1', 'alice')));
    expect(session.toParent.map((e) => e.type)).toEqual(['session.ready', 'session.bound', 'session.request']);
  });

  it('SEC-2: messages sent while the token is being checked are held and then handled in order', async () => {
    const session = await readySession({ authRequired: true });
    session.push(msg(authenticate('a1', 'alice')));
    session.push(msg(assignTask('m1', 'alice', 't1')));
    session.push(msg(assignTask('m2', 'bob', 't2')));
    expect(session.sent()).toEqual([]);
    await session.answerAuth(true);
    expect(session.requests().map((e) => e.message.messageId)).toEqual(['m1']);
    expect(session.sent().map((d) => d.type)).toEqual(['Ack', 'Error']);
  });

  it('SEC-2: a refused Authenticate gets Error UNAUTHENTICATED and close 1008', async () => {
    const session = await readySession({ authRequired: true });
    session.push(msg(authenticate('a1', 'alice', 'wrong')));
    session.push(msg(assignTask('m1', 'alice')));
    await session.answerAuth(false);
    expect(session.state()).toBe('closing');
    expect(session.sent()).toEqual([errorReply('UNAUTHENTICATED', 'authentication failed', 'a1')]);
    expect(session.commands.at(-1)).toEqual({ type: 'transport.close', code: 1008, reason: 'authentication failed' });
    expect(session.requests()).toEqual([]);
  });

  it('SEC-2: a failing or silent authentication policy also refuses with close 1008', async () => {
    const failing = await readySession({ authRequired: true });
    failing.push(msg(authenticate('a1', 'alice')));
    await failing.answerAuth(new Error('key store down'));
    expect(failing.commands.at(-1)).toEqual({ type: 'transport.close', code: 1008, reason: 'authentication failed' });

    const silent = await readySession({ authRequired: true });
    silent.push(msg(authenticate('a1', 'alice')));
    silent.clock.increment(999);
    expect(silent.state()).toEqual(readyValue({ anonymous: 'checking' }));
    silent.clock.increment(1);
    expect(silent.commands.at(-1)).toEqual({ type: 'transport.close', code: 1008, reason: 'authentication failed' });
  });

  it('SEC-2: a token accepted at the upgrade needs no Authenticate', async () => {
    const session = await readySession({ authRequired: true }, true);
    session.push(msg(assignTask('m1', 'alice')));
    expect(session.requests()).toHaveLength(1);
  });

  it('SEC-2: an Authenticate on an already authenticated session binds and is acknowledged without the policy', async () => {
    const session = await readySession();
    session.push(msg(authenticate('a1', 'alice')));
    expect(session.authCalls).toEqual([]);
    expect(session.sent()).toEqual([{ type: 'Ack', payload: { acknowledgmentId: 'a1' } }]);
    expect(session.toParent.at(-1)).toEqual({ type: 'session.bound', connectionId: 'conn-1', clientId: 'alice', identity: { host: '192.168.1.20' } });
  });

  it('SEC-10: the bound identity carries the host, the client proof and the credential the policy vouched for', async () => {
    const session = startSession({ authRequired: true, remoteAddress: '[::ffff:10.1.2.3]:5555', clientProof: 'proof-digest' });
    await session.admit({ accept: true, authenticated: true, credential: { principal: 'key:alice', groups: ['ops'] } });
    session.push(msg(assignTask('m1', 'alice')));
    expect(session.toParent.find((e) => e.type === 'session.bound')).toEqual({
      type: 'session.bound',
      connectionId: 'conn-1',
      clientId: 'alice',
      identity: { host: '10.1.2.3', proof: 'proof-digest', principal: 'key:alice', groups: ['ops'] },
    });
  });

  it('SEC-20: an AssignTask carrying apiKey authenticates an anonymous session, and is forwarded without the key', async () => {
    const session = await readySession({ authRequired: true });
    const assign = assignTask('m1', 'alice', 't1');
    session.push(msg({ ...assign, payload: { ...assign.payload, apiKey: 'key-1' } }));
    expect(session.state()).toEqual(readyValue({ anonymous: 'checking' }));
    expect(session.authCalls.map((call) => call.input)).toEqual([{ clientId: 'alice', token: 'key-1', remoteAddress: '192.168.1.20' }]);
    await session.answerAuth(true);
    expect(session.state()).toEqual(readyValue('authenticated'));
    expect(session.sent()).toEqual([]); // no Ack of its own: the AssignTask's Ack comes from the provider
    expect(session.requests().map((e) => e.message)).toEqual([assign]);
  });

  it('SEC-20: an AssignTask whose apiKey is refused gets TaskFailed UNAUTHENTICATED, then close 1008', async () => {
    const session = await readySession({ authRequired: true });
    const assign = assignTask('m1', 'alice', 't1');
    session.push(msg({ ...assign, payload: { ...assign.payload, apiKey: 'wrong' } }));
    await session.answerAuth(false);
    expect(session.sent()).toEqual([
      {
        type: 'TaskFailed',
        payload: { taskId: 't1', status: 'Failed', errorCode: 'UNAUTHENTICATED', errorMessage: 'authentication failed', originalClientId: 'alice' },
      },
    ]);
    expect(session.commands.at(-1)).toMatchObject({ type: 'transport.close', code: 1008 });
    expect(session.requests()).toEqual([]);
  });

  it('SEC-20: on an authenticated session an AssignTask apiKey is not checked again, and never forwarded', async () => {
    const session = await readySession({ authRequired: true }, true);
    const assign = assignTask('m1', 'alice', 't1');
    session.push(msg({ ...assign, payload: { ...assign.payload, apiKey: 'whatever' } }));
    expect(session.authCalls).toEqual([]);
    expect(session.requests().map((e) => e.message)).toEqual([assign]);
  });
});

describe('session: screening (SEC-7, WIRE-7, WIRE-8)', () => {
  it('SEC-7: beyond messagesMax in a window a message gets RATE_LIMITED and has no effect; the next window admits again', async () => {
    const session = await readySession({ rateLimit: { messagesMax: 2, windowMs: 1_000 } });
    session.push(msg(assignTask('m1', 'alice', 't1')));
    session.push(msg(assignTask('m2', 'alice', 't2')));
    session.push(msg(assignTask('m3', 'alice', 't3')));
    session.push(garbage('m4'));
    expect(session.requests().map((e) => e.message.messageId)).toEqual(['m1', 'm2']);
    expect(session.sent()).toEqual([
      errorReply('RATE_LIMITED', 'Too many messages on this connection.', 'm3', 't3'),
      errorReply('RATE_LIMITED', 'Too many messages on this connection.', 'm4'),
    ]);
    session.clock.increment(999);
    session.push(msg(assignTask('m5', 'alice', 't5')));
    expect(session.requests()).toHaveLength(2);
    session.clock.increment(1);
    session.push(msg(assignTask('m6', 'alice', 't6')));
    expect(session.requests().map((e) => e.message.messageId)).toEqual(['m1', 'm2', 'm6']);
    expect(session.actor.getSnapshot().context.stats).toMatchObject({ messagesReceived: 5, messagesRateLimited: 3, messagesRejected: 1 });
  });

  it('WIRE-8: undecodable input gets an Error with its code and relatesTo, is counted, and the session stays ready', async () => {
    const session = await readySession();
    session.push(garbage('bad-1'));
    session.push(garbage());
    expect(session.sent()).toEqual([
      errorReply('INVALID_MESSAGE', 'payload.taskId: expected string', 'bad-1', undefined, 'payload.taskId'),
      errorReply('INVALID_MESSAGE', 'payload.taskId: expected string', undefined, undefined, 'payload.taskId'),
    ]);
    expect(session.state()).toEqual(readyValue('authenticated'));
    expect(session.actor.getSnapshot().context.stats.messagesRejected).toBe(2);
    session.push(msg(assignTask('m1', 'alice')));
    expect(session.requests()).toHaveLength(1);
  });

  it('WIRE-7: provider-to-client message types from a client get UNSUPPORTED_MESSAGE', async () => {
    const session = await readySession();
    for (const message of providerMessages('p1')) session.push(msg(message));
    const replies = session.sent();
    expect(replies).toHaveLength(5);
    expect(replies[0]).toEqual(errorReply('UNSUPPORTED_MESSAGE', 'not a client message', 'p1'));
    expect(replies.every((d) => d.type === 'Error' && d.payload.code === 'UNSUPPORTED_MESSAGE' && d.payload.relatesTo === 'p1')).toBe(true);
    expect(session.requests()).toEqual([]);
    expect(session.state()).toEqual(readyValue('authenticated'));
  });
});

describe('session: liveness (CONN-3)', () => {
  it('CONN-3: pings every pingIntervalMs while pongs come back', async () => {
    const session = await readySession();
    session.clock.increment(4_999);
    expect(session.commands).toEqual([]);
    session.clock.increment(1);
    expect(session.commands).toEqual([{ type: 'transport.ping' }]);
    session.clock.increment(4_000);
    session.push({ type: 'transport.pong' });
    session.clock.increment(5_000);
    expect(session.commands).toEqual([{ type: 'transport.ping' }, { type: 'transport.ping' }]);
    expect(session.actor.getSnapshot().status).toBe('active');
  });

  it('CONN-3: no pong within pongTimeoutMs terminates the socket and ends as lost', async () => {
    const session = await readySession();
    session.push(msg(assignTask('m1', 'alice')));
    session.clock.increment(5_000);
    session.clock.increment(4_999);
    expect(session.ended()).toEqual([]);
    session.clock.increment(1);
    expect(session.commands.at(-1)).toEqual({ type: 'transport.terminate' });
    expect(session.ended()).toEqual([
      { type: 'session.ended', connectionId: 'conn-1', clientId: 'alice', graceful: false, reason: 'no pong within pongTimeoutMs' },
    ]);
    expect(session.actor.getSnapshot().output).toEqual({ graceful: false, reason: 'no pong within pongTimeoutMs' });
  });
});

describe('session: liveness under load (CONN-3)', () => {
  it('CONN-3: a message while a pong is awaited counts as a pong, so a busy client is not dropped', async () => {
    const session = await readySession();
    session.clock.increment(5_000); // ping sent
    session.clock.increment(4_000);
    session.push(msg(assignTask('m1', 'alice'))); // its pong is stuck behind this frame
    expect(session.requests().map((event) => event.message.messageId)).toEqual(['m1']); // and it is still acted on
    session.clock.increment(1_000); // the original pong deadline passes
    expect(session.ended()).toEqual([]);
    expect(session.actor.getSnapshot().status).toBe('active');
  });
});

describe('session: ending (CONN-7, CONN-8)', () => {
  it('CONN-8: a close handshake by the client ends the session as closed (graceful)', async () => {
    const session = await readySession();
    session.push(closedByClient);
    expect(session.actor.getSnapshot().value).toBe('closed');
    expect(session.ended()).toEqual([
      { type: 'session.ended', connectionId: 'conn-1', clientId: undefined, graceful: true, reason: 'closed by client (1000: bye)' },
    ]);
  });

  it('CONN-8: a socket that drops without a close frame ends the session as lost', async () => {
    const session = await readySession();
    session.push(dropped);
    expect(session.actor.getSnapshot().value).toBe('lost');
    expect(session.ended()).toEqual([{ type: 'session.ended', connectionId: 'conn-1', clientId: undefined, graceful: false, reason: 'connection lost (1006)' }]);
  });

  it('CONN-8: a client vanishing while handshaking ends the session as lost', () => {
    const session = startSession();
    session.push(dropped);
    expect(session.actor.getSnapshot().output).toEqual({ graceful: false, reason: 'connection lost (1006)' });
  });

  it('CONN-7: session.close from the provider sends the close handshake and ends closed when it completes', async () => {
    const session = await readySession();
    session.actor.send({ type: 'session.close', code: 1001, reason: 'provider stopping' });
    expect(session.state()).toBe('closing');
    expect(session.commands).toEqual([{ type: 'transport.close', code: 1001, reason: 'provider stopping' }]);
    session.push(closedByClient);
    expect(session.actor.getSnapshot().output).toEqual({ graceful: true, reason: 'provider stopping' });
  });

  it('CONN-7: a close handshake that does not complete within closeTimeoutMs becomes a terminate', async () => {
    const session = await readySession();
    session.actor.send({ type: 'session.close', code: 1000, reason: 'done' });
    session.clock.increment(1_999);
    expect(session.state()).toBe('closing');
    session.clock.increment(1);
    expect(session.commands.at(-1)).toEqual({ type: 'transport.terminate' });
    expect(session.actor.getSnapshot().output).toEqual({ graceful: true, reason: 'done (close handshake timed out, terminated)' });
  });

  it('CONN-8: sends session.ended exactly once whatever follows', async () => {
    const session = await readySession();
    session.actor.send({ type: 'session.close', code: 1000, reason: 'done' });
    session.actor.send({ type: 'session.close', code: 1001, reason: 'again' });
    session.push(closedByClient);
    session.clock.increment(10_000);
    expect(session.ended()).toHaveLength(1);
    expect(session.commands.filter((c) => c.type === 'transport.close')).toHaveLength(1);
  });

  it('delivers provider messages only while ready and counts the ones it drops', async () => {
    const session = startSession();
    const update: ProviderDraft = { type: 'TaskStatusUpdate', payload: { taskId: 't1', status: 'Processing', progressPercentage: 50 } };
    session.actor.send({ type: 'session.deliver', draft: update });
    await session.admit({ accept: true, authenticated: false });
    session.actor.send({ type: 'session.deliver', draft: update });
    session.actor.send({ type: 'session.close', code: 1000, reason: 'done' });
    session.actor.send({ type: 'session.deliver', draft: update });
    expect(session.sent()).toEqual([update]);
    expect(session.actor.getSnapshot().context.stats.deliveriesDropped).toBe(2);
  });
});

// ---- (c) property ------------------------------------------------------------------------------

type Step =
  | { kind: 'input'; event: StreamEvent }
  | { kind: 'advance'; ms: number }
  | { kind: 'admission'; outcome: AdmissionDecision | 'throw' | 'silent' }
  | { kind: 'authenticate'; outcome: boolean | 'throw' }
  | { kind: 'deliver' }
  | { kind: 'close' };

const clientIdArb = fc.constantFrom('alice', 'bob');
const messageIdArb = fc.constantFrom('m1', 'm2', 'm3', 'm4');
const taskIdArb = fc.constantFrom('t1', 't2');
const wireMessageArb: fc.Arbitrary<WireMessage> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(messageIdArb, clientIdArb, taskIdArb).map(([m, c, t]) => assignTask(m, c, t)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom('CancelTask', 'GetStatus', 'GetResult' as const), messageIdArb, clientIdArb, taskIdArb)
      .map(([type, m, c, t]) => taskRef(type, m, c, t)),
  },
  { weight: 2, arbitrary: fc.tuple(messageIdArb, clientIdArb).map(([m, c]) => authenticate(m, c)) },
  { weight: 1, arbitrary: fc.tuple(messageIdArb, fc.integer({ min: 0, max: 4 })).map(([m, i]) => providerMessages(m)[i] as WireMessage) },
);
const streamEventArb: fc.Arbitrary<StreamEvent> = fc.oneof(
  { weight: 30, arbitrary: wireMessageArb.map(msg) },
  { weight: 6, arbitrary: fc.option(messageIdArb, { nil: undefined }).map(garbage) },
  { weight: 6, arbitrary: fc.constant<StreamEvent>({ type: 'transport.pong' }) },
  { weight: 1, arbitrary: fc.constantFrom(closedByClient, dropped, { type: 'transport.opened' } as StreamEvent) },
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 30, arbitrary: streamEventArb.map((event) => ({ kind: 'input' as const, event })) },
  {
    weight: 10,
    arbitrary: fc
      .oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 1_500 }) }, { weight: 1, arbitrary: fc.integer({ min: 1_500, max: 6_000 }) }, fc.constantFrom(999, 1_000, 5_000))
      .map((ms) => ({ kind: 'advance' as const, ms })),
  },
  {
    weight: 6,
    arbitrary: fc
      .oneof({ weight: 2, arbitrary: fc.constant(true) }, fc.constant(false), fc.constant('throw' as const))
      .map((outcome) => ({ kind: 'authenticate' as const, outcome })),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'deliver' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
);
const admissionArb: fc.Arbitrary<AdmissionDecision | 'throw' | 'silent'> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<AdmissionDecision>({ accept: true, authenticated: false }) },
  { weight: 2, arbitrary: fc.constant<AdmissionDecision>({ accept: true, authenticated: true }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('UNAUTHENTICATED', 'FORBIDDEN', 'OVERLOADED' as const).map((code): AdmissionDecision => ({ accept: false, code, reason: 'no' })),
  },
  { weight: 1, arbitrary: fc.constantFrom('throw' as const, 'silent' as const) },
);
const configArb = fc.record({
  authRequired: fc.oneof({ weight: 2, arbitrary: fc.constant(true) }, fc.constant(false)),
  authAnswer: fc.option(fc.boolean(), { nil: undefined, freq: 2 }),
  pendingMax: fc.integer({ min: 0, max: 4 }),
  rateLimit: fc.option(fc.record({ messagesMax: fc.integer({ min: 1, max: 6 }), windowMs: fc.integer({ min: 100, max: 3_000 }) }), {
    nil: undefined,
    freq: 2,
  }),
});
/** A run: a session configuration and its steps, with the admission answer inserted early. */
const runArb = fc
  .tuple(configArb, fc.array(stepArb, { minLength: 10, maxLength: 40 }), admissionArb, fc.integer({ min: 0, max: 5 }))
  .map(([config, steps, outcome, at]) => ({ config, steps: [...steps.slice(0, at), { kind: 'admission' as const, outcome }, ...steps.slice(at)] }));

describe('session: property', () => {
  it('CONN-8, CONN-9, SEC-3: ends at most once and forwards only for the bound client, only while ready', async () => {
    await fc.assert(
      fc.asyncProperty(runArb, async ({ config, steps }) => {
        const { authAnswer, ...input } = config;
        const session = startSession(input, { authAnswer });
        let messagesPushed = 0;
        let rejectedPushed = 0;
        /** Index in the provider's inbox from which forwarding is allowed (SEC-3). */
        let authorisedFrom = config.authRequired ? Number.POSITIVE_INFINITY : 0;
        for (const step of steps) {
          if (session.actor.getSnapshot().status !== 'active') break;
          const wasHandshaking = session.actor.getSnapshot().matches('handshaking');
          switch (step.kind) {
            case 'input':
              if (step.event.type === 'transport.message') messagesPushed++;
              if (step.event.type === 'transport.rejected') rejectedPushed++;
              session.push(step.event);
              break;
            case 'advance':
              session.clock.increment(step.ms);
              break;
            case 'admission':
              if (step.outcome === 'silent') break;
              if (wasHandshaking && step.outcome !== 'throw' && step.outcome.accept && step.outcome.authenticated) {
                authorisedFrom = Math.min(authorisedFrom, session.toParent.length);
              }
              await session.admit(step.outcome === 'throw' ? new Error('policy failed') : step.outcome);
              break;
            case 'authenticate':
              await session.answerAuth(step.outcome === 'throw' ? new Error('policy failed') : step.outcome);
              break;
            case 'deliver':
              session.actor.send({ type: 'session.deliver', draft: { type: 'Ack', payload: { acknowledgmentId: 'x' } } });
              break;
            case 'close':
              session.actor.send({ type: 'session.close', code: 1000, reason: 'provider closes' });
              break;
          }
          await settle();
          expect(session.actor.getSnapshot().context.held.length).toBeLessThanOrEqual(config.pendingMax);
        }
        authorisedFrom = Math.min(authorisedFrom, ...session.authOkAt);

        const events = session.toParent;
        const types = events.map((e) => e.type);
        const readyAt = types.indexOf('session.ready');
        const endedAt = types.indexOf('session.ended');
        const bound = events.filter((e) => e.type === 'session.bound');
        expect(session.errors).toEqual([]);
        // session.ended at most once, and exactly once when the actor is done, matching its output.
        expect(types.filter((t) => t === 'session.ended').length).toBeLessThanOrEqual(1);
        const snapshot = session.actor.getSnapshot();
        if (snapshot.status === 'done') {
          expect(endedAt).toBe(events.length - 1);
          expect(events[endedAt]).toMatchObject(snapshot.output as object);
          // Every decoded message and every rejected input is counted once (WIRE-8).
          expect(snapshot.context.stats.messagesReceived).toBe(messagesPushed);
          expect(snapshot.context.stats.messagesRejected).toBeGreaterThanOrEqual(rejectedPushed);
        }
        // At most one binding, and every forwarded request is for the bound client.
        expect(bound.length).toBeLessThanOrEqual(1);
        events.forEach((event, index) => {
          if (event.type !== 'session.request') return;
          expect(readyAt).toBeGreaterThanOrEqual(0);
          expect(index).toBeGreaterThan(readyAt);
          if (endedAt >= 0) expect(index).toBeLessThan(endedAt);
          expect(index).toBeGreaterThanOrEqual(authorisedFrom);
          expect(bound[0]?.clientId).toBe(event.clientId);
          const message = event.message;
          expect(message.type === 'AssignTask' ? message.payload.callbackClientId : message.payload.originalClientId).toBe(event.clientId);
        });
      }),
      { numRuns: 300 },
    );
  });
});
