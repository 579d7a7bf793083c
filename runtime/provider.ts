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
import type { KeyObject } from 'node:crypto';
import type { Tracer } from '@opentelemetry/api';
import { createActor, toPromise, type Actor, type ActorOptions, type AnyActorLogic } from 'xstate';
import { v4 as uuid } from 'uuid';
import type { DiscoveryPortState, UdpDiscoveryOptions } from '../adapters/udp.js';
import type { WsServerOptions } from '../adapters/ws.js';
import { ProtocolError } from '../machines/errors.js';
import { providerDefaults, type ProviderEmitted, type SessionOptions } from '../machines/provider.js';
import { taskLimitDefaults, type TaskLimits } from '../machines/taskLedger.js';
import { authorize, type Acl } from './acl.js';
import { authPolicies, type AuthOptions } from './auth.js';
import { composeProvider, type TransportHost } from './compose.js';
import { realClock } from './clock.js';
import { createServiceHandler } from './handler.js';
import { interpreterFromEnv, type InterpreterChoice } from './interpreter.js';
import { networkHost, type NetworkChoice, type NetworkHost } from './network.js';
import { capabilitiesOf, defaultLogger, type EventDataOf, type EventsOf, type Logger, type ServiceDefinition } from './service.js';
import { attachProviderEvents, eventsField, type PublishOptions } from './events/providerEvents.js';
import type { EventHubCounters, EventLimits } from './events/eventHub.js';
import { hookObserver, withConnectHooks, type NamedHooks, type SessionHooks } from './hooks/sessionHooks.js';
import { signingFor } from './signing.js';
import { compatSettings, type CompatOption } from './compat.js';
import { createSupervisor, InternalFault } from './supervisor.js';
import type { InspectionSource } from './inspect/hub.js';
import { createObservation, type InspectOption } from './inspect/observation.js';
import { providerTaskTelemetry } from './logging/telemetry.js';
import type { SwitchboardMetrics } from './metrics/metrics.js';
import { startUiServer, type UiOptions, type UiServer } from './ui/server.js';
import { FILE_LINK_PATH, ProviderFiles, type ProviderFilesOptions } from './files/providerFiles.js';

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
  /** SEC-15: connections without a credential while authentication is required. @default 256 */
  readonly anonymousSessionsMax?: number;
  /** SEC-15: sessions per principal (API key, certificate). @default 64 */
  readonly sessionsPerPrincipalMax?: number;
  /** SEC-16: task messages per principal per window, over all its sessions. @default 10,000 per 1,000 ms */
  readonly principalRateLimit?: { readonly messagesMax: number; readonly windowMs: number };
  readonly session?: Partial<SessionOptions>;
  /** Require authentication (SEC-2): API keys, or your own check. */
  readonly auth?: AuthOptions;
  /** Authorisation (SEC-4): who may run which operation (runtime/acl.ts; `loadAcl` reads a file). */
  readonly acl?: Acl;
  /** Also serve on NATS (docs/nats.md): `{ servers, credentials, tls, subjectPrefix, name }`. */
  readonly nats?: NetworkChoice['nats'];
  /** Serve on the LAN (UDP + WebSocket); false with `nats` serves on NATS only. @default true */
  readonly lan?: boolean;
  /** Run on this host instead of real sockets (e.g. a simulated network host). */
  readonly network?: TransportHost;
  /** The actor system's clock (a SimulatedClock in simulations). */
  readonly clock?: Clock;
  /** Watch every actor: an XState observer, or 'stately' for the Stately inspector (docs/guide.md). */
  readonly inspect?: InspectOption;
  /** Serve the web UI (the provider's view: its actors, tasks and /metrics) from this process. */
  readonly ui?: boolean | UiOptions;
  /** Count what this provider does (served at /metrics by the UI, or read with metrics.text()). */
  readonly metrics?: SwitchboardMetrics;
  /**
   * OpenTelemetry spans per task, through @opentelemetry/api (an optional peer): by default
   * whenever it is installed (no-ops unless the application registers an SDK); `true` or a
   * tracer requires it (MissingPeerError otherwise); `false`: none.
   */
  readonly tracing?: boolean | Tracer;
  readonly log?: Logger;
  readonly providerId?: string;
  /**
   * The id source for serviceIds, the default providerId and errorIds (SEC-11: the id an
   * INTERNAL_ERROR names and its log line carries); seeded in simulations. @default uuid v4
   */
  readonly newId?: () => string;
  /**
   * Deliberate bugs, for proving that a checker finds them (docs/simulation.md). Never set in
   * production: `skipDuplicateCheck` runs a duplicate AssignTask again (breaks TASK-4).
   */
  readonly injectBug?: { readonly skipDuplicateCheck?: boolean };
  /**
   * How the provider signs its advertisements (SEC-8; runtime/keys.ts). @default a fresh key
   * for this process, which clients can trust on first use but not pin.
   * - `{ keyFile }`: the key kept in that file (made there, mode 0600, on first use): pin it.
   *   The file is locked while the provider runs (one running provider per key).
   * - `{ privateKey, epoch? }`: this Ed25519 key (epoch: greater than any earlier run's; @default now).
   * - `false`: unsigned, like a seed-only provider: clients take it only with `allowUnsigned`.
   * A key file that cannot be read or made throws SigningKeyError here.
   */
  readonly signing?: SigningOptions;
  /**
   * Deviations for peers built from the seed alone that cannot be liberal defaults (runtime/compat.ts,
   * docs/protocol.md "The compat profile"): `'field'`, or a list of `'keyed-capabilities'`,
   * `'flat-status'`. @default none
   */
  readonly compat?: CompatOption;
  /**
   * `xstate` runs every machine on XState's interpreter, one actor per task as well.
   * @default the SWITCHBOARD_INTERPRETER environment variable, else `engine` (compiled)
   */
  readonly interpreter?: InterpreterChoice;
  /** Bounds of events (EVT-3, EVT-4, EVT-8, EVT-10): docs/protocol.md, "Defaults of the extensions". */
  readonly events?: Partial<EventLimits>;
  /**
   * Session hooks of the provider itself (HOOK-1..HOOK-6), asked and told with every service's own
   * `hooks`: `connect` may veto a connection, `authenticate` and `disconnect` observe.
   */
  readonly hooks?: SessionHooks;
  /**
   * Task files (docs/guide.md, "Task files"): the store of files that operations declaring
   * `taskFile()` fields take and return. On by default when an operation declares one; `false`
   * turns the file links off.
   */
  readonly files?: ProviderFilesOptions | boolean;
}

