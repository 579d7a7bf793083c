/**
 * A whole switchboard network on the simulated network: providers and clients, each its own
 * actor system on ONE SimulatedClock, wired by runtime/compose.ts exactly as real ones are, plus
 * the observations the whole-network properties check (what each client saw, what each provider
 * ran). Everything random derives from the seed.
 */
import { SimulatedClock, createActor, type Actor } from 'xstate';
import { SimulatedNetwork, type FaultOptions } from '../../adapters/simulated/index.js';
import { clientDefaults, type AssignRequest, type ClientInput } from '../../machines/client.js';
import type { TaskOutcome } from '../../machines/outcome.js';
import { providerDefaults, type ProviderInput } from '../../machines/provider.js';
import { deriveSeed } from '../../machines/random.js';
import { composeClient, composeProvider } from '../../runtime/compose.js';
import { createProbe, stepsHandler, type HandlerProbe } from './handlers.js';

export const WORK_SERVICE = 'Work';
export const WORK_OPERATION = 'run';
export const PROVIDER_PORT = 8080;

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
}

export class World {
  readonly clock = new SimulatedClock();
  readonly net: SimulatedNetwork;
  readonly providers: ProviderNode[] = [];
  readonly clients: ClientNode[] = [];
  private incarnations = new Map<string, number>();

  constructor(readonly options: WorldOptions) {
    this.net = new SimulatedNetwork({ clock: this.clock, seed: options.seed, faults: options.faults });
  }

  startProvider(address: string): ProviderNode {
    const incarnation = (this.incarnations.get(address) ?? 0) + 1;
    this.incarnations.set(address, incarnation);
    const probe = createProbe();
    const serviceId = `work@${address}#${incarnation}`;
    const logic = composeProvider(this.net.host(address), PROVIDER_PORT, { handler: stepsHandler(probe) });
    const actor = createActor(logic, {
      clock: this.clock,
      input: {
        ...providerDefaults,
        ...this.options.provider,
        providerId: `provider@${address}#${incarnation}`,
        services: [
          {
            serviceId,
            serviceName: WORK_SERVICE,
            serviceVersion: '1.0.0',
            capabilities: [{ key: WORK_OPERATION, settings: [{ type: 'int', name: 'steps' }, { type: 'int', name: 'stepMs' }] }],
          },
        ],
      },
    });
    actor.start();
    const node: ProviderNode = { address, incarnation, serviceId, actor, probe };
    this.providers.push(node);
    return node;
  }

  startClient(address: string): ClientNode {
    const clientId = `client@${address}`;
    const lastAdvertisementMs = new Map<string, number>();
    const heartbeatMs = new Map<string, number>();
    const actor = createActor(composeClient(this.net.host(address)), {
      clock: this.clock,
      // Watches every advertisement the repository receives (DISC-9 is checked against these).
      inspect: (inspection) => {
        if (process.env.TRACE && inspection.type === '@xstate.event' && !String(inspection.event.type).startsWith('xstate.')) {
          console.log(this.clock.now(), (inspection.actorRef as { id?: string }).id, JSON.stringify(inspection.event).slice(0, 200));
        }
        if (inspection.type !== '@xstate.event') return;
        const event = inspection.event as { type: string; message?: { discoveryType?: string; serviceId?: string; heartbeatIntervalMs?: number } };
        if (event.type !== 'datagram.received' || event.message?.discoveryType !== 'ServiceAdvertisement') return;
        lastAdvertisementMs.set(event.message.serviceId as string, this.clock.now());
        if (event.message.heartbeatIntervalMs !== undefined) heartbeatMs.set(event.message.serviceId as string, event.message.heartbeatIntervalMs);
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
    };
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

  stopAll(): void {
    for (const client of this.clients) client.actor.stop();
    for (const provider of this.providers) provider.actor.stop();
  }
}
