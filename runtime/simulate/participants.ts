/**
 * One provider or client of a plan, built with the public runtime API (createProvider,
 * createClient) on whatever host and clock it is given: a simulated host and a participant clock
 * in virtual time, real sockets and real timers in a `--real` process. Both write the same
 * observations (./history.ts), so one checker judges both.
 *
 * What is observed, and how:
 * - tasks at the client through the task handle (what an application sees: submitted, progress,
 *   exactly one settlement);
 * - operation runs inside the service's own code (each operation is wrapped);
 * - provider task outcomes, sessions and repository changes through the runtime's events;
 * - advertisements the repository acted on (past the SEC-8 trust policy), frames a session heard,
 *   and statechart states through the `inspect` observer, by machine id (`actorRef.logic?.id ??
 *   snapshot.machine?.id`), never by actor internals, so tasks stay visible when they are no
 *   longer actors.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { InspectionEvent } from 'xstate';
import * as z from 'zod';
import { Prng } from '../../adapters/simulated/prng.js';
import { deriveSeed } from '../../machines/random.js';
import { defaultSelectionPolicy, type SelectionPolicy } from '../../machines/selection.js';
import { createClient, type Client, type ClientOptions } from '../client.js';
import { keyFromSeed } from '../keys.js';
import type { TransportHost } from '../compose.js';
import { createProvider, type Clock, type Provider } from '../provider.js';
import { defineService, type OperationDefinition, type ServiceDefinition } from '../service.js';
import type { FileRef } from '../../machines/files/fileRef.js';
import type { TaskHandle } from '../taskHandle.js';
import { clientSubscriptionObserver, clientSubscriptions, providerSubscriptionObserver, publish, simulatedEvents } from './eventParticipants.js';
import type { FileFabric } from './fileLinks.js';
import { clientFileUploads, providerFileEndpoint, type ProviderFileEndpoint } from './fileParticipants.js';
import { summarise, type Observation } from './history.js';
import { EVEN_GROUP, evenClients, type Plan, type PlannedClient, type PlannedProvider, type PlannedPublication, type PlannedSubscription, type PlannedTask } from './plan.js';
import type { Range, SimulatedEvent, SimulatedOperation } from './scenario.js';

/** The TCP port every simulated or namespaced provider listens on. */
export const PROVIDER_PORT = 8080;

export interface ParticipantEnv {
  readonly host: TransportHost;
  /** The participant's clock (virtual time), or undefined for real timers. */
  readonly clock: Clock | undefined;
  /** Milliseconds since the start of the run. */
  readonly now: () => number;
  readonly record: (observation: Observation) => void;
  readonly seed: number;
  /** Record statechart states too (for the HTML report). */
  readonly detail: boolean;
  /** File links (virtual time only; without them a task with files fails with UNSUPPORTED_MESSAGE). */
  readonly files?: FileFabric | undefined;
}

/** User service modules by provider entry name (the scenario's `modules`, loaded). */
export type ServiceModules = Readonly<Record<string, readonly ServiceDefinition[]>>;

// ---- simulated operations ------------------------------------------------------------------------

const DEFAULT_DURATION: Range = { min: 100, max: 100 };