export type SigningOptions =
  /** `nextFreeSlot`: when the file is in use by another running provider, take `<name>-2.json`, ... instead of failing. */
  | { readonly keyFile: string; readonly nextFreeSlot?: boolean }
  | { readonly privateKey: KeyObject; readonly epoch?: number }
  | false;

type EmittedOf<T extends ProviderEmitted['type']> = Extract<ProviderEmitted, { type: T }>;

export interface Provider {
  /**
   * Starts listening and advertising; resolves with the advertised endpoint and, on the LAN,
   * whether the discovery port could be bound (`discovery.listening: false`: another process holds
   * it exclusively, so this provider cannot answer discovery requests on this host; see
   * "Sharing the discovery port" in docs/guide.md).
   */
  start(): Promise<{ endpoint: string; discovery?: DiscoveryPortState | undefined }>;
  /** Stops taking tasks, finishes running ones, then says goodbye and stops (TASK-8). */
  drain(): Promise<void>;
  /** Cancels running tasks, says goodbye, closes every session with 1001 and stops. */
  stop(): Promise<void>;
  on<T extends ProviderEmitted['type']>(type: T, listener: (event: EmittedOf<T>) => void): () => void;
  readonly endpoint: string | undefined;
  /** The discovery port's state once known (LAN discovery only). */
  readonly discovery: DiscoveryPortState | undefined;
  /** The public key its advertisements are signed with (what clients pin); undefined when unsigned. */
  readonly publicKey: string | undefined;
  /** The file that key is kept in, if any. */
  readonly keyFile: string | undefined;
  readonly providerId: string;
  /** The root actor (for inspection and advanced embedding). */
  readonly actor: Actor<ReturnType<typeof composeProvider>>;
  /** Every inspection event of this provider's actor system (tasks included), while subscribed. */
  readonly inspection: InspectionSource;
  /** The web UI server, when `ui` was given. */
  readonly ui: Promise<UiServer> | undefined;
  /**
   * Publishes an event of a hosted service (EVT-3, EVT-6): to every subscriber, or `to` one
   * clientId or `{ group }`. The data is checked against the event's schema and size first (a
   * TypeError or RangeError: nothing is sent). Returns how many subscriptions it was queued for.
   */
  publish<S extends ServiceDefinition, K extends keyof EventsOf<S> & string>(service: S, event: K, data: EventDataOf<S, K>, options?: PublishOptions): number;
  publish(serviceName: string, event: string, data: unknown, options?: PublishOptions): number;
  /**
   * What events have done so far (EVT-9, EVT-14: ignored input is counted): publications,
   * deliveries queued and sent, acks and unsubscribes for subscriptions not held, and the
   * subscriptions held now. Undefined when no hosted service declares events.
   */
  readonly events: (EventHubCounters & { readonly subscriptions: number }) | undefined;
  /** Puts a client in a named group, a target of `publish` (EVT-6: groups are the provider's). */
  join(group: string, clientId: string): void;
  leave(group: string, clientId: string): void;
  /** Task files: the store and the file links' counters; undefined when no operation takes files. */
  readonly files: ProviderFiles | undefined;
}

