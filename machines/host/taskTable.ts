/**
 * Tasks without an actor each: a host (the provider's task registry, a client connection's task
 * pool) keeps every task as an engine snapshot in this table and steps it with the compiled task
 * machine. Everything an actor per task gave is kept:
 *
 * - order: events to the table's tasks go through one FIFO, so a task never steps inside its own
 *   step and events are processed in the order sent, as with mailboxes;
 * - effects: sends go through the actor system's relay (to the task's parentRef, say), delayed
 *   events and cancels through one timer wheel per table on the system's clock, invoked children
 *   that are direct callbacks (machines/host/directCallback.ts) run as plain calls;
 * - endings: a task that reaches a final state (or fails) is removed, its timers cancelled, its
 *   children disposed, and its host hears `xstate.done.actor.<id>` / `xstate.error.actor.<id>`;
 * - inspection: each task appears to the system's `inspect` observers with XState's own event
 *   types, synthesised: `@xstate.actor` when created, `@xstate.event` for every event it gets
 *   (with sourceRef), `@xstate.snapshot` after every step, through to its final state. Its
 *   `actorRef` is the task's slot: `sessionId` `<host sessionId>.task:<key>` (unique in the
 *   system), `id` the taskId, `logic`/`src` the task machine, `_parent` the host, `getSnapshot()`
 *   the snapshot.
 * - supervision: with the runtime's supervisor (machines/host/supervision.ts), a step that fails
 *   is logged with a fresh errorId and the task processes the supervisor's recovery event from
 *   the snapshot before (a provider task fails INTERNAL_ERROR), and a direct child that throws
 *   fails with the supervisor's coded fault, as the supervised actors would.
 */
import type { AnyActorLogic, AnyActorRef, AnyActorScope, AnyStateMachine, EventObject } from 'xstate';
import type { ChildHandle, ChildSpec, Effect, EngineScope, EngineSnapshot, MachineEngine } from '../engine/index.js';
import { directCallbackOf } from './directCallback.js';
import { supervisionOf, type Supervision } from './supervision.js';
import { TimerWheel, type TimerEntry, type WheelClock } from './timerWheel.js';

/** What the table needs from the actor system it lives in (XState's system, internals included). */
export interface TableSystem {
  _relay(source: unknown, target: unknown, event: EventObject): void;
  _sendInspectionEvent(event: Record<string, unknown>): void;
  readonly scheduler: {
    schedule(source: unknown, target: unknown, event: EventObject, delay: number, id?: string): void;
    cancel(source: unknown, id: string): void;
  };
}

export interface TaskTableHost {
  /** The actor hosting the table: the tasks' `_parent`, told when a task ends. */
  readonly actor: AnyActorRef;
  readonly system: TableSystem;
  /** The system's clock; without `now()` the system's scheduler times the tasks instead. */
  readonly clock: Omit<WheelClock, 'now'> & Partial<Pick<WheelClock, 'now'>>;
  readonly logger: (...args: unknown[]) => void;
}

/** The host side of a table from the hosting actor's scope: the actor, its system, its clock. */
export function tableHostOf(scope: AnyActorScope): TaskTableHost {
  const self = scope.self as unknown as { clock: TaskTableHost['clock'] };
  return { actor: scope.self, system: scope.system as never, clock: self.clock, logger: scope.logger };
}

/** The timer source a table uses: the wheel, or the system scheduler when the clock has no now(). */
interface Timers {
  schedule(delayMs: number, fire: () => void): unknown;
  cancel(entry: unknown): void;
}

class SchedulerTimers implements Timers {
  private seq = 0;
  constructor(private readonly host: TaskTableHost) {}
  schedule(delayMs: number, fire: () => void): unknown {
    const id = `task-timer:${this.seq++}`;
    this.host.system.scheduler.schedule(this.host.actor, { _send: fire }, { type: 'xstate.timer' }, delayMs, id);
    return id;
  }
  cancel(entry: unknown): void {
    this.host.system.scheduler.cancel(this.host.actor, entry as string);
  }
}

/** A task's invoked child run as a plain call (a direct callback). It is its own handle and `self`. */
class DirectChild implements ChildHandle {
  stopped = false;
  started = false;
  private receivers: Set<(event: EventObject) => void> | undefined;
  private dispose: (() => void) | undefined;

  /** The spec's logic and input only: the rest of it is not kept for the task's life. */
  constructor(
    readonly id: string,
    readonly logic: AnyActorLogic,
    readonly input: unknown,
    readonly _parent: TaskSlot,
  ) {}

  get sessionId(): string {
    return `${this._parent.sessionId}.${this.id}`;
  }

  getSnapshot() {
    return { status: this.stopped ? 'stopped' : 'active', output: undefined, error: undefined, input: this.input };
  }

  start(table: TaskTable): void {
    if (this.stopped || this.started) return;
    this.started = true;
    const callback = directCallbackOf(this.logic)!;
    try {
      const dispose = callback({
        input: this.input,
        system: table.host.system,
        self: this,
        sendBack: this.sendBack(),
        receive: (listener: (event: EventObject) => void) => {
          (this.receivers ??= new Set()).add(listener);
        },
        emit: () => {},
      } as never);
      if (typeof dispose === 'function') this.dispose = dispose as () => void;
    } catch (error) {
      this.fail(table, error, { type: 'start' });
    }
  }

