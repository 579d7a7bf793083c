/**
 * A run's plan: everything a scenario and a seed decide before anything runs. Who takes part
 * (instances, addresses, options in milliseconds), every task each client will submit (when,
 * with what, whether and when it is cancelled), the fault schedule (explicit plus random) and
 * the phases. The virtual-time runner and the real-process runner execute the same plan, and the
 * checker judges what they observed against it.
 */
import { Prng } from '../../adapters/simulated/prng.js';
import { clientDefaults } from '../../machines/client.js';
import { providerDefaults } from '../../machines/provider.js';
import { deriveSeed } from '../../machines/random.js';
import { randomFaults } from './randomFaults.js';
import { EVENT_KINDS, instanceNames, type ClientSpec, type Fault, type ProviderSpec, type Range, type Scenario, type SubscriptionSpec } from './scenario.js';

export interface ProviderTimings {
  readonly heartbeatIntervalMs: number;
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly answerDelayMs: number;
  readonly closeTimeoutMs: number;
}

export interface ClientTimings {
  readonly discoveryPeriodMs: number;
  readonly defaultHeartbeatIntervalMs: number;
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly backoff: { readonly delayMsBase: number; readonly delayMsMax: number; readonly attemptsMax: number };
  readonly ackTimeoutMs: number;
  readonly assignAttemptsMax: number;
  readonly cancelTimeoutMs: number;
}

export interface PlannedProvider {
  readonly kind: 'provider';
  readonly name: string;
  /** Index among all participants: addresses and seeds derive from it. */
  readonly index: number;
  readonly spec: ProviderSpec;
  readonly timings: ProviderTimings;
  /** Signs its advertisements (SEC-8; the scenario's `signed`, default true). */
  readonly signed: boolean;
}

export interface PlannedClient {
  readonly kind: 'client';
  readonly name: string;
  readonly index: number;
  readonly spec: ClientSpec;
  readonly timings: ClientTimings;
  /** Whether the client assigns again elsewhere after some failures (an operation may then run twice). */
  readonly retries: boolean;
  /** Believes unsigned advertisements (SEC-8; the scenario's `allowUnsigned`, default false). */
  readonly allowUnsigned: boolean;
}

/** Whether `client` acts on `provider`'s advertisements at all: a signed one always (trust on first use), an unsigned one if allowed. */
export const believes = (client: PlannedClient, provider: PlannedProvider): boolean => provider.signed || client.allowUnsigned;

export type PlannedParticipant = PlannedProvider | PlannedClient;

export interface PlannedTask {
  readonly client: string;
  readonly atMs: number;
  /** Unique in the run; the same in every replay of the seed. */
  readonly taskId: string;
  readonly service: string;
  readonly operation: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly deadlineMs: number | undefined;
  readonly cancelAtMs: number | undefined;
  /** Task files (FILE-12): uploaded before the AssignTask, named in the parameter `files`. */
  readonly files?: readonly PlannedFile[];
  /** Files the operation makes and returns (asked for in the parameter `resultFiles`), fetched by the client after the TaskResult. */
  readonly resultFiles?: number;
}

/** A task file: its bytes derive from the run seed and `key`, so one key is one file (FILE-3: it moves once). */
export interface PlannedFile {
  readonly key: string;
  readonly size: number;
}

/** Who a publication is for (EVT-6). */
export type PublicationTarget = { readonly all: true } | { readonly clientId: string } | { readonly group: string };

/** One event a provider instance publishes (whichever incarnation is up then), `{ id, n, kind }`. */
export interface PlannedPublication {
  readonly provider: string;
  readonly atMs: number;
  readonly service: string;
  readonly event: string;
  /** Unique in the run: `<provider>.<service>.<event>.<n>`. */
  readonly id: string;
  /** Its number in its stream: publications of one stream are made in increasing `n`. */
  readonly n: number;
  readonly kind: (typeof EVENT_KINDS)[number];
  readonly target: PublicationTarget;
}

/** One subscription a client holds from `atMs` (again after each restart) until `untilMs`. */
export interface PlannedSubscription {
  readonly client: string;
  readonly atMs: number;
  readonly untilMs: number | undefined;
  readonly subscriptionId: string;
  readonly spec: SubscriptionSpec;
}

/** The group publications may target (EVT-6): the clients of even index, put in it by every provider. */
export const EVEN_GROUP = 'even';

