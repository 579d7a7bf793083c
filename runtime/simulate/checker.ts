/**
 * The checker: judges a run's history (./history.ts) against the invariants, each named with the
 * protocol rule (docs/protocol.md) it checks. It reads observations only, so it judges a virtual
 * run and a `--real` run the same way.
 *
 * Bounds are measured on the clock of the participant whose timer must fire: its run time with
 * frozen intervals left out and skew applied (./clockModel.ts), plus a small slack for delivery.
 */
import { ClockModel } from './clockModel.js';
import { ofType, type Observation } from './history.js';
import { believes, type Plan, type PlannedClient, type PlannedProvider } from './plan.js';
import { checkEvents, eventTally, type EventTally } from './eventChecks.js';
import { checkFiles, fileTally, type FileTally } from './fileChecks.js';
import { clientIdOf } from './participants.js';

export interface Invariant {
  readonly id: string;
  /** The requirement id in docs/protocol.md. */
  readonly rule: string;
  readonly title: string;
}

export const INVARIANTS = [
  { id: 'settles-once', rule: 'TASK-16', title: 'every task settles at most once at its client' },
  { id: 'no-lost-task', rule: 'TASK-10', title: 'every task settles by the end, a failure always with a code' },
  { id: 'runs-once', rule: 'TASK-4', title: 'no operation runs twice unless retry is opted in' },
  { id: 'result-has-origin', rule: 'TASK-10', title: 'a task completed at the client was completed by a provider' },
  { id: 'progress-monotonic', rule: 'TASK-9', title: 'progress seen by the client never decreases' },
  { id: 'forgotten', rule: 'DISC-9', title: 'a provider is forgotten within 3x its heartbeat after it was last heard' },
  { id: 'rediscovered', rule: 'DISC-4', title: 'every provider is known again one heartbeat after the heal' },
  { id: 'no-half-open', rule: 'CONN-3', title: 'no session stays open past ping + pong timeout without hearing its client' },
  { id: 'reconnects', rule: 'CONN-4', title: 'after the heal every client reaches a provider again (probe task)' },
  { id: 'event-once', rule: 'EVT-10', title: 'no event reaches a subscriber\'s application twice' },
  { id: 'event-order', rule: 'EVT-6', title: 'a subscription\'s events arrive in seq and publication order' },
  { id: 'event-matches', rule: 'EVT-7', title: 'a subscriber gets only events its filter and the publication\'s target select' },
  { id: 'event-not-lost', rule: 'EVT-10', title: 'at-least-once: no event is lost unless counted dropped (EVT-11) or its subscription ended' },
  { id: 'file-verified', rule: 'FILE-2', title: 'no file is stored, handed to an operation or fetched under a hash its bytes do not have' },
] as const satisfies readonly Invariant[];

export type InvariantId = (typeof INVARIANTS)[number]['id'];

export interface Violation {
  readonly invariant: InvariantId;
  readonly rule: string;
  /** Run time of the violation (when it was detected). */
  readonly t: number;
  readonly message: string;
  readonly participant?: string;
  readonly taskId?: string;
}

export interface TaskTally {
  readonly submitted: number;
  readonly completed: number;
  readonly failed: number;
  readonly cancelled: number;
  /** Failure codes and how often they came. */
  readonly codes: Readonly<Record<string, number>>;
  /** Operation runs on providers. */
  readonly runs: number;
}

export interface Verdict {
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  /** Violations by invariant id (all of them, even beyond those listed). */
  readonly counts: Readonly<Record<string, number>>;
  readonly tasks: TaskTally;
  readonly events: EventTally;
  readonly files: FileTally;
}

/** Violations listed per invariant; the rest are only counted. */
const LISTED_MAX = 20;
const CODE = /^[A-Z][A-Z0-9_]{1,63}$/;
/** Outcomes that mean the probe never reached a provider. */
const UNREACHED = new Set(['TIMEOUT', 'CONNECTION_LOST', 'SERVICE_UNAVAILABLE']);

