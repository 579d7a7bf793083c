/**
 * The provider-side session: one per accepted WebSocket connection (docs/protocol.md, "Provider
 * session"). It is seed 002's "client thread": a connection request is accepted or rejected by an
 * injected policy within `answerDelayMs` (CONN-2), then the session screens every message
 * (WIRE-8, SEC-7), authenticates (SEC-2, SEC-3), binds one clientId (CONN-9), forwards task
 * messages to its provider, pings (CONN-3), and ends exactly once, telling the provider whether
 * the client left gracefully (`closed`) or vanished (`lost`, CONN-8).
 *
 *   handshaking ── accept ──> ready { liveness | intake | auth } ── session.close ──> closing ──> closed
 *        └── reject / no answer ──> closing          └── transport.closed / no pong ──> closed | lost
 *
 * Inside `ready`, input flows through two regions: `intake` counts, rate-limits and answers what
 * no task logic needs to see (undecodable input, provider-only types), then raises
 * `session.admitted`, which `auth` handles according to its state. Input that arrives while the
 * session cannot act on it yet (handshaking, an Authenticate under check) is held, at most
 * `pendingMax` items, and replayed in order.
 */
import * as rules from './sessionRules.js';
import { sessionSetup } from './sessionSetup.js';
import { sessionDefaults, type SessionOutput } from './sessionTypes.js';
import { CloseCode } from './transport.js';

export { errorReply } from './sessionRules.js';
export * from './sessionTypes.js';