export interface Plan {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly participants: readonly PlannedParticipant[];
  readonly tasks: readonly PlannedTask[];
  readonly publications: readonly PlannedPublication[];
  readonly subscriptions: readonly PlannedSubscription[];
  /** Explicit and random faults, by time. */
  readonly faults: readonly Fault[];
  /** End of the fault phase: everything is healed and restarted then. */
  readonly healAtMs: number;
  /** When each client submits its probe task (CONN-4, after rediscovery). */
  readonly probeAtMs: number;
  readonly endMs: number;
  /** Base link faults of the fault phase. */
  readonly network: { readonly loss: number; readonly duplicate: number; readonly reorder: number; readonly delay: Range; readonly corrupt: number };
}

export const DEFAULT_DURATION_MS = 60_000;
const DEFAULT_OPERATION_MS = 100;
/** Datagram and frame delay when the scenario says nothing (a LAN). */
export const DEFAULT_DELAY: Range = { min: 1, max: 5 };

export function providerTimings(spec: ProviderSpec): ProviderTimings {
  const options = spec.options ?? {};
  return {
    heartbeatIntervalMs: options.heartbeatInterval ?? providerDefaults.heartbeatIntervalMs,
    pingIntervalMs: options.pingInterval ?? providerDefaults.session.pingIntervalMs,
    pongTimeoutMs: options.pongTimeout ?? providerDefaults.session.pongTimeoutMs,
    answerDelayMs: options.answerDelay ?? providerDefaults.session.answerDelayMs,
    closeTimeoutMs: options.closeTimeout ?? providerDefaults.session.closeTimeoutMs,
  };
}

export function clientTimings(spec: ClientSpec): ClientTimings {
  const options = spec.options ?? {};
  const connection = clientDefaults.connection;
  return {
    discoveryPeriodMs: options.discoveryPeriod ?? clientDefaults.repository.discoveryPeriodMs,
    defaultHeartbeatIntervalMs: options.defaultHeartbeatInterval ?? clientDefaults.repository.defaultHeartbeatIntervalMs,
    pingIntervalMs: options.pingInterval ?? connection.pingIntervalMs,
    pongTimeoutMs: options.pongTimeout ?? connection.pongTimeoutMs,
    connectTimeoutMs: options.connectTimeout ?? connection.connectTimeoutMs,
    closeTimeoutMs: options.closeTimeout ?? connection.closeTimeoutMs,
    backoff: {
      delayMsBase: options.backoff?.base ?? connection.backoff.delayMsBase,
      delayMsMax: options.backoff?.max ?? connection.backoff.delayMsMax,
      attemptsMax: options.backoff?.attemptsMax ?? connection.backoff.attemptsMax,
    },
    ackTimeoutMs: options.ackTimeout ?? connection.task.ackTimeoutMs,
    assignAttemptsMax: options.assignAttemptsMax ?? connection.task.assignAttemptsMax,
    cancelTimeoutMs: options.cancelTimeout ?? connection.task.cancelTimeoutMs,
  };
}

function participantsOf(scenario: Scenario): PlannedParticipant[] {
  const participants: PlannedParticipant[] = [];
  for (const spec of scenario.providers) {
    for (const name of instanceNames(spec)) {
      participants.push({ kind: 'provider', name, index: participants.length, spec, timings: providerTimings(spec), signed: spec.options?.signed !== false });
    }
  }
  for (const spec of scenario.clients) {
    for (const name of instanceNames(spec)) {
      participants.push({
        kind: 'client',
        name,
        index: participants.length,
        spec,
        timings: clientTimings(spec),
        retries: spec.options?.retry !== undefined,
        allowUnsigned: spec.options?.allowUnsigned === true,
      });
    }
  }
  return participants;
}

const draw = (prng: Prng, range: Range): number => (range.min === range.max ? range.min : prng.integer(range.min, range.max));