/** How long start() waits for the discovery port's bind result after the WebSocket server listens. */
const PORT_STATE_WAIT_MS = 1_000;

const aclAuthorizer = (acl: Acl) => (request: Parameters<typeof authorize>[1]) => authorize(acl, request).allowed;

export function createProvider(options: ProviderOptions): Provider {
  if (options.services.length === 0) throw new TypeError('createProvider: at least one service is required');
  const log = options.log ?? defaultLogger();
  // DISC-1: whether the discovery port could be bound, told once by the UDP adapter.
  let discoveryState: DiscoveryPortState | undefined;
  let portStateKnown: () => void = () => {};
  const portState = new Promise<void>((resolve) => (portStateKnown = resolve));
  const onPortState = (state: DiscoveryPortState): void => {
    discoveryState = state;
    options.discovery?.onPortState?.(state);
    portStateKnown();
  };
  const usesUdp = options.network === undefined && options.lan !== false;
  const clockNow = (options.clock as { now?: () => number } | undefined)?.now?.bind(options.clock);
  const policies = authPolicies(options.auth, clockNow ?? Date.now);
  const files = filesFor(options, log, policies);
  const compat = compatSettings(options.compat);
  const host: NetworkHost =
    options.network ??
    networkHost(
      {
        discovery: { log, ...compat.discovery, ...options.discovery, onPortState },
        server: {
          port: options.port ?? 0,
          host: options.host,
          advertisedHost: options.advertisedHost,
          log,
          ...compat.server,
          ...options.server,
          ...(files === undefined ? {} : { sideChannels: { ...options.server?.sideChannels, [FILE_LINK_PATH]: files.accept } }),
        },
      },
      { nats: options.nats, lan: options.lan },
      log,
    );
  const newId = options.newId ?? uuid;
  const supervisor = createSupervisor({ log, newId });
  const signing = signingFor(options, log);
  const signer = signing?.signer;
  const providerId = options.providerId ?? `provider-${newId()}`;
  const namedHooks: NamedHooks[] = [
    ...(options.hooks === undefined ? [] : [{ serviceName: 'provider', hooks: options.hooks }]),
    ...options.services.flatMap((service) => (service.hooks === undefined ? [] : [{ serviceName: service.name, hooks: service.hooks }])),
  ];
  const telemetry = providerTaskTelemetry(providerId, { log, ...(options.tracing === undefined ? {} : { tracing: options.tracing }) });
  const logic = composeProvider(
    host,
    options.port ?? 0,
    {
      handler: createServiceHandler(options.services.map((service) => telemetry.wrap(files?.wrap(service) ?? service)), log, newId),
      // HOOK-1: every connect hook is asked with the admission policy, within the same answer delay.
      admission: withConnectHooks(policies.admission, namedHooks, log),
      authenticate: policies.authenticate,
      ...(signer === undefined ? {} : { signer }),
    },
    supervisor,
    { interpreter: options.interpreter ?? interpreterFromEnv(), log },
  );
  const uiOptions = options.ui === true ? {} : options.ui === false ? undefined : options.ui;
  const observation = createObservation(options.inspect, uiOptions !== undefined || options.metrics !== undefined, options.log);
  const actor = createActor(logic, {
    clock: options.clock ?? realClock,
    ...(observation.inspect === undefined ? {} : { inspect: observation.inspect }),
    input: {
      ...providerDefaults,
      providerId,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? providerDefaults.heartbeatIntervalMs,
      limits: { ...taskLimitDefaults, ...options.limits },
      sessionsMax: options.sessionsMax ?? providerDefaults.sessionsMax,
      anonymousSessionsMax: options.anonymousSessionsMax ?? providerDefaults.anonymousSessionsMax,
      sessionsPerPrincipalMax: options.sessionsPerPrincipalMax ?? providerDefaults.sessionsPerPrincipalMax,
      principalRateLimit: options.principalRateLimit ?? providerDefaults.principalRateLimit,
      ...(options.acl === undefined ? {} : { authorize: aclAuthorizer(options.acl) }),
      ...(compat.finishedStatusOnGetStatus ? { finishedStatusOnGetStatus: true } : {}),
      session: { ...providerDefaults.session, authRequired: policies.authRequired, ...options.session },
      ...(options.injectBug?.skipDuplicateCheck === true ? { injectBug: { skipDuplicateCheck: true } } : {}),
      services: options.services.map((service) => ({
        serviceId: `${service.name}-${newId()}`,
        serviceName: service.name,
        serviceVersion: service.version,
        capabilities: capabilitiesOf(service),
        ...eventsField(service),
        ...(files === undefined ? {} : { features: ['files'] }),
      })),
    },
  });
  supervisor.root(actor, 'provider');
  // SEC-10: a file link for a clientId a session owns must be that owner's.
  if (files !== undefined) files.sessionOwnerOf = (clientId) => actor.getSnapshot().context.owners.get(clientId)?.owner;
  // SEC-21: a child that failed was handled by the provider; say so in the log. A fault the
  // supervisor already logged is named by its errorId only.
  actor.on('provider.fault', ({ actorId, error }) => {
    if (error instanceof InternalFault) log('warn', `${actorId} ended by an unexpected error (errorId ${error.errorId})`, { actorId, errorId: error.errorId });
    else supervisor.fault(actorId, error, { actorId });
  });
  // Durable outcomes (docs/nats.md): every settled outcome, delivered or not, is kept in JetStream.
  const outcomes = host.outcomes;
  if (outcomes !== undefined) actor.on('task.settled', (event) => outcomes.record(event.clientId, event.taskId, event.outcome));
  observation.attach(actor);
  actor.on('task.settled', (event) => telemetry.settled(event));
  const events = attachProviderEvents(actor, options.services, { clock: options.clock, limits: options.events, acl: options.acl, log, inspect: observation.inspect });
  // HOOK-2, HOOK-3: observing hooks are told after the fact, outside the sessions' message path (HOOK-6).
  if (namedHooks.length > 0) {
    const observe = hookObserver(namedHooks, log);
    for (const type of ['session.opened', 'session.bound', 'session.ended'] as const) actor.on(type, observe);
  }
  let endpoint: string | undefined;
  let started: Promise<{ endpoint: string }> | undefined;
  let ui: Promise<UiServer> | undefined;
  const done = () => (actor.getSnapshot().status === 'done' ? Promise.resolve() : toPromise(actor).then(() => undefined));
  // The key file is the provider's while it runs: unlocked once it has stopped, however it stopped.
  if (signing !== undefined) actor.subscribe({ complete: signing.release, error: signing.release });
  const closeWatchers = async () => {
    await ui?.then((server) => server.close()).catch(() => undefined);
    await observation.close();
    await files?.close();
  };

  const provider: Provider = {
    actor,
    providerId,
    inspection: observation.hub,
    files,
    get ui() {
      return ui;
    },
    get endpoint() {
      return endpoint;
    },
    get discovery() {
      return discoveryState;
    },
    publicKey: signer?.publicKey,
    keyFile: signing?.keyFile,
    on: (type, listener) => {
      const subscription = actor.on(type, supervisor.listener(type, listener) as never);
      return () => subscription.unsubscribe();
    },
    start() {
      // The file store opens first (FILE-6: a disk store takes in what it held before).
      started ??= (files?.ready ?? Promise.resolve()).then(() => new Promise((resolve, reject) => {
        const listening = actor.on('provider.listening', (event) => {
          endpoint = event.endpoint;
          listening.unsubscribe();
          failed.unsubscribe();
          // The port's bind result comes within a tick of the socket's creation; never wait long for it.
          const known = usesUdp ? Promise.race([portState, new Promise<void>((done) => setTimeout(done, PORT_STATE_WAIT_MS).unref())]) : Promise.resolve();
          void known.then(() => resolve({ endpoint: event.endpoint, ...(discoveryState === undefined ? {} : { discovery: discoveryState }) }));
        });
        const failed = actor.on('provider.failed', (event) => {
          listening.unsubscribe();
          failed.unsubscribe();
          reject(new ProtocolError(event.error.code, event.error.message));
        });
        actor.start();
      }));
      return started;
    },
    publish: ((service: ServiceDefinition | string, event: string, data: unknown, publishOptions?: PublishOptions) => {
      const serviceName = typeof service === 'string' ? service : service.name;
      if (events === undefined) throw new TypeError(`publish: ${serviceName} declares no event "${event}"`);
      return events.publish(serviceName, event, data, publishOptions);
    }) as Provider['publish'],
    get events() {
      return events === undefined ? undefined : { ...events.hub.counters, subscriptions: events.hub.subscriptionCount };
    },
    join: (group, clientId) => events?.hub.join(group, clientId),
    leave: (group, clientId) => events?.hub.leave(group, clientId),
    async drain() {
      actor.send({ type: 'provider.drain' });
      await done();
      await closeWatchers();
    },
    async stop() {
      // Never started, or already stopped: nothing to stop (and nothing to tell the stopped actor).
      if (started === undefined || actor.getSnapshot().status !== 'active') {
        signing?.release();
      } else {
        await outcomes?.flushed();
        // EVT-15: SubscriptionEnded (stopping) reaches each session before its close.
        events?.stop();
        actor.send({ type: 'provider.stop' });
        await done();
      }
      await closeWatchers();
    },
  };
  // Watchers subscribe before the actor starts, so they see every actor from the first.
  options.metrics?.observe(provider, 'provider');
  if (uiOptions !== undefined) {
    ui = startUiServer({ provider, log, ...(options.metrics === undefined ? {} : { metrics: options.metrics }) }, uiOptions);
    ui.then((server) => log('info', `web UI: ${server.url}`, { url: server.url }), (error: unknown) => log('error', 'the web UI could not start', error));
  }
  return provider;
}

/** The provider's task files: on when an operation declares them, unless turned off. */
function filesFor(options: ProviderOptions, log: Logger, { verifyToken, verifyCertificate }: Pick<ProviderFilesOptions, 'verifyToken' | 'verifyCertificate'>): ProviderFiles | undefined {
  if (options.files === false || !(options.files !== undefined || ProviderFiles.usedBy(options.services))) return undefined;
  const given = options.files === true || options.files === undefined ? {} : options.files;
  // FILE-9: the provider's ACL decides file:put and file:get as it decides operations.
  const acl = options.acl;
  const authorizeFiles = acl === undefined ? {} : { authorize: (request: Parameters<typeof authorize>[1]) => authorize(acl, request).allowed };
  // SEC-2, SEC-10: a file link needs the credential a session would need, and is identified as one is.
  const credentials = { ...(verifyToken === undefined ? {} : { verifyToken }), ...(verifyCertificate === undefined ? {} : { verifyCertificate }) };
  return new ProviderFiles({ ...authorizeFiles, ...credentials, ...given }, log, options.clock, options.interpreter ?? interpreterFromEnv());
}