export const sessionMachine = sessionSetup.createMachine({
  id: 'session',
  context: ({ input }) => ({
    ...sessionDefaults,
    ...input,
    token: input.token,
    identity: rules.initialIdentity(input),
    clientId: undefined,
    held: [],
    authenticating: undefined,
    windowCount: 0,
    closeCode: CloseCode.normal,
    endReason: '',
    stats: { ...rules.emptySessionStats },
  }),
  invoke: { id: 'transport', src: 'transport', input: ({ context }) => ({ connectionId: context.connectionId }) },
  initial: 'handshaking',
  on: {
    // CONN-8: a close handshake completed by the client ends the session as closed, anything else as lost.
    'transport.closed': [
      { guard: ({ event }) => event.graceful, target: '.closed', actions: ['discardHeld', 'notePeerClosed'] },
      { target: '.lost', actions: ['discardHeld', 'notePeerClosed'] },
    ],
    'session.close': { target: '.closing', actions: ['discardHeld', { type: 'beginClose', params: ({ event }) => event }] },
    'session.fault': { target: '.closing', actions: ['discardHeld', { type: 'failInternally', params: ({ event }) => event }] },
    // SEC-21: the socket's own transport failed (an adapter bug): nothing is left to talk through.
    'xstate.error.actor.transport': {
      target: '.lost',
      actions: ['discardHeld', { type: 'noteReason', params: { reason: 'the transport failed' } }],
    },
    'session.deliver': { actions: { type: 'count', params: { deliveriesDropped: 1 } } },
    // EVT-8: told to the provider, whose events wait in their own bounded queues while it is above.
    'transport.sendMark': { actions: 'notifySendMark' },
  },
  states: {
    handshaking: {
      initial: 'opening',
      states: {
        // CONN-10: a refusal decided by the provider (its session limit) needs no policy.
        opening: {
          always: [
            {
              guard: ({ context }) => context.refuseWith !== undefined,
              target: '#session.closing',
              actions: { type: 'refuse', params: ({ context }) => context.refuseWith! },
            },
            { target: 'awaitingAdmission' },
          ],
        },
        awaitingAdmission: {
          invoke: {
            id: 'admission',
            src: 'admission',
            input: ({ context }) => ({
              connectionId: context.connectionId,
              remoteAddress: context.remoteAddress,
              token: context.token,
              peerCertificate: context.peerCertificate,
            }),
            onDone: [
              {
                guard: ({ event }) => !event.output.accept,
                target: '#session.closing',
                actions: ['discardHeld', { type: 'refuse', params: ({ event }) => rules.refusalOf(event.output) }],
              },
              {
                guard: ({ context, event }) => !context.authRequired || (event.output.accept && event.output.authenticated),
                target: '#session.ready.auth.authenticated',
                actions: [
                  { type: 'adoptCredential', params: ({ event }) => ({ credential: event.output.accept ? event.output.credential : undefined }) },
                  'replayHeld',
                ],
              },
              { target: '#session.ready.auth.anonymous', actions: 'replayHeld' },
            ],
            onError: {
              target: '#session.closing',
              actions: ['discardHeld', { type: 'refuse', params: ({ event }) => rules.rejectionFromError(event.error) }],
            },
          },
        },
      },
      // CONN-2: no answer in time is a rejection.
      after: {
        answerDelayMs: {
          target: 'closing',
          actions: ['discardHeld', { type: 'refuse', params: { code: 'UNAUTHENTICATED', reason: 'no answer within answerDelayMs' } }],
        },
      },
      on: {
        'transport.message': [{ guard: 'heldFull', actions: 'refuseHeldOverflow' }, { actions: 'hold' }],
        'transport.rejected': [{ guard: 'heldFull', actions: 'refuseHeldOverflow' }, { actions: 'hold' }],
      },
    },
    ready: {
      type: 'parallel',
      entry: 'notifyReady',
      on: { 'session.deliver': { actions: { type: 'reply', params: ({ event }) => ({ draft: event.draft }) } } },
      states: {
        // SEC-14: a connection that says nothing is not kept: the first message is due in time.
        firstMessage: {
          initial: 'awaiting',
          states: {
            awaiting: {
              after: {
                firstMessageTimeoutMs: {
                  target: '#session.closing',
                  actions: { type: 'refuse', params: { code: 'TIMEOUT', reason: 'no message within firstMessageTimeoutMs' } },
                },
              },
              on: { 'transport.message': 'received', 'transport.rejected': 'received' },
            },
            received: {},
          },
        },
        liveness: {
          initial: 'waiting',
          states: {
            waiting: {
              after: {
                pingIntervalMs: { target: 'awaitingPong', actions: { type: 'transportCommand', params: { command: { type: 'transport.ping' } } } },
              },
            },
            awaitingPong: {
              // CONN-3: any message is as good as a pong: a busy client's pong can sit behind its
              // own frames, and it is plainly alive.
              on: { 'transport.pong': 'waiting', 'transport.message': 'waiting' },
              after: {
                pongTimeoutMs: {
                  target: '#session.lost',
                  actions: [
                    { type: 'transportCommand', params: { command: { type: 'transport.terminate' } } },
                    { type: 'noteReason', params: { reason: 'no pong within pongTimeoutMs' } },
                  ],
                },
              },
            },
          },
        },
        intake: {
          initial: 'choosing',
          // Within the window (or without a limit): answer what needs no task logic, admit the rest.
          on: {
            'transport.rejected': {
              actions: [
                { type: 'reply', params: ({ event }) => ({ draft: rules.rejectedInputReply(event) }) },
                { type: 'count', params: { messagesRejected: 1, window: true } },
              ],
            },
            'transport.message': [
              {
                guard: 'isProviderMessage',
                actions: [
                  { type: 'reply', params: ({ event }) => ({ draft: rules.unsupportedReply(event.message) }) },
                  { type: 'count', params: { messagesReceived: 1, messagesRejected: 1, window: true } },
                ],
              },
              {
                actions: [
                  { type: 'count', params: { messagesReceived: 1, window: true } },
                  'admit',
                ],
              },
            ],
          },
          states: {
            choosing: { always: [{ guard: 'hasRateLimit', target: 'windowed' }, { target: 'unlimited' }] },
            unlimited: {},
            // SEC-7: a fixed window, restarted every windowMs; beyond messagesMax, RATE_LIMITED and no effect.
            windowed: {
              entry: 'resetRateWindow',
              after: { rateWindowMs: { target: 'windowed', reenter: true } },
              on: {
                'transport.message': {
                  guard: 'overRateLimit',
                  actions: [
                    { type: 'reply', params: ({ event }) => ({ draft: rules.rateLimitedReply(event) }) },
                    { type: 'count', params: { messagesReceived: 1, messagesRateLimited: 1 } },
                  ],
                },
                'transport.rejected': {
                  guard: 'overRateLimit',
                  actions: [
                    { type: 'reply', params: ({ event }) => ({ draft: rules.rateLimitedReply(event) }) },
                    { type: 'count', params: { messagesRejected: 1, messagesRateLimited: 1 } },
                  ],
                },
              },
            },
          },
        },
        auth: {
          initial: 'anonymous',
          states: {
            // SEC-3: authentication required and missing. The session is never bound here.
            anonymous: {
              initial: 'idle',
              states: {
                idle: {
                  on: {
                    'session.admitted': [
                      { guard: 'carriesCredential', target: 'checking', actions: 'beginAuthenticate' },
                      { actions: { type: 'reply', params: ({ event }) => ({ draft: rules.unauthenticatedReply(event.message) }) } },
                    ],
                  },
                },
                // SEC-2: the Authenticate's token goes to the policy; input meanwhile is held, not refused.
                checking: {
                  invoke: {
                    id: 'authenticate',
                    src: 'authenticate',
                    input: ({ context }) => {
                      const { clientId, token } = rules.authenticateUnderCheck(context.authenticating).payload;
                      return { clientId, token, remoteAddress: context.remoteAddress };
                    },
                    onDone: [
                      {
                        guard: ({ event }) => event.output.ok,
                        target: '#session.ready.auth.authenticated',
                        actions: [{ type: 'acceptAuthenticate', params: ({ event }) => ({ credential: event.output.credential }) }, 'replayHeld'],
                      },
                      { target: '#session.closing', actions: ['discardHeld', 'refuseAuthenticate'] },
                    ],
                    onError: { target: '#session.closing', actions: ['discardHeld', 'refuseAuthenticate'] },
                  },
                  after: { answerDelayMs: { target: '#session.closing', actions: ['discardHeld', 'refuseAuthenticate'] } },
                  on: { 'session.admitted': [{ guard: 'heldFull', actions: 'refuseHeldOverflow' }, { actions: 'hold' }] },
                },
              },
            },
            authenticated: {
              on: {
                'session.admitted': [
                  {
                    guard: 'isForeign',
                    actions: [
                      { type: 'reply', params: ({ event }) => ({ draft: rules.forbiddenReply(event.message) }) },
                      { type: 'count', params: { messagesForbidden: 1 } },
                    ],
                  },
                  // Already authenticated: an Authenticate only binds (CONN-9) and is acknowledged.
                  {
                    guard: 'isAuthenticate',
                    actions: [
                      { type: 'bind', params: ({ event }) => ({ clientId: rules.clientIdOf(event.message) }) },
                      { type: 'reply', params: ({ event }) => ({ draft: rules.ackFor(event.message) }) },
                    ],
                  },
                  { actions: 'forward' },
                ],
              },
            },
          },
        },
      },
    },
    closing: {
      entry: {
        type: 'transportCommand',
        params: ({ context }) => ({ command: { type: 'transport.close', code: context.closeCode, reason: context.endReason } }),
      },
      after: {
        closeTimeoutMs: {
          target: 'closed',
          actions: [
            { type: 'transportCommand', params: { command: { type: 'transport.terminate' } } },
            { type: 'noteReason', params: ({ context }) => ({ reason: `${context.endReason} (close handshake timed out, terminated)` }) },
          ],
        },
      },
      on: {
        'transport.closed': 'closed',
        'session.close': {},
        'session.fault': {},
        // Input while closing has no effect; it is only counted.
        'transport.message': { actions: { type: 'count', params: { messagesReceived: 1 } } },
        'transport.rejected': { actions: { type: 'count', params: { messagesRejected: 1 } } },
      },
    },
    // Final states are entered once, so session.ended is sent exactly once (CONN-8).
    closed: {
      type: 'final',
      entry: { type: 'notifyEnded', params: { graceful: true } },
      output: ({ context }) => ({ graceful: true, reason: context.endReason }),
    },
    lost: {
      type: 'final',
      entry: { type: 'notifyEnded', params: { graceful: false } },
      output: ({ context }) => ({ graceful: false, reason: context.endReason }),
    },
  },
  output: ({ event }) => event.output as SessionOutput,
});