/** Every task of every client, from the workloads and the seed (one PRNG stream per workload). */
function tasksOf(scenario: Scenario, participants: readonly PlannedParticipant[], seed: number, healAtMs: number): PlannedTask[] {
  const tasks: PlannedTask[] = [];
  for (const participant of participants) {
    if (participant.kind !== 'client') continue;
    (participant.spec.workload ?? []).forEach((workload, index) => {
      const prng = Prng.derive(seed, `workload:${participant.name}:${index}`);
      const untilMs = Math.min(workload.until ?? healAtMs, healAtMs);
      let atMs = workload.start ?? 0;
      for (let n = 0; n < (workload.count ?? Number.POSITIVE_INFINITY) && atMs < untilMs; n++) {
        const cancelled = workload.cancel !== undefined && prng.chance(workload.cancel.probability);
        const cancelAfterMs = workload.cancel === undefined ? 0 : draw(prng, workload.cancel.after);
        const files = workload.files === undefined ? undefined : filesOf(workload.files, `${participant.name}.w${index}`, seed, Prng.derive(seed, `files:${participant.name}:${index}:${n}`));
        tasks.push({
          client: participant.name,
          atMs,
          taskId: `${participant.name}.w${index}.t${n + 1}`,
          service: workload.service,
          operation: workload.operation,
          params: workload.params ?? {},
          deadlineMs: workload.deadline,
          cancelAtMs: cancelled ? atMs + cancelAfterMs : undefined,
          ...(files === undefined ? {} : { files }),
          ...((workload.files?.results ?? 0) > 0 ? { resultFiles: workload.files?.results } : {}),
        });
        atMs += Math.max(1, draw(prng, workload.every));
      }
    });
  }
  return tasks.sort((a, b) => a.atMs - b.atMs || a.taskId.localeCompare(b.taskId));
}

/** A task's files: `count` keys drawn among the stream's `distinct` ones, each with its own size (from the seed and key). */
function filesOf(spec: NonNullable<NonNullable<ClientSpec['workload']>[number]['files']>, stream: string, seed: number, prng: Prng): PlannedFile[] {
  const distinct = spec.distinct ?? 4;
  const keys = new Set<string>();
  for (let k = 0; k < spec.count; k++) keys.add(`${stream}.f${prng.integer(0, distinct - 1)}`);
  return [...keys].map((key) => ({ key, size: draw(Prng.derive(seed, `file:${key}`), spec.size) }));
}

/** Every publication of every provider instance: one PRNG stream per instance, service and event. */
function publicationsOf(participants: readonly PlannedParticipant[], seed: number, healAtMs: number): PlannedPublication[] {
  const clients = participants.filter((p): p is PlannedClient => p.kind === 'client').map((p) => p.name);
  const publications: PlannedPublication[] = [];
  for (const participant of participants) {
    if (participant.kind !== 'provider') continue;
    for (const service of participant.spec.services ?? []) {
      for (const [event, spec] of Object.entries(service.events ?? {})) {
        const prng = Prng.derive(seed, `publish:${participant.name}:${service.name}:${event}`);
        const untilMs = Math.min(spec.until ?? healAtMs, healAtMs);
        let atMs = spec.start ?? 0;
        for (let n = 1; atMs < untilMs; n++) {
          const kind = EVENT_KINDS[prng.integer(0, EVENT_KINDS.length - 1)] as PlannedPublication['kind'];
          const roll = prng.next();
          const toClient = spec.toClient ?? 0;
          const target: PublicationTarget =
            roll < toClient && clients.length > 0
              ? { clientId: clients[prng.integer(0, clients.length - 1)] as string }
              : roll < toClient + (spec.toGroup ?? 0)
                ? { group: EVEN_GROUP }
                : { all: true };
          publications.push({ provider: participant.name, atMs, service: service.name, event, id: `${participant.name}.${service.name}.${event}.${n}`, n, kind, target });
          atMs += Math.max(1, draw(prng, spec.every));
        }
      }
    }
  }
  return publications.sort((a, b) => a.atMs - b.atMs || a.id.localeCompare(b.id));
}

function subscriptionsOf(participants: readonly PlannedParticipant[]): PlannedSubscription[] {
  return participants.flatMap((participant) =>
    participant.kind !== 'client'
      ? []
      : (participant.spec.subscriptions ?? []).map((spec, index) => ({
          client: participant.name,
          atMs: spec.start ?? 0,
          untilMs: spec.until,
          subscriptionId: `${participant.name}.s${index}`,
          spec,
        })),
  );
}

/** The client names in the group EVEN_GROUP: every other client, from the first. */
export function evenClients(plan: Pick<Plan, 'participants'>): Set<string> {
  return new Set(plan.participants.filter((p) => p.kind === 'client').flatMap((p, index) => (index % 2 === 0 ? [p.name] : [])));
}

/** The longest a simulated operation of the scenario can run. */
function longestOperationMs(scenario: Scenario): number {
  let longest = 0;
  for (const provider of scenario.providers) {
    for (const service of provider.services ?? []) {
      for (const operation of Object.values(service.operations)) longest = Math.max(longest, operation.duration?.max ?? DEFAULT_OPERATION_MS);
    }
    if ((provider.modules?.length ?? 0) > 0) longest = Math.max(longest, 10_000);
  }
  return longest;
}

