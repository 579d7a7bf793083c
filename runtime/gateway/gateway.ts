/**
 * The gateway: one LAN bridged to NATS, both ways, for peers that speak only the seed protocol
 * (UDP discovery, WebSocket tasks) and for NATS-only peers.
 *
 * - A LAN provider's advertisement (endpoint ws://...) is re-published on NATS with the endpoint
 *   of a NATS listener the gateway opens for it (`nats://P/gw-<hash>`); a NATS provider's is
 *   re-broadcast on the LAN with the endpoint of a WebSocket server the gateway opens for it.
 *   Heartbeats and goodbyes follow the originals; relayed advertisements carry the feature
 *   `relayed`, and a gateway never relays one (two gateways on one LAN and NATS do not loop).
 * - Discovery requests are answered by the gateway from what it relays (unicast on the LAN, on
 *   the requester's inbox on NATS) and passed on to the other side (at most once a second).
 * - Each task connection accepted on a relayed endpoint is joined to a connection to the real
 *   provider (./relay.ts); the client's credential (SEC-2) is presented upstream as it came.
 *
 * Signed advertisements (SEC-8) cannot keep their signature across a relay: the endpoint
 * changes. The gateway checks what it hears (an advertisement whose signature does not verify,
 * tampered or forged, is not relayed, and counted) and signs what it relays with its own key
 * (`signing`), which clients on the other side trust on first use or pin. It relays unsigned
 * (seed-protocol) providers too, under its key: trust a gateway as you trust the networks it
 * bridges (docs/nats.md, "Signed discovery over NATS").
 */
import { createHash } from 'node:crypto';
import { createActor, enqueueActions, setup, toPromise, type AnyActorLogic, type AnyEventObject } from 'xstate';
import { v4 as uuid } from 'uuid';
import { natsHost, type NatsHostOptions } from '../../adapters/nats.js';
import { udpDiscovery, type UdpDiscoveryOptions } from '../../adapters/udp.js';
import { wsConnect, wsServer, type WsConnectOptions, type WsServerOptions } from '../../adapters/ws.js';
import type { DiscoveryDraft, DiscoveryMessage, ServiceAdvertisement } from '../../machines/messages.js';
import type { DatagramCommand, DatagramProof, PeerAddress, ServerEvent } from '../../machines/transport.js';
import { tagged } from '../callbackMember.js';
import type { SigningOptions } from '../provider.js';
import type { Logger } from '../service.js';
import { signingFor } from '../signing.js';
import { relayDefaults, relayMachine, type RelayInput } from './relay.js';

export interface GatewayOptions {
  readonly nats: NatsHostOptions;
  readonly lan?: {
    readonly discovery?: UdpDiscoveryOptions;
    /** Address the relayed WebSocket servers listen on. @default '0.0.0.0' */
    readonly host?: string;
    readonly advertisedHost?: string;
    readonly server?: Partial<WsServerOptions>;
    readonly connect?: WsConnectOptions;
  };
  /**
   * How the gateway signs the advertisements it relays (SEC-8): it re-advertises each provider
   * under its own endpoint, so it signs with its own key, which clients trust on first use or
   * pin like a provider's. Same forms as createProvider's `signing`. @default a fresh key
   */
  readonly signing?: SigningOptions;
  /** Period of the gateway's own discovery requests on both sides. @default 30_000 */
  readonly requestPeriodMs?: number;
  /** Distinct provider endpoints relayed at once, each way; more are ignored and counted. @default 256 */
  readonly endpointsMax?: number;
  readonly relay?: Partial<Pick<RelayInput, 'queueMax' | 'pingIntervalMs' | 'pongTimeoutMs' | 'closeTimeoutMs'>>;
  readonly log?: Logger;
}

export interface GatewayStats {
  /** Provider endpoints relayed, LAN -> NATS and NATS -> LAN. */
  lanToNats: number;
  natsToLan: number;
  advertisementsRelayed: number;
  requestsAnswered: number;
  connectionsRelayed: number;
  endpointsRefused: number;
  /** Advertisements not relayed because their provider is heard on both sides already. */
  nativeOnBothSides: number;
  /** Advertisements not relayed because their signature did not verify (tampered, or forged with a key they do not match). */
  advertisementsInvalid: number;
}