  /** Its sendBack: a closure over the child alone (one small context per task, kept by the callback). */
  private sendBack(): (event: EventObject) => void {
    return (event) => {
      if (!this.stopped) this._parent.table.deliver(this._parent, event, this);
    };
  }

  /** As an actor, the child would end in error (its supervisor's coded fault) and tell its parent so. */
  private fail(table: TaskTable, cause: unknown, event: EventObject): void {
    this.stop();
    const contain = supervisionOf(this.logic)?.contain;
    const error = contain === undefined ? cause : contain(cause, event);
    table.deliver(this._parent, { type: `xstate.error.actor.${this.id}`, error, actorId: this.id } as EventObject, this);
  }

  receive(event: EventObject, table: TaskTable): void {
    if (this.stopped || this.receivers === undefined) return;
    try {
      for (const listener of this.receivers) listener(event);
    } catch (error) {
      this.fail(table, error, event);
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.receivers?.clear();
    this.dispose?.();
  }

  send(event: EventObject): void {
    this.receive(event, this._parent.table);
  }

  _send(event: EventObject): void {
    this.receive(event, this._parent.table);
  }
}

/**
 * One task: its snapshot, timers and children; also its stand-in actor ref for inspection and
 * the engine scope of its steps (`self` is the slot itself), so a task costs no extra objects.
 */
export class TaskSlot implements EngineScope {
  snapshot!: EngineSnapshot;
  /** Pending delayed events by id. */
  timers: Map<string, unknown> | undefined;
  ended = false;

  constructor(
    readonly table: TaskTable,
    /** The table's key: unique among the host's live tasks; names its end events (`xstate.done.actor.<key>`). */
    readonly key: string,
    /** What inspection shows as the actor's id: the taskId. */
    readonly id: string,
  ) {}

  /** Unique in the system; made when asked for (inspection), not for every task. */
  get sessionId(): string {
    return `${this.table.host.actor.sessionId}.task:${this.key}`;
  }

  get self(): TaskSlot {
    return this;
  }

  /** The engine's child factory: a task's invoked child runs as a direct callback. */
  createChild(spec: ChildSpec): ChildHandle {
    if (directCallbackOf(spec.logic) === undefined) {
      throw new Error(`switchboard: ${this.table.machine.id}'s child "${spec.id}" cannot run without an actor (not a direct callback)`);
    }
    return new DirectChild(spec.id, spec.logic, spec.input, this);
  }

  get _parent(): AnyActorRef {
    return this.table.host.actor;
  }

  get logic(): AnyStateMachine {
    return this.table.machine;
  }

  get src(): AnyStateMachine {
    return this.table.machine;
  }

  get system(): TableSystem {
    return this.table.host.system;
  }

  getSnapshot(): EngineSnapshot {
    return this.snapshot;
  }

  send(event: EventObject): void {
    this.table.deliver(this, event, undefined);
  }

  /** The actor system's relay delivers here. */
  _send(event: EventObject): void {
    this.table.step(this, event);
  }

  toJSON() {
    return { xstate$$type: 1, id: this.id };
  }
}

export class TaskTable {
  private readonly slots = new Map<string, TaskSlot>();
  private readonly queue: { slot: TaskSlot; event: EventObject }[] = [];
  private draining = false;
  private readonly timers: Timers;
  private timerSeq = 0;
  /** Tasks ever created here. */
  createdTotal = 0;

  constructor(
    readonly machine: AnyStateMachine,
    readonly engine: MachineEngine,
    readonly host: TaskTableHost,
    /** The runtime supervisor's, for the task machine (see machines/host/supervision.ts). */
    private readonly supervision?: Supervision,
  ) {
    const clock = host.clock;
    this.timers =
      typeof clock.now === 'function'
        ? new TimerWheel(clock as WheelClock, (error) => host.logger('task timer failed', error))
        : new SchedulerTimers(host);
  }

  get size(): number {
    return this.slots.size;
  }

  get(key: string): TaskSlot | undefined {
    return this.slots.get(key);
  }

  /** The live tasks by id (read only: the table owns it). */
  get members(): ReadonlyMap<string, TaskSlot> {
    return this.slots;
  }

  values(): IterableIterator<TaskSlot> {
    return this.slots.values();
  }

  /** True when every child logic the task machine names can run without an actor. */
  static canHost(machine: AnyStateMachine): boolean {
    return Object.values(machine.implementations.actors as Record<string, unknown>).every(
      (logic) => directCallbackOf(logic as never) !== undefined,
    );
  }

