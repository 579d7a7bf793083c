/**
 * What the web UI knows, kept up to date from public surfaces only: a client's `services()` and
 * emitted events, a provider's emitted events, and both systems' inspection streams (participants
 * told apart by machine id, runtime/inspect/kinds.ts). Changes are collected and handed to the
 * server in batches (`drain`), so a burst of events costs the page one update.
 *
 * Everything is bounded: tasks (oldest ended first), each task's history, ended services and
 * ended actors, and the result data kept for display.
 */
import type { InspectionEvent, StateValue } from 'xstate';
import type { ServiceView } from '../../machines/repository.js';
import type { TaskOutcome } from '../../machines/outcome.js';
import type { InspectionSource } from '../inspect/hub.js';
import { kindOf, taskIdOf, type InspectedActor } from '../inspect/kinds.js';
import { statePathsOf } from '../inspect/charts.js';
import type { ActorRow, HistoryEntry, Participants, ServiceRow, TaskRow, TaskSide, TransitionNote } from './rows.js';

export interface ObservedClient {
  readonly clientId: string;
  readonly inspection: InspectionSource;
  services(): readonly ServiceView[];
  // Loosely typed so that Client and Provider, whose `on` is generic over their own events, both fit.
  on(type: any, listener: (event: any) => void): () => void;
}

export interface ObservedProvider {
  readonly providerId: string;
  readonly endpoint: string | undefined;
  readonly inspection: InspectionSource;
  // Loosely typed so that Client and Provider, whose `on` is generic over their own events, both fit.
  on(type: any, listener: (event: any) => void): () => void;
}

export interface UiModelLimits {
  /** @default 20_000 */
  readonly tasksMax: number;
  /** @default 200 */
  readonly historyMax: number;
  /** Ended services kept on show. @default 500 */
  readonly endedServicesMax: number;
  /** Ended actors kept on show. @default 500 */
  readonly endedActorsMax: number;
  /** Settled tasks whose result data is kept. @default 200 */
  readonly resultsMax: number;
  /** Tasks whose history is kept (the newest). @default 2_000 */
  readonly historiesMax: number;
}

export const uiModelDefaults: UiModelLimits = { tasksMax: 20_000, historyMax: 200, endedServicesMax: 500, endedActorsMax: 500, resultsMax: 200, historiesMax: 2_000 };

export interface Delta {
  readonly services: ServiceRow[];
  readonly tasks: TaskRow[];
  readonly tasksRemoved: string[];
  readonly actors: ActorRow[];
  readonly actorsRemoved: string[];
  readonly transitions: TransitionNote[];
  readonly history: Map<string, HistoryEntry[]>;
}

const epochMs = () => performance.timeOrigin + performance.now();

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function leafStateOf(value: StateValue | undefined): string {
  const paths = statePathsOf(value);
  const leaves = paths.filter((path) => !paths.some((other) => other.startsWith(`${path}.`)));
  return leaves.join(' | ');
}

function summarise(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > 300 ? `${value.slice(0, 300)}… (${value.length} chars)` : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= 4) return '…';
  if (typeof (value as { sessionId?: unknown }).sessionId === 'string') return `actor ${(value as { id?: unknown }).id}`;
  if (Array.isArray(value)) return value.slice(0, 20).map((item) => summarise(item, depth + 1));
  if (value instanceof Map || value instanceof Set) return `${value.constructor.name}(${value.size})`;
  return Object.fromEntries(Object.entries(value).slice(0, 30).map(([key, item]) => [key, summarise(item, depth + 1)]));
}

const TASK_KINDS: Readonly<Record<string, TaskSide>> = { clientTask: 'client', providerTask: 'provider' };

