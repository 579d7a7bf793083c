/**
 * `switchboard/adapters`: transports that implement machines/transport.ts: real UDP discovery
 * (node:dgram), real WebSocket (ws), NATS subjects, and the deterministic simulated network.
 */
export * from './udp.js';
export * from './ws.js';
export * from './simulated/index.js';
export * from './nats.js';