export interface Gateway {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly stats: Readonly<GatewayStats>;
  /** The key relayed advertisements are signed with (clients pin it); undefined with `signing: false`. */
  readonly publicKey: string | undefined;
  /** Where that key is kept, if in a file. */
  readonly keyFile: string | undefined;
}

type Side = 'lan' | 'nats';

/** One provider endpoint of one side, made reachable from the other. */
interface Exposure {
  readonly origin: Side;
  readonly originEndpoint: string;
  /** Child id of the server the gateway listens with on the other side. */
  readonly serverId: string;
  readonly accepted: AnyActorLogic;
  /** The endpoint on the other side, once its server listens. */
  endpoint: string | undefined;
  readonly advertisements: Map<string, { readonly advertisement: ServiceAdvertisement; readonly heardMs: number }>;
}

const RELAYED = 'relayed';
const FORWARD_MIN_MS = 1_000;

/** What the gateway asks of its hub (done as actions of the hub, never by sending to itself). */
type HubCommand =
  | { readonly kind: 'spawn'; readonly id: string; readonly logic: AnyActorLogic; readonly input?: unknown }
  | { readonly kind: 'send'; readonly id: string; readonly event: AnyEventObject }
  | { readonly kind: 'stop'; readonly id: string };

interface HubInput {
  /** Handles an event from a child; returns what to do about it. */
  readonly onEvent: (event: AnyEventObject) => readonly HubCommand[];
}

/**
 * Hosts the gateway's actors (two discovery sockets, the relayed servers, one relay per
 * connection) and hands every event they send back to `onEvent`, doing the commands it returns.
 */
const hubMachine = setup({
  types: { input: {} as HubInput, context: {} as HubInput, events: {} as AnyEventObject },
}).createMachine({
  id: 'gateway',
  context: ({ input }) => ({ onEvent: input.onEvent }),
  on: {
    'hub.stop': '.stopped',
    '*': {
      actions: enqueueActions(({ context, event, enqueue }) => {
        for (const command of context.onEvent(event)) {
          if (command.kind === 'spawn') enqueue.spawnChild(command.logic, { id: command.id as never, input: command.input });
          else if (command.kind === 'send') enqueue.sendTo(command.id, command.event);
          else enqueue.stopChild(command.id as never);
        }
      }),
    },
  },
  initial: 'running',
  states: { running: {}, stopped: { type: 'final' } },
});