export interface Context {
  readonly plan: Plan;
  readonly history: readonly Observation[];
  readonly clocks: ClockModel;
  /** Delivery slack: the longest one-way delay a frame or datagram can have in this run. */
  readonly slackMs: number;
  /** Lateness allowed to timers (0 in virtual time; real processes on a loaded machine fire late). */
  readonly toleranceMs: number;
  readonly add: (violation: Omit<Violation, 'rule'>) => void;
}

const taskKey = (clientId: string, taskId: string) => `${clientId}\u0000${taskId}`;

export interface CheckOptions {
  /** Lateness allowed to every timer-bound invariant (DISC-9, DISC-4, CONN-3). @default 0 (virtual time) */
  readonly toleranceMs?: number;
}

export function check(plan: Plan, history: readonly Observation[], options: CheckOptions = {}): Verdict {
  const violations: Violation[] = [];
  const counts: Record<string, number> = {};
  const rules = new Map<string, string>(INVARIANTS.map((invariant) => [invariant.id, invariant.rule]));
  const context: Context = {
    plan,
    history,
    clocks: new ClockModel(plan, history),
    slackMs: slackOf(plan),
    toleranceMs: options.toleranceMs ?? 0,
    add: (violation) => {
      counts[violation.invariant] = (counts[violation.invariant] ?? 0) + 1;
      if ((counts[violation.invariant] ?? 0) <= LISTED_MAX) violations.push({ ...violation, rule: rules.get(violation.invariant) ?? '' });
    },
  };
  checkSettlements(context);
  checkRuns(context);
  checkProgress(context);
  checkForgotten(context);
  checkRediscovered(context);
  checkHalfOpen(context);
  checkProbes(context);
  checkEvents(context);
  checkFiles(context);
  violations.sort((a, b) => a.t - b.t);
  return { ok: violations.length === 0, violations, counts, tasks: tally(history), events: eventTally(history), files: fileTally(history) };
}

function slackOf(plan: Plan): number {
  let delay = plan.network.delay.max + (plan.network.reorder > 0 ? 50 : 0);
  for (const fault of plan.faults) if (fault.type === 'link') delay = Math.max(delay, (fault.delay?.max ?? 0) + (fault.reorder ? 50 : 0));
  return delay + 10;
}

function tally(history: readonly Observation[]): TaskTally {
  const codes: Record<string, number> = {};
  let completed = 0;
  let failed = 0;
  let cancelled = 0;
  for (const settled of ofType(history, 'settled')) {
    if (settled.outcome.status === 'Completed') completed++;
    else if (settled.outcome.status === 'Cancelled') cancelled++;
    else {
      failed++;
      codes[settled.outcome.code] = (codes[settled.outcome.code] ?? 0) + 1;
    }
  }
  return { submitted: ofType(history, 'submitted').length, completed, failed, cancelled, codes, runs: ofType(history, 'ran').length };
}

/** When each client incarnation (by clientId) went down, if it did. */
function clientDowns(context: Context): Map<string, number> {
  const downs = new Map<string, number>();
  for (const down of ofType(context.history, 'down')) {
    const participant = context.plan.participants.find((p) => p.name === down.participant);
    if (participant?.kind === 'client') downs.set(clientIdOf(down.participant, down.incarnation), down.t);
  }
  return downs;
}

// ---- TASK-16, TASK-10 --------------------------------------------------------------------------