export class UiModel {
  readonly participants: Mutable<Participants> = { clientId: undefined, providerId: undefined, providerEndpoint: undefined };
  private readonly services = new Map<string, Mutable<ServiceRow>>();
  private readonly tasks = new Map<string, Mutable<TaskRow>>();
  private readonly histories = new Map<string, HistoryEntry[]>();
  private readonly results = new Map<string, unknown>();
  private readonly actors = new Map<string, Mutable<ActorRow>>();
  private readonly actorTasks = new WeakMap<object, string>(); // task actor -> task key
  /** What a task sent before its first snapshot named it (its entry actions run first). */
  private readonly earlySends = new WeakMap<object, Array<Omit<HistoryEntry, 'side'>>>();
  private readonly endedServices: string[] = [];
  private readonly endedActors: string[] = [];
  private readonly goodbyes = new Set<string>();
  private readonly limits: UiModelLimits;
  private delta: Delta = UiModel.emptyDelta();
  private readonly stops: Array<() => void> = [];
  /** Called after something changed (the server schedules a flush). */
  onChange: () => void = () => {};
  /** Called with each transition of an actor (watchers get them at the next flush). */

  constructor(limits: Partial<UiModelLimits> = {}) {
    this.limits = { ...uiModelDefaults, ...limits };
  }

  private static emptyDelta(): Delta {
    return { services: [], tasks: [], tasksRemoved: [], actors: [], actorsRemoved: [], transitions: [], history: new Map() };
  }

  // ---- reading --------------------------------------------------------------------------------

  allServices(): ServiceRow[] {
    return [...this.services.values()];
  }
  allTasks(): TaskRow[] {
    return [...this.tasks.values()];
  }
  allActors(): ActorRow[] {
    return [...this.actors.values()];
  }
  task(key: string): TaskRow | undefined {
    return this.tasks.get(key);
  }
  historyOf(correlationId: string): readonly HistoryEntry[] {
    return this.histories.get(correlationId) ?? [];
  }
  resultOf(key: string): { kept: boolean; resultData?: unknown } {
    return this.results.has(key) ? { kept: true, resultData: this.results.get(key) } : { kept: false };
  }
  actor(sessionId: string): ActorRow | undefined {
    return this.actors.get(sessionId);
  }
  /** The changes since the last drain. */
  drain(): Delta {
    const delta = this.delta;
    this.delta = UiModel.emptyDelta();
    return delta;
  }

  // ---- sources --------------------------------------------------------------------------------

  observeClient(client: ObservedClient): void {
    this.participants.clientId = client.clientId;
    this.setServices(client.services());
    this.stops.push(client.on('services.changed', ((event: { services: readonly ServiceView[] }) => this.setServices(event.services)) as never));
    this.stops.push(
      client.on('task.submitted', ((event: { taskId: string; serviceId: string; endpoint: string }) => {
        const key = `client:${client.clientId}/${event.taskId}`;
        const row = this.taskRow(key, 'client', client.clientId, event.taskId);
        row.endpoint = event.endpoint;
        const service = this.services.get(event.serviceId);
        if (service && row.serviceName === '') row.serviceName = service.serviceName;
        this.touchTask(row);
        this.addHistory(`${client.clientId}/${event.taskId}`, { side: 'client', kind: 'event', title: `submitted to ${event.endpoint}`, detail: { serviceId: event.serviceId } });
      }) as never),
    );
    this.stops.push(
      client.on('task.progress', ((event: { taskId: string; status: 'Queued' | 'Processing'; progressPercentage: number; message?: string; estimatedTimeRemainingSeconds?: number }) => {
        const row = this.tasks.get(`client:${client.clientId}/${event.taskId}`);
        if (!row || row.endedAtMs !== undefined) return;
        if (row.status !== 'Cancelling') row.status = event.status;
        row.progressPercentage = event.progressPercentage;
        row.message = event.message;
        row.etaSeconds = event.estimatedTimeRemainingSeconds;
        this.touchTask(row);
      }) as never),
    );
    this.stops.push(
      client.on('task.settled', ((event: { taskId: string; outcome: TaskOutcome }) => {
        const key = `client:${client.clientId}/${event.taskId}`;
        this.settle(this.taskRow(key, 'client', client.clientId, event.taskId), event.outcome);
      }) as never),
    );
    this.stops.push(client.inspection.subscribe((event) => this.inspect(event, 'client')));
  }

