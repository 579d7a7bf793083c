/**
 * A plan run in virtual time: every participant is a real createProvider / createClient on the
 * simulated network, all on one VirtualClock, each through its own ParticipantClock (skew,
 * freeze, crash). The loop fires one timer at a time and lets promises settle in between (the
 * operations of a service are async code), so a run is the same every time for a seed and
 * virtual minutes pass in milliseconds.
 */
import { SimulatedNetwork, type NetworkStats } from '../../adapters/simulated/network.js';
import { VirtualClock } from '../../adapters/simulated/virtualClock.js';
import { FileFabric } from './fileLinks.js';
import { cutsOf, scheduleFaults, undoAll, type Applied, type FaultWorld, type LinkFaults, type Scheduler } from './faultSchedule.js';
import type { Observation } from './history.js';
import { ParticipantClock } from './participantClock.js';
import { startClient, startProvider, type RunningClient, type RunningProvider, type ServiceModules } from './participants.js';
import type { Plan, PlannedParticipant, PlannedTask } from './plan.js';

export interface VirtualRunOptions {
  readonly modules?: ServiceModules;
  /** Record statechart states and every message (for the HTML report). @default false */
  readonly detail?: boolean;
}

export interface RunRecord {
  readonly plan: Plan;
  readonly history: readonly Observation[];
  readonly network: NetworkStats;
  /** Timers fired: the simulator's unit of work. */
  readonly steps: number;
  readonly realMs: number;
  /** CPU time of the run (user + system), which load on the machine does not inflate. */
  readonly cpuMs: number;
  /** Messages delivered, by type (AssignTask, Ack, ServiceAdvertisement, ...). */
  readonly delivered: Readonly<Record<string, number>>;
}

/** Lets every promise that is ready run (an operation's `await`s), as Node does between timers. */
const settlePromises = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function linkPatch(faults: LinkFaults) {
  return {
    ...(faults.loss === undefined ? {} : { lossProbability: faults.loss }),
    ...(faults.duplicate === undefined ? {} : { duplicateProbability: faults.duplicate }),
    ...(faults.reorder === undefined ? {} : { reorderProbability: faults.reorder }),
    ...(faults.delay === undefined ? {} : { delayMsMin: faults.delay.min, delayMsMax: faults.delay.max }),
  };
}

/** The probe of CONN-4: the client's first workload, else the first service of the first provider. */
export function probeTask(plan: Plan, client: string): Pick<PlannedTask, 'taskId' | 'service' | 'operation' | 'params' | 'deadlineMs'> | undefined {
  const planned = plan.participants.find((p) => p.name === client);
  const workload = planned?.kind === 'client' ? planned.spec.workload?.[0] : undefined;
  if (workload !== undefined) {
    return { taskId: `${client}.probe`, service: workload.service, operation: workload.operation, params: workload.params ?? {}, deadlineMs: undefined };
  }
  const service = plan.scenario.providers[0]?.services?.[0];
  const operation = service === undefined ? undefined : Object.keys(service.operations)[0];
  if (service === undefined || operation === undefined) return undefined;
  return { taskId: `${client}.probe`, service: service.name, operation, params: {}, deadlineMs: undefined };
}