  /**
   * Creates a task from `input` and carries out its initial effects. `key` must be unique among
   * the live tasks (the pool uses the taskId; the registry, whose clients may reuse taskIds, its
   * own member id); `id` is the taskId shown to inspection.
   */
  create(key: string, input: unknown, id: string = key): TaskSlot {
    const slot = new TaskSlot(this, key, id);
    this.slots.set(key, slot);
    this.createdTotal++;
    const system = this.host.system;
    system._sendInspectionEvent({ type: '@xstate.actor', actorRef: slot });
    const effects: Effect[] = [];
    slot.snapshot = this.engine.initial(input, slot, effects);
    const initEvent = { type: 'xstate.init', input };
    system._sendInspectionEvent({ type: '@xstate.event', sourceRef: this.host.actor, actorRef: slot, event: initEvent });
    system._sendInspectionEvent({ type: '@xstate.snapshot', actorRef: slot, event: initEvent, snapshot: slot.snapshot });
    this.afterStep(slot, effects);
    return slot;
  }

  /** Sends an event to a task (as `sourceRef`): queued behind what the table is doing now. */
  deliver(slot: TaskSlot, event: EventObject, sourceRef: unknown): void {
    if (slot.ended) return;
    this.host.system._sendInspectionEvent({ type: '@xstate.event', sourceRef, actorRef: slot, event });
    this.step(slot, event);
  }

  /** Queues one step; runs the queue unless it is already running. */
  step(slot: TaskSlot, event: EventObject): void {
    this.queue.push({ slot, event });
    if (this.draining) return;
    this.draining = true;
    try {
      for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
        if (item.slot.ended) continue;
        const effects: Effect[] = [];
        const current = item.slot;
        current.snapshot = this.advance(current, item.event, effects);
        this.host.system._sendInspectionEvent({ type: '@xstate.snapshot', actorRef: current, event: item.event, snapshot: current.snapshot });
        this.afterStep(current, effects);
      }
    } finally {
      this.draining = false;
    }
  }

  /** One step of a task, supervised as runtime/supervisor.ts supervises an actor's transition. */
  private advance(slot: TaskSlot, event: EventObject, effects: Effect[]): EngineSnapshot {
    const before = slot.snapshot;
    const next = this.engine.transition(before, event, slot, effects);
    const supervision = this.supervision;
    if (supervision === undefined || next.status !== 'error' || before.status !== 'active') return next;
    // The engine left no effects of the failed step; the recovery starts from the snapshot before.
    const errorId = supervision.fault(next.error, event);
    const replacement = supervision.recover?.(errorId, event);
    return replacement === undefined ? before : this.engine.transition(before, replacement, slot, effects);
  }

  /** Stops one task (XState's stopChild: its children stopped, its timers cancelled). */
  stop(key: string): void {
    const slot = this.slots.get(key);
    if (slot) this.step(slot, { type: 'xstate.stop' });
  }

  stopAll(): void {
    for (const slot of [...this.slots.values()]) this.step(slot, { type: 'xstate.stop' });
  }

  private afterStep(slot: TaskSlot, effects: readonly Effect[]): void {
    for (const effect of effects) this.carryOut(slot, effect);
    const { status } = slot.snapshot;
    if (status === 'active' || slot.ended) return;
    slot.ended = true;
    this.slots.delete(slot.key);
    if (slot.timers) {
      for (const entry of slot.timers.values()) this.timers.cancel(entry);
      slot.timers = undefined;
    }
    const actorId = slot.key;
    if (status === 'done') {
      this.host.system._relay(slot, this.host.actor, { type: `xstate.done.actor.${actorId}`, output: slot.snapshot.output, actorId } as EventObject);
    } else if (status === 'error') {
      this.host.system._relay(slot, this.host.actor, { type: `xstate.error.actor.${actorId}`, error: slot.snapshot.error, actorId } as EventObject);
    }
  }

  private carryOut(slot: TaskSlot, effect: Effect): void {
    switch (effect.type) {
      case 'send':
        if (effect.to instanceof DirectChild) effect.to.receive(effect.event, this);
        else this.host.system._relay(slot, effect.to, effect.event);
        return;
      case 'schedule': {
        const { to, event } = effect;
        const fire =
          to === slot
            ? () => {
                slot.timers?.delete(id);
                this.deliver(slot, event, slot);
              }
            : () => {
                slot.timers?.delete(id);
                this.host.system._relay(slot, to, event);
              };
        const id = effect.id ?? `timer:${this.timerSeq++}`;
        const timers = (slot.timers ??= new Map());
        const previous = timers.get(id);
        if (previous !== undefined) this.timers.cancel(previous);
        timers.set(id, this.timers.schedule(effect.delay, fire));
        return;
      }
      case 'cancel': {
        const entry = slot.timers?.get(effect.id);
        if (entry !== undefined) {
          this.timers.cancel(entry as TimerEntry);
          slot.timers!.delete(effect.id);
        }
        return;
      }
      case 'emit':
        // A task has no `on` listeners: nobody can subscribe to a stand-in.
        return;
      case 'spawn':
        if (!effect.skip) (effect.child as DirectChild).start(this);
        return;
      case 'stop':
        (effect.child as DirectChild).stop();
        return;
      case 'log':
        if (effect.label === undefined) this.host.logger(effect.value);
        else this.host.logger(effect.label, effect.value);
        return;
      case 'exec':
        effect.run();
        return;
    }
  }
}
