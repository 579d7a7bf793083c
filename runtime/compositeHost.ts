/**
 * Mixed deployments: several TransportHosts (the LAN's UDP + WebSocket, NATS) as one, so a
 * provider serves on all of them at once and a client discovers from all of them and selects
 * across them with the same policies. The machines see one discovery socket, one server and one
 * kind of connection; this host fans in and out:
 *
 * - discovery: a broadcast goes out on every member; an advertisement carries, on each member,
 *   that member's own listening endpoint (a LAN peer is told `ws://...`, a NATS peer
 *   `nats://...`). A reply goes back on the member its request came in on (`from` is tagged with
 *   the member). An instance heard on several members is kept on one, so the repository sees one
 *   stable endpoint per serviceId: the member listed first wins, another member takes over only
 *   when the current one has been silent for 1.5 heartbeats (its path broke).
 * - server: listening once every member answered, with the first member's endpoint; failed only
 *   when every member failed. Accepted connections of all members, tagged with their member.
 * - connect: the member whose schemes include the endpoint's scheme (`nats://` -> NATS).
 */
import { fromCallback, type CallbackActorLogic } from 'xstate';
import { runMember } from './callbackMember.js';
import { errorShape } from '../machines/errors.js';
import type { ServiceAdvertisement } from '../machines/messages.js';
import {
  CloseCode,
  type AcceptedInput,
  type ConnectInput,
  type DatagramCommand,
  type DatagramEvent,
  type PeerAddress,
  type ServerCommand,
  type ServerEvent,
  type StreamCommand,
  type StreamEvent,
} from '../machines/transport.js';
import type { DiscoverySecurity, TransportHost } from './compose.js';

export interface HostMember {
  readonly host: TransportHost;
  /** Endpoint schemes this member connects to, lower case (`['ws', 'wss']`, `['nats']`). */
  readonly schemes: readonly string[];
  /** For logs. */
  readonly name: string;
}

/** Service instances remembered for the one-member-per-instance rule; beyond it the oldest goes. */
const STICKY_MAX = 4_096;
const DEFAULT_HEARTBEAT_MS = 30_000;

const TAG = /^(\d+)\/(.*)$/s;

function tag(member: number, value: string): string {
  return `${member}/${value}`;
}

function untag(value: string): { member: number; value: string } | undefined {
  const match = TAG.exec(value);
  return match === null ? undefined : { member: Number(match[1]), value: match[2] as string };
}

