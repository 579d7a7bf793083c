/**
 * Discovery over NATS subjects: the datagram contract of machines/transport.ts, with the
 * semantics of the UDP adapter, so the provider and repository machines run unchanged on it.
 *
 * - `datagram.send {to: 'broadcast'}` of a ClientServiceDiscoveryRequest publishes on
 *   `P.disc.req` with this actor's inbox `P.disc.inbox.<id>` as the reply subject (request/reply:
 *   every provider answers there, DISC-3); of a ServiceAdvertisement (heartbeat, status change,
 *   goodbye) publishes on `P.disc.adv.<service>`.
 * - `datagram.send {to: peer}` answers a request: `peer.host` is the request's reply subject. Only
 *   a discovery inbox of this deployment is a valid target; anything else is refused and counted
 *   (a forged reply subject must not turn providers into a reflector).
 * - What arrives goes through the codec: `datagram.received {from: {host: reply or subject, port:
 *   0}}` or, when it fails decoding, `datagram.rejected` (counted; DISC-12, WIRE-6..9).
 * - Subscriptions follow the role the machines reveal: a repository's first request subscribes to
 *   advertisements and its inbox; a provider's first advertisement subscribes to requests (and to
 *   `$SRV.>` for NATS micro, ./micro.ts). Sends made before the NATS connection is up are queued
 *   (bounded) and leave once it is.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { fromCallback, type CallbackActorLogic } from 'xstate';
import { stampDatagram } from '../../machines/codec.js';
import type { DiscoveryDraft } from '../../machines/messages.js';
import type { DatagramCommand, DatagramEvent } from '../../machines/transport.js';
import { SignatureChecker, type DatagramSigner } from '../udp/signature.js';
import { encodeOutgoing, incomingEvent } from '../udp/wire.js';
import { messageOf, type NatsLink } from './link.js';
import { MICRO_SUBJECTS, MicroResponder, type MicroStats } from './micro.js';
import { countRejected } from './options.js';

const SEND_QUEUE_MAX = 256;
const RETRY_MS = 2_000;

/** What discovery does beyond routing, as on UDP (SEC-8): sign advertisements, check received ones. */
export interface NatsDiscoverySecurity {
  readonly signer?: DatagramSigner | undefined;
  /** @default true */
  readonly verifySignatures?: boolean | undefined;
}

