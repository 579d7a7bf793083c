/**
 * Prometheus metrics for clients and providers (prom-client), fed only by public surfaces: the
 * actor system's inspection stream (participants told apart by machine id, so tasks count the
 * same whether they are actors or synthesised) and the emitted events.
 *
 * ```ts
 * const metrics = createMetrics();
 * const provider = createProvider({ services, metrics });
 * const text = await metrics.text();   // what GET /metrics serves (the web UI serves it too)
 * ```
 *
 * prom-client is an optional peer dependency (adapters/optionalPeer.ts), loaded by the first
 * createMetrics(): without it, createMetrics throws a MissingPeerError saying what to install.
 */
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';
import type { InspectionEvent, StateValue } from 'xstate';
import type { TaskOutcome } from '../../machines/outcome.js';
import { MissingPeerError, requirePeer } from '../../adapters/optionalPeer.js';
import type { InspectionSource } from '../inspect/hub.js';
import { kindOf, type InspectedActor } from '../inspect/kinds.js';
import { chartedStates, createStateTimeTracker } from './stateTime.js';

export interface MetricsOptions {
  /** Register here instead of a registry of its own. */
  readonly registry?: Registry;
  /** Task duration buckets, in seconds. */
  readonly buckets?: readonly number[];
  /** Seconds, for durations. @default performance.now() / 1000 */
  readonly now?: () => number;
}

/** What metrics need of a client or provider: its inspection stream and emitted events. */
export interface Observable {
  readonly inspection: InspectionSource;
  // Loosely typed so that Client and Provider, whose `on` is generic over their own events, both fit.
  on(type: any, listener: (event: any) => void): () => void;
}

export interface SwitchboardMetrics {
  readonly registry: Registry;
  /** The Content-Type of `text()`. */
  readonly contentType: string;
  /** Counts what `participant` does from now on; returns the stop function. */
  observe(participant: Observable, side: 'client' | 'provider'): () => void;
  /** The exposition text (GET /metrics). */
  text(): Promise<string>;
}

type Side = 'client' | 'provider';

/** The fields of an inspected event the counters read. */
interface Sent {
  readonly type: string;
  readonly message?: { type?: string; discoveryType?: string; payload?: { code?: unknown } };
  readonly draft?: { type?: string; discoveryType?: string; payload?: { code?: unknown } };
  readonly error?: { code?: unknown };
}

interface TaskInfo {
  readonly side: Side;
  readonly service: string;
  readonly operation: string;
  readonly startedAt: number;
}

const TASK_KINDS: Readonly<Record<string, Side>> = { clientTask: 'client', providerTask: 'provider' };

export const PROM_CLIENT = 'prom-client';