/**
 * A liveness phase long enough for everything to settle after the heal: rediscovery (one
 * heartbeat), the longest reconnect backoff, the longest operation, every AssignTask attempt,
 * a cancel's wait, and the probe task. Generous on purpose: a phase too short reports a false
 * liveness failure, one too long only costs virtual time.
 */
function livenessMs(participants: readonly PlannedParticipant[], longestOperation: number): number {
  let bound = 0;
  for (const participant of participants) {
    if (participant.kind === 'provider') {
      const t = participant.timings;
      bound = Math.max(bound, 3 * t.heartbeatIntervalMs + t.pingIntervalMs + t.pongTimeoutMs);
    } else {
      const t = participant.timings;
      const reconnect = t.backoff.delayMsMax + t.connectTimeoutMs;
      bound = Math.max(bound, reconnect + t.assignAttemptsMax * t.ackTimeoutMs + t.cancelTimeoutMs + t.pingIntervalMs + t.pongTimeoutMs);
    }
  }
  return 2 * (bound + longestOperation) + 1_000;
}

/** When the probes go out: once every provider has advertised again and connections had time to come back. */
function probeDelayMs(participants: readonly PlannedParticipant[]): number {
  let delay = 0;
  for (const participant of participants) {
    if (participant.kind === 'provider') delay = Math.max(delay, participant.timings.heartbeatIntervalMs);
    else delay = Math.max(delay, participant.timings.backoff.delayMsMax + participant.timings.connectTimeoutMs);
  }
  return delay + 500;
}

export interface PlanOptions {
  readonly seed: number;
  /** Replaces the scenario's duration (`--until`). */
  readonly durationMs?: number;
  /** Replaces the whole fault schedule, random faults included (replay of a shrunk schedule). */
  readonly faults?: readonly Fault[];
}

export function planRun(scenario: Scenario, options: PlanOptions): Plan {
  const participants = participantsOf(scenario);
  const healAtMs = options.durationMs ?? scenario.duration ?? DEFAULT_DURATION_MS;
  const faults =
    options.faults ??
    [
      ...(scenario.faults ?? []),
      ...(scenario.random === undefined ? [] : randomFaults(scenario.random, participants, healAtMs, deriveSeed(options.seed, 'faults'))),
    ];
  const longest = longestOperationMs(scenario);
  const liveness = scenario.liveness ?? livenessMs(participants, longest);
  const probeDelay = Math.min(probeDelayMs(participants), Math.floor(liveness / 2));
  const network = scenario.network ?? {};
  return {
    seed: options.seed,
    scenario,
    participants,
    tasks: tasksOf(scenario, participants, options.seed, healAtMs),
    publications: publicationsOf(participants, options.seed, healAtMs),
    subscriptions: subscriptionsOf(participants),
    faults: [...faults].filter((fault) => fault.at < healAtMs).sort((a, b) => a.at - b.at),
    healAtMs,
    probeAtMs: healAtMs + probeDelay,
    endMs: healAtMs + liveness,
    network: {
      loss: network.loss ?? 0,
      duplicate: network.duplicate ?? 0,
      reorder: network.reorder ?? 0,
      delay: network.delay ?? DEFAULT_DELAY,
      corrupt: network.corrupt ?? 0,
    },
  };
}

/** The participants a fault target names: an instance, or every instance of a base name. */
export function resolveTarget(plan: Pick<Plan, 'participants'>, name: string): PlannedParticipant[] {
  const exact = plan.participants.filter((participant) => participant.name === name);
  if (exact.length > 0) return exact;
  return plan.participants.filter((participant) => participant.spec.name === name);
}

/** A partition's groups as participant names ("*" becomes everyone not named elsewhere). */
export function resolveGroups(plan: Pick<Plan, 'participants'>, groups: readonly (readonly string[])[]): string[][] {
  const named = new Set(groups.flat().filter((name) => name !== '*').flatMap((name) => resolveTarget(plan, name).map((p) => p.name)));
  return groups.map((group) => [
    ...new Set(
      group.flatMap((name) =>
        name === '*' ? plan.participants.filter((p) => !named.has(p.name)).map((p) => p.name) : resolveTarget(plan, name).map((p) => p.name),
      ),
    ),
  ]);
}