  observeProvider(provider: ObservedProvider): void {
    this.participants.providerId = provider.providerId;
    this.participants.providerEndpoint = provider.endpoint;
    this.stops.push(
      provider.on('provider.listening', ((event: { endpoint: string }) => {
        this.participants.providerEndpoint = event.endpoint;
      }) as never),
    );
    this.stops.push(
      provider.on('task.settled', ((event: { clientId: string; taskId: string; outcome: TaskOutcome }) => {
        this.settle(this.taskRow(`provider:${event.clientId}/${event.taskId}`, 'provider', event.clientId, event.taskId), event.outcome);
      }) as never),
    );
    this.stops.push(provider.inspection.subscribe((event) => this.inspect(event, 'provider')));
  }

  /** What the UI itself assigned: the service and operation are known before any actor exists. */
  noteAssigned(clientId: string, taskId: string, serviceName: string, operation: string, params: unknown): void {
    const row = this.taskRow(`client:${clientId}/${taskId}`, 'client', clientId, taskId);
    row.serviceName = serviceName;
    row.operation = operation;
    this.touchTask(row);
    this.addHistory(`${clientId}/${taskId}`, { side: 'client', kind: 'event', title: `assigned ${serviceName}.${operation} from the web UI`, detail: summarise(params) });
  }

  close(): void {
    this.stops.splice(0).forEach((stop) => stop());
  }

  // ---- services -------------------------------------------------------------------------------

  private setServices(views: readonly ServiceView[]): void {
    const now = epochMs();
    const present = new Set<string>();
    for (const view of views) {
      present.add(view.serviceId);
      const known = this.services.get(view.serviceId);
      if (known && known.endedAtMs === undefined && known.status === view.status && known.load === view.load && known.health === view.health && known.capabilities === view.capabilities) continue;
      const row: Mutable<ServiceRow> = {
        serviceId: view.serviceId,
        serviceName: view.serviceName,
        serviceVersion: view.serviceVersion,
        endpoint: view.endpoint,
        status: view.status,
        load: view.load,
        health: view.health,
        capabilities: view.capabilities,
        lastHeardMs: known?.lastHeardMs ?? now,
        learnedAtMs: known && known.endedAtMs === undefined ? known.learnedAtMs : now,
        endedAtMs: undefined,
      };
      this.services.set(view.serviceId, row);
      this.delta.services.push(row);
    }
    for (const row of this.services.values()) {
      if (row.endedAtMs !== undefined || present.has(row.serviceId)) continue;
      row.health = this.goodbyes.delete(row.serviceId) ? 'gone' : 'expired';
      row.endedAtMs = now;
      this.delta.services.push({ ...row });
      this.endedServices.push(row.serviceId);
      while (this.endedServices.length > this.limits.endedServicesMax) {
        const oldest = this.endedServices.shift() as string;
        if (this.services.get(oldest)?.endedAtMs !== undefined) this.services.delete(oldest);
      }
    }
    this.onChange();
  }

  private heard(message: { discoveryType?: string; serviceId?: string; status?: string }): void {
    if (message.discoveryType !== 'ServiceAdvertisement' || typeof message.serviceId !== 'string') return;
    if (message.status === 'Offline') this.goodbyes.add(message.serviceId);
    const row = this.services.get(message.serviceId);
    if (!row || row.endedAtMs !== undefined) return;
    row.lastHeardMs = epochMs();
    this.delta.services.push(row);
    this.onChange();
  }

  // ---- tasks ----------------------------------------------------------------------------------

