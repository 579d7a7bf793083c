/**
 * Composition: the pure machines of machines/ provided with real effects.
 *
 * A `TransportHost` is whatever can give a machine its sockets: the simulated network's hosts
 * (adapters/simulated) or the real UDP and WebSocket adapters. The same machines run on either;
 * only this wiring differs.
 */
import type { AnyActorLogic, CallbackActorLogic } from 'xstate';
import { clientMachine } from '../machines/client.js';
import { connectionMachine } from '../machines/connection.js';
import { providerMachine } from '../machines/provider.js';
import { providerTaskMachine, type HandlerLogic } from '../machines/providerTask.js';
import { repositoryMachine } from '../machines/repository.js';
import { sessionMachine, type AdmissionDecision } from '../machines/session.js';
import { createTaskRegistry } from '../machines/taskRegistry.js';
import type {
  AcceptedInput,
  ConnectInput,
  DatagramCommand,
  ServerCommand,
  StreamCommand,
} from '../machines/transport.js';
import type { DatagramSigner } from '../adapters/udp/signature.js';
import { decided } from './decided.js';

/** What a discovery socket does beyond routing: sign what it sends, check what it receives (SEC-8). */
export interface DiscoverySecurity {
  /** Signs outgoing advertisements (a provider). */
  readonly signer?: DatagramSigner | undefined;
  /** Check received advertisements' signatures (a client does; a provider ignores advertisements). @default true */
  readonly verifySignatures?: boolean | undefined;
}

/** The sockets of one host, as XState logic honouring machines/transport.ts. */
export interface TransportHost {
  discovery(security?: DiscoverySecurity): CallbackActorLogic<DatagramCommand>;
  server(options: { port: number }): CallbackActorLogic<ServerCommand>;
  accepted(): CallbackActorLogic<StreamCommand, AcceptedInput>;
  connect(): CallbackActorLogic<StreamCommand, ConnectInput>;
}

export interface AdmissionRequest {
  readonly connectionId: string;
  readonly remoteAddress: string;
  readonly token: string | undefined;
}

export interface ProviderEffects {
  /** Runs a task's operation (see runtime/service.ts for the one built from defineService). */
  readonly handler: HandlerLogic;
  /** Accepts or rejects a connection (CONN-2). @default accept every connection, unauthenticated */
  readonly admission?: AnyActorLogic;
  /** Checks an Authenticate message (SEC-2). @default reject every token */
  readonly authenticate?: AnyActorLogic;
  /** Signs the provider's advertisements (SEC-8). @default unsigned */
  readonly signer?: DatagramSigner;
}

export const acceptEveryConnection = decided<AdmissionDecision, AdmissionRequest>(() => ({
  accept: true,
  authenticated: false,
}));

export const rejectEveryToken = decided<{ ok: boolean }, { clientId: string; token: string }>(() => ({ ok: false }));

/** The provider machine wired to a host's sockets and the given effects. */
export function composeProvider(host: TransportHost, port: number, effects: ProviderEffects) {
  const session = sessionMachine.provide({
    actors: {
      transport: host.accepted(),
      admission: (effects.admission ?? acceptEveryConnection) as never,
      authenticate: (effects.authenticate ?? rejectEveryToken) as never,
    },
  });
  const task = providerTaskMachine.provide({ actors: { handler: effects.handler } });
  return providerMachine.provide({
    actors: {
      // A provider ignores advertisements, so it spends nothing on checking their signatures.
      discovery: host.discovery({ signer: effects.signer, verifySignatures: false }),
      server: host.server({ port }),
      session: session as never,
      taskRegistry: createTaskRegistry(task),
    },
  });
}

/** The client machine wired to a host's sockets. */
export function composeClient(host: TransportHost) {
  return clientMachine.provide({
    actors: {
      repository: repositoryMachine.provide({ actors: { discovery: host.discovery() } }) as never,
      connection: connectionMachine.provide({ actors: { transport: host.connect() } }) as never,
    },
  });
}