export function natsDiscovery(link: NatsLink, microStats: MicroStats, security: NatsDiscoverySecurity = {}): CallbackActorLogic<DatagramCommand> {
  const { config, subjects } = link;
  const { metrics, log } = config;
  const listenerSubject = (endpoint: string) => {
    const parsed = subjects.parseEndpoint(endpoint);
    return parsed.ok ? subjects.listener(parsed.name) : undefined;
  };

  return fromCallback<DatagramCommand>(({ sendBack, receive }) => {
    const inbox = subjects.discoveryInbox(config.stamp.newId().replaceAll('-', ''));
    let stopped = false;
    let nc: NatsConnection | undefined;
    let queue: DatagramCommand[] = [];
    const subscriptions = new Map<string, Subscription>();
    const micro = config.micro ? new MicroResponder(microStats, listenerSubject) : undefined;
    // The same sealing and checking as the UDP adapter (adapters/udp/wire.ts). Requests are not
    // padded: answers go to an inbox over NATS, not back to a spoofable source address (DISC-17).
    const checker = security.verifySignatures === false ? undefined : new SignatureChecker();
    const outgoing = { nowMs: config.stamp.nowMs, signer: security.signer, requestBytesMin: 0 };

    const deliver = (message: Msg, fromRequest: boolean) => {
      if (stopped) return;
      const from = { host: (fromRequest ? message.reply : message.subject) ?? '', port: 0 };
      const event: DatagramEvent = incomingEvent(message.data, from, { limits: config.limits, nowMs: config.stamp.nowMs, checker });
      if (event.type === 'datagram.received') {
        metrics.discoveryReceived++;
      } else {
        countRejected(metrics, event.error.code);
        log('debug', `nats discovery: rejected a message on ${message.subject}: ${event.error.code}`);
      }
      try {
        sendBack(event);
      } catch (error) {
        log('error', 'nats discovery: delivering a message failed', { error: messageOf(error) });
      }
    };

    const subscribe = (connection: NatsConnection, subject: string, onMessage: (message: Msg) => void) => {
      if (subscriptions.has(subject)) return;
      try {
        subscriptions.set(subject, connection.subscribe(subject, { callback: (error, message) => (error ? undefined : onMessage(message)) }));
      } catch (error) {
        metrics.connectionErrors++;
        log('error', `nats discovery: cannot subscribe to ${subject}: ${messageOf(error)}`);
      }
    };

    const publish = (connection: NatsConnection, subject: string, draft: DiscoveryDraft, reply?: string) => {
      const text = encodeOutgoing(draft, outgoing);
      const max = config.limits.datagramBytesMax;
      if (Buffer.byteLength(text) > max) {
        throw new RangeError(`switchboard: nats discovery: a ${draft.discoveryType} of ${Buffer.byteLength(text)} bytes exceeds datagramBytesMax (${max}); it was not sent`);
      }
      try {
        connection.publish(subject, text, reply === undefined ? undefined : { reply });
        metrics.discoverySent++;
      } catch (error) {
        metrics.connectionErrors++;
        log('warn', `nats discovery: publish on ${subject} failed: ${messageOf(error)}`);
      }
    };

    /** What this actor has shown it is, by what it sent: what it must listen to. */
    const roles = { repository: false, provider: false };
    const listen = (connection: NatsConnection) => {
      if (roles.repository) {
        subscribe(connection, subjects.advertisementsAll, (m) => deliver(m, false));
        subscribe(connection, inbox, (m) => deliver(m, false));
      }
      if (roles.provider) {
        subscribe(connection, subjects.discoveryRequests, (m) => deliver(m, true));
        if (micro !== undefined) {
          subscribe(connection, MICRO_SUBJECTS, (m) => {
            if (micro.handle(m) > 0) metrics.microRequests++;
          });
        }
      }
    };

    const send = (connection: NatsConnection, command: DatagramCommand) => {
      const message = command.draft;
      if (command.to !== 'broadcast') {
        if (!subjects.isDiscoveryInbox(command.to.host)) {
          metrics.discoveryRefused++;
          log('warn', `nats discovery: refused to answer on ${JSON.stringify(command.to.host.slice(0, 80))}: not a discovery inbox`);
          return;
        }
        publish(connection, command.to.host, message);
        return;
      }
      if (message.discoveryType === 'ClientServiceDiscoveryRequest') {
        roles.repository = true;
        listen(connection);
        publish(connection, subjects.discoveryRequests, message, inbox);
        return;
      }
      roles.provider = true;
      if (micro !== undefined && message.discoveryType === 'ServiceAdvertisement') {
        const stamped = stampDatagram(message, config.stamp);
        if (stamped.discoveryType === 'ServiceAdvertisement') micro.advertised(stamped);
      }
      listen(connection);
      publish(connection, subjects.advertisement(message.serviceName), message);
    };

    /** Whether this actor holds a user of the link; it retries while NATS cannot be reached. */
    let holding = false;
    let retry: NodeJS.Timeout | undefined;
    const attach = () => {
      holding = true;
      link.acquire().then(
        (connection) => {
          if (stopped) return;
          nc = connection;
          listen(connection);
          const queued = queue;
          queue = [];
          for (const command of queued) send(connection, command);
        },
        (error: unknown) => {
          holding = false;
          link.release();
          if (stopped) return;
          log('error', `nats discovery: no NATS connection (retrying): ${messageOf(error)}`);
          retry = setTimeout(attach, RETRY_MS);
          retry.unref();
        },
      );
    };
    attach();
    const closedForGood = link.onClosed(() => {
      nc = undefined;
      subscriptions.clear();
      if (holding) link.release();
      holding = false;
      if (!stopped) attach();
    });

    receive((command) => {
      if (command.type !== 'datagram.send' || stopped) return;
      if (nc !== undefined && !nc.isClosed()) {
        send(nc, command);
        return;
      }
      if (queue.length >= SEND_QUEUE_MAX) {
        queue.shift();
        metrics.messagesDropped++;
      }
      queue.push(command);
    });

    return () => {
      stopped = true;
      closedForGood();
      if (retry !== undefined) clearTimeout(retry);
      for (const subscription of subscriptions.values()) if (!subscription.isClosed()) subscription.unsubscribe();
      if (holding) link.release();
    };
  });
}