  private taskRow(key: string, side: TaskSide, clientId: string, taskId: string): Mutable<TaskRow> {
    let row = this.tasks.get(key);
    if (row) return row;
    const now = epochMs();
    row = {
      key,
      side,
      taskId,
      clientId,
      serviceName: '',
      operation: '',
      endpoint: undefined,
      state: '',
      status: 'Submitted',
      progressPercentage: 0,
      message: undefined,
      etaSeconds: undefined,
      createdAtMs: now,
      updatedAtMs: now,
      endedAtMs: undefined,
      errorCode: undefined,
      errorMessage: undefined,
      actor: undefined,
    };
    this.tasks.set(key, row);
    if (this.tasks.size > this.limits.tasksMax) this.evictTask();
    return row;
  }

  private evictTask(): void {
    for (const [key, row] of this.tasks) {
      if (row.endedAtMs === undefined) continue;
      this.tasks.delete(key);
      this.results.delete(key);
      const correlationId = `${row.clientId}/${row.taskId}`;
      if (!this.tasks.has(`${row.side === 'client' ? 'provider' : 'client'}:${correlationId}`)) this.histories.delete(correlationId);
      this.delta.tasksRemoved.push(key);
      return;
    }
  }

  private touchTask(row: Mutable<TaskRow>): void {
    row.updatedAtMs = epochMs();
    this.delta.tasks.push(row);
    this.onChange();
  }

  private settle(row: Mutable<TaskRow>, outcome: TaskOutcome): void {
    if (row.endedAtMs !== undefined) return;
    row.status = outcome.status;
    row.endedAtMs = epochMs();
    if (outcome.status === 'Completed') {
      row.progressPercentage = 100;
      this.results.set(row.key, outcome.resultData);
      if (this.results.size > this.limits.resultsMax) this.results.delete(this.results.keys().next().value as string);
    }
    if (outcome.status === 'Failed') {
      row.errorCode = outcome.error.code;
      row.errorMessage = outcome.error.message;
    }
    this.addHistory(`${row.clientId}/${row.taskId}`, {
      side: row.side,
      kind: 'settled',
      title: outcome.status === 'Failed' ? `Failed ${outcome.error.code}: ${outcome.error.message}` : outcome.status,
      ...(outcome.status === 'Completed' ? { detail: summarise(outcome.resultData) } : {}),
    });
    this.touchTask(row);
  }

  private addHistory(correlationId: string, entry: Omit<HistoryEntry, 'atMs'> & { atMs?: number }): void {
    let history = this.histories.get(correlationId);
    if (history === undefined) {
      history = [];
      this.histories.set(correlationId, history);
      if (this.histories.size > this.limits.historiesMax) this.histories.delete(this.histories.keys().next().value as string);
    }
    const full: HistoryEntry = { ...entry, atMs: entry.atMs ?? epochMs() };
    if (history.length >= this.limits.historyMax) history.splice(1, 1); // keep the first entry
    history.push(full);
    let pending = this.delta.history.get(correlationId);
    if (pending === undefined) {
      pending = [];
      this.delta.history.set(correlationId, pending);
    }
    pending.push(full);
  }

  // ---- inspection -----------------------------------------------------------------------------

