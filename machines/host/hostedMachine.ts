/**
 * A compiled machine hosted inside a real XState actor: `hosted(machine)` is actor logic that
 * steps the engine (machines/engine) instead of XState's interpreter, and carries out the
 * engine's effects through the actor system exactly where XState would (its relay for sends, its
 * scheduler for delayed events and cancels, the actor's emit, real child actors). So the system,
 * the scheduler, the clock and inspection stay XState's: the actor, its events and its snapshots
 * are seen by `inspect` as usual, and the logic answers to `logic.id`, `logic.root`,
 * `logic.definition` like the machine it runs (it inherits from it).
 *
 * A machine the engine does not support is returned as is (the caller logs why: runtime/).
 */
import { createActor, type AnyActorRef, type AnyActorScope, type AnyStateMachine, type EventObject } from 'xstate';
import { compileMachine, type ChildHandle, type ChildSpec, type Effect, type EngineScope, type EngineSnapshot, type MachineEngine } from '../engine/index.js';

/** XState's ProcessingStatus.Stopped (an actor that must not be started any more). */
const STOPPED = 2;

interface ActorInternals {
  readonly _processingStatus: number;
  getSnapshot(): { readonly children?: Record<string, AnyActorRef> } | undefined;
}

interface SystemInternals {
  _relay(source: AnyActorRef | undefined, target: AnyActorRef, event: EventObject): void;
  _unregister(actor: AnyActorRef): void;
  readonly scheduler: {
    schedule(source: AnyActorRef, target: AnyActorRef, event: EventObject, delay: number, id?: string): void;
    cancel(source: AnyActorRef, id: string): void;
  };
}

const scopes = new WeakMap<AnyActorScope, EngineScope>();

/** The engine scope of an actor: `self` and `system` as XState gives actions, children as real actors. */
function engineScope(scope: AnyActorScope): EngineScope {
  let engine = scopes.get(scope);
  if (!engine) scopes.set(scope, (engine = makeEngineScope(scope)));
  return engine;
}

function makeEngineScope(scope: AnyActorScope): EngineScope {
  const self = scope.self;
  return {
    self,
    system: scope.system,
    createChild: (spec: ChildSpec): ChildHandle =>
      createActor(spec.logic, {
        id: spec.id,
        src: spec.src as string,
        parent: self,
        syncSnapshot: spec.syncSnapshot,
        systemId: spec.systemId,
        input: spec.input,
      } as never) as unknown as ChildHandle,
  };
}

function unregisterRecursively(system: SystemInternals, actor: AnyActorRef): void {
  const snapshot = (actor as unknown as ActorInternals).getSnapshot();
  if (snapshot && typeof snapshot === 'object' && 'children' in snapshot && snapshot.children) {
    for (const child of Object.values(snapshot.children)) if (child) unregisterRecursively(system, child);
  }
  system._unregister(actor);
}

/** Carries out a step's effects as XState's deferred actions would, in order. */
export function carryOut(scope: AnyActorScope, effects: readonly Effect[]): void {
  const system = scope.system as unknown as SystemInternals;
  const self = scope.self;
  for (const effect of effects) {
    switch (effect.type) {
      case 'send':
        system._relay(self, effect.to as AnyActorRef, effect.event);
        break;
      case 'schedule':
        system.scheduler.schedule(self, effect.to as AnyActorRef, effect.event, effect.delay, effect.id);
        break;
      case 'cancel':
        system.scheduler.cancel(self, effect.id);
        break;
      case 'emit':
        scope.emit(effect.event);
        break;
      case 'spawn': {
        const child = effect.child as unknown as AnyActorRef & ActorInternals;
        if (!effect.skip && child._processingStatus !== STOPPED) child.start();
        break;
      }
      case 'stop': {
        const child = effect.child as unknown as AnyActorRef;
        unregisterRecursively(system, child);
        scope.stopChild(child);
        break;
      }
      case 'log':
        if (effect.label === undefined) scope.logger(effect.value);
        else scope.logger(effect.label, effect.value);
        break;
      case 'exec':
        effect.run();
        break;
    }
  }
}

const hostedCache = new WeakMap<AnyStateMachine, AnyStateMachine>();

/**
 * The machine's logic, executed by the engine inside the actor that runs it. Cached per machine
 * object; `provide(...)` on the result provides the machine and hosts that.
 */
export function hosted<TMachine extends AnyStateMachine>(machine: TMachine): TMachine {
  const compiled = compileMachine(machine);
  if (!compiled.ok) return machine;
  let logic = hostedCache.get(machine);
  if (!logic) {
    logic = hostedLogic(machine, compiled.engine);
    hostedCache.set(machine, logic);
  }
  return logic as TMachine;
}

/** True for logic made by `hosted`. */
export function isHosted(logic: unknown): boolean {
  return typeof logic === 'object' && logic !== null && Object.hasOwn(logic, hostedMarker);
}

const hostedMarker = Symbol('switchboard.hosted');

function hostedLogic(machine: AnyStateMachine, engine: MachineEngine): AnyStateMachine {
  const logic = Object.create(machine) as AnyStateMachine & Record<PropertyKey, unknown>;
  // Writable like the machine's own methods, so that wrappers deriving from this logic (the
  // runtime's supervisor, Object.create then assign) can override them.
  defineMethods(logic, {
    getInitialSnapshot: {
      value: (scope: AnyActorScope, input: unknown) => {
        const effects: Effect[] = [];
        const snapshot = engine.initial(input, engineScope(scope), effects);
        // The actor carries these out when it starts (its first update), like XState's own
        // initial actions.
        if (effects.length > 0) scope.defer(() => carryOut(scope, effects));
        return snapshot;
      },
    },
    transition: {
      value: (snapshot: EngineSnapshot, event: EventObject, scope: AnyActorScope) => {
        const effects: Effect[] = [];
        const next = engine.transition(snapshot, event, engineScope(scope), effects);
        if (effects.length > 0) scope.defer(() => carryOut(scope, effects));
        return next;
      },
    },
    // Children are started by the initial effects; XState's machine `start` would start them first.
    start: { value: () => {} },
    getPersistedSnapshot: {
      value: (snapshot: EngineSnapshot) => ({
        status: snapshot.status,
        value: snapshot.value,
        context: snapshot.context,
        output: snapshot.output,
        error: snapshot.error,
        children: {},
        historyValue: {},
      }),
    },
    provide: { value: (implementations: Parameters<AnyStateMachine['provide']>[0]) => hosted(machine.provide(implementations)) },
    microstep: {
      value: () => {
        throw new Error(`switchboard: ${machine.id} is hosted on the engine; microstep is XState's interpreter only`);
      },
    },
  });
  Object.defineProperty(logic, hostedMarker, { value: true });
  return logic;
}

function defineMethods(target: object, methods: Record<string, { value: unknown }>): void {
  for (const [name, { value }] of Object.entries(methods)) Object.defineProperty(target, name, { value, writable: true, configurable: true });
}
