/**
 * The in-memory simulated network: a deterministic stand-in for UDP discovery and WebSocket
 * streams, on the shared SimulatedClock. See ./network.ts.
 */
export {
  SimulatedNetwork,
  HELD_DATAGRAMS_MAX,
  HELD_FRAMES_MAX,
  type NetworkStats,
  type Outcome,
  type SimulatedNetworkOptions,
  type TraceEntry,
  type TraceRecord,
} from './network.js';
export { defaultFaultOptions, type FaultOptions } from './faults.js';
export {
  DISCOVERY_PORT,
  type AcceptedTransportLogic,
  type ConnectTransportLogic,
  type DatagramTransportLogic,
  type DiscoveryOptions,
  type ServerOptions,
  type ServerTransportLogic,
  type SimulatedHost,
} from './transports.js';
export { EPHEMERAL_PORT_FIRST, EPHEMERAL_PORT_LAST, type InjectedDatagram } from './datagrams.js';
export { Prng } from './prng.js';
export { advanceClock, advanceClockTo } from './advance.js';
export { VirtualClock, type NetworkClock } from './virtualClock.js';
