/**
 * The NATS adapter: machines/transport.ts's datagram, server and stream contracts over NATS
 * subjects (@nats-io/transport-node), so the same statecharts run beyond one LAN. See
 * docs/nats.md for the subject layout and the delivery semantics.
 *
 * - ./nats/host.ts: `natsHost(options)` -> { discovery, server, accepted, connect } (a TransportHost)
 * - ./nats/discovery.ts: requests, advertisements, heartbeats, goodbyes on subjects (request/reply)
 * - ./nats/server.ts, ./nats/connect.ts, ./nats/streamEnd.ts: task connections
 * - ./nats/outcomes.ts: durable outcomes in JetStream KV (optional)
 * - ./nats/micro.ts: `$SRV.PING|INFO|STATS` answers, for NATS micro tooling
 * - ./nats/subjects.ts, ./nats/envelope.ts, ./nats/options.ts, ./nats/link.ts
 */
export { natsHost, type NatsHost, type NatsHostOptions } from './nats/host.js';
export { createNatsMetrics, type NatsLog, type NatsLogLevel, type NatsMetrics, type NatsOptions, type NatsTlsOptions } from './nats/options.js';
export { Subjects, serviceToken } from './nats/subjects.js';
export { NatsLink } from './nats/link.js';
export { NatsOutcomeStore, type DurableOutcomeOptions } from './nats/outcomes.js';