  private inspect(event: InspectionEvent, side: TaskSide): void {
    const actorRef = event.actorRef;
    switch (event.type) {
      case '@xstate.actor': {
        const kind = kindOf(actorRef);
        if (kind !== undefined) this.actorRow(actorRef, kind);
        return;
      }
      case '@xstate.snapshot': {
        const kind = kindOf(actorRef, event.snapshot);
        if (kind === undefined) return;
        const snapshot = event.snapshot as { value?: StateValue; status?: string; context?: Record<string, unknown> };
        const row = this.actorRow(actorRef, kind);
        const previous = row.value;
        row.value = snapshot.value;
        row.status = snapshot.status ?? 'active';
        row.label = labelOf(kind, snapshot.context) ?? row.label;
        row.lastEvent = event.event.type;
        row.updatedAtMs = epochMs();
        this.delta.actors.push(row);
        this.delta.transitions.push({ sessionId: row.sessionId, event: event.event.type, value: snapshot.value, status: row.status, atMs: row.updatedAtMs });
        if (row.status !== 'active') this.endActor(row);
        const taskSide = TASK_KINDS[kind];
        if (taskSide !== undefined) this.taskSnapshot(actorRef, taskSide, snapshot, previous, event.event.type, row.sessionId);
        this.onChange();
        return;
      }
      case '@xstate.event': {
        const sent = event.event as { type: string; message?: Record<string, unknown>; draft?: Record<string, unknown>; clientId?: string };
        if (sent.type === 'datagram.received' && sent.message) this.heard(sent.message as never);
        if (sent.type === 'xstate.stop') {
          const row = this.actors.get(actorRef.sessionId);
          if (row && row.status === 'active') {
            row.status = 'stopped';
            this.delta.actors.push(row);
            this.endActor(row);
            this.onChange();
          }
          return;
        }
        this.taskEvent(event, side);
        return;
      }
      default:
        return;
    }
  }

  private actorRow(actorRef: InspectedActor, kind: string): Mutable<ActorRow> {
    let row = this.actors.get(actorRef.sessionId);
    if (row) return row;
    const parent = (actorRef as { _parent?: { sessionId?: string } })._parent;
    row = {
      sessionId: actorRef.sessionId,
      id: String((actorRef as { id?: unknown }).id ?? actorRef.sessionId),
      kind,
      parent: typeof parent?.sessionId === 'string' ? parent.sessionId : undefined,
      label: String((actorRef as { id?: unknown }).id ?? ''),
      value: undefined,
      status: 'active',
      lastEvent: undefined,
      updatedAtMs: epochMs(),
    };
    this.actors.set(row.sessionId, row);
    this.delta.actors.push(row);
    this.onChange();
    return row;
  }

  private endActor(row: ActorRow): void {
    this.endedActors.push(row.sessionId);
    while (this.endedActors.length > this.limits.endedActorsMax) {
      const oldest = this.endedActors.shift() as string;
      if (this.actors.get(oldest)?.status !== 'active' && this.actors.delete(oldest)) this.delta.actorsRemoved.push(oldest);
    }
  }

  private taskSnapshot(
    actorRef: InspectedActor,
    side: TaskSide,
    snapshot: { value?: StateValue; status?: string; context?: Record<string, unknown> },
    previous: unknown,
    eventType: string,
    sessionId: string,
  ): void {
    const context = snapshot.context ?? {};
    const clientId = String(context.clientId ?? this.participants.clientId ?? '');
    const taskId = taskIdOf(actorRef, snapshot);
    const key = `${side}:${clientId}/${taskId}`;
    const firstSnapshot = !this.actorTasks.has(actorRef);
    this.actorTasks.set(actorRef, key);
    const row = this.taskRow(key, side, clientId, taskId);
    if (firstSnapshot) {
      for (const early of this.earlySends.get(actorRef) ?? []) this.addHistory(`${clientId}/${taskId}`, { ...early, side });
      this.earlySends.delete(actorRef);
    }
    row.actor = sessionId;
    if (row.serviceName === '' && typeof context.serviceName === 'string') row.serviceName = context.serviceName;
    if (row.operation === '' && typeof context.operation === 'string') row.operation = context.operation;
    const state = leafStateOf(snapshot.value);
    if (row.endedAtMs === undefined) {
      if (state.includes('cancelling')) row.status = 'Cancelling';
      else if (side === 'provider' && state === 'processing') row.status = 'Processing';
      else if (side === 'provider' && state === 'assigned') row.status = 'Queued';
      if (typeof context.progressPercentage === 'number') row.progressPercentage = context.progressPercentage;
    }
    if (state !== row.state) {
      const from = row.state || leafStateOf(previous as StateValue);
      row.state = state;
      this.addHistory(`${clientId}/${taskId}`, { side, kind: 'state', title: from ? `${from} → ${state}` : `→ ${state}`, detail: { event: eventType } });
    }
    this.touchTask(row);
  }