function checkSettlements(context: Context): void {
  const { history, plan } = context;
  const downs = clientDowns(context);
  const settled = new Map<string, Extract<Observation, { type: 'settled' }>[]>();
  for (const observation of ofType(history, 'settled')) {
    const key = taskKey(observation.clientId, observation.taskId);
    settled.set(key, [...(settled.get(key) ?? []), observation]);
  }
  const completedAtProvider = new Map<string, number>();
  for (const finished of ofType(history, 'finished')) {
    if (finished.outcome.status !== 'Completed') continue;
    const key = taskKey(finished.clientId, finished.taskId);
    completedAtProvider.set(key, Math.min(completedAtProvider.get(key) ?? Number.POSITIVE_INFINITY, finished.t));
  }
  for (const submitted of ofType(history, 'submitted')) {
    const key = taskKey(submitted.clientId, submitted.taskId);
    const outcomes = settled.get(key) ?? [];
    const where = { participant: submitted.participant, taskId: submitted.taskId };
    if (outcomes.length > 1) {
      context.add({ invariant: 'settles-once', t: (outcomes[1] as { t: number }).t, message: `${submitted.taskId} settled ${outcomes.length} times at ${submitted.clientId}: ${outcomes.map((o) => o.outcome.status).join(', ')}`, ...where });
    }
    const first = outcomes[0];
    if (first === undefined) {
      const downAt = downs.get(submitted.clientId);
      if (downAt === undefined) {
        context.add({ invariant: 'no-lost-task', t: plan.endMs, message: `${submitted.taskId} of ${submitted.clientId} never settled (submitted at ${submitted.t} ms)`, ...where });
      }
      continue;
    }
    if (first.outcome.status === 'Failed' && !CODE.test(first.outcome.code)) {
      context.add({ invariant: 'no-lost-task', t: first.t, message: `${submitted.taskId} failed without a code (${JSON.stringify(first.outcome.code)})`, ...where });
    }
    if (first.outcome.status === 'Completed' && !((completedAtProvider.get(key) ?? Number.POSITIVE_INFINITY) <= first.t)) {
      context.add({ invariant: 'result-has-origin', t: first.t, message: `${submitted.taskId} completed at ${submitted.clientId} but no provider had completed it`, ...where });
    }
  }
}

// ---- TASK-4 -------------------------------------------------------------------------------------

function checkRuns(context: Context): void {
  const { history, plan } = context;
  const downAt = new Map<string, number>();
  for (const down of ofType(history, 'down')) downAt.set(`${down.participant}#${down.incarnation}`, down.t);
  const retries = new Set(plan.participants.filter((p): p is PlannedClient => p.kind === 'client' && p.retries).map((p) => p.name));
  const clientOf = new Map(ofType(history, 'submitted').map((s) => [s.clientId, s.participant]));
  const runs = new Map<string, Extract<Observation, { type: 'ran' }>[]>();
  /** Runs again on one instance, reported once per task and instance with how often it ran. */
  const repeated = new Map<string, { ran: Extract<Observation, { type: 'ran' }>; firstRepeatAt: number; times: number }>();
  for (const ran of ofType(history, 'ran')) {
    const key = taskKey(ran.clientId, ran.taskId);
    const earlier = runs.get(key) ?? [];
    const instance = `${ran.participant}#${ran.incarnation}`;
    const where = { participant: ran.participant, taskId: ran.taskId };
    const before = earlier.filter((run) => `${run.participant}#${run.incarnation}` === instance).length;
    if (before > 0) {
      const entry = repeated.get(`${key}\u0000${instance}`) ?? { ran, firstRepeatAt: ran.t, times: 1 };
      entry.times = before + 1;
      repeated.set(`${key}\u0000${instance}`, entry);
    } else if (earlier.length > 0 && !retries.has(clientOf.get(ran.clientId) ?? '')) {
      // Another instance may run it again only when the one before crashed (its ledger died with
      // it, see Delivery semantics) or when the client opted in to retry.
      const alive = earlier.filter((run) => (downAt.get(`${run.participant}#${run.incarnation}`) ?? Number.POSITIVE_INFINITY) > ran.t);
      if (alive.length > 0) {
        context.add({
          invariant: 'runs-once',
          t: ran.t,
          message: `${ran.clientId}/${ran.taskId} ran on ${instance} while ${alive.map((run) => `${run.participant}#${run.incarnation}`).join(', ')} had run it, without retry opted in`,
          ...where,
        });
      }
    }
    runs.set(key, [...earlier, ran]);
  }
  for (const { ran, firstRepeatAt, times } of repeated.values()) {
    const count = times === 2 ? 'twice' : `${times} times`;
    context.add({ invariant: 'runs-once', t: firstRepeatAt, message: `${ran.clientId}/${ran.taskId} ran ${count} on ${ran.participant}#${ran.incarnation}`, participant: ran.participant, taskId: ran.taskId });
  }
}

// ---- TASK-9 -------------------------------------------------------------------------------------

