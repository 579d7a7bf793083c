/**
 * The compiled executor of one machine definition: XState 5's macrostep (select transitions,
 * microstep, eventless transitions, internal queue, until stable) over cached configurations and
 * plans. A step takes an immutable snapshot and an event and returns the next snapshot; the
 * effects XState would defer to after the macrostep (sends, schedules, cancels, emits, child
 * starts and stops) are appended, in XState's order, to the caller's array.
 */
import { matchesState, type AnyStateMachine, type EventObject, type StateValue } from 'xstate';
import { evaluateGuard, resolveActorLogic, Run, runActions } from './actions.js';
import { ConfigurationSpace, type Configuration, type Plan, type SelectNode } from './configuration.js';
import type { Graph, Invoke, Node, Transition } from './graph.js';
import type { ChildHandle, Effect, EngineScope, EngineStatus } from './types.js';

const NONE: readonly Transition[] = [];

/** A machine snapshot produced by the engine: the fields XState's machine snapshots have. */
export class EngineSnapshot<TContext = any> {
  constructor(
    readonly machine: AnyStateMachine,
    /** @internal the active configuration */
    readonly config: Configuration,
    readonly context: TContext,
    readonly status: EngineStatus,
    readonly output: unknown,
    readonly error: unknown,
    readonly children: Readonly<Record<string, ChildHandle>>,
  ) {}

  get value(): StateValue {
    return this.config.value;
  }

  get tags(): ReadonlySet<string> {
    return this.config.tags;
  }

  get historyValue(): Record<string, never> {
    return {};
  }

  /** XState's own state nodes of the configuration. */
  get _nodes(): unknown[] {
    return this.config.nodes.map((node) => node.xnode);
  }

  matches(value: StateValue): boolean {
    return matchesState(value, this.value);
  }

  hasTag(tag: string): boolean {
    return this.config.tags.has(tag);
  }

  getMeta(): Record<string, unknown> {
    const meta: Record<string, unknown> = {};
    for (const node of this.config.nodes) {
      const value = node.xnode.config.meta;
      if (value !== undefined) meta[node.id] = value;
    }
    return meta;
  }

  toJSON() {
    const { status, output, error, context, children } = this;
    return { status, output, error, context, children, value: this.value, historyValue: {}, tags: [...this.tags] };
  }
}

export class MachineEngine {
  readonly space: ConfigurationSpace;
  private readonly maxIterations: number;

  constructor(
    readonly machine: AnyStateMachine,
    readonly graph: Graph,
  ) {
    this.space = new ConfigurationSpace(graph);
    this.maxIterations = (machine.options as { maxIterations?: number } | undefined)?.maxIterations ?? Number.POSITIVE_INFINITY;
  }

  /**
   * The initial snapshot for `input` (XState's getInitialSnapshot), with the effects its actor
   * would carry out when started: child starts first (a machine's `start` starts its children),
   * then custom actions, then the rest in order.
   */
  initial(input: unknown, scope: EngineScope, effects: Effect[]): EngineSnapshot {
    const initEvent = { type: 'xstate.init', input } as EventObject;
    const contextConfig = this.machine.config.context;
    const start = effects.length;
    const local: Effect[] = [];
    const r = new Run(this.machine, scope, typeof contextConfig !== 'function' && contextConfig ? contextConfig : {}, {}, local, false, this.space.preInitial);
    let preInitialContext = r.context;
    try {
      if (typeof contextConfig === 'function') {
        const made = contextConfig({ spawn: r.spawner(initEvent), input, self: scope.self });
        // Object.assign({}, {}, made), by a spread copy (faster on Node 20), unless `__proto__` is a key.
        r.context = made !== null && typeof made === 'object' && !Object.hasOwn(made, '__proto__') ? { ...made } : Object.assign({}, r.context, made);
        r.cloned = true;
        preInitialContext = r.context;
      }
      this.microstep(r, this.space.initialPlan, initEvent);
      this.settle(r, initEvent);
    } catch (error) {
      effects.length = start;
      return new EngineSnapshot(this.machine, this.space.preInitial, preInitialContext, 'error', undefined, error, {});
    }
    const started = new Set<Effect>();
    if (r.status === 'active') {
      for (const child of Object.values(r.children)) {
        const spawn = local.find((e) => e.type === 'spawn' && e.child === child && !e.skip);
        if (spawn) {
          effects.push(spawn);
          started.add(spawn);
        }
      }
    }
    effects.push(...r.execs);
    for (const effect of local) if (!started.has(effect)) effects.push(effect);
    return this.snapshotOf(r);
  }

