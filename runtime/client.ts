/**
 * createClient: discover services and assign them tasks.
 *
 * ```ts
 * const client = createClient();
 * const task = client.service(greeter).greet({ name: 'Ada' }, { waitFor: { timeoutMs: 5_000 } });
 * task.onProgress((p) => console.log(p.progressPercentage));
 * console.log(await task.result);          // typed by greeter's definition
 * await client.stop();
 * ```
 * `client.assign(serviceName, operation, params)` is the untyped form of the same call.
 * Pass `network` (a simulated host) to run on the simulated network, and `clock` / `inspect` to
 * drive or watch the whole actor system.
 */
import { randomBytes } from 'node:crypto';
import type { Tracer } from '@opentelemetry/api';
import { createActor, toPromise, type Actor, type AnyActorLogic, type AnyActorRef } from 'xstate';
import { v4 as uuid } from 'uuid';
import type { UdpDiscoveryOptions } from '../adapters/udp.js';
import type { WsConnectOptions } from '../adapters/ws.js';
import type { BackoffOptions } from '../machines/backoff.js';
import { clientDefaults, unavailableFailure, type ClientEmitted, type ConnectionOptions, type RepositoryOptions } from '../machines/client.js';
import { candidatesFor, type SelectionPolicy } from '../machines/selection.js';
import { initialRepositoryStats, type RepositoryStats, type ServiceView } from '../machines/repository.js';
import type { TrustDropReason } from '../machines/discovery/trust.js';
import type { TaskOutcome } from '../machines/outcome.js';
import { realClock } from './clock.js';
import { interpreterFromEnv, type InterpreterChoice } from './interpreter.js';
import { composeClient, type TransportHost } from './compose.js';
import { networkHost, type NetworkChoice } from './network.js';
import type { Clock } from './provider.js';
import { defaultLogger, type EventDataOf, type EventsOf, type Logger, type ServiceDefinition } from './service.js';
import { clientEvents, type EventHandler, type SubscribeOptions, type Subscription } from './events/clientEvents.js';
import type { ClientSubscriptionLimits } from '../machines/events/clientSubscription.js';
import { ProtocolError, toProtocolError } from '../machines/errors.js';
import { createSupervisor } from './supervisor.js';
import { TaskHandleState, type TaskHandle } from './taskHandle.js';
import { resolveTrust, type ClientTrustOptions } from './trustStore.js';
import type { ContractOf, ServiceContract } from './typed/contract.js';
import { serviceClient, type ServiceClient } from './typed/serviceClient.js';

/** What to do about each reason an advertisement is ignored (docs/security.md, signed discovery). */
export const trustRemedies: Readonly<Record<TrustDropReason, string>> = {
  unsigned: 'to use seed-only providers, allow unsigned advertisements (allowUnsigned, --allow-unsigned)',
  signatureRequired: 'a pinned or already trusted service does not accept unsigned advertisements',
  badSignature: 'the datagram was altered or forged',
  untrustedKey: 'pin the key (trust.pinned, --trust-key) or turn trust on first use back on',
  keyMismatch: 'another key than the pinned or first-seen one; if the provider really changed its key, update the pin or the trust file',
  unsequenced: 'a signed advertisement must carry epoch and sequence',
  stale: "check both machines' clocks (or raise clockSkewMsMax)",
  replayed: 'an old copy of an advertisement already seen',
};

function describeIgnored(event: Extract<ClientEmitted, { type: 'discovery.ignored' }>): string {
  return `ignoring advertisements of ${event.serviceName} from ${event.from.host} (${event.reason}: ${event.detail}); ${trustRemedies[event.reason]}`;
}

/** Milliseconds on the actor system's clock when it tells them (SimulatedClock does), else real ones. */
const nowOf = (clock: Clock | undefined): (() => number) => {
  const timed = clock as { now?: () => number } | undefined;
  return typeof timed?.now === 'function' ? () => timed.now!() : () => performance.now();
};

