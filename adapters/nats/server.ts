/**
 * The provider's listener on NATS (ServerCommand in, ServerEvent out) and the transport of each
 * task connection it accepts (StreamCommand in, StreamEvent out): the server contract of
 * machines/transport.ts, as adapters/ws/server.ts gives it over WebSocket.
 *
 * Listening = subscribed to `P.srv.<name>` (open requests, answered by request/reply) and
 * `P.srv.<name>.*` (frames of every accepted connection, routed by the last token). Before that, a
 * probe request finds out whether another provider already listens under the same name (the
 * EADDRINUSE of NATS): then server.failed.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { fromCallback, type CallbackActorLogic } from 'xstate';
import { errorShape, type ErrorCode } from '../../machines/errors.js';
import { CloseCode, type AcceptedInput, type ServerCommand, type ServerEvent, type StreamCommand } from '../../machines/transport.js';
import { decodeEnvelope } from './envelope.js';
import { messageOf, NatsAuthenticationRefused, type NatsLink } from './link.js';
import type { MicroStats } from './micro.js';
import type { NatsOutcomeStore } from './outcomes.js';
import { countRejected } from './options.js';
import { StreamEnd } from './streamEnd.js';
import { TOKEN_PATTERN, isPublishableSubject, lastToken } from './subjects.js';

/** Body of an open request (client -> provider listener). */
export interface OpenRequest {
  readonly connectionId: string;
  /** The client's subject for this connection's provider -> client frames. */
  readonly replyTo: string;
  readonly token?: string;
  /** Only asks whether the name is taken; no connection is made. */
  readonly probe?: boolean;
}

export type OpenReply = { readonly ok: true } | { readonly ok: false; readonly reason: string };

interface Pending {
  readonly end: StreamEnd;
  claimed: boolean;
  timer: NodeJS.Timeout | undefined;
}

export interface NatsServer {
  readonly endpoint: string;
  readonly server: CallbackActorLogic<ServerCommand>;
  readonly accepted: CallbackActorLogic<StreamCommand, AcceptedInput>;
}

function parseOpen(data: Uint8Array): OpenRequest | undefined {
  try {
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data)) as Record<string, unknown>;
    if (value === null || typeof value !== 'object') return undefined;
    if (value.probe === true) return { connectionId: '-', replyTo: '-', probe: true };
    const { connectionId, replyTo, token } = value;
    if (typeof connectionId !== 'string' || !TOKEN_PATTERN.test(connectionId)) return undefined;
    if (typeof replyTo !== 'string' || !isPublishableSubject(replyTo)) return undefined;
    if (token !== undefined && (typeof token !== 'string' || token.length === 0 || token.length > 4096)) return undefined;
    return token === undefined ? { connectionId, replyTo } : { connectionId, replyTo, token };
  } catch {
    return undefined;
  }
}

function answer(message: Msg, reply: OpenReply): void {
  try {
    message.respond(JSON.stringify(reply));
  } catch {
    // The requester's inbox is gone or the connection closed: nothing to tell.
  }
}

