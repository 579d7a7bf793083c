/**
 * A whole switchboard network on the simulated network: providers and clients, each its own
 * actor system on ONE SimulatedClock, wired by runtime/compose.ts exactly as real ones are, plus
 * the observations scenario specs check (what each client saw, what each provider
 * ran). Everything random derives from the seed.
 */
import { SimulatedClock, createActor, type Actor, type AnyActorRef } from 'xstate';
import { SimulatedNetwork, type FaultOptions } from '../../adapters/simulated/index.js';
import { clientDefaults, type AssignRequest, type ClientEmitted, type ClientInput } from '../../machines/client.js';
import type { TaskOutcome } from '../../machines/outcome.js';
import { providerDefaults, type ProviderEmitted, type ProviderInput } from '../../machines/provider.js';
import type { HandlerLogic } from '../../machines/providerTask.js';
import { deriveSeed } from '../../machines/random.js';
import type { ServiceDescriptor } from '../../machines/service.js';
import { sessionDefaults, type SessionRequestMessage } from '../../machines/session.js';
import { taskLimitDefaults } from '../../machines/taskLedger.js';
import type { TaskRegistrySnapshot } from '../../machines/taskRegistry.js';
import { composeClient, composeProvider } from '../../runtime/compose.js';
import { createProbe, stepsHandler, type HandlerProbe } from './handlers.js';
import { createHash, type KeyObject } from 'node:crypto';
import { createDatagramSigner } from '../../adapters/udp/signature.js';
import { keyFromSeed } from '../../runtime/keys.js';

export const WORK_SERVICE = 'Work';
export const WORK_OPERATION = 'run';
export const PROVIDER_PORT = 8080;

/**
 * Small timings for scenario specs (the same as the whole-network property's): heartbeat 1 s,
 * pings every 300 ms, Ack timeout 120 ms, backoff 50..800 ms over 8 attempts.
 */
export const smallProviderOptions = {
  heartbeatIntervalMs: 1_000,
  limits: { ...taskLimitDefaults, tasksRunningMax: 3, tasksRunningPerClientMax: 2, tasksQueuedMax: 6, ledgerMax: 200 },
  session: { ...sessionDefaults, answerDelayMs: 300, pingIntervalMs: 300, pongTimeoutMs: 300, closeTimeoutMs: 300 },
  stopTimeoutMs: 300,
} satisfies Partial<Omit<ProviderInput, 'providerId' | 'services'>>;

export const smallClientOptions = {
  repository: { ...clientDefaults.repository, discoveryPeriodMs: 4_000, defaultHeartbeatIntervalMs: 1_000, entriesMax: 64 },
  connection: {
    ...clientDefaults.connection,
    pingIntervalMs: 300,
    pongTimeoutMs: 300,
    connectTimeoutMs: 500,
    closeTimeoutMs: 300,
    backoff: { delayMsBase: 50, delayMsMax: 800, attemptsMax: 8 },
    outboxMax: 64,
    tasksMax: 64,
    task: { ackTimeoutMs: 120, assignAttemptsMax: 5, cancelTimeoutMs: 600 },
  },
  stopTimeoutMs: 300,
} satisfies Partial<Omit<ClientInput, 'clientId' | 'seed'>>;

export interface WorldOptions {
  readonly seed: number;
  readonly faults?: Partial<FaultOptions>;
  readonly provider?: Partial<Omit<ProviderInput, 'providerId' | 'services'>>;
  readonly client?: Partial<Omit<ClientInput, 'clientId' | 'seed'>>;
}

export interface ProviderNode {
  readonly address: string;
  readonly incarnation: number;
  readonly serviceId: string;
  readonly actor: Actor<ReturnType<typeof composeProvider>>;
  /** Handler runs on this provider incarnation. */
  readonly probe: HandlerProbe;
  /** Every event the provider emitted, with the clock time. */
  readonly emitted: { readonly atMs: number; readonly event: ProviderEmitted }[];
  /** Every task message a session forwarded to this provider, with the clock time. */
  readonly requests: { readonly atMs: number; readonly clientId: string; readonly message: SessionRequestMessage }[];
}