export function createMetrics(options: MetricsOptions = {}): SwitchboardMetrics {
  const { Counter, Gauge, Histogram, Registry } = requirePeer<typeof PromClient>(PROM_CLIENT, 'Prometheus metrics');
  const registry = options.registry ?? new Registry();
  const now = options.now ?? (() => performance.now() / 1000);
  const registers = [registry];
  const tasks = new Counter({
    name: 'switchboard_tasks_total',
    help: 'Tasks that ended, by side, service, operation and outcome (Completed, Failed, Cancelled).',
    labelNames: ['side', 'service', 'operation', 'outcome'] as const,
    registers,
  });
  const taskSeconds = new Histogram({
    name: 'switchboard_task_duration_seconds',
    help: 'Task duration from creation (client: assignment; provider: acceptance) to its end.',
    labelNames: ['side', 'service', 'operation', 'outcome'] as const,
    buckets: [...(options.buckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300])],
    registers,
  });
  const inFlight = new Gauge({ name: 'switchboard_tasks_in_flight', help: 'Tasks not ended yet.', labelNames: ['side'] as const, registers });
  const sessionsOpen = new Gauge({ name: 'switchboard_sessions_open', help: 'Provider sessions open (handshake done, not ended).', registers });
  const sessionsEnded = new Counter({
    name: 'switchboard_sessions_ended_total',
    help: 'Provider sessions that ended: graceful (close handshake) or lost.',
    labelNames: ['how'] as const,
    registers,
  });
  const reconnects = new Counter({ name: 'switchboard_reconnects_total', help: 'Client connections opened again after a drop.', registers });
  const connectionDrops = new Counter({ name: 'switchboard_connection_drops_total', help: 'Client connections that went down.', registers });
  const datagrams = new Counter({
    name: 'switchboard_discovery_datagrams_total',
    help: 'Discovery datagrams by side, direction (sent, received, rejected) and discovery type.',
    labelNames: ['side', 'direction', 'type'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'switchboard_errors_total',
    help: 'Errors by side and code: tasks that failed (source=task), Error messages sent or received (source=message), input rejected (source=rejected).',
    labelNames: ['side', 'code', 'source'] as const,
    registers,
  });
  const stateSeconds = new Counter({
    name: 'switchboard_state_seconds_total',
    help: 'Time actors spent in each state of each participant statechart (all states listed from the machine definitions).',
    labelNames: ['machine', 'state'] as const,
    registers,
  });
  const stateEntries = new Counter({
    name: 'switchboard_state_entries_total',
    help: 'Times a state of a participant statechart was entered.',
    labelNames: ['machine', 'state'] as const,
    registers,
  });
  const inState = new Gauge({
    name: 'switchboard_actors_in_state',
    help: 'Actors currently in each state of each participant statechart.',
    labelNames: ['machine', 'state'] as const,
    registers,
  });
  for (const { machine, state } of chartedStates()) {
    stateSeconds.inc({ machine, state }, 0);
    stateEntries.inc({ machine, state }, 0);
    inState.set({ machine, state }, 0);
  }
  const tracker = createStateTimeTracker(
    {
      spent: (machine, state, seconds) => stateSeconds.inc({ machine, state }, seconds),
      entered: (machine, state) => stateEntries.inc({ machine, state }),
      occupancy: (machine, state, delta) => inState.inc({ machine, state }, delta),
    },
    now,
  );
  new Gauge({
    name: 'switchboard_repository_entries',
    help: "Entries of clients' service repositories by state (alive, suspect).",
    labelNames: ['state'] as const,
    registers,
    collect() {
      tracker.flush();
      for (const state of ['alive', 'suspect'] as const) this.set({ state }, occupancyOf('repositoryEntry', state));
    },
  });
  const occupancy = new Map<string, number>();
  const occupancyOf = (machine: string, state: string) => occupancy.get(`${machine}\u0000${state}`) ?? 0;
  const sinkOccupancy = (machine: string, state: string, delta: number) => {
    const key = `${machine}\u0000${state}`;
    occupancy.set(key, (occupancy.get(key) ?? 0) + delta);
  };

  const countError = (side: Side, code: unknown, source: 'task' | 'message' | 'rejected') => {
    if (typeof code === 'string' && code.length > 0 && code.length <= 64) errors.inc({ side, code, source });
  };

  const observe = (participant: Observable, side: Side) => {
    /** A frame a session or connection received: decoded (an Error counts) or rejected. */
    const countInput = (sent: Sent, actorRef: InspectedActor) => {
      if (sent.type === 'transport.message') {
        if (sent.message?.type === 'Error' && isKind(actorRef, 'connection')) countError(side, sent.message.payload?.code, 'message');
      } else if (isKind(actorRef, 'session', 'connection')) countError(side, sent.error?.code, 'rejected');
    };
    const taskInfo = new Map<InspectedActor, TaskInfo>();
    /** Every actor of this participant's system being tracked, to close them all when it ends. */
    const tracked = new Set<InspectedActor>();
    const forget = (actorRef: InspectedActor) => {
      tracker.stopped(actorRef);
      const info = taskInfo.get(actorRef);
      if (info !== undefined) {
        taskInfo.delete(actorRef);
        inFlight.dec({ side: info.side });
      }
      untrackOccupancy(actorRef);
      tracked.delete(actorRef);
    };
    const onInspection = (event: InspectionEvent) => {
      const { actorRef } = event;
      if (event.type === '@xstate.snapshot') {
        const kind = kindOf(actorRef, event.snapshot);
        if (kind === undefined) return;
        const snapshot = event.snapshot as { value?: StateValue; status?: string; context?: Record<string, unknown>; output?: unknown };
        const done = snapshot.status !== 'active';
        if (done && (kind === 'client' || kind === 'provider')) {
          // The root ended: its whole system stopped, whether or not each actor said so.
          for (const actor of [...tracked]) if (actor !== actorRef) forget(actor);
        }
        tracker.snapshot(actorRef, kind, snapshot.value, done);
        if (done) tracked.delete(actorRef);
        else tracked.add(actorRef);
        if (kind === 'repositoryEntry') trackOccupancy(actorRef, snapshot.value, done);
        const taskSide = TASK_KINDS[kind];
        if (taskSide === undefined) return;
        let info = taskInfo.get(actorRef);
        if (info === undefined && !done) {
          info = {
            side: taskSide,
            service: String(snapshot.context?.serviceName ?? 'unknown'),
            operation: String(snapshot.context?.operation ?? 'unknown'),
            startedAt: now(),
          };
          taskInfo.set(actorRef, info);
          inFlight.inc({ side: taskSide });
        }
        if (done && info !== undefined) {
          taskInfo.delete(actorRef);
          inFlight.dec({ side: taskSide });
          const outcome = snapshot.output as TaskOutcome | undefined;
          const status = outcome?.status ?? 'Stopped';
          const labels = { side: taskSide, service: info.service, operation: info.operation, outcome: status };
          tasks.inc(labels);
          taskSeconds.observe(labels, now() - info.startedAt);
          if (outcome?.status === 'Failed') countError(taskSide, outcome.error.code, 'task');
        }
        return;
      }
      if (event.type !== '@xstate.event') return;
      const sent = event.event as Sent;
      switch (sent.type) {
        case 'xstate.stop':
          forget(actorRef);
          return;
        case 'datagram.received':
          if (isKind(actorRef, 'repository', 'provider')) datagrams.inc({ side, direction: 'received', type: sent.message?.discoveryType ?? 'unknown' });
          return;
        case 'datagram.rejected':
          if (isKind(actorRef, 'repository', 'provider')) {
            datagrams.inc({ side, direction: 'rejected', type: 'undecodable' });
            countError(side, sent.error?.code, 'rejected');
          }
          return;
        case 'datagram.send':
          if (isKind(event.sourceRef, 'repository', 'provider')) datagrams.inc({ side, direction: 'sent', type: sent.draft?.discoveryType ?? 'unknown' });
          return;
        case 'transport.message':
          countInput(sent, actorRef);
          return;
        case 'transport.batch':
          // One socket read's frames (adapters/ws readBatches), counted frame by frame.
          for (const input of (sent as unknown as { events: readonly Sent[] }).events) countInput(input, actorRef);
          return;
        case 'transport.send':
          if (sent.draft?.type === 'Error' && isKind(event.sourceRef, 'session')) countError(side, sent.draft.payload?.code, 'message');
          return;
        case 'transport.rejected':
          countInput(sent, actorRef);
          return;
        default:
          return;
      }
    };
    const entryStates = new Map<InspectedActor, string>();
    const trackOccupancy = (actorRef: InspectedActor, value: StateValue | undefined, done: boolean) => {
      const kind = 'repositoryEntry';
      const previous = entryStates.get(actorRef);
      const next = done ? undefined : typeof value === 'string' ? value : undefined;
      if (previous === next) return;
      if (previous !== undefined) sinkOccupancy(kind, previous, -1);
      if (next !== undefined) {
        sinkOccupancy(kind, next, 1);
        entryStates.set(actorRef, next);
      } else entryStates.delete(actorRef);
    };
    const untrackOccupancy = (actorRef: InspectedActor) => {
      const previous = entryStates.get(actorRef);
      if (previous === undefined) return;
      sinkOccupancy('repositoryEntry', previous, -1);
      entryStates.delete(actorRef);
    };
    const stops = [participant.inspection.subscribe(onInspection)];
    if (side === 'client') {
      stops.push(participant.on('connection.opened', ((event: { reconnected: boolean }) => event.reconnected && reconnects.inc()) as never));
      stops.push(participant.on('connection.down', (() => connectionDrops.inc()) as never));
    } else {
      const open = new Set<string>();
      stops.push(
        participant.on('session.opened', ((event: { connectionId: string }) => {
          open.add(event.connectionId);
          sessionsOpen.set(open.size);
        }) as never),
      );
      stops.push(
        participant.on('session.ended', ((event: { connectionId: string; graceful: boolean }) => {
          sessionsEnded.inc({ how: event.graceful ? 'graceful' : 'lost' });
          if (open.delete(event.connectionId)) sessionsOpen.set(open.size);
        }) as never),
      );
    }
    return () => stops.forEach((stop) => stop());
  };

  return {
    registry,
    contentType: registry.contentType,
    observe,
    text: async () => {
      tracker.flush();
      return registry.metrics();
    },
  };
}

/** createMetrics(), or, without prom-client, the MissingPeerError that says so (for callers that then run without metrics). */
export function metricsIfInstalled(options: MetricsOptions = {}): SwitchboardMetrics | MissingPeerError {
  try {
    return createMetrics(options);
  } catch (error) {
    if (error instanceof MissingPeerError) return error;
    throw error;
  }
}

function isKind(actorRef: InspectedActor | undefined, ...kinds: string[]): boolean {
  const kind = kindOf(actorRef);
  return kind !== undefined && kinds.includes(kind);
}
