/**
 * Composition: the pure machines of machines/ provided with real effects.
 *
 * A `TransportHost` is whatever can give a machine its sockets: the simulated network's hosts
 * (adapters/simulated) or the real UDP and WebSocket adapters. The same machines run on either;
 * only this wiring differs.
 */
import type { AnyActorLogic, CallbackActorLogic } from 'xstate';
import { clientMachine } from '../machines/client.js';
import { clientTaskMachine } from '../machines/clientTask.js';
import { unfoldingReadBatches } from '../machines/host/readBatches.js';
import { createTaskPool } from '../machines/host/taskPool.js';
import { connectionMachine } from '../machines/connection.js';
import { providerMachine } from '../machines/provider.js';
import { providerTaskMachine, type HandlerLogic } from '../machines/providerTask.js';
import { repositoryMachine } from '../machines/repository.js';
import { repositoryEntryMachine } from '../machines/repositoryEntry.js';
import { sessionMachine, type AdmissionDecision, type AuthenticateDecision } from '../machines/session.js';
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
import { interpreterFromEnv, runnable, type InterpreterChoice } from './interpreter.js';
import type { Logger } from './service.js';
import type { Supervisor } from './supervisor.js';

/** What a discovery socket does beyond routing: sign what it sends, check what it receives (SEC-8). */
export interface DiscoverySecurity {
  /** Signs outgoing advertisements (a provider). */
  readonly signer?: DatagramSigner | undefined;
  /** Check received advertisements' signatures (a client does; a provider ignores advertisements). @default true */
  readonly verifySignatures?: boolean | undefined;
}

/** How composed machines execute: the compiled engine or XState's interpreter. */
export interface ExecutionOptions {
  /** @default the SWITCHBOARD_INTERPRETER environment variable, else `engine` */
  readonly interpreter?: InterpreterChoice;
  /** Where a machine the engine cannot run is reported (once). */
  readonly log?: Logger;
}

/** `run(machine)`: the machine hosted on the engine (or as is, on XState's interpreter); `engine`: which one. */
function executor(execution: ExecutionOptions) {
  const choice = execution.interpreter ?? interpreterFromEnv();
  return {
    engine: choice === 'engine',
    run: <T extends Parameters<typeof runnable>[0]>(machine: T): T => runnable(machine, choice, execution.log),
  };
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
  /** SHA-256 fingerprint of a TLS client certificate the server verified, if any. */
  readonly peerCertificate?: string | undefined;
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

export const rejectEveryToken = decided<AuthenticateDecision, { clientId: string; token: string }>(() => ({ ok: false }));

/**
 * Without a supervisor, logic runs as defined: an unexpected throw fails its actor (XState's
 * semantics, which specs of the bare machines rely on).
 */
const unsupervised: Pick<Supervisor, 'machine' | 'effect'> = { machine: (logic) => logic, effect: (logic) => logic };

/**
 * The provider machine wired to a host's sockets and the given effects. With a `supervisor`
 * (runtime/supervisor.ts, SEC-21), every actor of the provider is supervised: a session that
 * throws closes itself with INTERNAL_ERROR and 1011, a task fails INTERNAL_ERROR, the registry
 * fails only the task at hand, and the provider drops the event. Its machines run on the compiled
 * engine inside their actors, and its tasks are snapshots in the registry's task table (no actor
 * per task, supervised alike), unless the interpreter is `xstate`.
 */
export function composeProvider(
  host: TransportHost,
  port: number,
  effects: ProviderEffects,
  supervisor: Pick<Supervisor, 'machine' | 'effect'> = unsupervised,
  execution: ExecutionOptions = {},
) {
  const { engine, run } = executor(execution);
  const session = sessionMachine.provide({
    actors: {
      transport: supervisor.effect(host.accepted(), 'transport'),
      admission: supervisor.effect(effects.admission ?? acceptEveryConnection, 'admission') as never,
      authenticate: supervisor.effect(effects.authenticate ?? rejectEveryToken, 'authenticate') as never,
    },
  });
  const task = providerTaskMachine.provide({ actors: { handler: supervisor.effect(effects.handler, 'handler') } });
  const registry = createTaskRegistry(supervisor.machine(run(task), 'providerTask', (errorId) => ({ type: 'task.fault', errorId })), {
    tasksAsSnapshots: engine,
  });
  return supervisor.machine(
    run(
      providerMachine.provide({
        actors: {
          // A provider ignores advertisements, so it spends nothing on checking their signatures.
          discovery: supervisor.effect(host.discovery({ signer: effects.signer, verifySignatures: false }), 'discovery'),
          server: supervisor.effect(host.server({ port }), 'server'),
          // A socket read's frames arrive as one event (adapters/ws readBatches), each frame supervised alone.
          session: unfoldingReadBatches(supervisor.machine(run(session), 'session', (errorId) => ({ type: 'session.fault', errorId }))) as never,
          taskRegistry: supervisor.machine(registry, 'taskRegistry', (errorId, event) =>
            event.type === 'registry.fault' || event.type.startsWith('xstate.') ? undefined : { type: 'registry.fault', errorId, event },
          ),
        },
      }),
    ),
    'provider',
  );
}

/**
 * The client machine wired to a host's sockets; with a `supervisor` every actor drops an event
 * whose handling threw (logged), instead of failing the client (SEC-21). Its machines run on the
 * compiled engine inside their actors, and a connection's tasks are snapshots in its task pool
 * (no actor per task, supervised alike), unless the interpreter is `xstate`.
 */
export function composeClient(host: TransportHost, supervisor: Pick<Supervisor, 'machine' | 'effect'> = unsupervised, execution: ExecutionOptions = {}) {
  const { engine, run } = executor(execution);
  const repository = repositoryMachine.provide({
    actors: {
      discovery: supervisor.effect(host.discovery(), 'discovery'),
      repositoryEntry: supervisor.machine(run(repositoryEntryMachine), 'repositoryEntry'),
    },
  });
  const connection = connectionMachine.provide({
    actors: {
      transport: supervisor.effect(host.connect(), 'transport'),
      tasks: createTaskPool(supervisor.machine(clientTaskMachine, 'clientTask'), engine) as never,
    },
  });
  return supervisor.machine(
    run(
      clientMachine.provide({
        actors: {
          repository: supervisor.machine(run(repository), 'repository') as never,
          connection: unfoldingReadBatches(supervisor.machine(run(connection), 'connection')) as never,
        },
      }),
    ),
    'client',
  );
}