function sleep(clock: Clock | undefined, ms: number, signal: AbortSignal): Promise<void> {
  const timers = clock ?? globalThis;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const id = timers.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      timers.clearTimeout(id as never);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

class SimulatedFailure extends Error {
  constructor(readonly code: string) {
    super('simulated failure');
  }
}

/** A service whose operations sleep on the participant clock, report progress, then complete or fail. */
function simulatedService(
  definition: { name: string; version?: string | undefined; operations: Record<string, SimulatedOperation>; events?: Record<string, SimulatedEvent> | undefined },
  env: ParticipantEnv,
  instance: string,
  files: ProviderFileEndpoint | undefined,
): ServiceDefinition {
  const operations: Record<string, OperationDefinition> = {};
  for (const [key, operation] of Object.entries(definition.operations)) {
    const range = operation.duration ?? DEFAULT_DURATION;
    const steps = operation.progressSteps ?? 4;
    operations[key] = {
      params: anyParams,
      run: async (params, ctx) => {
        // FILE-10: the task's files must be here, and this client's, before the work starts.
        const named = (params as { files?: unknown }).files;
        if (named !== undefined) {
          const missing = files === undefined ? 'FILE_NOT_FOUND' : await files.use(ctx.clientId, ctx.taskId, named);
          if (missing !== undefined) throw new SimulatedFailure(missing);
        }
        // Per task, not per call order: the same seed gives the same durations and failures.
        const prng = Prng.derive(env.seed, `op:${instance}:${ctx.clientId}:${ctx.taskId}`);
        const totalMs = range.min === range.max ? range.min : prng.integer(range.min, range.max);
        const fails = prng.chance(operation.failureRate ?? 0);
        const stepMs = Math.floor(totalMs / (steps + 1));
        for (let step = 1; step <= steps; step++) {
          await sleep(env.clock, stepMs, ctx.signal);
          ctx.progress(Math.floor((100 * step) / (steps + 1)));
        }
        await sleep(env.clock, totalMs - steps * stepMs, ctx.signal);
        if (fails) throw new SimulatedFailure(operation.failureCode ?? 'OPERATION_FAILED');
        // FILE-10: files the task makes are returned by FileRef, the client's, at the top level of the result.
        const results = Number((params as { resultFiles?: unknown }).resultFiles ?? 0);
        if (results > 0 && files !== undefined) return { tookMs: totalMs, files: await files.make(ctx.clientId, ctx.taskId, results) };
        return { tookMs: totalMs };
      },
    };
  }
  const events = simulatedEvents(definition.events);
  return defineService({ name: definition.name, version: definition.version ?? '1.0.0', operations, ...(events === undefined ? {} : { events }) });
}

// Any JSON object as parameters (simulated operations ignore them).
const anyParams = z.record(z.string(), z.unknown());

/** The same service with each operation's run recorded as a `ran` observation. */
function observed(service: ServiceDefinition, env: ParticipantEnv, participant: string, incarnation: number): ServiceDefinition {
  const operations: Record<string, OperationDefinition> = {};
  for (const [key, operation] of Object.entries(service.operations) as [string, OperationDefinition][]) {
    operations[key] = {
      ...operation,
      run: (params, ctx) => {
        env.record({ t: env.now(), type: 'ran', participant, incarnation, clientId: ctx.clientId, taskId: ctx.taskId });
        return operation.run(params, ctx);
      },
    };
  }
  return { ...service, operations };
}

// ---- inspection ----------------------------------------------------------------------------------

interface InspectedRef {
  readonly sessionId?: string;
  readonly id?: string;
  readonly logic?: { readonly id?: string };
  getSnapshot?(): { context?: Record<string, unknown>; value?: unknown; machine?: { id?: string } };
}

function machineIdOf(ref: InspectedRef, snapshot?: { machine?: { id?: string } }): string | undefined {
  return ref.logic?.id ?? snapshot?.machine?.id;
}

/** The fields of an advertisement the observer reads. */
interface Heard {
  readonly serviceId?: unknown;
  readonly heartbeatIntervalMs?: number;
}

/** The inspect observer of one participant: session traffic, advertisements, and (detail) states. */
function inspector(env: ParticipantEnv, participant: string): (event: InspectionEvent) => void {
  const connectionIds = new Map<string, string>();
  const lastValue = new Map<string, string>();
  return (inspection) => {
    const ref = inspection.actorRef as unknown as InspectedRef;
    if (inspection.type === '@xstate.event') {
      const type = inspection.event.type;
      if (type === 'entry.advertised' || type === 'xstate.init') {
        // An advertisement the repository acted on: forwarded to its entry, or a new entry made
        // from it. Not every one that arrived: the trust policy drops replays, duplicates and
        // advertisements of keys or unsigned providers it does not believe (SEC-8).
        const event = inspection.event as { advertisement?: Heard; input?: { advertisement?: Heard } };
        const advertisement = type === 'entry.advertised' ? event.advertisement : machineIdOf(ref) === 'repositoryEntry' ? event.input?.advertisement : undefined;
        if (advertisement !== undefined && typeof advertisement.serviceId === 'string') {
          env.record({ t: env.now(), type: 'advert', participant, serviceId: advertisement.serviceId, heartbeatMs: advertisement.heartbeatIntervalMs });
        }
        return;
      }
      if (!type.startsWith('transport.')) return;
      const machine = machineIdOf(ref);
      if (machine === 'session' && type !== 'transport.closed' && type !== 'transport.opened') {
        const key = ref.sessionId ?? '';
        let connectionId = connectionIds.get(key);
        if (connectionId === undefined) {
          connectionId = String(ref.getSnapshot?.().context?.connectionId ?? key);
          connectionIds.set(key, connectionId);
        }
        env.record({ t: env.now(), type: 'session.heard', participant, connectionId });
      }
      return;
    }
    if (!env.detail || inspection.type !== '@xstate.snapshot') return;
    const snapshot = inspection.snapshot as { value?: unknown; context?: Record<string, unknown>; machine?: { id?: string } };
    const machine = machineIdOf(ref, snapshot);
    if (machine === undefined || snapshot.value === undefined) return;
    const key = ref.sessionId ?? ref.id ?? '?';
    const value = JSON.stringify(snapshot.value);
    if (lastValue.get(key) === value) return;
    lastValue.set(key, value);
    // XState numbers actors it names itself (`x:12`) across the whole process: not stable
    // between runs, so such actors go by their machine id alone.
    const taskId = snapshot.context?.taskId;
    const name = typeof taskId === 'string' ? taskId : ref.id !== undefined && !/^x:\d+$/.test(ref.id) ? ref.id : undefined;
    const actor = name === undefined ? machine : `${machine}:${name}`;
    env.record({ t: env.now(), type: 'state', participant, actor, machine, value, event: inspection.event.type });
  };
}

// ---- providers -----------------------------------------------------------------------------------

/** Incarnations of a client the group EVEN_GROUP holds (a run restarts a client a few times at most). */
const GROUP_INCARNATIONS = 16;

export interface RunningProvider {
  readonly name: string;
  readonly incarnation: number;
  readonly provider: Provider;
  readonly serviceIds: readonly string[];
  /** Publishes a planned event (EVT-6). */
  publish(publication: PlannedPublication): void;
  /** The process is gone: its actors stop at once, without a word on the wire. */
  kill(): void;
}

/** The signing key of a provider instance: derived from the run seed and its name, so a replay signs alike. */
export function providerKey(seed: number, name: string): KeyObject {
  return keyFromSeed(createHash('sha256').update(`switchboard simulate key/${seed}/${name}`).digest());
}

/** A seeded id source: readable, unique per participant incarnation, the same in every replay. */
function idSource(seed: number, prefix: string): () => string {
  const prng = Prng.derive(seed, `ids:${prefix}`);
  return () => `${prefix}-${prng.hex32()}${prng.hex32()}`;
}

export function startProvider(
  planned: PlannedProvider,
  incarnation: number,
  env: ParticipantEnv,
  modules: ServiceModules,
  plan: Pick<Plan, 'participants'>,
): RunningProvider {
  const { name, spec, timings } = planned;
  const instance = `${name}#${incarnation}`;
  const files = env.files === undefined ? undefined : providerFileEndpoint(env, name, incarnation, { acceptWrongHash: spec.options?.injectBug?.acceptWrongHash });
  const services = [
    ...(spec.services ?? []).map((service) => simulatedService(service, env, instance, files)),
    ...(modules[spec.name] ?? []),
  ].map((service) => observed(service, env, name, incarnation));
  // createProvider draws one id per service, in order, before anything else, and names the
  // service instance `<service name>-<id>`: the instance name, or the scenario's fixed id (a
  // split brain), keeps serviceIds readable and the same in every replay.
  const ids = services.map((service) => spec.serviceIds?.[service.name] ?? instance);
  const serviceIds = services.map((service, index) => `${service.name}-${ids[index]}`);
  const fixed = [...ids];
  const seeded = idSource(env.seed, instance);
  const options = spec.options ?? {};
  const watchSubscriptions = providerSubscriptionObserver(env, name, incarnation);
  const inspectSessions = inspector(env, name);
  const provider = createProvider({
    services,
    port: PROVIDER_PORT,
    network: env.host,
    ...(env.clock === undefined ? {} : { clock: env.clock }),
    inspect: (inspection) => {
      inspectSessions(inspection);
      watchSubscriptions(inspection);
    },
    providerId: instance,
    // What happens is recorded in the trace; the default logger would print each failure.
    log: () => {},
    newId: () => fixed.shift() ?? seeded(),
    heartbeatIntervalMs: timings.heartbeatIntervalMs,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.sessionsMax === undefined ? {} : { sessionsMax: options.sessionsMax }),
    session: {
      pingIntervalMs: timings.pingIntervalMs,
      pongTimeoutMs: timings.pongTimeoutMs,
      answerDelayMs: timings.answerDelayMs,
      closeTimeoutMs: timings.closeTimeoutMs,
    },
    ...(options.injectBug?.skipDuplicateCheck === undefined ? {} : { injectBug: { skipDuplicateCheck: options.injectBug.skipDuplicateCheck } }),
    ...(options.events === undefined
      ? {}
      : {
          events: {
            ...(options.events.queueMax === undefined ? {} : { eventQueueMax: options.events.queueMax }),
            ...(options.events.inFlightMax === undefined ? {} : { eventsInFlightMax: options.events.inFlightMax }),
            ...(options.events.linger === undefined ? {} : { subscriptionLingerMs: options.events.linger }),
          },
        }),
    // SEC-8, as a provider with a key file: one key per instance, kept across restarts, each start
    // a greater epoch (so clients drop the earlier boot's serviceIds, DISC-15).
    signing: planned.signed ? { privateKey: providerKey(env.seed, name), epoch: incarnation } : false,
  });
  provider.on('task.settled', (event) =>
    env.record({ t: env.now(), type: 'finished', participant: name, incarnation, clientId: event.clientId, taskId: event.taskId, outcome: summarise(event.outcome) }),
  );
  provider.on('session.opened', (event) => env.record({ t: env.now(), type: 'session.opened', participant: name, incarnation, connectionId: event.connectionId }));
  provider.on('session.ended', (event) =>
    env.record({ t: env.now(), type: 'session.ended', participant: name, connectionId: event.connectionId, graceful: event.graceful }),
  );
  env.record({ t: env.now(), type: 'up', participant: name, incarnation, serviceIds });
  // EVT-6: groups are the provider's; every instance puts the clients of even index (any incarnation) in one.
  if (provider.events !== undefined) {
    for (const client of evenClients(plan)) for (let n = 1; n <= GROUP_INCARNATIONS; n++) provider.join(EVEN_GROUP, clientIdOf(client, n));
  }
  const loseEvery = options.injectBug?.loseEventEvery;
  let published = 0;
  if (files !== undefined) env.files?.listen(name, (socket, clientId) => files.accept(socket, clientId));
  void provider.start().catch(() => undefined); // a failure to listen shows as a provider nobody finds
  return {
    name,
    incarnation,
    provider,
    serviceIds,
    publish: (publication) => publish(env, provider, name, incarnation, publication, loseEvery !== undefined && ++published % loseEvery === 0),
    kill() {
      provider.actor.stop();
      env.record({ t: env.now(), type: 'down', participant: name, incarnation });
    },
  };
}