  /** Messages and events that concern a task: what it received, what it asked its parent to send. */
  private taskEvent(event: Extract<InspectionEvent, { type: '@xstate.event' }>, side: TaskSide): void {
    const sent = event.event as { type: string; message?: { type?: string; payload?: Record<string, unknown> }; draft?: { type?: string; payload?: Record<string, unknown> }; clientId?: string };
    const targetKey = this.actorTasks.get(event.actorRef);
    if (targetKey !== undefined) {
      const row = this.tasks.get(targetKey);
      if (!row) return;
      const correlationId = `${row.clientId}/${row.taskId}`;
      if (sent.type === 'task.message' && sent.message) {
        this.addHistory(correlationId, { side, kind: 'received', title: `received ${sent.message.type}`, detail: summarise(sent.message.payload) });
      } else if (sent.type === 'handler.progress') {
        this.addHistory(correlationId, { side, kind: 'progress', title: `progress ${(sent as { progressPercentage?: number }).progressPercentage ?? ''}%`, detail: summarise(sent) });
      } else if (!sent.type.startsWith('xstate.')) {
        this.addHistory(correlationId, { side, kind: 'event', title: sent.type });
      }
      return;
    }
    const source = event.sourceRef;
    if (source !== undefined && sent.type === 'task.send' && sent.draft) {
      const entry = { kind: 'sent' as const, title: `sent ${sent.draft.type}`, detail: summarise(sent.draft.payload), atMs: epochMs() };
      const sourceKey = this.actorTasks.get(source);
      const row = sourceKey === undefined ? undefined : this.tasks.get(sourceKey);
      if (row) this.addHistory(`${row.clientId}/${row.taskId}`, { ...entry, side });
      else if (sourceKey === undefined && TASK_KINDS[kindOf(source) ?? ''] !== undefined) {
        const early = this.earlySends.get(source) ?? [];
        if (early.length < 8) early.push(entry);
        this.earlySends.set(source, early);
      }
      return;
    }
    // The provider's registry answering a client: Ack, TaskStatusUpdate, TaskResult, TaskFailed.
    if (sent.type === 'registry.reply' && sent.draft && typeof sent.clientId === 'string') {
      const taskId = sent.draft.payload?.taskId;
      if (typeof taskId === 'string' && this.tasks.has(`provider:${sent.clientId}/${taskId}`)) {
        this.addHistory(`${sent.clientId}/${taskId}`, { side: 'provider', kind: 'sent', title: `sent ${sent.draft.type}`, detail: summarise(sent.draft.payload) });
      }
    }
  }
}

function labelOf(kind: string, context: Record<string, unknown> | undefined): string | undefined {
  if (context === undefined) return undefined;
  const pick = (...keys: string[]) => keys.map((key) => context[key]).find((value): value is string => typeof value === 'string');
  switch (kind) {
    case 'provider':
      return pick('endpoint', 'providerId');
    case 'session':
      return [pick('connectionId'), pick('clientId')].filter(Boolean).join(' · ') || undefined;
    case 'client':
    case 'repository':
      return pick('clientId');
    case 'repositoryEntry': {
      const advertisement = context.advertisement as { serviceName?: string; endpoint?: string } | undefined;
      return [advertisement?.serviceName, pick('serviceId')].filter(Boolean).join(' · ') || undefined;
    }
    case 'connection':
      return pick('endpoint');
    case 'clientTask':
    case 'providerTask':
      return [pick('serviceName') && `${pick('serviceName')}.${pick('operation')}`, pick('taskId')].filter(Boolean).join(' · ') || undefined;
    default:
      return undefined;
  }
}