export function createGateway(options: GatewayOptions): Gateway {
  const log = options.log ?? (() => {});
  const signing = signingFor({ signing: options.signing, server: options.lan?.server }, log);
  const lan = options.lan ?? {};
  const nats = natsHost({ log, ...options.nats });
  const gatewayId = `gateway-${uuid()}`;
  const endpointsMax = options.endpointsMax ?? 256;
  const requestPeriodMs = options.requestPeriodMs ?? 30_000;
  const relayTimings = { ...relayDefaults, ...options.relay };
  const stats: GatewayStats = { lanToNats: 0, natsToLan: 0, advertisementsRelayed: 0, requestsAnswered: 0, connectionsRelayed: 0, endpointsRefused: 0, nativeOnBothSides: 0, advertisementsInvalid: 0 };
  const exposures = new Map<string, Exposure>(); // by origin endpoint
  const byServer = new Map<string, Exposure>(); // by server child id
  const ownEndpoints = new Set<string>();
  /** serviceId -> when it was last heard natively (not relayed) on each side. */
  const native = new Map<string, Partial<Record<Side, number>>>();
  const lastForward: Record<Side, number> = { lan: 0, nats: 0 };
  let periodic: NodeJS.Timeout | undefined;
  let started: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  let commands: HubCommand[] = [];
  const actor = createActor(hubMachine, {
    input: {
      onEvent: (event) => {
        onEvent(event);
        const taken = commands;
        commands = [];
        return taken;
      },
    },
  });
  const spawn = (id: string, logic: AnyActorLogic, input?: unknown) => void commands.push({ kind: 'spawn', id, logic, input });
  const send = (id: string, event: AnyEventObject) => void commands.push({ kind: 'send', id, event });
  /** Runs what was asked from outside an event (start, the periodic requests, stop). */
  const flush = () => actor.send({ type: 'hub.flush' });
  const discoveryOf = (side: Side) => `${side}.discovery`;
  const broadcast = (side: Side, draft: DiscoveryDraft) => send(discoveryOf(side), { type: 'datagram.send', draft, to: 'broadcast' } satisfies DatagramCommand);
  const request = (side: Side, serviceName?: string) =>
    broadcast(side, { discoveryType: 'ClientServiceDiscoveryRequest', clientId: gatewayId, ...(serviceName === undefined ? {} : { serviceName }) });

  /** The advertisement as relayed: the gateway's endpoint, marked relayed, unsigned. */
  function relayedDraft(advertisement: ServiceAdvertisement, endpoint: string, respondsToClientId?: string): DiscoveryDraft {
    // The origin's proof does not carry over: the gateway seals what it relays with its own key
    // (and its own certificate fingerprint, if any), SEC-8.
    const { timestamp: _t, signature: _s, respondsToClientId: _r, publicKey: _k, epoch: _e, sequence: _q, tlsFingerprint256: _f, ...rest } = advertisement;
    return {
      ...rest,
      endpoint,
      features: [...(rest.features ?? []).filter((feature) => feature !== RELAYED), RELAYED],
      ...(respondsToClientId === undefined ? {} : { respondsToClientId }),
    };
  }

  function expose(origin: Side, originEndpoint: string): Exposure | undefined {
    const known = exposures.get(originEndpoint);
    if (known !== undefined) return known;
    const count = [...exposures.values()].filter((exposure) => exposure.origin === origin).length;
    if (count >= endpointsMax) {
      stats.endpointsRefused++;
      return undefined;
    }
    const key = createHash('sha256').update(originEndpoint).digest('hex').slice(0, 16);
    const serverId = `${origin === 'lan' ? 'natsServer' : 'lanServer'}:${key}`;
    let server: AnyActorLogic;
    let accepted: AnyActorLogic;
    if (origin === 'lan') {
      const listener = nats.listener(`gw-${key}`);
      server = listener.server;
      accepted = listener.accepted;
      stats.lanToNats++;
    } else {
      const ws = wsServer({ port: 0, host: lan.host ?? '0.0.0.0', ...(lan.advertisedHost === undefined ? {} : { advertisedHost: lan.advertisedHost }), log, ...lan.server });
      server = ws.server;
      accepted = ws.accepted;
      stats.natsToLan++;
    }
    const exposure: Exposure = { origin, originEndpoint, serverId, accepted, endpoint: undefined, advertisements: new Map() };
    exposures.set(originEndpoint, exposure);
    byServer.set(serverId, exposure);
    spawn(serverId, tagged(server, serverId));
    log('info', `gateway: relaying ${originEndpoint} (${origin}) to the ${origin === 'lan' ? 'NATS' : 'LAN'} side`);
    return exposure;
  }

  /**
   * A provider that already serves on both sides (a mixed deployment) is heard natively on both:
   * relaying it too would give the other side two endpoints for one serviceId.
   */
  function heardNativelyOnBothSides(side: Side, advertisement: ServiceAdvertisement): boolean {
    const now = Date.now();
    const heard = native.get(advertisement.serviceId) ?? {};
    native.delete(advertisement.serviceId); // re-inserted last: the map's order is recency
    if (native.size >= endpointsMax * 16) {
      const oldest = native.keys().next().value;
      if (oldest !== undefined) native.delete(oldest);
    }
    native.set(advertisement.serviceId, { ...heard, [side]: now });
    const otherSide: Side = side === 'lan' ? 'nats' : 'lan';
    const there = heard[otherSide];
    return there !== undefined && now - there <= 3 * (advertisement.heartbeatIntervalMs ?? 30_000);
  }

  /** Heard natively on `side` lately (not relayed): its provider serves there itself. */
  function heardNativelyOn(side: Side, advertisement: ServiceAdvertisement): boolean {
    const there = native.get(advertisement.serviceId)?.[side];
    return there !== undefined && Date.now() - there <= 3 * (advertisement.heartbeatIntervalMs ?? 30_000);
  }

  /**
   * A provider relayed before it was heard on the other side natively too (its two advertisements
   * arrived one after the other): the relayed copy is withdrawn at once with a goodbye (Offline),
   * so that clients there hold one endpoint for the serviceId, not two until the copy expires.
   */
  function retractRelayed(serviceId: string): void {
    for (const exposure of exposures.values()) {
      const relayed = exposure.advertisements.get(serviceId);
      if (relayed === undefined) continue;
      exposure.advertisements.delete(serviceId);
      if (exposure.endpoint === undefined) continue; // never relayed: its server was not listening yet
      broadcast(exposure.origin === 'lan' ? 'nats' : 'lan', relayedDraft({ ...relayed.advertisement, status: 'Offline' }, exposure.endpoint));
    }
  }

  function onAdvertisement(side: Side, advertisement: ServiceAdvertisement): void {
    if (ownEndpoints.has(advertisement.endpoint) || advertisement.features?.includes(RELAYED)) return;
    if (heardNativelyOnBothSides(side, advertisement)) {
      stats.nativeOnBothSides++;
      retractRelayed(advertisement.serviceId);
      return;
    }
    const exposure = expose(side, advertisement.endpoint);
    if (exposure === undefined) return;
    if (advertisement.status === 'Offline') exposure.advertisements.delete(advertisement.serviceId);
    else exposure.advertisements.set(advertisement.serviceId, { advertisement, heardMs: Date.now() });
    if (exposure.endpoint === undefined) return; // relayed once its server listens
    stats.advertisementsRelayed++;
    broadcast(side === 'lan' ? 'nats' : 'lan', relayedDraft(advertisement, exposure.endpoint));
  }

  /** What `side`'s requester may hear: the live advertisements relayed from the other side. */
  function answerRequest(side: Side, message: Extract<DiscoveryMessage, { discoveryType: 'ClientServiceDiscoveryRequest' }>, from: PeerAddress): void {
    if (message.clientId === gatewayId) return;
    const now = Date.now();
    let answered = false;
    for (const exposure of exposures.values()) {
      if (exposure.origin === side || exposure.endpoint === undefined) continue;
      for (const [serviceId, { advertisement, heardMs }] of exposure.advertisements) {
        if (now - heardMs > 3 * (advertisement.heartbeatIntervalMs ?? 30_000)) {
          exposure.advertisements.delete(serviceId); // expired (DISC-9)
          continue;
        }
        if (heardNativelyOn(side, advertisement)) continue; // the provider answers there itself
        if (message.serviceName !== undefined && message.serviceName !== advertisement.serviceName) continue;
        send(discoveryOf(side), { type: 'datagram.send', draft: relayedDraft(advertisement, exposure.endpoint, message.clientId), to: from } satisfies DatagramCommand);
        answered = true;
      }
    }
    if (answered) stats.requestsAnswered++;
    const otherSide: Side = side === 'lan' ? 'nats' : 'lan';
    if (now - lastForward[otherSide] >= FORWARD_MIN_MS) {
      lastForward[otherSide] = now;
      request(otherSide, message.serviceName);
    }
  }

  function onServerEvent(exposure: Exposure, event: ServerEvent): void {
    if (event.type === 'server.listening') {
      exposure.endpoint = event.endpoint;
      ownEndpoints.add(event.endpoint);
      const otherSide: Side = exposure.origin === 'lan' ? 'nats' : 'lan';
      for (const [serviceId, { advertisement }] of exposure.advertisements) {
        // Heard natively on the other side while the server was starting: not relayed (a client
        // there would pin the gateway's key for it and then ignore the provider's own, SEC-8).
        if (heardNativelyOn(otherSide, advertisement)) {
          exposure.advertisements.delete(serviceId);
          stats.nativeOnBothSides++;
          continue;
        }
        broadcast(otherSide, relayedDraft(advertisement, event.endpoint));
      }
      return;
    }
    if (event.type === 'server.failed') {
      log('error', `gateway: cannot relay ${exposure.originEndpoint}: ${event.error.message}`);
      return;
    }
    // server.accepted: join it to a connection to the real provider.
    stats.connectionsRelayed++;
    const up =
      exposure.origin === 'lan'
        ? wsConnect({ log, ...lan.connect, ...(event.token === undefined ? {} : { token: event.token }) })
        : nats.connectWith(event.token);
    const relay = relayMachine.provide({
      actors: {
        down: tagged(exposure.accepted as never, 'down') as never,
        up: tagged(up as never, 'up') as never,
      },
    });
    spawn(`relay:${uuid()}`, relay, {
      connectionId: event.connectionId,
      endpoint: exposure.originEndpoint,
      ...relayTimings,
    } satisfies RelayInput);
  }

  function onEvent(event: AnyEventObject): void {
    const source = event.source as string | undefined;
    if (typeof event.type === 'string' && event.type.startsWith('xstate.done.actor.relay:')) {
      commands.push({ kind: 'stop', id: event.type.slice('xstate.done.actor.'.length) });
      return;
    }
    if (source === 'lan.discovery' || source === 'nats.discovery') {
      const side: Side = source === 'lan.discovery' ? 'lan' : 'nats';
      if (event.type !== 'datagram.received') return;
      const message = event.message as DiscoveryMessage;
      if (message.discoveryType !== 'ServiceAdvertisement') return answerRequest(side, message, event.from as PeerAddress);
      const proof = event.proof as DatagramProof | undefined;
      if (proof?.kind === 'invalid') {
        // Relayed, it would carry the gateway's own signature: a tampered advertisement laundered.
        stats.advertisementsInvalid++;
        log('debug', `gateway: not relaying ${message.serviceId} from the ${side === 'lan' ? 'LAN' : 'NATS'} side: ${proof.reason}`);
        return;
      }
      onAdvertisement(side, message);
      return;
    }
    const exposure = source === undefined ? undefined : byServer.get(source);
    if (exposure !== undefined) onServerEvent(exposure, event as ServerEvent);
  }

  return {
    stats,
    publicKey: signing?.signer.publicKey,
    keyFile: signing?.keyFile,
    start() {
      started ??= (async () => {
        actor.start();
        const signer = signing?.signer;
        spawn(discoveryOf('lan'), tagged(udpDiscovery({ log, ...lan.discovery, ...(signer === undefined ? {} : { signer }) }), discoveryOf('lan')));
        spawn(discoveryOf('nats'), tagged(nats.discovery({ signer }), discoveryOf('nats')));
        request('lan');
        request('nats');
        flush();
        periodic = setInterval(() => {
          request('lan');
          request('nats');
          flush();
        }, requestPeriodMs);
        periodic.unref();
      })();
      return started;
    },
    stop() {
      if (started === undefined) return Promise.resolve();
      // Once: a second stop() waits for the first (the hub is stopped; telling it again only warns).
      stopping ??= (async () => {
        if (periodic !== undefined) clearInterval(periodic);
        // Goodbyes for what was relayed, so neither side waits for expiry (DISC-7).
        for (const exposure of exposures.values()) {
          if (exposure.endpoint === undefined) continue;
          const otherSide: Side = exposure.origin === 'lan' ? 'nats' : 'lan';
          for (const { advertisement } of exposure.advertisements.values()) {
            broadcast(otherSide, relayedDraft({ ...advertisement, status: 'Offline' }, exposure.endpoint));
          }
        }
        flush();
        actor.send({ type: 'hub.stop' });
        await toPromise(actor).catch(() => undefined);
        signing?.release();
      })();
      return stopping;
    },
  };
}