// ---- clients -------------------------------------------------------------------------------------

export interface RunningClient {
  readonly name: string;
  readonly incarnation: number;
  readonly client: Client;
  submit(task: Pick<PlannedTask, 'taskId' | 'service' | 'operation' | 'params' | 'deadlineMs' | 'files' | 'resultFiles'>, probe?: boolean): void;
  cancel(taskId: string): void;
  /** Takes up a planned subscription (once per incarnation). */
  subscribe(subscription: PlannedSubscription): void;
  unsubscribe(subscriptionId: string): void;
  kill(): void;
}

export function clientOptionsOf(planned: PlannedClient): Omit<ClientOptions, 'network' | 'clock' | 'inspect' | 'clientId' | 'seed' | 'newId'> {
  const t = planned.timings;
  const retry = planned.spec.options?.retry;
  return {
    repository: { discoveryPeriodMs: t.discoveryPeriodMs, defaultHeartbeatIntervalMs: t.defaultHeartbeatIntervalMs },
    connection: {
      pingIntervalMs: t.pingIntervalMs,
      pongTimeoutMs: t.pongTimeoutMs,
      connectTimeoutMs: t.connectTimeoutMs,
      closeTimeoutMs: t.closeTimeoutMs,
      backoff: t.backoff,
      ...(planned.spec.options?.outboxMax === undefined ? {} : { outboxMax: planned.spec.options.outboxMax }),
      ...(planned.spec.options?.tasksMax === undefined ? {} : { tasksMax: planned.spec.options.tasksMax }),
      task: { ackTimeoutMs: t.ackTimeoutMs, assignAttemptsMax: t.assignAttemptsMax, cancelTimeoutMs: t.cancelTimeoutMs },
    },
    ...(retry === undefined ? {} : { retry }),
  };
}