  /** One macrostep. A snapshot that is not active takes no events (its actor has stopped). */
  transition(snapshot: EngineSnapshot, event: EventObject, scope: EngineScope, effects: Effect[]): EngineSnapshot {
    if (snapshot.status !== 'active') return snapshot;
    const start = effects.length;
    const r = new Run(this.machine, scope, snapshot.context, snapshot.children as Record<string, ChildHandle>, effects, true, snapshot.config);
    try {
      if (event.type === 'xstate.stop') {
        this.stopChildren(r);
        r.status = 'stopped';
        return this.snapshotOf(r);
      }
      const transitions = this.select(r, event);
      if (transitions.length === 0 && event.type.startsWith('xstate.error.actor')) {
        this.stopChildren(r);
        r.status = 'error';
        r.error = (event as { error?: unknown }).error;
        return this.snapshotOf(r);
      }
      if (transitions.length > 0) this.microstep(r, r.config.plan(transitions), event);
      this.settle(r, event);
      return this.snapshotOf(r);
    } catch (error) {
      effects.length = start;
      return new EngineSnapshot(this.machine, snapshot.config, snapshot.context, 'error', snapshot.output, error, snapshot.children);
    }
  }

  private snapshotOf(r: Run): EngineSnapshot {
    return new EngineSnapshot(this.machine, r.config, r.context, r.status, r.output, r.error, r.children);
  }

  /** XState's macrostep loop after the first microstep: eventless transitions, then raised events. */
  private settle(r: Run, event: EventObject): void {
    let nextEvent = event;
    let selectEventless = true;
    let iterations = 0;
    while (r.status === 'active') {
      if (++iterations > this.maxIterations) {
        throw new Error(
          `Infinite loop detected: the machine has processed more than ${this.maxIterations} microsteps without reaching a stable state. This usually happens when there's a cycle of transitions (e.g., eventless transitions or raised events causing state A -> B -> C -> A).`,
        );
      }
      let enabled: readonly Transition[] = selectEventless ? this.eventless(r, nextEvent) : NONE;
      const fromEventless: boolean = enabled.length > 0;
      if (!fromEventless) {
        const raised = r.queue.shift();
        if (raised === undefined) break;
        nextEvent = raised;
        enabled = this.select(r, nextEvent);
      }
      const changed: boolean = enabled.length > 0 ? this.microstep(r, r.config.plan(enabled), nextEvent) : false;
      selectEventless = fromEventless ? changed : true;
    }
    if (r.status !== 'active') {
      // XState stops the children here but keeps the snapshot it had: a done machine still
      // lists them (its stopChildren result is dropped at the end of the macrostep).
      const children = r.shareChildren();
      this.stopChildren(r);
      r.children = children;
    }
  }

  private stopChildren(r: Run): void {
    for (const child of Object.values(r.children)) r.stop(child);
  }

  /** Runs a plan; true when XState would have made a new snapshot (configuration or clone). */
  private microstep(r: Run, plan: Plan, event: EventObject): boolean {
    r.cloned = false;
    for (const node of plan.exits) {
      runActions(r, node.exit, event);
      for (const invoke of node.invokes) r.stop(r.children[invoke.id]);
    }
    for (const t of plan.transitions) runActions(r, t.actions, event);
    for (const step of plan.enters) {
      const node = step.node;
      const invokes = node.invokes;
      const effectsBefore = r.effects.length;
      r.deferredIds = invokes.length > 0 ? invokes.map((invoke) => invoke.id) : undefined;
      runActions(r, node.entry, event);
      for (const invoke of invokes) this.spawnInvoke(r, invoke, event);
      if (step.defaultEntry && node.initial) runActions(r, node.initial.actions, event);
      if (r.deferredIds) {
        for (let i = effectsBefore; i < r.effects.length; i++) {
          const effect = r.effects[i]!;
          if ((effect.type === 'send' || effect.type === 'schedule') && typeof effect.to === 'string') effect.to = r.children[effect.to];
        }
        r.deferredIds = undefined;
      }
      if (step.final) this.enterFinal(r, node, step.final, event);
    }
    if (plan.machineDone) for (const node of plan.doneExits) runActions(r, node.exit, event);
    r.config = plan.doneNext;
    return plan.setChanged || r.cloned || plan.machineDone;
  }

