/**
 * The real UDP discovery transport (node:dgram): the datagram contract of machines/transport.ts,
 * with the same semantics as the simulated network's discovery sockets
 * (adapters/simulated/datagrams.ts), so the provider and repository machines run unchanged on it.
 *
 * - `datagram.send {draft, to}`: the draft is stamped (`timestamp` from `stamp.nowMs`), encoded and
 *   sent from the actor's ephemeral socket, unicast to `to`, or for 'broadcast' to every broadcast
 *   address on the discovery port, plus the multicast group and the unicast peers when configured.
 *   Sends made before the sockets are bound are queued (bounded) and leave once bound.
 * - Every datagram received on either socket goes through the codec: `datagram.received` or, when
 *   it fails decoding, `datagram.rejected` (counted; DISC-12, WIRE-6, WIRE-7). Nothing that arrives
 *   makes the actor throw (WIRE-9, SEC-9); socket and send errors are counted and logged.
 * - Stopping the actor lets pending sends leave first (bounded by `closeFlushMs`), so a goodbye
 *   sent just before stop is not lost (DISC-7), then closes both sockets.
 *
 * Why two sockets, and what reaches whom: see ./udp/endpoint.ts.
 *
 * @example
 * const metrics = createUdpMetrics();
 * const repository = repositoryMachine.provide({ actors: { discovery: udpDiscovery({ metrics }) } });
 */
import { fromCallback, type CallbackActorLogic } from 'xstate';
import type { DatagramCommand } from '../machines/transport.js';
import { DiscoveryEndpoint } from './udp/endpoint.js';
import { resolveUdpOptions, type UdpDiscoveryOptions } from './udp/options.js';

export {
  LOOPBACK_BROADCAST,
  defaultBroadcastAddresses,
  directedBroadcastAddresses,
  type InterfaceTable,
} from './udp/addresses.js';
export { createUdpMetrics, type UdpMetrics } from './udp/metrics.js';
export { createDatagramSigner, publicKeyText, SignatureChecker, type DatagramSigner, type DatagramSignerOptions } from './udp/signature.js';
export {
  UDP_DISCOVERY_PORT,
  type DiscoveryPortState,
  type UdpDiscoveryOptions,
  type UdpLog,
  type UdpMulticastOptions,
} from './udp/options.js';

/**
 * Discovery transport logic. Each actor started from it opens its own pair of sockets, so one
 * logic may back a provider's and a client's discovery actor on the same host.
 *
 * Throws at once on invalid options. At run time it throws only on a programmer error: a draft
 * the codec cannot encode, or one whose encoding exceeds `datagramBytesMax` (the actor then fails
 * with that error, after closing its sockets, since XState runs no cleanup for a failed actor).
 */
export function udpDiscovery(options: UdpDiscoveryOptions = {}): CallbackActorLogic<DatagramCommand> {
  const config = resolveUdpOptions(options);
  return fromCallback<DatagramCommand>(({ sendBack, receive }) => {
    const endpoint = new DiscoveryEndpoint(config, (event) => sendBack(event));
    receive((command) => {
      if (command.type !== 'datagram.send') return;
      try {
        endpoint.send(command);
      } catch (error) {
        endpoint.close();
        throw error;
      }
    });
    return () => endpoint.close();
  });
}