function repositoryStatsOf(actor: Actor<AnyActorLogic>): RepositoryStats {
  const repository = (actor.getSnapshot().children as Record<string, AnyActorRef | undefined>).repository;
  return (repository?.getSnapshot()?.context as { stats?: RepositoryStats } | undefined)?.stats ?? initialRepositoryStats();
}
import type { InspectionSource } from './inspect/hub.js';
import { createObservation, type InspectOption } from './inspect/observation.js';
import { logReconnects } from './logging/reconnects.js';
import { clientTaskTelemetry } from './logging/telemetry.js';
import type { SwitchboardMetrics } from './metrics/metrics.js';
import { startUiServer, type UiOptions, type UiServer } from './ui/server.js';
import { clientTaskFiles } from './files/clientTaskFiles.js';
import type { ClientFiles, ClientFilesOptions } from './files/clientFiles.js';

export interface ClientOptions {
  /** @default `client-<uuid>` */
  readonly clientId?: string;
  /**
   * The secret this client proves its clientId with at every connection (SEC-10: a provider
   * binds the clientId to it, so no other client can act for it). Keep it with the clientId if
   * the client restarts under the same clientId. @default 32 random bytes, hex
   */
  readonly clientSecret?: string;
  readonly discovery?: UdpDiscoveryOptions;
  readonly connect?: WsConnectOptions;
  readonly repository?: Partial<RepositoryOptions>;
  /**
   * Connection settings (docs/protocol.md, CONN-3, CONN-4, CONN-12), each defaulted on its own,
   * `backoff`'s fields too: `{ backoff: { refusalsMax: 20 } }` rides out a provider restart.
   */
  readonly connection?: Partial<Omit<ConnectionOptions, 'backoff'>> & { readonly backoff?: Partial<BackoffOptions> };
  readonly selectionPolicy?: SelectionPolicy;
  /**
   * Failure codes after which a task is assigned again to another instance of the service (with
   * the same taskId), at most `attempts` more times. Off by default: a provider that vanished
   * may have done part of the work, so only idempotent operations should opt in.
   */
  readonly retry?: { readonly codes: readonly string[]; readonly attempts: number };
  /** Also discover and connect over NATS (docs/nats.md): `{ servers, credentials, tls, subjectPrefix }`. */
  readonly nats?: NetworkChoice['nats'];
  /** Discover on the LAN (UDP); false with `nats` uses NATS only. @default true */
  readonly lan?: boolean;
  readonly network?: TransportHost;
  readonly clock?: Clock;
  /** Watch every actor: an XState observer, or 'stately' for the Stately inspector (docs/guide.md). */
  readonly inspect?: InspectOption;
  /** Serve the web UI from this process (docs/ui.md): true, or { port, host, token }. */
  readonly ui?: boolean | UiOptions;
  /** Count what this client does (served at /metrics by the UI, or read with metrics.text()). */
  readonly metrics?: SwitchboardMetrics;
  /**
   * OpenTelemetry spans per task, through @opentelemetry/api (an optional peer): by default
   * whenever it is installed (no-ops unless the application registers an SDK); `true` or a
   * tracer requires it (MissingPeerError otherwise); `false`: none.
   */
  readonly tracing?: boolean | Tracer;
  /** @default warnings and errors on stderr (`log: () => {}` silences them) */
  readonly log?: Logger;
  /** Seeds the reconnect jitter. @default random */
  readonly seed?: number;
  /** The id source for messageIds, default taskIds, the default clientId and errorIds (seeded in simulations). @default uuid v4 */
  readonly newId?: () => string;
  /**
   * Which advertisements to believe (SEC-8; runtime/trustStore.ts). @default signed ones, each
   * serviceId's key trusted on first use; unsigned ones ignored (and logged once per source).
   */
  readonly trust?: ClientTrustOptions;
  /**
   * `xstate` runs every machine on XState's interpreter, one actor per task as well.
   * @default the SWITCHBOARD_INTERPRETER environment variable, else `engine` (compiled)
   */
  readonly interpreter?: InterpreterChoice;
  /** Timings of subscriptions (EVT-13): subscribeTimeoutMs, subscribeAttemptsMax, ackDelayMs, ackEveryEvents. */
  readonly events?: Partial<ClientSubscriptionLimits>;
  /**
   * Task files (docs/guide.md, "Task files"): the cache of files sent and fetched (in memory
   * unless `dir`; bounded by `bytesMax`). `false`: parameters cannot hold local files.
   */
  readonly files?: ClientFilesOptions | boolean;
}