function checkProgress(context: Context): void {
  const retrying = new Set(context.plan.participants.filter((p) => p.kind === 'client' && p.retries).map((p) => p.name));
  const last = new Map<string, number>();
  for (const progress of ofType(context.history, 'progress')) {
    // A retried task starts again elsewhere, from 0: only clients without retry are held to this.
    if (retrying.has(progress.participant)) continue;
    const key = `${progress.participant}\u0000${progress.taskId}`;
    const before = last.get(key);
    if (before !== undefined && progress.percent < before) {
      context.add({ invariant: 'progress-monotonic', t: progress.t, message: `${progress.taskId} progress went from ${before} to ${progress.percent}`, participant: progress.participant, taskId: progress.taskId });
    }
    last.set(key, Math.max(before ?? 0, progress.percent));
  }
}

// ---- DISC-9 -------------------------------------------------------------------------------------

function checkForgotten(context: Context): void {
  const { history, plan, clocks } = context;
  for (const client of plan.participants.filter((p): p is PlannedClient => p.kind === 'client')) {
    const lastHeard = new Map<string, { t: number; heartbeatMs: number }>();
    let listed: readonly string[] = [];
    const reported = new Set<string>();
    const inspect = (now: number) => {
      for (const serviceId of listed) {
        const heard = lastHeard.get(serviceId);
        if (heard === undefined) {
          if (!reported.has(`never:${serviceId}`)) {
            reported.add(`never:${serviceId}`);
            context.add({ invariant: 'forgotten', t: now, message: `${client.name} lists ${serviceId} without having heard it`, participant: client.name });
          }
          continue;
        }
        const elapsed = clocks.elapsed(client.name, heard.t, now);
        const bound = 3 * heard.heartbeatMs;
        const episode = `${serviceId}@${heard.t}`;
        if (elapsed > bound + 1 + context.toleranceMs && !reported.has(episode)) {
          reported.add(episode);
          context.add({
            invariant: 'forgotten',
            t: now,
            message: `${client.name} still lists ${serviceId} ${Math.round(elapsed)} ms (its clock) after last hearing it; 3x heartbeat is ${bound} ms`,
            participant: client.name,
          });
        }
      }
    };
    for (const observation of history) {
      if (!('participant' in observation) || observation.participant !== client.name) continue;
      inspect(observation.t);
      if (observation.type === 'up') {
        lastHeard.clear();
        listed = [];
      } else if (observation.type === 'down') {
        listed = [];
      } else if (observation.type === 'advert') {
        lastHeard.set(observation.serviceId, { t: observation.t, heartbeatMs: observation.heartbeatMs ?? client.timings.defaultHeartbeatIntervalMs });
      } else if (observation.type === 'services') {
        listed = observation.serviceIds;
      }
    }
    inspect(plan.endMs);
  }
}

// ---- DISC-4 -------------------------------------------------------------------------------------

function checkRediscovered(context: Context): void {
  const { history, plan } = context;
  const healAt = ofType(history, 'heal')[0]?.t;
  if (healAt === undefined) return;
  const providers = plan.participants.filter((p): p is PlannedProvider => p.kind === 'provider');
  const alive = new Map<string, Extract<Observation, { type: 'up' }>>();
  const aliveClients = new Set<string>();
  for (const observation of history) {
    if (observation.t > healAt + 1) break;
    if (observation.type === 'up') {
      if (providers.some((p) => p.name === observation.participant)) alive.set(observation.participant, observation);
      else aliveClients.add(observation.participant);
    } else if (observation.type === 'down') {
      alive.delete(observation.participant);
      aliveClients.delete(observation.participant);
    }
  }
  for (const clientName of aliveClients) {
    const client = plan.participants.find((p): p is PlannedClient => p.kind === 'client' && p.name === clientName) as PlannedClient;
    for (const [providerName, up] of alive) {
      const provider = providers.find((p) => p.name === providerName) as PlannedProvider;
      if (!believes(client, provider)) continue; // SEC-8: an unsigned provider is ignored by a client that does not allow it
      const deadline = healAt + provider.timings.heartbeatIntervalMs + context.slackMs + context.toleranceMs;
      if (deadline > plan.endMs) continue;
      const listing = listingAt(history, clientName, deadline);
      const missing = (up.serviceIds ?? []).filter((serviceId) => !listing.includes(serviceId));
      if (missing.length > 0) {
        context.add({ invariant: 'rediscovered', t: deadline, message: `${clientName} does not know ${missing.join(', ')} of ${providerName} ${deadline - healAt} ms after the heal`, participant: clientName });
      }
    }
  }
}