export async function runVirtual(plan: Plan, options: VirtualRunOptions = {}): Promise<RunRecord> {
  const startedAt = performance.now();
  const cpuAtStart = process.cpuUsage();
  const detail = options.detail ?? false;
  const modules = options.modules ?? {};
  const clock = new VirtualClock();
  const history: Observation[] = [];
  let recording = true;
  const record = (observation: Observation) => {
    if (recording) history.push(observation);
  };
  const base = linkPatch(plan.network);
  const delivered: Record<string, number> = {};
  const net = new SimulatedNetwork({
    clock,
    seed: plan.seed,
    faults: base,
    trace: (r) => {
      if (r.outcome === 'delivered' && r.message !== undefined) delivered[r.message] = (delivered[r.message] ?? 0) + 1;
      if (detail) record({ t: r.atMs, type: 'message', from: r.from, to: r.to, kind: r.kind, outcome: r.outcome, ...(r.message === undefined ? {} : { message: r.message }) });
    },
  });

  const files = new FileFabric({ clock, seed: plan.seed, delay: plan.network.delay, stalled: (host) => net.isStalled(host) });
  files.setBaseCorrupt(plan.network.corrupt);
  const clocks = new Map<string, ParticipantClock>();
  const incarnations = new Map<string, number>();
  const running = new Map<string, RunningProvider | RunningClient>();
  const rates = new Map<string, number>();
  const byName = new Map<string, PlannedParticipant>(plan.participants.map((p) => [p.name, p]));

  const start = (participant: PlannedParticipant) => {
    const incarnation = (incarnations.get(participant.name) ?? 0) + 1;
    incarnations.set(participant.name, incarnation);
    const participantClock = new ParticipantClock(clock);
    participantClock.rate = rates.get(participant.name) ?? 1;
    clocks.set(participant.name, participantClock);
    const env = { host: net.host(participant.name), clock: participantClock, now: () => clock.now(), record, seed: plan.seed, detail, files };
    if (participant.kind === 'provider') {
      running.set(participant.name, startProvider(participant, incarnation, env, modules, plan));
      return;
    }
    const client = startClient(participant, incarnation, env);
    running.set(participant.name, client);
    // A restarted client takes up again the subscriptions it held (its earlier incarnation's died with it).
    const now = clock.now();
    for (const subscription of plan.subscriptions) {
      if (subscription.client === participant.name && subscription.atMs <= now && now < (subscription.untilMs ?? Number.POSITIVE_INFINITY)) {
        participantClock.run(() => client.subscribe(subscription));
      }
    }
  };
  const crash = (name: string): Applied => {
    const victim = running.get(name);
    if (victim === undefined) return {};
    net.crash(name); // sockets vanish first, so stopping the actors sends nothing
    files.crash(name);
    clocks.get(name)?.kill();
    victim.kill();
    running.delete(name);
    return {};
  };
  const restart = (name: string): Applied => {
    const participant = byName.get(name);
    if (participant === undefined || running.has(name)) return {};
    net.restart(name);
    start(participant);
    return {};
  };

  const world: FaultWorld = {
    partition(groups, oneWay) {
      const cuts = cutsOf(groups, oneWay);
      const fileCuts = cuts.flatMap(([from, to]) => from.flatMap((a) => to.map((b) => files.cut(a, b))));
      return { undo: undoAll([...cuts.map(([from, to]) => net.partition(from, to, { symmetric: false })), ...fileCuts]) };
    },
    link(from, to, faults) {
      const pairs = from.flatMap((a) => to.filter((b) => b !== a).map((b) => [a, b] as const));
      for (const [a, b] of pairs) {
        net.setLinkFaults(a, b, linkPatch(faults));
        files.setLinkFaults(a, b, { delay: faults.delay, corrupt: faults.corrupt });
      }
      return {
        undo: () =>
          pairs.forEach(([a, b]) => {
            net.setLinkFaults(a, b, undefined);
            files.setLinkFaults(a, b, undefined);
          }),
      };
    },
    crash,
    restart,
    stall(name) {
      const stalled = running.get(name);
      if (stalled === undefined) return { skipped: true };
      net.stall(name);
      // A stall dies with its process: after a restart, undoing it must not touch the new one.
      return { undo: () => running.get(name) === stalled && (net.resume(name), true) };
    },
    freeze(name) {
      const frozen = running.has(name) ? clocks.get(name) : undefined;
      if (frozen === undefined) return { skipped: true };
      frozen.freeze();
      net.stall(name);
      return {
        undo: () => {
          if (clocks.get(name) !== frozen) return false; // it crashed and restarted meanwhile
          net.resume(name);
          frozen.thaw();
          return true;
        },
      };
    },
    skew(name, rate) {
      // The machine's clock: a restarted process on it keeps the skew (rates), until undone.
      rates.set(name, rate);
      const skewed = clocks.get(name);
      if (skewed !== undefined) skewed.rate = rate;
      return {
        undo: () => {
          rates.delete(name);
          const current = clocks.get(name);
          if (current !== undefined) current.rate = 1;
        },
      };
    },
    heal() {
      net.heal();
      net.clearLinkFaults();
      files.heal();
      files.setBaseCorrupt(plan.network.corrupt);
    },
  };
  const scheduler: Scheduler = { at: (atMs, fn) => void clock.setTimeout(fn, atMs - clock.now()), now: () => clock.now() };
  const asClient = (name: string) => {
    const participant = running.get(name);
    return participant !== undefined && 'submit' in participant ? participant : undefined;
  };

  // The schedule first, so at equal times the driver acts before the participants' own timers.
  scheduleFaults(plan, world, scheduler, record);
  for (const task of plan.tasks) {
    scheduler.at(task.atMs, () => {
      const client = asClient(task.client);
      clocks.get(task.client)?.run(() => client?.submit(task));
    });
    if (task.cancelAtMs !== undefined && task.cancelAtMs < plan.endMs) {
      scheduler.at(task.cancelAtMs, () => clocks.get(task.client)?.run(() => asClient(task.client)?.cancel(task.taskId)));
    }
  }
  for (const publication of plan.publications) {
    scheduler.at(publication.atMs, () => {
      const provider = running.get(publication.provider);
      if (provider !== undefined && 'publish' in provider) clocks.get(publication.provider)?.run(() => provider.publish(publication));
    });
  }
  for (const subscription of plan.subscriptions) {
    scheduler.at(subscription.atMs, () => clocks.get(subscription.client)?.run(() => asClient(subscription.client)?.subscribe(subscription)));
    if (subscription.untilMs !== undefined && subscription.untilMs < plan.endMs) {
      const { untilMs, subscriptionId } = subscription;
      scheduler.at(untilMs, () => clocks.get(subscription.client)?.run(() => asClient(subscription.client)?.unsubscribe(subscriptionId)));
    }
  }
  scheduler.at(plan.healAtMs, () => {
    record({ t: clock.now(), type: 'heal' });
    world.heal();
    net.setFaults({ lossProbability: 0, duplicateProbability: 0, reorderProbability: 0 });
    files.setBaseCorrupt(0);
    for (const participant of plan.participants) {
      if (net.isStalled(participant.name)) net.resume(participant.name);
      const participantClock = clocks.get(participant.name);
      if (participantClock?.frozen === true) participantClock.thaw();
      if (participantClock !== undefined) participantClock.rate = 1;
    }
    rates.clear();
    for (const participant of plan.participants) restart(participant.name);
  });
  scheduler.at(plan.probeAtMs, () => {
    for (const participant of plan.participants) {
      const probe = participant.kind === 'client' ? probeTask(plan, participant.name) : undefined;
      if (probe !== undefined) asClient(participant.name)?.submit(probe, true);
    }
  });

  for (const participant of plan.participants) start(participant);
  await settlePromises();
  let steps = 0;
  while (clock.fireNext(plan.endMs)) {
    steps++;
    await settlePromises();
  }
  recording = false; // what stopping the actors says is not part of the run
  for (const participant of running.values()) {
    if ('provider' in participant) participant.provider.actor.stop();
    else participant.client.actor.stop();
  }
  const cpu = process.cpuUsage(cpuAtStart);
  return { plan, history, network: net.stats, steps, realMs: performance.now() - startedAt, cpuMs: (cpu.user + cpu.system) / 1_000, delivered };
}
