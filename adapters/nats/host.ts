/**
 * A host's NATS sockets: discovery, the provider listener, accepted and client task connections,
 * all over one shared NATS connection (./link.ts). The returned object has the shape of
 * runtime/compose.ts's TransportHost, so the provider and client machines run on it unchanged.
 */
import type { CallbackActorLogic } from 'xstate';
import type { AcceptedInput, ConnectInput, DatagramCommand, ServerCommand, StreamCommand } from '../../machines/transport.js';
import { natsConnect, type NatsConnectOptions } from './connect.js';
import { natsDiscovery, type NatsDiscoverySecurity } from './discovery.js';
import { NatsLink } from './link.js';
import { assertNatsInstalled } from './natsPackages.js';
import { MicroStats } from './micro.js';
import { resolveNatsOptions, type NatsMetrics, type NatsOptions } from './options.js';
import { natsServer, type NatsServer } from './server.js';
import { NatsOutcomeStore, type DurableOutcomeOptions } from './outcomes.js';

export interface NatsHostOptions extends NatsOptions, NatsConnectOptions {
  /** Keep task outcomes in JetStream (the server must run with JetStream): docs/nats.md. @default off */
  readonly durableOutcomes?: boolean | DurableOutcomeOptions;
}

export interface NatsHost {
  discovery(security?: NatsDiscoverySecurity): CallbackActorLogic<DatagramCommand>;
  server(options?: { port: number }): CallbackActorLogic<ServerCommand>;
  accepted(): CallbackActorLogic<StreamCommand, AcceptedInput>;
  connect(): CallbackActorLogic<StreamCommand, ConnectInput>;
  /** The provider listener's endpoint, `nats://<subjectPrefix>/<name>`. */
  readonly endpoint: string;
  readonly metrics: NatsMetrics;
  /** The shared connection (for the gateway and the durable outcome store). */
  readonly link: NatsLink;
  /** Another listener on the same connection, under its own name (a gateway relays many endpoints). */
  listener(name: string): NatsServer;
  /** Client task connections presenting this switchboard credential (a gateway passes each client's on). */
  connectWith(sessionToken: string | undefined): CallbackActorLogic<StreamCommand, ConnectInput>;
  /** With `durableOutcomes`: the store the runtime records settled outcomes in. */
  readonly outcomes: NatsOutcomeStore | undefined;
}

/**
 * Throws at once on invalid options, or when the NATS client packages are not installed (a
 * MissingPeerError naming them); connects to NATS when the first actor starts.
 */
export function natsHost(options: NatsHostOptions = {}): NatsHost {
  const config = resolveNatsOptions(options);
  const durable = options.durableOutcomes;
  // A connection the application made needs no client package of ours; durable outcomes need the KV one.
  assertNatsInstalled({ transport: config.connection === undefined, kv: durable !== undefined && durable !== false });
  const link = new NatsLink(config);
  const micro = new MicroStats();
  const outcomes = durable === undefined || durable === false ? undefined : new NatsOutcomeStore(link, durable === true ? {} : durable);
  const listener = natsServer(link, micro, config.name, outcomes);
  const connect = natsConnect(link, options.sessionToken === undefined ? {} : { sessionToken: options.sessionToken });
  return {
    discovery: (security) => natsDiscovery(link, micro, security),
    server: () => listener.server,
    accepted: () => listener.accepted,
    connect: () => connect,
    endpoint: link.subjects.endpoint(config.name),
    metrics: config.metrics,
    link,
    listener: (name) => natsServer(link, micro, name),
    outcomes,
    connectWith: (sessionToken) => natsConnect(link, sessionToken === undefined ? {} : { sessionToken }),
  };
}