/** Per-provider choices for `World.startProvider` (all optional; the defaults are the world's). */
export interface StartProviderOptions {
  /** The handler of every operation. @default stepsHandler */
  readonly handler?: (probe: HandlerProbe) => HandlerLogic;
  /** Overrides on top of the world's provider options. */
  readonly provider?: Partial<Omit<ProviderInput, 'providerId' | 'services'>>;
  /** @default one `Work` service with operation `run`, serviceId `work@<address>#<incarnation>` */
  readonly services?: readonly ServiceDescriptor[];
  /** Sign the provider's advertisements (SEC-8). @default true */
  readonly signed?: boolean;
}

export interface ClientNode {
  readonly address: string;
  readonly clientId: string;
  readonly actor: Actor<ReturnType<typeof composeClient>>;
  readonly submitted: Set<string>;
  readonly settled: Map<string, TaskOutcome[]>;
  readonly progress: Map<string, number[]>;
  /** serviceId -> clock time of the last advertisement this client's repository received. */
  readonly lastAdvertisementMs: Map<string, number>;
  /** serviceId -> heartbeat it advertised. */
  readonly heartbeatMs: Map<string, number>;
  /** Every event the client emitted, with the clock time. */
  readonly emitted: { readonly atMs: number; readonly event: ClientEmitted }[];
}

export class World {
  readonly clock = new SimulatedClock();
  readonly net: SimulatedNetwork;
  readonly providers: ProviderNode[] = [];
  readonly clients: ClientNode[] = [];
  private incarnations = new Map<string, number>();
  private keys = new Map<string, KeyObject>();

  constructor(readonly options: WorldOptions) {
    this.net = new SimulatedNetwork({ clock: this.clock, seed: options.seed, faults: options.faults });
  }

  startProvider(address: string, options: StartProviderOptions = {}): ProviderNode {
    const incarnation = (this.incarnations.get(address) ?? 0) + 1;
    this.incarnations.set(address, incarnation);
    const probe = createProbe();
    const serviceId = options.services?.[0]?.serviceId ?? `work@${address}#${incarnation}`;
    const handler = (options.handler ?? stepsHandler)(probe);
    // Signed as a real provider's are (SEC-8): a key per host, as if kept in a key file, and an
    // epoch that grows with every start. `signed: false` makes a seed-only provider.
    const signer =
      options.signed === false
        ? undefined
        : createDatagramSigner({ privateKey: this.keyOf(address), epoch: this.clock.now() * 1_000 + incarnation });
    const logic = composeProvider(this.net.host(address), PROVIDER_PORT, { handler, ...(signer === undefined ? {} : { signer }) });
    const requests: ProviderNode['requests'] = [];
    const actor = createActor(logic, {
      clock: this.clock,
      // Records every task message a session forwards (TASK-3, TASK-4 scenarios read these).
      inspect: (inspection) => {
        if (inspection.type !== '@xstate.event' || inspection.event.type !== 'session.request') return;
        const event = inspection.event as unknown as { clientId: string; message: SessionRequestMessage };
        requests.push({ atMs: this.clock.now(), clientId: event.clientId, message: event.message });
      },
      input: {
        ...providerDefaults,
        ...this.options.provider,
        ...options.provider,
        providerId: `provider@${address}#${incarnation}`,
        services: options.services ?? [
          {
            serviceId,
            serviceName: WORK_SERVICE,
            serviceVersion: '1.0.0',
            capabilities: [{ key: WORK_OPERATION, settings: [{ type: 'int', name: 'steps' }, { type: 'int', name: 'stepMs' }] }],
          },
        ],
      },
    });
    const emitted: ProviderNode['emitted'] = [];
    actor.on('*', (event) => void emitted.push({ atMs: this.clock.now(), event: event as ProviderEmitted }));
    actor.start();
    const node: ProviderNode = { address, incarnation, serviceId, actor, probe, emitted, requests };
    this.providers.push(node);
    return node;
  }