export function compositeHost(members: readonly HostMember[], options: { readonly now?: () => number } = {}): TransportHost {
  if (members.length === 0) throw new TypeError('switchboard: compositeHost: no members');
  const now = options.now ?? Date.now;
  /** Each member's listening endpoint, once its server said so (what its advertisements carry). */
  const endpoints: (string | undefined)[] = members.map(() => undefined);
  /** serviceId -> the member it is heard on, and when last (the one-member-per-instance rule). */
  const sticky = new Map<string, { member: number; heardMs: number; heartbeatMs: number }>();

  const keep = (member: number, advertisement: ServiceAdvertisement): boolean => {
    const heardMs = now();
    const current = sticky.get(advertisement.serviceId);
    if (advertisement.status === 'Offline') {
      sticky.delete(advertisement.serviceId);
      return true;
    }
    const stale = current !== undefined && heardMs - current.heardMs > current.heartbeatMs * 1.5;
    if (current !== undefined && member > current.member && !stale) return false;
    sticky.delete(advertisement.serviceId); // re-inserted last: the map's order is recency
    if (sticky.size >= STICKY_MAX) {
      const oldest = sticky.keys().next().value;
      if (oldest !== undefined) sticky.delete(oldest);
    }
    sticky.set(advertisement.serviceId, { member, heardMs, heartbeatMs: advertisement.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS });
    return true;
  };

  const discovery = (security?: DiscoverySecurity) => fromCallback<DatagramCommand>(({ self, system, emit, sendBack, receive }) => {
    const running = members.map((m, index) =>
      runMember(m.host.discovery(security), undefined, { self, system, emit }, (event) => {
        const e = event as DatagramEvent;
        if (e.type !== 'datagram.received' && e.type !== 'datagram.rejected') return;
        const from: PeerAddress = { host: tag(index, e.from.host), port: e.from.port };
        if (e.type === 'datagram.received' && e.message.discoveryType === 'ServiceAdvertisement' && !keep(index, e.message)) return;
        sendBack({ ...e, from });
      }),
    );
    receive((command) => {
      if (command.type !== 'datagram.send') return;
      if (command.to !== 'broadcast') {
        const target = untag(command.to.host);
        if (target === undefined) return;
        const routed: DatagramCommand = {
          ...command,
          draft: withEndpoint(command.draft, endpoints[target.member]),
          to: { host: target.value, port: command.to.port },
        };
        running[target.member]?.send(routed);
        return;
      }
      running.forEach((member, index) => {
        // A member without a listener of its own (a client host) passes advertisements unchanged.
        const isAdvertisement = command.draft.discoveryType === 'ServiceAdvertisement';
        if (isAdvertisement && endpoints[index] === undefined && endpoints.some((endpoint) => endpoint !== undefined)) return;
        const routed: DatagramCommand = { ...command, draft: withEndpoint(command.draft, endpoints[index]) };
        member.send(routed);
      });
    });
    return () => running.forEach((member) => member.stop());
  });

  const server = (options: { port: number }) =>
    fromCallback<ServerCommand>(({ self, system, emit, sendBack, receive }) => {
      const outcome: ('listening' | 'failed' | undefined)[] = members.map(() => undefined);
      const failures: string[] = [];
      let announced = false;
      const settle = () => {
        if (announced || outcome.some((o) => o === undefined)) return;
        announced = true;
        const first = endpoints.find((endpoint) => endpoint !== undefined);
        if (first !== undefined) sendBack({ type: 'server.listening', endpoint: first });
        else sendBack({ type: 'server.failed', error: errorShape('INTERNAL_ERROR', failures.join('; ').slice(0, 1000)) });
      };
      const running = members.map((m, index) =>
        runMember(m.host.server(options), undefined, { self, system, emit }, (event) => {
          const e = event as ServerEvent;
          if (e.type === 'server.listening') {
            endpoints[index] = e.endpoint;
            outcome[index] = 'listening';
            settle();
          } else if (e.type === 'server.failed') {
            failures.push(`${m.name}: ${e.error.message}`);
            outcome[index] = 'failed';
            settle();
          } else if (e.type === 'server.accepted') {
            sendBack({ ...e, connectionId: tag(index, e.connectionId) });
          }
        }),
      );
      receive((command) => running.forEach((member) => member.send(command)));
      return () => {
        running.forEach((member) => member.stop());
        endpoints.fill(undefined);
      };
    });

  const accepted = fromCallback<StreamCommand, AcceptedInput>(({ self, system, emit, input, sendBack, receive }) => {
    const target = untag(input.connectionId);
    const member = target === undefined ? undefined : members[target.member];
    if (target === undefined || member === undefined) return closedAtOnce(sendBack, 'unknown connection');
    const running = runMember(member.host.accepted(), { connectionId: target.value }, { self, system, emit }, (event) => sendBack(event as StreamEvent));
    receive((command) => running.send(command));
    return () => running.stop();
  });

  const connect = fromCallback<StreamCommand, ConnectInput>(({ self, system, emit, input, sendBack, receive }) => {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(input.endpoint)?.[1]?.toLowerCase();
    const member = members.find((m) => scheme !== undefined && m.schemes.includes(scheme));
    if (member === undefined) return closedAtOnce(sendBack, `no transport for ${scheme ?? 'this'} endpoints`);
    const running = runMember(member.host.connect(), input, { self, system, emit }, (event) => sendBack(event as StreamEvent));
    receive((command) => running.send(command));
    return () => running.stop();
  });

  return {
    discovery,
    server,
    accepted: () => accepted as CallbackActorLogic<StreamCommand, AcceptedInput>,
    connect: () => connect,
  };
}

function withEndpoint<D extends DatagramCommand['draft']>(draft: D, endpoint: string | undefined): D {
  if (endpoint === undefined || draft.discoveryType !== 'ServiceAdvertisement') return draft;
  return { ...draft, endpoint };
}

function closedAtOnce(sendBack: (event: StreamEvent) => void, reason: string): () => void {
  let released = false;
  queueMicrotask(() => {
    if (!released) sendBack({ type: 'transport.closed', graceful: false, code: CloseCode.abnormal, reason });
  });
  return () => {
    released = true;
  };
}
