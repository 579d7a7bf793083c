/**
 * Real sockets as a TransportHost: UDP discovery (adapters/udp.ts) and WebSocket
 * (adapters/ws.ts), NATS (adapters/nats.ts), or both at once (./compositeHost.ts). The simulated
 * network's hosts (adapters/simulated) are the other kind.
 */
import { natsHost, type NatsHostOptions, type NatsOutcomeStore } from '../adapters/nats.js';
import { udpDiscovery, type UdpDiscoveryOptions } from '../adapters/udp.js';
import { wsConnect, wsServer, type WsConnectOptions, type WsServerOptions } from '../adapters/ws.js';
import type { TransportHost } from './compose.js';
import { compositeHost } from './compositeHost.js';

export interface RealHostOptions {
  readonly discovery?: UdpDiscoveryOptions;
  /** The WebSocket server, for a provider. */
  readonly server?: WsServerOptions;
  readonly connect?: WsConnectOptions;
}

export interface RealHost extends TransportHost {
  /** The WebSocket server's bound port once listening. */
  serverPort(): number | undefined;
}

export function realHost(options: RealHostOptions): RealHost {
  // The composed sessions and connections unfold read batches (runtime/compose.ts): one event per socket read.
  const server = options.server === undefined ? undefined : wsServer({ readBatches: true, ...options.server });
  const noServer = (): never => {
    throw new Error('switchboard: this host has no WebSocket server (a client host)');
  };
  return {
    discovery: (security = {}) =>
      udpDiscovery({
        ...options.discovery,
        ...(security.signer === undefined ? {} : { signer: security.signer }),
        ...(security.verifySignatures === undefined ? {} : { verifySignatures: security.verifySignatures }),
      }),
    // The port is fixed when the host is made; the argument matters only for simulated hosts.
    server: () => (server ?? noServer()).server,
    accepted: () => (server ?? noServer()).accepted,
    connect: () => wsConnect({ readBatches: true, ...options.connect }),
    serverPort: () => server?.port(),
  };
}

/** Where a provider or client talks: the LAN, NATS, or both (`nats` set, `lan` not false). */
export interface NetworkChoice {
  /** Also (or, with `lan: false`, only) on NATS. */
  readonly nats?: NatsHostOptions | undefined;
  /** Serve / discover on the LAN (UDP + WebSocket). @default true */
  readonly lan?: boolean | undefined;
}

/** A host, and where settled outcomes go when NATS keeps them (`nats.durableOutcomes`). */
export type NetworkHost = TransportHost & { readonly outcomes?: NatsOutcomeStore | undefined };

export function networkHost(options: RealHostOptions, choice: NetworkChoice, log?: NatsHostOptions['log']): NetworkHost {
  if (choice.nats === undefined) {
    if (choice.lan === false) throw new TypeError('switchboard: lan: false needs nats options (nowhere to talk otherwise)');
    return realHost(options);
  }
  const sessionToken = options.connect?.token;
  const nats = natsHost({ ...(log === undefined ? {} : { log }), ...(sessionToken === undefined ? {} : { sessionToken }), ...choice.nats });
  if (choice.lan === false) return nats;
  const both = compositeHost([
    { name: 'lan', host: realHost(options), schemes: ['ws', 'wss'] },
    { name: 'nats', host: nats, schemes: ['nats'] },
  ]);
  return { ...both, outcomes: nats.outcomes };
}