  startClient(address: string): ClientNode {
    const clientId = `client@${address}`;
    const lastAdvertisementMs = new Map<string, number>();
    const heartbeatMs = new Map<string, number>();
    const actor = createActor(composeClient(this.net.host(address)), {
      clock: this.clock,
      // Watches every advertisement the repository acts on (DISC-9 is checked against these).
      inspect: (inspection) => {
        if (process.env.TRACE && inspection.type === '@xstate.event' && !String(inspection.event.type).startsWith('xstate.')) {
          console.log(this.clock.now(), (inspection.actorRef as { id?: string }).id, JSON.stringify(inspection.event).slice(0, 200));
        }
        // Only advertisements the repository acted on count: a new entry made from one, or one
        // forwarded to its entry (the trust policy drops replays, duplicates and forgeries).
        if (inspection.type !== '@xstate.event') return;
        type Heard = { serviceId: string; heartbeatIntervalMs?: number };
        const event = inspection.event as { type: string; advertisement?: Heard; input?: { advertisement?: Heard } };
        const advertisement = event.type === 'entry.advertised' ? event.advertisement : event.type === 'xstate.init' ? event.input?.advertisement : undefined;
        if (advertisement === undefined) return;
        lastAdvertisementMs.set(advertisement.serviceId, this.clock.now());
        if (advertisement.heartbeatIntervalMs !== undefined) heartbeatMs.set(advertisement.serviceId, advertisement.heartbeatIntervalMs);
      },
      input: { ...clientDefaults, ...this.options.client, clientId, seed: deriveSeed(this.options.seed, clientId) },
    });
    const node: ClientNode = {
      address,
      clientId,
      actor,
      submitted: new Set(),
      settled: new Map(),
      progress: new Map(),
      lastAdvertisementMs,
      heartbeatMs,
      emitted: [],
    };
    actor.on('*', (event) => void node.emitted.push({ atMs: this.clock.now(), event: event as ClientEmitted }));
    actor.on('task.settled', (event) => {
      const list = node.settled.get(event.taskId) ?? [];
      list.push(event.outcome);
      node.settled.set(event.taskId, list);
    });
    actor.on('task.progress', (event) => {
      const list = node.progress.get(event.taskId) ?? [];
      list.push(event.progressPercentage);
      node.progress.set(event.taskId, list);
    });
    actor.start();
    this.clients.push(node);
    return node;
  }

  assign(client: ClientNode, request: Omit<AssignRequest, 'messageId' | 'serviceName' | 'operation'>): void {
    client.submitted.add(request.taskId);
    client.actor.send({
      type: 'client.assign',
      request: { ...request, messageId: `assign-${client.clientId}-${request.taskId}`, serviceName: WORK_SERVICE, operation: WORK_OPERATION },
    });
  }

  run(ms: number): void {
    this.net.run(ms);
  }

  /** The signing key of the provider at `address`: derived from the world's seed, the same across restarts. */
  keyOf(address: string): KeyObject {
    let key = this.keys.get(address);
    if (key === undefined) {
      key = keyFromSeed(createHash('sha256').update(`${this.options.seed}/${address}`).digest());
      this.keys.set(address, key);
    }
    return key;
  }

  /** The host of `provider` goes down: its sockets vanish without a word and its actor stops. */
  crashProvider(provider: ProviderNode): void {
    this.net.crash(provider.address);
    provider.actor.stop();
  }

  /** The host at `address` is up again with a new provider incarnation (new serviceId). */
  restartProvider(address: string, options: StartProviderOptions = {}): ProviderNode {
    this.net.restart(address);
    return this.startProvider(address, options);
  }

  /** The client's connection actors, by endpoint, with their state value as JSON. */
  connectionsOf(client: ClientNode): Record<string, string> {
    const states: Record<string, string> = {};
    for (const [id, child] of Object.entries(client.actor.getSnapshot().children)) {
      if (!id.startsWith('connection:')) continue;
      states[id.slice('connection:'.length)] = JSON.stringify((child as AnyActorRef).getSnapshot().value);
    }
    return states;
  }

  /** The task registry of a running provider (ledger, duplicates answered). */
  registryOf(provider: ProviderNode): TaskRegistrySnapshot {
    return (provider.actor.getSnapshot().children as Record<string, AnyActorRef | undefined>).tasks?.getSnapshot() as TaskRegistrySnapshot;
  }

  /** The events of one type a client emitted, in order. */
  emittedBy<T extends ClientEmitted['type']>(client: ClientNode, type: T): Extract<ClientEmitted, { type: T }>[] {
    return client.emitted.flatMap(({ event }) => (event.type === type ? [event as Extract<ClientEmitted, { type: T }>] : []));
  }

  stopAll(): void {
    for (const client of this.clients) client.actor.stop();
    for (const provider of this.providers) provider.actor.stop();
  }
}
