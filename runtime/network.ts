/**
 * Real sockets as a TransportHost: UDP discovery (adapters/udp.ts) and WebSocket
 * (adapters/ws.ts). The simulated network's hosts (adapters/simulated) are the other kind.
 */
import { udpDiscovery, type UdpDiscoveryOptions } from '../adapters/udp.js';
import { wsConnect, wsServer, type WsConnectOptions, type WsServerOptions } from '../adapters/ws.js';
import type { TransportHost } from './compose.js';

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
  const server = options.server === undefined ? undefined : wsServer(options.server);
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
    connect: () => wsConnect(options.connect),
    serverPort: () => server?.port(),
  };
}
