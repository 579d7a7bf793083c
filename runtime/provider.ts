/**
 * createProvider: host services on the network.
 *
 * ```ts
 * const provider = createProvider({ services: [greeter], port: 8080 });
 * const { endpoint } = await provider.start();   // listening and advertised (DISC-4)
 * provider.on('task.settled', (event) => console.log(event.taskId, event.outcome.status));
 * await provider.stop();                         // goodbye (DISC-7), sessions closed with 1001
 * ```
 * Pass `network` (a simulated host) to run on the simulated network, and `clock` / `inspect` to
 * drive or watch the whole actor system.
 */
import { createActor, toPromise, type Actor, type ActorOptions, type AnyActorLogic, type InspectionEvent, type Observer } from 'xstate';
import { v4 as uuid } from 'uuid';
import type { UdpDiscoveryOptions } from '../adapters/udp.js';
import type { WsServerOptions } from '../adapters/ws.js';
import { ProtocolError } from '../machines/errors.js';
import { providerDefaults, type ProviderEmitted, type SessionOptions } from '../machines/provider.js';
import { taskLimitDefaults, type TaskLimits } from '../machines/taskLedger.js';
import { authPolicies, type AuthOptions } from './auth.js';
import { composeProvider, type TransportHost } from './compose.js';
import { createServiceHandler } from './handler.js';
import { realHost } from './network.js';
import { capabilitiesOf, type Logger, type ServiceDefinition } from './service.js';

/** The actor system's clock: anything with setTimeout/clearTimeout (xstate's SimulatedClock, say). */
export type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

export interface ProviderOptions {
  readonly services: readonly ServiceDefinition[];
  /** WebSocket port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Address the WebSocket server listens on. @default '0.0.0.0' */
  readonly host?: string;
  /** Host put in the advertised endpoint. @default the adapter's choice (see adapters/ws.ts) */
  readonly advertisedHost?: string;
  /** UDP discovery options (port 50001, broadcast addresses, multicast, unicast peers). */
  readonly discovery?: UdpDiscoveryOptions;
  /** More WebSocket server options (TLS, maxPayload). */
  readonly server?: Partial<WsServerOptions>;
  /** @default 30_000 */
  readonly heartbeatIntervalMs?: number;
  readonly limits?: Partial<TaskLimits>;
  /** @default 1_024 */
  readonly sessionsMax?: number;
  readonly session?: Partial<SessionOptions>;
  /** Require authentication (SEC-2): API keys, or your own check. */
  readonly auth?: AuthOptions;
  /** Run on this host instead of real sockets (e.g. a simulated network host). */
  readonly network?: TransportHost;
  /** The actor system's clock (a SimulatedClock in simulations). */
  readonly clock?: Clock;
  /** Watch every actor (the Stately inspector's `inspect`). */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  readonly log?: Logger;
  readonly providerId?: string;
  /** The id source for serviceIds and the default providerId (seeded in simulations). @default uuid v4 */
  readonly newId?: () => string;
  /**
   * Deliberate bugs, for proving that a checker finds them (docs/simulation.md). Never set in
   * production: `skipDuplicateCheck` runs a duplicate AssignTask again (breaks TASK-4).
   */
  readonly injectBug?: { readonly skipDuplicateCheck?: boolean };
}

type EmittedOf<T extends ProviderEmitted['type']> = Extract<ProviderEmitted, { type: T }>;

export interface Provider {
  /** Starts listening and advertising; resolves with the advertised endpoint. */
  start(): Promise<{ endpoint: string }>;
  /** Stops taking tasks, finishes running ones, then says goodbye and stops (TASK-8). */
  drain(): Promise<void>;
  /** Cancels running tasks, says goodbye, closes every session with 1001 and stops. */
  stop(): Promise<void>;
  on<T extends ProviderEmitted['type']>(type: T, listener: (event: EmittedOf<T>) => void): () => void;
  readonly endpoint: string | undefined;
  /** The root actor (for inspection and advanced embedding). */
  readonly actor: Actor<ReturnType<typeof composeProvider>>;
}

export function createProvider(options: ProviderOptions): Provider {
  if (options.services.length === 0) throw new TypeError('createProvider: at least one service is required');
  const log = options.log ?? (() => {});
  const host =
    options.network ??
    realHost({
      discovery: { log, ...options.discovery },
      server: {
        port: options.port ?? 0,
        host: options.host,
        advertisedHost: options.advertisedHost,
        log,
        ...options.server,
      },
    });
  const policies = authPolicies(options.auth);
  const logic = composeProvider(host, options.port ?? 0, {
    handler: createServiceHandler(options.services, log),
    admission: policies.admission,
    authenticate: policies.authenticate,
  });
  const newId = options.newId ?? uuid;
  const providerId = options.providerId ?? `provider-${newId()}`;
  const actor = createActor(logic, {
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
    input: {
      ...providerDefaults,
      providerId,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? providerDefaults.heartbeatIntervalMs,
      limits: { ...taskLimitDefaults, ...options.limits },
      sessionsMax: options.sessionsMax ?? providerDefaults.sessionsMax,
      session: { ...providerDefaults.session, authRequired: policies.authRequired, ...options.session },
      ...(options.injectBug?.skipDuplicateCheck === true ? { injectBug: { skipDuplicateCheck: true } } : {}),
      services: options.services.map((service) => ({
        serviceId: `${service.name}-${newId()}`,
        serviceName: service.name,
        serviceVersion: service.version,
        capabilities: capabilitiesOf(service),
      })),
    },
  });
  let endpoint: string | undefined;
  let started: Promise<{ endpoint: string }> | undefined;
  const done = () => (actor.getSnapshot().status === 'done' ? Promise.resolve() : toPromise(actor).then(() => undefined));

  return {
    actor,
    get endpoint() {
      return endpoint;
    },
    on: (type, listener) => {
      const subscription = actor.on(type, listener as never);
      return () => subscription.unsubscribe();
    },
    start() {
      started ??= new Promise((resolve, reject) => {
        const listening = actor.on('provider.listening', (event) => {
          endpoint = event.endpoint;
          listening.unsubscribe();
          failed.unsubscribe();
          resolve({ endpoint: event.endpoint });
        });
        const failed = actor.on('provider.failed', (event) => {
          listening.unsubscribe();
          failed.unsubscribe();
          reject(new ProtocolError(event.error.code, event.error.message));
        });
        actor.start();
      });
      return started;
    },
    async drain() {
      actor.send({ type: 'provider.drain' });
      await done();
    },
    async stop() {
      if (started === undefined) return;
      actor.send({ type: 'provider.stop' });
      await done();
    },
  };
}
