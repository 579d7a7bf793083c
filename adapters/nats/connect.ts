/**
 * The client side of one task connection over NATS: StreamCommand in, StreamEvent out.
 *
 * Opening = a request to the provider listener's subject `P.srv.<name>` naming this connection's
 * id and the subject its frames come back on (`P.cli.<link>.<id>`); the answer opens it. As with
 * a refused WebSocket, a connect that fails (no responders: nobody listens under that name; no
 * answer in time; a refusal) ends with transport.closed {graceful: false, code: 1006, reason}
 * and no transport.opened.
 *
 * One subscription per NATS connection (`P.cli.<link>.*`) carries the frames of every task
 * connection of this host; a router hands each to its end by the last subject token.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { fromCallback, type CallbackActorLogic } from 'xstate';
import { CloseCode, type ConnectInput, type StreamCommand, type StreamEvent } from '../../machines/transport.js';
import { decodeEnvelope } from './envelope.js';
import { messageOf, type NatsLink } from './link.js';
import type { OpenReply, OpenRequest } from './server.js';
import { StreamEnd } from './streamEnd.js';
import { isPublishableSubject, lastToken } from './subjects.js';

export interface NatsConnectOptions {
  /**
   * The switchboard credential (SEC-2), presented when opening a task connection as a WebSocket
   * client presents `Authorization: Bearer`. Not the NATS server's `token`.
   */
  readonly sessionToken?: string;
}

/** Routes provider -> client frames of one NATS connection to their ends. */
class ClientRouter {
  readonly ends = new Map<string, StreamEnd>();
  readonly #subscription: Subscription;

  constructor(nc: NatsConnection, link: NatsLink) {
    const { metrics } = link.config;
    this.#subscription = nc.subscribe(link.subjects.linkConnections(link.id), {
      callback: (error, message: Msg) => {
        if (error) return;
        const end = this.ends.get(lastToken(message.subject));
        if (end !== undefined) {
          end.receive(message.data);
          return;
        }
        metrics.unknownConnection++;
        if (message.reply !== undefined && isPublishableSubject(message.reply) && decodeEnvelope(message.data)?.op !== 'reset') {
          try {
            nc.publish(message.reply, 'reset 1\n');
          } catch {
            // closed meanwhile
          }
        }
      },
    });
  }

  get closed(): boolean {
    return this.#subscription.isClosed();
  }
}

const routers = new WeakMap<NatsConnection, ClientRouter>();

function routerFor(nc: NatsConnection, link: NatsLink): ClientRouter {
  let router = routers.get(nc);
  if (router === undefined || router.closed) {
    router = new ClientRouter(nc, link);
    routers.set(nc, router);
  }
  return router;
}

const errorText = (error: unknown): string =>
  `${(error as { name?: string })?.name ?? ''} ${messageOf(error)} ${messageOf((error as { cause?: unknown })?.cause ?? '')}`;

/** No responders: nobody listens under the endpoint's name (as a refused TCP connect). */
const isNoListener = (error: unknown): boolean => /no ?responders|503/i.test(errorText(error));

/** A short reason for a failed open request. */
function refusalOf(error: unknown): string {
  const text = errorText(error);
  if (isNoListener(error)) return 'connection refused (no listener under that name)';
  if (/timeout/i.test(text)) return 'handshake timed out';
  return `connect failed: ${messageOf(error)}`.slice(0, 123);
}

export function natsConnect(link: NatsLink, options: NatsConnectOptions = {}): CallbackActorLogic<StreamCommand, ConnectInput> {
  const { config, subjects } = link;
  const { metrics, log } = config;

  return fromCallback<StreamCommand, ConnectInput>(({ input, sendBack, receive }) => {
    let released = false;
    let end: StreamEnd | undefined;
    /** Before the NATS connection is there: only an abort can happen. */
    let abortedEarly = false;
    const closeEarly = (reason: string) => {
      if (released || abortedEarly) return;
      abortedEarly = true;
      sendBack({ type: 'transport.closed', graceful: false, code: CloseCode.abnormal, reason } satisfies StreamEvent);
    };
    const refuse = (reason: string) => {
      metrics.connectFailures++;
      log('warn', `nats: cannot connect to ${input.endpoint}: ${reason}`);
      queueMicrotask(() => closeEarly(reason));
    };

    const parsed = subjects.parseEndpoint(input.endpoint);
    if (!parsed.ok) {
      refuse(parsed.reason);
      return () => {
        released = true;
      };
    }
    const listenerName = parsed.name;
    const closedForGood = link.onClosed((reason) => end?.fail(reason));

    link.acquire().then(
      (nc) => {
        if (released || abortedEarly) return;
        const router = routerFor(nc, link);
        const connectionId = config.stamp.newId().replaceAll('-', '').slice(0, 64);
        const self = subjects.toClient(link.id, connectionId);
        const opened = new StreamEnd(
          nc,
          { to: subjects.toProvider(listenerName, connectionId), self },
          { limits: config.limits, stamp: config.stamp, metrics, log, label: `client ${input.endpoint}` },
          { state: 'connecting', sink: sendBack, inboxMax: config.pendingEventsMax },
        );
        end = opened;
        router.ends.set(connectionId, opened);
        opened.onSettled = () => router.ends.delete(connectionId);
        const request: OpenRequest = { connectionId, replyTo: self, ...(options.sessionToken === undefined ? {} : { token: options.sessionToken }) };
        nc.request(subjects.listener(listenerName), JSON.stringify(request), { timeout: config.handshakeTimeoutMs }).then(
          (reply) => {
            let answer: OpenReply | undefined;
            try {
              answer = reply.json<OpenReply>();
            } catch {
              answer = undefined;
            }
            if (answer?.ok === true) {
              opened.opened();
              return;
            }
            metrics.connectFailures++;
            opened.fail(`connection refused: ${typeof answer?.reason === 'string' ? answer.reason.slice(0, 80) : 'unreadable answer'}`);
          },
          (error: unknown) => {
            metrics.connectFailures++;
            log('debug', `nats: open ${input.endpoint} failed: ${messageOf(error)}`);
            opened.fail(refusalOf(error), isNoListener(error));
          },
        );
      },
      (error: unknown) => {
        metrics.connectFailures++;
        closeEarly(`cannot reach NATS: ${messageOf(error)}`.slice(0, 123));
      },
    );

    receive((command) => {
      if (end !== undefined) {
        end.command(command);
        return;
      }
      if (command.type === 'transport.close' || command.type === 'transport.terminate') closeEarly('closed before the handshake completed');
      else metrics.messagesDropped++;
    });

    return () => {
      released = true;
      closedForGood();
      end?.release();
      link.release();
    };
  });
}