/** The listener `name` (default: the host's configured name) on the link's connection. */
export function natsServer(link: NatsLink, micro: MicroStats, name = link.config.name, outcomes?: NatsOutcomeStore): NatsServer {
  const { config, subjects } = link;
  const { metrics, log } = config;
  const connections = new Map<string, Pending>();
  let running = false;

  const server = fromCallback<ServerCommand>(({ sendBack, receive }) => {
    if (running) throw new Error('switchboard: natsServer: its server logic is already running (one server actor at a time)');
    running = true;
    let state: 'starting' | 'listening' | 'closed' = 'starting';
    let stopped = false;
    let nc: NatsConnection | undefined;
    const subscriptions: Subscription[] = [];
    const emit = (event: ServerEvent) => {
      if (!stopped) sendBack(event);
    };
    /** UNAUTHENTICATED: the NATS server refused our credentials; FORBIDDEN: our user may not use the listener's subjects. */
    const fail = (message: string, code: ErrorCode = 'INTERNAL_ERROR') => {
      if (state !== 'starting') return;
      state = 'closed';
      log('error', `nats: listener ${name}: ${message}`);
      emit({ type: 'server.failed', error: errorShape(code, `nats listener ${name}: ${message}`) });
    };

    const onOpen = (message: Msg) => {
      const request = parseOpen(message.data);
      if (request === undefined) {
        countRejected(metrics, 'INVALID_MESSAGE');
        answer(message, { ok: false, reason: 'invalid open request' });
        return;
      }
      if (request.probe === true) {
        answer(message, { ok: false, reason: 'name in use' });
        return;
      }
      if (state !== 'listening') {
        answer(message, { ok: false, reason: 'not accepting connections' });
        return;
      }
      if (connections.has(request.connectionId) || nc === undefined) {
        answer(message, { ok: false, reason: 'connection id in use' });
        return;
      }
      const connectionId = request.connectionId;
      const end = new StreamEnd(
        nc,
        { to: request.replyTo, self: subjects.toProvider(name, connectionId) },
        { limits: config.limits, stamp: config.stamp, metrics, log, label: `server ${connectionId}`, observer: micro.observer(subjects.endpoint(name)), interceptor: outcomes?.interceptor },
        { state: 'open', inboxMax: config.pendingEventsMax },
      );
      const entry: Pending = { end, claimed: false, timer: undefined };
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        if (!entry.claimed) end.terminateUnattached(`no transport attached within ${config.attachTimeoutMs} ms`);
        connections.delete(connectionId);
      }, config.attachTimeoutMs);
      entry.timer.unref();
      end.onSettled = () => {
        if (entry.timer !== undefined) clearTimeout(entry.timer);
        connections.delete(connectionId);
      };
      connections.set(connectionId, entry);
      metrics.connectionsAccepted++;
      answer(message, { ok: true });
      const accepted = { type: 'server.accepted', connectionId, remoteAddress: `nats:${request.replyTo}` } as const;
      emit(request.token === undefined ? accepted : { ...accepted, token: request.token });
    };

    const onFrame = (message: Msg) => {
      const entry = connections.get(lastToken(message.subject));
      if (entry !== undefined) {
        entry.end.receive(message.data);
        return;
      }
      metrics.unknownConnection++;
      // Tell the client its connection is gone (a provider restarted under the same name, say),
      // unless this is itself a reset: two ends must not reset each other forever.
      if (message.reply !== undefined && isPublishableSubject(message.reply) && decodeEnvelope(message.data)?.op !== 'reset') {
        try {
          nc?.publish(message.reply, 'reset 1\n');
        } catch {
          // closed meanwhile
        }
      }
    };

    const start = async () => {
      try {
        nc = await link.acquire();
      } catch (error) {
        fail(`cannot connect to NATS: ${messageOf(error)}`, error instanceof NatsAuthenticationRefused ? 'UNAUTHENTICATED' : 'INTERNAL_ERROR');
        return;
      }
      if (stopped) return;
      try {
        await nc.request(subjects.listener(name), JSON.stringify({ probe: true } satisfies Partial<OpenRequest>), { timeout: 500 });
        fail(`the name "${name}" is in use by another provider`);
        return;
      } catch {
        // No responders (or no answer): the name is free.
      }
      if (stopped || state !== 'starting') return;
      // A subscription the server refuses (the NATS user's permissions deny the subject) is
      // answered before the flush's PONG: without this check the provider would claim to listen
      // on subjects it never receives anything on.
      let refused: Error | undefined;
      const deliver = (handle: (message: Msg) => void) => (error: Error | null, message: Msg) => {
        if (error) refused ??= error;
        else handle(message);
      };
      try {
        subscriptions.push(nc.subscribe(subjects.listener(name), { callback: deliver(onOpen) }));
        subscriptions.push(nc.subscribe(subjects.listenerConnections(name), { callback: deliver(onFrame) }));
        await nc.flush();
      } catch (error) {
        fail(`cannot subscribe: ${messageOf(error)}`);
        return;
      }
      if (refused !== undefined) {
        fail(
          `cannot subscribe: ${messageOf(refused)} (the NATS user's permissions must allow subscribing to ${subjects.listener(name)} and ${subjects.listenerConnections(name)})`,
          'FORBIDDEN',
        );
        return;
      }
      if (stopped || state !== 'starting') return;
      state = 'listening';
      const endpoint = subjects.endpoint(name);
      log('info', `nats: listening as ${endpoint}`);
      emit({ type: 'server.listening', endpoint });
    };
    void start();

    const unsubscribeListener = () => {
      const listener = subscriptions[0];
      if (listener !== undefined && !listener.isClosed()) listener.unsubscribe();
    };
    const closedForGood = link.onClosed((reason) => {
      fail(reason);
      for (const entry of connections.values()) entry.end.fail(reason);
    });

    receive((command) => {
      if (command.type !== 'server.close') return;
      // Stop accepting; established connections stay (their sessions close them, CONN-7).
      if (state === 'listening') unsubscribeListener();
      state = 'closed';
    });

    return () => {
      stopped = true;
      running = false;
      state = 'closed';
      closedForGood();
      for (const subscription of subscriptions) if (!subscription.isClosed()) subscription.unsubscribe();
      for (const [connectionId, entry] of connections) {
        if (entry.timer !== undefined) clearTimeout(entry.timer);
        if (entry.claimed) entry.end.command({ type: 'transport.terminate' });
        else entry.end.terminateUnattached('the server stopped');
        connections.delete(connectionId);
      }
      link.release();
    };
  });

  const accepted = fromCallback<StreamCommand, AcceptedInput>(({ input, sendBack, receive }) => {
    const entry = connections.get(input.connectionId);
    if (entry === undefined) {
      let released = false;
      queueMicrotask(() => {
        if (!released) sendBack({ type: 'transport.closed', graceful: false, code: CloseCode.abnormal, reason: 'unknown connection' });
      });
      return () => {
        released = true;
      };
    }
    if (entry.claimed) throw new Error(`switchboard: natsServer: connection ${input.connectionId} already has an accepted transport`);
    entry.claimed = true;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    link.retain(); // the connection outlives the server actor while this session closes
    entry.end.attach(sendBack);
    receive((command) => entry.end.command(command));
    return () => {
      entry.end.release();
      link.release();
    };
  });

  return { endpoint: subjects.endpoint(name), server, accepted };
}