export interface AssignOptions {
  /** Overall deadline (TASK-14): the provider fails the task with TIMEOUT, and so does the client. */
  readonly timeoutMs?: number;
  /** Aborting it cancels the task. */
  readonly signal?: AbortSignal;
  /** @default a new uuid */
  readonly taskId?: string;
  /**
   * When no instance offering the operation is known yet, wait for one (up to `timeoutMs`, default
   * 10 s) instead of failing at once with SERVICE_UNAVAILABLE. Cancelling meanwhile sends nothing.
   */
  readonly waitFor?: boolean | { readonly timeoutMs?: number };
}

export interface WaitForOptions {
  readonly operation?: string;
  /** @default 10_000 */
  readonly timeoutMs?: number;
  /** Aborting it stops the wait (rejects with CANCELLED). */
  readonly signal?: AbortSignal;
}

const WAIT_FOR_DEFAULT_MS = 10_000;

export interface Client {
  /** What the repository knows now (DISC-8). */
  services(): readonly ServiceView[];
  /**
   * Resolves when an instance offering the service (and operation) is known; rejects on timeout
   * with SERVICE_UNAVAILABLE, or UNKNOWN_OPERATION when the service is known but none of its
   * instances offers the operation.
   */
  waitFor(serviceName: string, options?: WaitForOptions): Promise<ServiceView>;
  assign<TResult = unknown>(serviceName: string, operation: string, params: Record<string, unknown>, options?: AssignOptions): TaskHandle<TResult>;
  /** The typed client of a service definition: a method per operation (runtime/typed/serviceClient.ts). */
  service<S extends ServiceDefinition>(definition: S): ServiceClient<ContractOf<S>>;
  /**
   * The typed client of a service known by name, typed by a contract (`switchboard types <Service>`
   * writes one). Without a contract it has no operations: use `assign` for untyped calls.
   */
  service<C extends ServiceContract<C> = {}>(serviceName: string): ServiceClient<C>;
  /** Sends a discovery request now (DISC-2). */
  refresh(): void;
  on<T extends ClientEmitted['type']>(type: T, listener: (event: Extract<ClientEmitted, { type: T }>) => void): () => void;
  /** The repository's counters: advertisements heard, ignored by the trust policy (by reason), dropped. */
  discoveryStats(): RepositoryStats;
  /** Closes every connection gracefully and stops. */
  /**
   * Subscribes to an event of a service (EVT-1..EVT-13): each event goes to `handler`, or, without
   * one, to the returned subscription's async iterator (`for await (const event of subscription)`).
   * Re-subscribes by itself after every reconnect; at-least-once resumes where it left off.
   * With a definition (defineService), the event name and the data are typed.
   */
  subscribe<S extends ServiceDefinition, K extends keyof EventsOf<S> & string>(
    service: S,
    event: K,
    handler?: EventHandler<EventDataOf<S, K>>,
    options?: SubscribeOptions,
  ): Subscription<EventDataOf<S, K>>;
  subscribe<T = unknown>(serviceName: string, event: string, handler?: EventHandler<T>, options?: SubscribeOptions): Subscription<T>;
  stop(): Promise<void>;
  readonly clientId: string;
  /** The secret this client proves its clientId with (SEC-10); `switchboard status --client-secret` takes it. */
  readonly clientSecret: string;
  readonly actor: Actor<ReturnType<typeof composeClient>>;
  /** Every inspection event of this client's actor system (tasks included), while subscribed. */
  readonly inspection: InspectionSource;
  /** The web UI server, when `ui` was given. */
  readonly ui: Promise<UiServer> | undefined;
  /** Task files: the cache of files sent and fetched (read or save a result's files from it). */
  readonly files: ClientFiles;
}

interface Pending {
  readonly handle: TaskHandleState;
  readonly serviceName: string;
  readonly operation: string;
  params: Record<string, unknown>;
  readonly deadlineMs: number | undefined;
  retriesLeft: number;
  readonly excluded: string[];
}

