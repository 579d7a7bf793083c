/**
 * createClient: discover services and assign them tasks.
 *
 * ```ts
 * const client = createClient();
 * await client.waitFor('Greeter', { operation: 'greet' });
 * const task = client.assign('Greeter', 'greet', { name: 'Ada' });
 * task.onProgress((p) => console.log(p.progressPercentage));
 * console.log(await task.result);
 * await client.stop();
 * ```
 * Pass `network` (a simulated host) to run on the simulated network, and `clock` / `inspect` to
 * drive or watch the whole actor system.
 */
import { createActor, toPromise, type Actor, type InspectionEvent, type Observer } from 'xstate';
import { v4 as uuid } from 'uuid';
import type { UdpDiscoveryOptions } from '../adapters/udp.js';
import type { WsConnectOptions } from '../adapters/ws.js';
import { clientDefaults, type ClientEmitted, type ConnectionOptions, type RepositoryOptions } from '../machines/client.js';
import { candidatesFor, type SelectionPolicy } from '../machines/selection.js';
import type { ServiceView } from '../machines/repository.js';
import type { TaskOutcome } from '../machines/outcome.js';
import { composeClient, type TransportHost } from './compose.js';
import { realHost } from './network.js';
import type { Clock } from './provider.js';
import type { Logger } from './service.js';
import { ProtocolError } from '../machines/errors.js';
import { TaskHandleState, type TaskHandle } from './taskHandle.js';

export interface ClientOptions {
  /** @default `client-<uuid>` */
  readonly clientId?: string;
  readonly discovery?: UdpDiscoveryOptions;
  readonly connect?: WsConnectOptions;
  readonly repository?: Partial<RepositoryOptions>;
  readonly connection?: Partial<ConnectionOptions>;
  readonly selectionPolicy?: SelectionPolicy;
  /**
   * Failure codes after which a task is assigned again to another instance of the service (with
   * the same taskId), at most `attempts` more times. Off by default: a provider that vanished
   * may have done part of the work, so only idempotent operations should opt in.
   */
  readonly retry?: { readonly codes: readonly string[]; readonly attempts: number };
  readonly network?: TransportHost;
  readonly clock?: Clock;
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  readonly log?: Logger;
  /** Seeds the reconnect jitter. @default random */
  readonly seed?: number;
  /** The id source for messageIds and default taskIds (seeded in simulations). @default uuid v4 */
  readonly newId?: () => string;
}

export interface AssignOptions {
  /** Overall deadline (TASK-14): the provider fails the task with TIMEOUT, and so does the client. */
  readonly timeoutMs?: number;
  /** Aborting it cancels the task. */
  readonly signal?: AbortSignal;
  /** @default a new uuid */
  readonly taskId?: string;
}

export interface Client {
  /** What the repository knows now (DISC-8). */
  services(): readonly ServiceView[];
  /** Resolves when an instance offering the service (and operation) is known; rejects on timeout. */
  waitFor(serviceName: string, options?: { operation?: string; timeoutMs?: number }): Promise<ServiceView>;
  assign<TResult = unknown>(serviceName: string, operation: string, params: Record<string, unknown>, options?: AssignOptions): TaskHandle<TResult>;
  /** Sends a discovery request now (DISC-2). */
  refresh(): void;
  on<T extends ClientEmitted['type']>(type: T, listener: (event: Extract<ClientEmitted, { type: T }>) => void): () => void;
  /** Closes every connection gracefully and stops. */
  stop(): Promise<void>;
  readonly clientId: string;
  readonly actor: Actor<ReturnType<typeof composeClient>>;
}

interface Pending {
  readonly handle: TaskHandleState;
  readonly serviceName: string;
  readonly operation: string;
  readonly params: Record<string, unknown>;
  readonly deadlineMs: number | undefined;
  retriesLeft: number;
  readonly excluded: string[];
}

export function createClient(options: ClientOptions = {}): Client {
  const newId = options.newId ?? uuid;
  const clientId = options.clientId ?? `client-${newId()}`;
  const host = options.network ?? realHost({ discovery: { log: options.log, ...options.discovery }, connect: options.connect });
  const clock = options.clock;
  const actor = createActor(composeClient(host), {
    ...(clock === undefined ? {} : { clock }),
    ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
    input: {
      ...clientDefaults,
      clientId,
      seed: options.seed ?? Math.floor(Math.random() * 2 ** 31),
      repository: { ...clientDefaults.repository, ...options.repository },
      connection: { ...clientDefaults.connection, ...options.connection },
      ...(options.selectionPolicy === undefined ? {} : { selectionPolicy: options.selectionPolicy }),
    },
  });
  const pending = new Map<string, Pending>();
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

  actor.on('task.submitted', (event) => submittedTo.set(event.taskId, event.serviceId));
  actor.on('task.progress', ({ taskId, type: _type, ...progress }) => pending.get(taskId)?.handle.report(progress));
  actor.on('task.settled', ({ taskId, outcome }) => {
    const entry = pending.get(taskId);
    if (!entry) return;
    if (shouldRetry(entry, outcome)) {
      entry.retriesLeft--;
      const serviceId = submittedTo.get(taskId);
      if (serviceId !== undefined) entry.excluded.push(serviceId);
      submit(taskId, entry);
      return;
    }
    pending.delete(taskId);
    submittedTo.delete(taskId);
    entry.handle.settle(outcome);
  });
  const shouldRetry = (entry: Pending, outcome: TaskOutcome) =>
    outcome.status === 'Failed' && entry.retriesLeft > 0 && (options.retry?.codes ?? []).includes(outcome.error.code);

  actor.start();

  const findService = (serviceName: string, operation: string | undefined) =>
    candidatesFor(actor.getSnapshot().context.services, { serviceName, operation: operation ?? '' }).at(0) ??
    (operation === undefined ? actor.getSnapshot().context.services.find((s) => s.serviceName === serviceName) : undefined);

  return {
    clientId,
    actor,
    services: () => actor.getSnapshot().context.services,
    refresh: () => actor.send({ type: 'client.refresh' }),
    on: (type, listener) => {
      const subscription = actor.on(type, listener as never);
      return () => subscription.unsubscribe();
    },
    waitFor(serviceName, { operation, timeoutMs = 10_000 } = {}) {
      const known = findService(serviceName, operation);
      if (known) return Promise.resolve(known);
      return new Promise((resolve, reject) => {
        const timer = timers.set(() => {
          subscription.unsubscribe();
          reject(new ProtocolError('SERVICE_UNAVAILABLE', `no provider of ${serviceName}${operation ? `.${operation}` : ''} found within ${timeoutMs} ms`));
        }, timeoutMs);
        const subscription = actor.on('services.changed', () => {
          const found = findService(serviceName, operation);
          if (!found) return;
          timers.clear(timer);
          subscription.unsubscribe();
          resolve(found);
        });
      });
    },
    assign(serviceName, operation, params, assignOptions = {}) {
      const taskId = assignOptions.taskId ?? newId();
      const handle = new TaskHandleState(taskId, () => actor.send({ type: 'client.cancel', taskId }));
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
      if (assignOptions.signal) {
        if (assignOptions.signal.aborted) queueMicrotask(() => void handle.cancel());
        else assignOptions.signal.addEventListener('abort', () => void handle.cancel(), { once: true });
      }
      submit(taskId, entry);
      return handle as unknown as TaskHandle<never>;
    },
    async stop() {
      if (actor.getSnapshot().status !== 'active') return;
      actor.send({ type: 'client.stop' });
      await toPromise(actor).catch(() => undefined);
      actor.stop();
    },
  };
}
