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
import { createClient, type Client, type ClientOptions } from '../client.js';
import { keyFromSeed } from '../keys.js';
import type { TransportHost } from '../compose.js';
import { createProvider, type Clock, type Provider } from '../provider.js';
import { defineService, type OperationDefinition, type ServiceDefinition } from '../service.js';
import type { TaskHandle } from '../taskHandle.js';
import { summarise, type Observation } from './history.js';
import type { PlannedClient, PlannedProvider, PlannedTask } from './plan.js';
import type { Range, SimulatedOperation } from './scenario.js';

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
  definition: { name: string; version?: string | undefined; operations: Record<string, SimulatedOperation> },
  env: ParticipantEnv,
  instance: string,
): ServiceDefinition {
  const operations: Record<string, OperationDefinition> = {};
  for (const [key, operation] of Object.entries(definition.operations)) {
    const range = operation.duration ?? DEFAULT_DURATION;
    const steps = operation.progressSteps ?? 4;
    operations[key] = {
      params: anyParams,
      run: async (_params, ctx) => {
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
        return { tookMs: totalMs };
      },
    };
  }
  return defineService({ name: definition.name, version: definition.version ?? '1.0.0', operations });
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

export interface RunningProvider {
  readonly name: string;
  readonly incarnation: number;
  readonly provider: Provider;
  readonly serviceIds: readonly string[];
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
): RunningProvider {
  const { name, spec, timings } = planned;
  const instance = `${name}#${incarnation}`;
  const services = [
    ...(spec.services ?? []).map((service) => simulatedService(service, env, instance)),
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
  const provider = createProvider({
    services,
    port: PROVIDER_PORT,
    network: env.host,
    ...(env.clock === undefined ? {} : { clock: env.clock }),
    inspect: inspector(env, name),
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
    ...(options.injectBug === undefined ? {} : { injectBug: options.injectBug }),
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
  void provider.start().catch(() => undefined); // a failure to listen shows as a provider nobody finds
  return {
    name,
    incarnation,
    provider,
    serviceIds,
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
  submit(task: Pick<PlannedTask, 'taskId' | 'service' | 'operation' | 'params' | 'deadlineMs'>, probe?: boolean): void;
  cancel(taskId: string): void;
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

export function startClient(planned: PlannedClient, incarnation: number, env: ParticipantEnv): RunningClient {
  const { name } = planned;
  const clientId = clientIdOf(name, incarnation);
  const client = createClient({
    ...clientOptionsOf(planned),
    clientId,
    network: env.host,
    ...(env.clock === undefined ? {} : { clock: env.clock }),
    inspect: inspector(env, name),
    seed: deriveSeed(env.seed, clientId),
    newId: idSource(env.seed, clientId),
    log: () => {}, // the trace records what happens (see the provider's)
    // SEC-8: signed advertisements trusted on first use; unsigned ones only if the scenario allows them.
    trust: { allowUnsigned: planned.allowUnsigned },
  });
  client.on('services.changed', (event) =>
    env.record({ t: env.now(), type: 'services', participant: name, serviceIds: event.services.map((service) => service.serviceId) }),
  );
  env.record({ t: env.now(), type: 'up', participant: name, incarnation, clientId });
  const handles = new Map<string, TaskHandle>();
  let alive = true;
  return {
    name,
    incarnation,
    client,
    submit(task, probe = false) {
      if (!alive) return;
      const handle = client.assign(task.service, task.operation, { ...task.params }, {
        taskId: task.taskId,
        ...(task.deadlineMs === undefined ? {} : { timeoutMs: task.deadlineMs }),
      });
      handles.set(task.taskId, handle);
      env.record({ t: env.now(), type: 'submitted', participant: name, clientId, taskId: task.taskId, ...(probe ? { probe } : {}) });
      handle.onProgress((progress) => {
        if (alive) env.record({ t: env.now(), type: 'progress', participant: name, taskId: task.taskId, percent: progress.progressPercentage });
      });
      handle.result.then(
        () => alive && env.record({ t: env.now(), type: 'settled', participant: name, clientId, taskId: task.taskId, outcome: { status: 'Completed' } }),
        (error: { code?: string; message?: string }) => {
          if (!alive) return;
          const outcome = error.code === 'CANCELLED' ? { status: 'Cancelled' as const } : summarise({ status: 'Failed', error: { code: error.code ?? '', message: error.message ?? '' } });
          env.record({ t: env.now(), type: 'settled', participant: name, clientId, taskId: task.taskId, outcome });
        },
      );
    },
    cancel(taskId) {
      const handle = handles.get(taskId);
      if (!alive || handle === undefined) return;
      env.record({ t: env.now(), type: 'cancel', participant: name, taskId });
      void handle.cancel();
    },
    kill() {
      alive = false;
      client.actor.stop();
      env.record({ t: env.now(), type: 'down', participant: name, incarnation });
    },
  };
}