function listingAt(history: readonly Observation[], client: string, t: number): readonly string[] {
  let listing: readonly string[] = [];
  for (const observation of history) {
    if (observation.t > t) break;
    if (observation.type === 'services' && observation.participant === client) listing = observation.serviceIds;
    if (observation.type === 'up' && observation.participant === client) listing = [];
  }
  return listing;
}

// ---- CONN-3 -------------------------------------------------------------------------------------

function checkHalfOpen(context: Context): void {
  const { history, plan, clocks } = context;
  interface Open {
    readonly participant: string;
    readonly openedAt: number;
    lastHeard: number;
    reported: boolean;
  }
  const open = new Map<string, Open>();
  const boundOf = (name: string) => {
    const provider = plan.participants.find((p): p is PlannedProvider => p.kind === 'provider' && p.name === name);
    return provider === undefined ? Number.POSITIVE_INFINITY : provider.timings.pingIntervalMs + provider.timings.pongTimeoutMs;
  };
  const inspect = (session: Open, connectionId: string, now: number) => {
    const bound = boundOf(session.participant);
    const elapsed = clocks.elapsed(session.participant, session.lastHeard, now);
    if (!session.reported && elapsed > bound + 10 + context.toleranceMs) {
      session.reported = true;
      context.add({
        invariant: 'no-half-open',
        t: now,
        message: `session ${connectionId} of ${session.participant} heard nothing for ${Math.round(elapsed)} ms (its clock) and stayed open; ping + pong timeout is ${bound} ms`,
        participant: session.participant,
      });
    }
  };
  for (const observation of history) {
    if (observation.type === 'session.opened') {
      open.set(observation.connectionId, { participant: observation.participant, openedAt: observation.t, lastHeard: observation.t, reported: false });
    } else if (observation.type === 'session.heard') {
      const session = open.get(observation.connectionId);
      if (session === undefined) continue;
      inspect(session, observation.connectionId, observation.t);
      session.lastHeard = observation.t;
    } else if (observation.type === 'session.ended') {
      const session = open.get(observation.connectionId);
      if (session === undefined) continue;
      inspect(session, observation.connectionId, observation.t);
      open.delete(observation.connectionId);
    } else if (observation.type === 'down') {
      for (const [id, session] of open) if (session.participant === observation.participant) open.delete(id);
    }
  }
  for (const [connectionId, session] of open) inspect(session, connectionId, plan.endMs);
}

// ---- CONN-4 -------------------------------------------------------------------------------------

function checkProbes(context: Context): void {
  const { history, plan } = context;
  const settled = new Map(ofType(history, 'settled').map((s) => [taskKey(s.clientId, s.taskId), s]));
  const providers = plan.participants.filter((p): p is PlannedProvider => p.kind === 'provider');
  for (const probe of ofType(history, 'submitted')) {
    if (probe.probe !== true) continue;
    // A client that believes no provider at all (only unsigned ones, and allowUnsigned off) cannot
    // reach one by its configuration (SEC-8); its tasks still fail with a code (no-lost-task).
    const client = plan.participants.find((p): p is PlannedClient => p.kind === 'client' && p.name === probe.participant);
    if (client !== undefined && !providers.some((provider) => believes(client, provider))) continue;
    const outcome = settled.get(taskKey(probe.clientId, probe.taskId))?.outcome;
    const where = { participant: probe.participant, taskId: probe.taskId };
    if (outcome === undefined) {
      context.add({ invariant: 'reconnects', t: plan.endMs, message: `${probe.clientId}'s probe task never settled`, ...where });
    } else if (outcome.status === 'Failed' && UNREACHED.has(outcome.code)) {
      context.add({ invariant: 'reconnects', t: plan.endMs, message: `${probe.clientId}'s probe task failed with ${outcome.code}: no provider reached after the heal`, ...where });
    }
  }
}