  private spawnInvoke(r: Run, invoke: Invoke, event: EventObject): void {
    const logic = resolveActorLogic(this.machine, invoke.src);
    let child: ChildHandle | undefined;
    if (logic) {
      const input = typeof invoke.input === 'function' ? invoke.input({ context: r.context, event, self: r.scope.self }) : invoke.input;
      child = r.spawn({ id: invoke.id, src: invoke.src, logic: logic as never, input, systemId: invoke.systemId, syncSnapshot: false });
    }
    r.recordChild(invoke.id, child);
    r.cloned = true;
  }

  private enterFinal(r: Run, node: Node, final: NonNullable<Plan['enters'][number]['final']>, event: EventObject): void {
    const self = r.scope.self;
    if (final.parentDone) {
      const output = node.output !== undefined ? resolveOutput(node.output, r.context, event, self) : undefined;
      r.queue.push({ type: `xstate.done.state.${final.parentDone.id}`, output } as EventObject);
    }
    for (const parallel of final.parallelDone) r.queue.push({ type: `xstate.done.state.${parallel.id}`, output: undefined } as EventObject);
    if (!final.machineDone) return;
    r.status = 'done';
    const root = this.graph.root;
    if (root.output === undefined) {
      r.output = undefined;
      return;
    }
    const completion = final.completion;
    const doneEvent = {
      type: `xstate.done.state.${completion.id}`,
      output: completion.output !== undefined && completion.parent ? resolveOutput(completion.output, r.context, event, self) : undefined,
    };
    r.output = resolveOutput(root.output, r.context, doneEvent as EventObject, self);
  }

  /** XState's transitionNode: the enabled transitions for an external or raised event. */
  private select(r: Run, event: EventObject): readonly Transition[] {
    const selection = r.config.selection(event.type);
    if (selection === null) return NONE;
    return this.walk(r, selection, event) ?? NONE;
  }

  private walk(r: Run, s: SelectNode, event: EventObject): readonly Transition[] | undefined {
    if (s.kind === 'parallel') {
      let all: Transition[] | undefined;
      for (const child of s.children) {
        const inner = this.walk(r, child, event);
        if (inner) (all ??= []).push(...inner);
      }
      return all ?? this.next(r, s, event);
    }
    if (s.kind === 'compound') {
      const child = s.children[0];
      const inner = child ? this.walk(r, child, event) : undefined;
      if (inner && inner.length > 0) return inner;
    }
    return this.next(r, s, event);
  }

  /** XState's StateNode.next: the first candidate whose guard passes. */
  private next(r: Run, s: SelectNode, event: EventObject): readonly Transition[] | undefined {
    const candidates = s.candidates;
    if (!candidates) return undefined;
    for (const t of candidates) {
      const guard = t.guard;
      let passed: boolean;
      try {
        passed = !guard || evaluateGuard(r, guard, r.context, event);
      } catch (err) {
        const guardType = typeof guard === 'string' ? guard : typeof guard === 'object' ? (guard as { type?: string }).type : undefined;
        throw new Error(
          `Unable to evaluate guard ${guardType ? `'${guardType}' ` : ''}in transition for event '${event.type}' in state node '${s.node.id}':\n${(err as Error).message}`,
        );
      }
      if (passed) return t.alone;
    }
    return undefined;
  }

  /** XState's selectEventlessTransitions (conflicts are removed when the plan is made). */
  private eventless(r: Run, event: EventObject): readonly Transition[] {
    const chains = r.config.eventless;
    if (chains.length === 0) return NONE;
    let enabled: Transition[] | undefined;
    for (const chain of chains) {
      search: for (const node of chain) {
        for (const t of node.always!) {
          if (t.guard === undefined || evaluateGuard(r, t.guard, r.context, event)) {
            if (!enabled) enabled = [t];
            else if (!enabled.includes(t)) enabled.push(t);
            break search;
          }
        }
      }
    }
    if (!enabled) return NONE;
    return enabled.length === 1 ? enabled[0]!.alone : enabled;
  }
}

function resolveOutput(mapper: unknown, context: unknown, event: EventObject, self: unknown): unknown {
  return typeof mapper === 'function' ? mapper({ context, event, self }) : mapper;
}
