/**
 * Playing a fault schedule against a world: the virtual network or real namespaces. Both runners
 * implement `FaultWorld`; this module decides what each fault means (groups and `*` resolved,
 * undo after `for`, restart after `restartAfter`) and records each step, so the two runners
 * cannot disagree about the schedule, only about how faithfully they can apply it.
 */
import type { Observation } from './history.js';
import { resolveGroups, resolveTarget, type Plan } from './plan.js';
import type { Fault, Range } from './scenario.js';

export interface LinkFaults {
  readonly loss?: number | undefined;
  readonly duplicate?: number | undefined;
  readonly reorder?: number | undefined;
  readonly delay?: Range | undefined;
  /** File chunks with a byte flipped (file links only). */
  readonly corrupt?: number | undefined;
}

/** An applied fault: how to undo it, and a note when it could only be approximated. */
export interface Applied {
  /** Undoes it; `false` when that changed nothing (its target restarted since: a new process). */
  readonly undo?: () => boolean | void;
  readonly note?: string;
  /** Applied as this other kind of fault (recorded so, for the checker's clock model). */
  readonly as?: 'freeze';
  /** Nothing to apply it to (its target was down): recorded, but it changed nothing. */
  readonly skipped?: boolean;
}

export interface FaultWorld {
  partition(groups: readonly (readonly string[])[], oneWay: boolean): Applied;
  link(from: readonly string[], to: readonly string[], faults: LinkFaults): Applied;
  crash(participant: string): Applied;
  restart(participant: string): Applied;
  stall(participant: string): Applied;
  freeze(participant: string): Applied;
  skew(participant: string, rate: number): Applied;
  /** Removes every partition and link fault (a `heal` fault). */
  heal(): void;
}

/**
 * The directed cuts of a partition: [senders, receivers] for every pair of groups, both ways,
 * or from the first group to each other one when `oneWay`. Empty groups cut nothing.
 */
export function cutsOf(groups: readonly (readonly string[])[], oneWay: boolean): [readonly string[], readonly string[]][] {
  const cuts: [readonly string[], readonly string[]][] = [];
  for (let i = 0; i < groups.length; i++) {
    for (let j = i + 1; j < groups.length; j++) {
      if (oneWay && i !== 0) continue;
      const [a, b] = [groups[i] ?? [], groups[j] ?? []];
      if (a.length === 0 || b.length === 0) continue;
      cuts.push([a, b]);
      if (!oneWay) cuts.push([b, a]);
    }
  }
  return cuts;
}

/** Runs every undo of a combined fault. */
export const undoAll = (undos: readonly (() => void)[]) => (): void => undos.forEach((undo) => undo());

export interface Scheduler {
  /** Runs `fn` at `atMs` of run time. */
  at(atMs: number, fn: () => void): void;
  now(): number;
}

const names = (plan: Plan, target: string): string[] =>
  target === '*' ? plan.participants.map((participant) => participant.name) : resolveTarget(plan, target).map((participant) => participant.name);

function apply(plan: Plan, fault: Fault, world: FaultWorld): Applied {
  switch (fault.type) {
    case 'partition':
      return world.partition(resolveGroups(plan, fault.groups), fault.oneWay ?? false);
    case 'heal':
      world.heal();
      return {};
    case 'link':
      return world.link(names(plan, fault.from), names(plan, fault.to), fault);
    case 'crash':
      return combine(names(plan, fault.target).map((name) => world.crash(name)));
    case 'restart':
      return combine(names(plan, fault.target).map((name) => world.restart(name)));
    case 'stall':
      return combine(names(plan, fault.target).map((name) => world.stall(name)));
    case 'freeze':
      return combine(names(plan, fault.target).map((name) => world.freeze(name)));
    case 'skew':
      return combine(names(plan, fault.target).map((name) => world.skew(name, fault.rate)));
  }
}

function combine(applied: readonly Applied[]): Applied {
  const undos = applied.flatMap((one) => (one.undo === undefined ? [] : [one.undo]));
  const undo = () => undos.map((one) => one()).some((result) => result !== false);
  const notes = [...new Set(applied.flatMap((one) => (one.note === undefined ? [] : [one.note])))];
  const as = applied.find((one) => one.as !== undefined)?.as;
  const skipped = applied.length > 0 && applied.every((one) => one.skipped === true);
  return {
    ...(skipped ? { skipped } : {}),
    ...(undos.length === 0 ? {} : { undo }),
    ...(notes.length === 0 ? {} : { note: notes.join('; ') }),
    ...(as === undefined ? {} : { as }),
  };
}

/**
 * Schedules every fault of the plan, its undo (after `for`) and its restart (after
 * `restartAfter`); undos that would fall after the final heal are left to it.
 */
export function scheduleFaults(plan: Plan, world: FaultWorld, scheduler: Scheduler, record: (observation: Observation) => void): void {
  for (const fault of plan.faults) {
    scheduler.at(fault.at, () => {
      let applied: Applied;
      try {
        applied = apply(plan, fault, world);
      } catch (error) {
        // A tool that failed on a real host: the run goes on, and the report says so.
        applied = { note: `${fault.type} at ${fault.at} ms could not be applied: ${(error as Error).message.split('\n')[0]}` };
      }
      const recorded = applied.as === undefined ? fault : ({ ...fault, type: applied.as } as Fault);
      const skipped = applied.skipped === true ? { skipped: true } : {};
      record({ t: scheduler.now(), type: 'fault', fault: recorded, ...skipped, ...(applied.note === undefined ? {} : { note: applied.note }) });
      const undoAtMs = fault.type === 'crash' ? (fault.restartAfter === undefined ? undefined : fault.at + fault.restartAfter) : 'for' in fault ? fault.for === undefined ? undefined : fault.at + fault.for : undefined;
      if (undoAtMs === undefined || undoAtMs >= plan.healAtMs) return;
      scheduler.at(undoAtMs, () => {
        if (fault.type === 'crash') combine(names(plan, fault.target).map((name) => world.restart(name)));
        const undone = fault.type === 'crash' || applied.undo?.() !== false;
        record({ t: scheduler.now(), type: 'fault', fault: recorded, undo: true, ...(undone ? skipped : { skipped: true }) });
      });
    });
  }
}
