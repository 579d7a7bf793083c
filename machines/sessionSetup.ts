/**
 * The named implementations of the provider-side session (machines/session.ts): effect
 * placeholders, delays computed from context, guards and actions. The statechart itself only
 * refers to these by name; every action here is pure (assign, raise, sendTo).
 */
import { assertEvent, enqueueActions, sendTo, setup } from 'xstate';
import { internalFailure, type ErrorCode } from './errors.js';
import type { ProviderDraft } from './messages.js';
import { placeholder } from './placeholder.js';
import { withCredential, type Credential } from './identity.js';
import * as rules from './sessionRules.js';
import type {
  AdmissionLogic,
  AuthenticateLogic,
  SessionContext,
  SessionEvent,
  SessionInput,
  SessionInternalEvent,
  SessionOutput,
  SessionTransportLogic,
} from './sessionTypes.js';
import { CloseCode, type StreamCommand } from './transport.js';

const transportSend = (draft: ProviderDraft): StreamCommand => ({ type: 'transport.send', draft });

export const sessionSetup = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent | SessionInternalEvent,
    input: {} as SessionInput,
    output: {} as SessionOutput,
    children: {} as { transport: 'transport'; admission: 'admission'; authenticate: 'authenticate' },
  },
  actors: {
    transport: placeholder<SessionTransportLogic>('transport'),
    admission: placeholder<AdmissionLogic>('admission'),
    authenticate: placeholder<AuthenticateLogic>('authenticate'),
  },
  delays: {
    answerDelayMs: ({ context }) => context.answerDelayMs,
    pingIntervalMs: ({ context }) => context.pingIntervalMs,
    pongTimeoutMs: ({ context }) => context.pongTimeoutMs,
    closeTimeoutMs: ({ context }) => context.closeTimeoutMs,
    firstMessageTimeoutMs: ({ context }) => context.firstMessageTimeoutMs,
    rateWindowMs: ({ context }) => context.rateLimit?.windowMs ?? Number.POSITIVE_INFINITY,
  },
  guards: {
    hasRateLimit: ({ context }) => context.rateLimit !== undefined,
    overRateLimit: ({ context }) => context.rateLimit !== undefined && context.windowCount >= context.rateLimit.messagesMax,
    heldFull: ({ context }) => context.held.length >= context.pendingMax,
    isProviderMessage: ({ event }) => event.type === 'transport.message' && !rules.isClientMessage(event.message),
    isAuthenticate: ({ event }) => event.type === 'session.admitted' && event.message.type === 'Authenticate',
    /** While anonymous: an Authenticate, or an AssignTask with an `apiKey` (SEC-20). */
    carriesCredential: ({ event }) => event.type === 'session.admitted' && rules.carriesCredential(event.message),
    isForeign: ({ context, event }) => event.type === 'session.admitted' && rules.isForeign(context.clientId, event.message),
  },
  actions: {
    reply: sendTo('transport', (_, params: { draft: ProviderDraft }) => transportSend(params.draft)),
    /** Adds to the stats; `window: true` marks input that counts in the rate window (SEC-7). */
    count: enqueueActions(({ context, enqueue }, params: rules.StatsDelta & { window?: boolean }) => {
      enqueue.assign({
        stats: rules.addStats(context.stats, params),
        windowCount: context.windowCount + (params.window && context.rateLimit ? 1 : 0),
      });
    }),
    hold: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ['transport.message', 'transport.rejected', 'session.admitted']);
      enqueue.assign({ held: [...context.held, event] });
    }),
    /** Input beyond pendingMax: RATE_LIMITED, counted now (it will never be replayed). */
    refuseHeldOverflow: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ['transport.message', 'transport.rejected', 'session.admitted']);
      enqueue.sendTo('transport', transportSend(rules.rateLimitedReply(event)));
      enqueue.assign({
        stats: rules.addStats(context.stats, {
          messagesRateLimited: 1,
          messagesReceived: event.type === 'transport.message' ? 1 : 0,
          messagesRejected: event.type === 'transport.rejected' ? 1 : 0,
        }),
      });
    }),
    /** Raises held input again, in arrival order, ahead of any later external event. */
    replayHeld: enqueueActions(({ context, enqueue }) => {
      for (const input of context.held) enqueue.raise(input);
      enqueue.assign({ held: [] });
    }),
    discardHeld: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ held: [], stats: rules.countDiscarded(context.stats, context.held) });
    }),
    beginClose: enqueueActions(({ enqueue }, params: { code: number; reason: string }) => {
      enqueue.assign({ closeCode: params.code, endReason: params.reason });
    }),
    /** A refused connection (CONN-2, CONN-10): Error, then close 1008 (1013 when overloaded). */
    refuse: enqueueActions(({ enqueue }, params: { code: ErrorCode; reason: string }) => {
      enqueue.sendTo('transport', transportSend(rules.errorReply(params.code, params.reason)));
      enqueue.assign({ closeCode: rules.rejectionCloseCode(params.code), endReason: params.reason });
    }),
    /** SEC-21: an unexpected error: Error INTERNAL_ERROR naming the errorId, then close 1011. */
    failInternally: enqueueActions(({ enqueue }, params: { errorId: string }) => {
      const failure = internalFailure(params.errorId);
      enqueue.sendTo('transport', transportSend(rules.errorReply('INTERNAL_ERROR', failure.message, undefined, undefined, undefined, params.errorId)));
      enqueue.assign({ closeCode: CloseCode.internalError, endReason: `internal error (errorId ${params.errorId})` });
    }),
    /** SEC-2: a refused (or unanswered) Authenticate gets Error UNAUTHENTICATED, then close 1008. */
    refuseAuthenticate: enqueueActions(({ context, enqueue }) => {
      const message = rules.authenticateUnderCheck(context.authenticating);
      // SEC-20: an AssignTask's key that fails is answered like that AssignTask: TaskFailed.
      const refusal =
        message.viaAssign === undefined
          ? rules.errorReply('UNAUTHENTICATED', 'authentication failed', message.messageId)
          : rules.refusalReply(message.viaAssign, 'UNAUTHENTICATED', 'authentication failed');
      enqueue.sendTo('transport', transportSend(refusal));
      enqueue.assign({ closeCode: CloseCode.policy, endReason: 'authentication failed' });
    }),
    /** SEC-2: a checked Authenticate is acknowledged and binds the session (CONN-9) with its credential (SEC-10). */
    acceptAuthenticate: enqueueActions(({ context, enqueue }, params: { credential: Credential | undefined }) => {
      const message = rules.authenticateUnderCheck(context.authenticating);
      const identity = withCredential(context.identity, params.credential);
      enqueue.assign({ identity });
      if (params.credential !== undefined) {
        enqueue.sendTo(context.parentRef, { type: 'session.authenticated', connectionId: context.connectionId, principal: params.credential.principal });
      }
      // An AssignTask's key (SEC-20) is not acknowledged apart: the AssignTask itself is, next.
      if (message.viaAssign === undefined) enqueue.sendTo('transport', transportSend(rules.ackFor(message)));
      if (context.clientId !== undefined) return;
      enqueue.assign({ clientId: message.payload.clientId });
      enqueue.sendTo(context.parentRef, rules.boundEvent(context.connectionId, message.payload.clientId, identity));
    }),
    /** SEC-10: the credential the admission policy vouched for (a token or certificate at the upgrade). */
    adoptCredential: enqueueActions(({ context, enqueue }, params: { credential: Credential | undefined }) => {
      if (params.credential === undefined) return;
      enqueue.assign({ identity: withCredential(context.identity, params.credential) });
      enqueue.sendTo(context.parentRef, { type: 'session.authenticated', connectionId: context.connectionId, principal: params.credential.principal });
    }),
    /** SEC-2, SEC-20: the credential goes to the policy; an AssignTask that carried it waits, without its key. */
    beginAuthenticate: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'session.admitted');
      const authenticating = rules.authenticateOf(event.message);
      if (authenticating === undefined) return;
      const held = authenticating.viaAssign === undefined ? context.held : [{ type: 'session.admitted' as const, message: authenticating.viaAssign }, ...context.held];
      enqueue.assign({ authenticating, held });
    }),
    /** Intake passes a client message on to the auth region. */
    admit: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'transport.message');
      if (rules.isClientMessage(event.message)) enqueue.raise({ type: 'session.admitted', message: event.message });
    }),
    resetRateWindow: enqueueActions(({ enqueue }) => enqueue.assign({ windowCount: 0 })),
    notePeerClosed: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'transport.closed');
      enqueue.assign({ endReason: rules.peerClosedReason(event) });
    }),
    noteReason: enqueueActions(({ enqueue }, params: { reason: string }) => enqueue.assign({ endReason: params.reason })),
    transportCommand: sendTo('transport', (_, params: { command: StreamCommand }) => params.command),
    /** EVT-8: the socket is above (or back below) its send mark; the provider's events hold back meanwhile. */
    notifySendMark: sendTo(
      ({ context }) => context.parentRef,
      ({ context, event }) => ({
        type: 'session.sendMark' as const,
        connectionId: context.connectionId,
        above: event.type === 'transport.sendMark' && event.above,
      }),
    ),
    notifyReady: sendTo(({ context }) => context.parentRef, ({ context }) => ({ type: 'session.ready' as const, connectionId: context.connectionId })),
    /** CONN-9: the first message carrying a clientId binds the session. */
    bind: enqueueActions(({ context, enqueue }, params: { clientId: string | undefined }) => {
      if (context.clientId !== undefined || params.clientId === undefined) return;
      enqueue.assign({ clientId: params.clientId });
      enqueue.sendTo(context.parentRef, rules.boundEvent(context.connectionId, params.clientId, context.identity));
    }),
    /** Passes a task message to the provider, binding the session first if it is not yet bound. */
    forward: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'session.admitted');
      const { message: admitted } = event;
      const request = rules.isRequestMessage(admitted) ? admitted : undefined;
      const events = request === undefined && rules.isEventsMessage(admitted) ? admitted : undefined;
      if (request === undefined && events === undefined) return;
      // A query naming no client is for the session's client; an unbound session's goes to the provider to resolve.
      const clientId = rules.clientIdOf(admitted) ?? context.clientId;
      if (context.clientId === undefined && clientId !== undefined) {
        enqueue.assign({ clientId });
        enqueue.sendTo(context.parentRef, rules.boundEvent(context.connectionId, clientId, context.identity));
      }
      // EVT-2: events messages always name their client; the provider's events take them.
      if (events !== undefined) {
        enqueue.sendTo(context.parentRef, { type: 'session.events', connectionId: context.connectionId, clientId: events.payload.clientId, message: events });
        enqueue.assign({ stats: rules.addStats(context.stats, { messagesForwarded: 1 }) });
        return;
      }
      if (request === undefined) return;
      const message = clientId === undefined ? request : rules.withClientId(request, clientId);
      enqueue.sendTo(context.parentRef, {
        type: 'session.request',
        connectionId: context.connectionId,
        clientId,
        message: rules.withoutApiKey(message),
        ...(clientId === undefined ? { identity: context.identity } : {}),
      });
      enqueue.assign({ stats: rules.addStats(context.stats, { messagesForwarded: 1 }) });
    }),
    notifyEnded: sendTo(
      ({ context }) => context.parentRef,
      ({ context }, params: { graceful: boolean }) => ({
        type: 'session.ended' as const,
        connectionId: context.connectionId,
        clientId: context.clientId,
        graceful: params.graceful,
        reason: context.endReason,
      }),
    ),
  },
});