/** A client incarnation's clientId: the name, then `<name>#2`, ... after restarts. */
export const clientIdOf = (name: string, incarnation: number): string => (incarnation === 1 ? name : `${name}#${incarnation}`);

/** How long a task with files waits for an instance of its service before it fails (as `assign` does). */
const FIND_TIMEOUT_MS = 10_000;

const hostOf = (endpoint: string): string => new URL(endpoint).hostname;

export function startClient(planned: PlannedClient, incarnation: number, env: ParticipantEnv): RunningClient {
  const { name } = planned;
  const clientId = clientIdOf(name, incarnation);
  let alive = true;
  const isAlive = () => alive;
  const inspectSessions = inspector(env, name);
  const watchSubscribed = clientSubscriptionObserver(env, name, clientId, isAlive);
  // FILE-12: the AssignTask of a task with files goes where its files went (the instance pinned
  // for the duration of `assign`, which selects synchronously); other tasks as the default policy.
  let pinned: string | undefined;
  const selectionPolicy: SelectionPolicy = (services, request, state) => {
    const service = pinned === undefined ? undefined : services.find((candidate) => candidate.serviceId === pinned && !(request.excludeServiceIds ?? []).includes(candidate.serviceId));
    return service === undefined ? defaultSelectionPolicy(services, request, state) : { service, state };
  };
  const client = createClient({
    ...clientOptionsOf(planned),
    clientId,
    network: env.host,
    ...(env.clock === undefined ? {} : { clock: env.clock }),
    inspect: (inspection) => {
      inspectSessions(inspection);
      watchSubscribed(inspection);
    },
    seed: deriveSeed(env.seed, clientId),
    newId: idSource(env.seed, clientId),
    log: () => {}, // the trace records what happens (see the provider's)
    // SEC-8: signed advertisements trusted on first use; unsigned ones only if the scenario allows them.
    trust: { allowUnsigned: planned.allowUnsigned },
    selectionPolicy,
    // Task files go on the simulator's file links (./fileParticipants.ts), never on real sockets:
    // the runtime's own fetch of a result's files stays off, and the simulator fetches them.
    files: false,
  });
  client.on('services.changed', (event) =>
    env.record({ t: env.now(), type: 'services', participant: name, serviceIds: event.services.map((service) => service.serviceId) }),
  );
  env.record({ t: env.now(), type: 'up', participant: name, incarnation, clientId });
  const handles = new Map<string, TaskHandle>();
  /** Tasks with files still uploading, and whether they were cancelled meanwhile. */
  const uploading = new Map<string, { cancelled: boolean }>();
  const record = (observation: Observation) => alive && env.record(observation);
  const subscriptions = clientSubscriptions(env, client, name, clientId, isAlive);
  const uploads = clientFileUploads({ ...env, record }, name, clientId);
  const settle = (taskId: string, outcome: Extract<Observation, { type: 'settled' }>['outcome']) => record({ t: env.now(), type: 'settled', participant: name, clientId, taskId, outcome });

  /** `fetchFrom`: the provider a result's files are fetched from (FILE-12) before the task counts as settled. */
  const assign = (task: Pick<PlannedTask, 'taskId' | 'service' | 'operation' | 'params' | 'deadlineMs'>, params: Record<string, unknown>, fetchFrom?: string) => {
    const handle = client.assign(task.service, task.operation, params, {
      taskId: task.taskId,
      ...(task.deadlineMs === undefined ? {} : { timeoutMs: task.deadlineMs }),
    });
    handles.set(task.taskId, handle);
    handle.onProgress((progress) => record({ t: env.now(), type: 'progress', participant: name, taskId: task.taskId, percent: progress.progressPercentage }));
    handle.result.then(
      (result: unknown) => {
        const named = (result as { files?: unknown } | undefined)?.files;
        const fabric = env.files;
        if (fetchFrom === undefined || fabric === undefined || !Array.isArray(named) || named.length === 0) return settle(task.taskId, { status: 'Completed' });
        void uploads
          .fetch(task.taskId, task.service, fetchFrom, named as FileRef[], () => fabric.connect(name, fetchFrom, clientId) as never)
          .then((code) => settle(task.taskId, code === undefined ? { status: 'Completed' } : { status: 'Failed', code }));
      },
      (error: { code?: string; message?: string }) =>
        settle(task.taskId, error.code === 'CANCELLED' ? { status: 'Cancelled' } : summarise({ status: 'Failed', error: { code: error.code ?? '', message: error.message ?? '' } })),
    );
  };

  /** FILE-12: find an instance, upload the files to it on a file link (only what it lacks moves), then assign the task there. */
  const submitWithFiles = async (task: Pick<PlannedTask, 'taskId' | 'service' | 'operation' | 'params' | 'deadlineMs' | 'resultFiles'> & { files: NonNullable<PlannedTask['files']> }) => {
    const state = { cancelled: false };
    uploading.set(task.taskId, state);
    const fail = (code: string) => settle(task.taskId, { status: 'Failed', code });
    try {
      const service = await client.waitFor(task.service, { operation: task.operation, timeoutMs: FIND_TIMEOUT_MS }).catch((error: { code?: string }) => error.code ?? 'SERVICE_UNAVAILABLE');
      if (typeof service === 'string') return fail(service);
      const fabric = env.files;
      if (fabric === undefined) return fail('UNSUPPORTED_MESSAGE');
      const provider = hostOf(service.endpoint);
      const result = await uploads.upload(task.taskId, task.service, provider, task.files, () => fabric.connect(name, provider, clientId) as never);
      if (!alive) return;
      if (state.cancelled) return settle(task.taskId, { status: 'Cancelled' });
      if (!result.ok) return fail(result.code);
      pinned = service.serviceId;
      try {
        assign(task, { ...task.params, files: result.files, ...(task.resultFiles === undefined ? {} : { resultFiles: task.resultFiles }) }, provider);
      } finally {
        pinned = undefined;
      }
    } finally {
      uploading.delete(task.taskId);
    }
  };

  return {
    name,
    incarnation,
    client,
    submit(task, probe = false) {
      if (!alive) return;
      record({ t: env.now(), type: 'submitted', participant: name, clientId, taskId: task.taskId, ...(probe ? { probe } : {}) });
      if (task.files !== undefined && task.files.length > 0) void submitWithFiles({ ...task, files: task.files });
      else assign(task, { ...task.params });
    },
    cancel(taskId) {
      const handle = handles.get(taskId);
      const upload = uploading.get(taskId);
      if (!alive || (handle === undefined && upload === undefined)) return;
      env.record({ t: env.now(), type: 'cancel', participant: name, taskId });
      if (upload !== undefined) upload.cancelled = true;
      else void handle?.cancel();
    },
    subscribe: (subscription) => subscriptions.subscribe(subscription),
    unsubscribe: (subscriptionId) => subscriptions.unsubscribe(subscriptionId),
    kill() {
      alive = false;
      client.actor.stop();
      env.record({ t: env.now(), type: 'down', participant: name, incarnation });
    },
  };
}