export function createClient(options: ClientOptions = {}): Client {
  const newId = options.newId ?? uuid;
  const clientId = options.clientId ?? `client-${newId()}`;
  const log = options.log ?? defaultLogger();
  const trust = resolveTrust(options.trust, log);
  const clientSecret = options.clientSecret ?? randomBytes(32).toString('hex');
  const host =
    options.network ??
    networkHost(
      { discovery: { log, ...options.discovery }, connect: { clientSecret, ...options.connect } },
      { nats: options.nats, lan: options.lan },
      log,
    );
  const clock = options.clock;
  const supervisor = createSupervisor({ log, newId });
  const uiOptions = options.ui === true ? {} : options.ui === false ? undefined : options.ui;
  const observation = createObservation(options.inspect, uiOptions !== undefined || options.metrics !== undefined, options.log);
  const telemetry = clientTaskTelemetry(clientId, { log, ...(options.tracing === undefined ? {} : { tracing: options.tracing }) });
  const interpreter = options.interpreter ?? interpreterFromEnv();
  const actor = createActor(composeClient(host, supervisor, { interpreter, log }), {
    clock: clock ?? realClock,
    ...(observation.inspect === undefined ? {} : { inspect: observation.inspect }),
    input: {
      ...clientDefaults,
      clientId,
      seed: options.seed ?? Math.floor(Math.random() * 2 ** 31),
      repository: { ...clientDefaults.repository, ...options.repository, trust: trust.options },
      connection: {
        ...clientDefaults.connection,
        ...options.connection,
        backoff: { ...clientDefaults.connection.backoff, ...options.connection?.backoff },
      },
      ...(options.selectionPolicy === undefined ? {} : { selectionPolicy: options.selectionPolicy }),
    },
  });
  const pending = new Map<string, Pending>();
  /** Tasks waiting for their service to appear (AssignOptions.waitFor): how to stop each wait. */
  const waiting = new Map<string, AbortController>();
  const submittedTo = new Map<string, string>(); // taskId -> serviceId
  const timers = { set: (fn: () => void, ms: number) => (clock ?? globalThis).setTimeout(fn, ms), clear: (id: unknown) => (clock ?? globalThis).clearTimeout(id as never) };

  const submit = (taskId: string, entry: Pending) =>
    actor.send({
      type: 'client.assign',
      request: {
        taskId,
        messageId: newId(),
        serviceName: entry.serviceName,
        operation: entry.operation,
        params: entry.params,
        deadlineMs: entry.deadlineMs,
        excludeServiceIds: entry.excluded,
      },
    });

  actor.on('discovery.ignored', (event) => log('warn', describeIgnored(event)));
  actor.on('connection.unreadable', ({ endpoint, taskId, reason }) =>
    log('warn', `${endpoint}: a message${taskId === undefined ? '' : ` about task ${taskId}`} was not understood (${reason})`),
  );
  actor.on('trust.learned', (event) => {
    log('info', `trusting key ${event.publicKey} for ${event.serviceName} (${event.serviceId}) from now on (first use)`);
    trust.remember(event);
  });
  observation.attach(actor);
  logReconnects(actor, log, nowOf(clock));
  actor.on('task.submitted', (event) => {
    submittedTo.set(event.taskId, event.serviceId);
    telemetry.submitted(event.taskId, event.serviceId, event.endpoint);
  });
  actor.on('task.progress', ({ taskId, type: _type, ...progress }) => pending.get(taskId)?.handle.report(progress));
  actor.on('task.settled', ({ taskId, outcome }) => {
    const entry = pending.get(taskId);
    if (!entry) return;
    // FILE-12: a result naming files settles once they are fetched.
    const fetched = taskFiles.afterSettled(taskId, submittedTo.get(taskId), outcome, (progress) => entry.handle.report(progress));
    if (fetched !== undefined) {
      pending.delete(taskId);
      submittedTo.delete(taskId);
      void fetched.then((final) => {
        telemetry.settled(taskId, final);
        entry.handle.settle(final);
      });
      return;
    }
    if (shouldRetry(entry, outcome)) {
      entry.retriesLeft--;
      const serviceId = submittedTo.get(taskId);
      if (serviceId !== undefined) entry.excluded.push(serviceId);
      submit(taskId, entry);
      return;
    }
    pending.delete(taskId);
    submittedTo.delete(taskId);
    telemetry.settled(taskId, outcome);
    entry.handle.settle(outcome);
  });
  const shouldRetry = (entry: Pending, outcome: TaskOutcome) =>
    outcome.status === 'Failed' && entry.retriesLeft > 0 && (options.retry?.codes ?? []).includes(outcome.error.code);

  supervisor.root(actor, 'client');
  const events = clientEvents(actor, {
    clientId,
    clock,
    limits: options.events,
    newId,
    log,
    waitFor: (serviceName, timeoutMs) => client.waitFor(serviceName, { timeoutMs }),
    services: () => actor.getSnapshot().context.services,
    inspect: observation.inspect,
  });

  const taskFiles = clientTaskFiles({
    clientId,
    options: options.files,
    // A file link opens with the task connection's TLS, pin and identity (SEC-1, SEC-10).
    connect: { clientSecret, ...options.connect },
    clock,
    interpreter,
    services: () => actor.getSnapshot().context.services,
    find: (serviceName, operation) => client.waitFor(serviceName, { operation, timeoutMs: WAIT_FOR_DEFAULT_MS }),
  });
  /** FILE-12: the task's files are offered first; the AssignTask then goes where they went. */
  const uploadThenSubmit = (taskId: string, entry: Pending) => {
    taskFiles.prepare(taskId, entry.serviceName, entry.operation, entry.params, (progress) => entry.handle.report(progress)).then(
      ({ params, exclude }) => {
        entry.params = params;
        entry.excluded.push(...exclude);
        if (pending.get(taskId) === entry) submit(taskId, entry);
      },
      (error: unknown) => {
        pending.delete(taskId);
        const failure = toProtocolError(error);
        entry.handle.settle(failure.code === 'CANCELLED' ? { status: 'Cancelled' } : { status: 'Failed', error: failure.toShape() });
      },
    );
  };

  const findService = (serviceName: string, operation: string | undefined) =>
    candidatesFor(actor.getSnapshot().context.services, { serviceName, operation: operation ?? '' }).at(0) ??
    (operation === undefined ? actor.getSnapshot().context.services.find((s) => s.serviceName === serviceName) : undefined);

  /** Why nothing can take the task: the service is unknown, or known without the operation. */
  const notFound = (serviceName: string, operation: string | undefined, waitedMs: number): ProtocolError => {
    const failure = operation === undefined ? undefined : unavailableFailure(actor.getSnapshot().context.services, { serviceName, operation });
    return failure?.code === 'UNKNOWN_OPERATION'
      ? new ProtocolError('UNKNOWN_OPERATION', failure.message)
      : new ProtocolError('SERVICE_UNAVAILABLE', `no provider of ${serviceName}${operation ? `.${operation}` : ''} found within ${waitedMs} ms`);
  };

  /** AssignOptions.waitFor: submits once an instance is known; the task fails if none comes in time. */
  const submitWhenFound = (taskId: string, entry: Pending, timeoutMs: number) => {
    const stopWaiting = new AbortController();
    waiting.set(taskId, stopWaiting);
    client.waitFor(entry.serviceName, { operation: entry.operation, timeoutMs, signal: stopWaiting.signal }).then(
      () => {
        if (waiting.delete(taskId)) submit(taskId, entry);
      },
      (error: unknown) => {
        if (!waiting.delete(taskId)) return;
        pending.delete(taskId);
        entry.handle.settle(stopWaiting.signal.aborted ? stopWaiting.signal.reason : { status: 'Failed', error: toProtocolError(error).toShape() });
      },
    );
  };
  const waitForMsOf = (option: AssignOptions['waitFor']): number | undefined =>
    option === undefined || option === false ? undefined : option === true ? WAIT_FOR_DEFAULT_MS : (option.timeoutMs ?? WAIT_FOR_DEFAULT_MS);
  /** Ends a task that is still waiting for its service, with `outcome`; false when it is not waiting. */
  const endWait = (taskId: string, outcome: TaskOutcome): boolean => {
    const stopWaiting = waiting.get(taskId);
    if (stopWaiting === undefined) return false;
    stopWaiting.abort(outcome);
    return true;
  };

  let ui: Promise<UiServer> | undefined;
  const client: Client = {
    clientId,
    clientSecret,
    actor,
    inspection: observation.hub,
    get ui() {
      return ui;
    },
    get files() {
      return taskFiles.cache;
    },
    services: () => actor.getSnapshot().context.services,
    discoveryStats: () => repositoryStatsOf(actor),
    refresh: () => actor.send({ type: 'client.refresh' }),
    on: (type, listener) => {
      const subscription = actor.on(type, supervisor.listener(type, listener) as never);
      return () => subscription.unsubscribe();
    },
    waitFor(serviceName, { operation, timeoutMs = WAIT_FOR_DEFAULT_MS, signal } = {}) {
      const known = findService(serviceName, operation);
      if (known) return Promise.resolve(known);
      return new Promise((resolve, reject) => {
        const finish = (settle: () => void) => {
          timers.clear(timer);
          subscription.unsubscribe();
          signal?.removeEventListener('abort', onAbort);
          settle();
        };
        const onAbort = () => finish(() => reject(new ProtocolError('CANCELLED', `stopped waiting for ${serviceName}`)));
        const timer = timers.set(() => finish(() => reject(notFound(serviceName, operation, timeoutMs))), timeoutMs);
        const subscription = actor.on('services.changed', () => {
          const found = findService(serviceName, operation);
          if (found) finish(() => resolve(found));
        });
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    service: ((service: ServiceDefinition | string) => serviceClient(client.assign, service)) as Client['service'],
    subscribe: ((service: ServiceDefinition | string, event: string, handler?: EventHandler, subscribeOptions?: SubscribeOptions) =>
      events.subscribe(typeof service === 'string' ? service : service.name, event, handler, subscribeOptions)) as Client['subscribe'],
    assign(serviceName, operation, params, assignOptions = {}) {
      const taskId = assignOptions.taskId ?? newId();
      const handle = new TaskHandleState(taskId, () => {
        if (!endWait(taskId, { status: 'Cancelled' }) && !taskFiles.cancel(taskId)) actor.send({ type: 'client.cancel', taskId });
      });
      const entry: Pending = {
        handle,
        serviceName,
        operation,
        params,
        deadlineMs: assignOptions.timeoutMs,
        retriesLeft: options.retry?.attempts ?? 0,
        excluded: [],
      };
      pending.set(taskId, entry);
      telemetry.assigned(taskId, serviceName, operation);
      if (assignOptions.signal) {
        if (assignOptions.signal.aborted) queueMicrotask(() => void handle.cancel());
        else assignOptions.signal.addEventListener('abort', () => void handle.cancel(), { once: true });
      }
      const waitMs = waitForMsOf(assignOptions.waitFor);
      if (taskFiles.wants(params)) uploadThenSubmit(taskId, entry);
      else if (waitMs === undefined || findService(serviceName, operation) !== undefined) submit(taskId, entry);
      else submitWhenFound(taskId, entry, waitMs);
      return handle as unknown as TaskHandle<never>;
    },
    async stop() {
      // TASK-16: a task still waiting for its service ends too, and says why.
      for (const taskId of [...waiting.keys()]) {
        endWait(taskId, { status: 'Failed', error: { code: 'CONNECTION_LOST', message: 'The client is stopping.' } });
      }
      if (actor.getSnapshot().status === 'active') {
        actor.send({ type: 'client.stop' });
        await toPromise(actor).catch(() => undefined);
        actor.stop();
      }
      await ui?.then((server) => server.close()).catch(() => undefined);
      await observation.close();
      await taskFiles.close();
    },
  };
  // Watchers subscribe before the actor starts, so they see every actor from the first.
  options.metrics?.observe(client, 'client');
  if (uiOptions !== undefined) {
    ui = startUiServer({ client, log, ...(options.metrics === undefined ? {} : { metrics: options.metrics }) }, uiOptions);
    ui.then((server) => log('info', `web UI: ${server.url}`, { url: server.url }), (error: unknown) => log('error', 'the web UI could not start', error));
  }
  actor.start();
  return client;
}
