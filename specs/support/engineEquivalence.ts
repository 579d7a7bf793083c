/**
 * Runs one machine definition two ways, XState's interpreter (a real actor) and the compiled
 * engine (machines/engine), through the same commands, and returns what each did, step by step,
 * in one comparable form:
 *
 * - after every command: status, state value (as JSON text, so key order counts), context,
 *   output, error message, children (ids and who they are), pending timers in schedule order;
 * - the effects of that command in order: sends (to the parent, a child, itself), schedules,
 *   explicit cancels, emits, child starts (with their input) and stops, log entries.
 *
 * Children are stubs on both sides (they record nothing but their stop), so what is compared is
 * the machine's own behaviour. The XState side observes through public seams: `inspect` for
 * sends and child starts, `on('*')` for emits, a recording clock for timers, and the system's
 * scheduler for schedule and cancel arguments.
 */
import fc from 'fast-check';
import { createActor, type AnyActorLogic, type AnyStateMachine, type EventObject } from 'xstate';
import { compileMachine, type ChildHandle, type Effect, type EngineSnapshot } from '../../machines/engine/index.js';
import { hosted } from '../../machines/host/hostedMachine.js';

export type Command =
  | { readonly kind: 'event'; readonly event: EventObject }
  /** Fire the pending timer at this index (modulo how many there are). */
  | { readonly kind: 'fire'; readonly index: number }
  | { readonly kind: 'stop' };

export interface Observation {
  readonly effects: unknown[];
  readonly snapshot: unknown;
  readonly timers: unknown[];
}

/** A parentRef both sides send to (its `_send` is what XState's relay calls). */
export const parentStub = { id: 'parent', sessionId: 'parent-stub', send() {}, _send() {} };

let childStopSink: ((entry: unknown[]) => void) | undefined;

/** For custom (non-built-in) actions of test machines: records into the current run's effects. */
export function recordFromAction(entry: unknown[]): void {
  childStopSink?.(entry);
}

/** Child logic for every actor a machine references: records its own stop, nothing else. */
const stubChild: AnyActorLogic = {
  transition: (snapshot: unknown, event: EventObject, scope: { self: { id: string } }) => {
    if (event.type === 'xstate.stop') childStopSink?.(['stop', `child:${scope.self.id}`]);
    return snapshot;
  },
  getInitialSnapshot: () => ({ status: 'active', output: undefined, error: undefined }),
  getPersistedSnapshot: (snapshot: unknown) => snapshot,
} as never;

/** The machine with every referenced actor replaced by the stub. */
export function withStubChildren(machine: AnyStateMachine): AnyStateMachine {
  const actors = Object.fromEntries(Object.keys(machine.implementations.actors).map((name) => [name, stubChild]));
  return machine.provide({ actors } as never);
}

type NameOf = (value: unknown) => string | undefined;

function normalise(value: unknown, nameOf: NameOf, depth = 0): unknown {
  const name = nameOf(value);
  if (name !== undefined) return `<${name}>`;
  if (typeof value === 'function') return '<fn>';
  if (typeof value === 'number' && Number.isNaN(value)) return '<NaN>';
  if (value === undefined) return '<undefined>';
  if (typeof value !== 'object' || value === null) return value;
  if (depth > 12) return '<deep>';
  if (value instanceof Map) return { '<Map>': [...value].map(([k, v]) => [normalise(k, nameOf, depth + 1), normalise(v, nameOf, depth + 1)]) };
  if (value instanceof Set) return { '<Set>': [...value].map((v) => normalise(v, nameOf, depth + 1)) };
  if (value instanceof Error) return { '<Error>': value.message };
  if (Array.isArray(value)) return value.map((v) => normalise(v, nameOf, depth + 1));
  if ('sessionId' in value && 'send' in value) return '<ref>';
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = normalise((value as Record<string, unknown>)[key], nameOf, depth + 1);
  return out;
}

const errorText = (error: unknown) => (error === undefined ? undefined : error instanceof Error ? error.message : String(error));

interface Timer {
  readonly target: unknown;
  readonly event: EventObject;
  readonly delay: number;
  readonly id: string | undefined;
  readonly fire: () => void;
}

function observeSnapshot(snapshot: any, nameOf: NameOf) {
  return {
    status: snapshot.status,
    value: JSON.stringify(snapshot.value),
    context: normalise(snapshot.context, nameOf),
    output: normalise(snapshot.output, nameOf),
    error: errorText(snapshot.error),
    children: Object.entries((snapshot.children ?? {}) as Record<string, unknown>).map(([id, child]) => [id, child === undefined ? '<undefined>' : nameOf(child)]),
  };
}

const timersOf = (timers: readonly Timer[], nameOf: NameOf) =>
  timers.map((t) => [nameOf(t.target) ?? '<?>', normalise(t.event, nameOf), t.delay, t.id ?? '<generated>']);

/** The reference: XState's interpreter, as a real root actor. */
export function runInterpreter(machine: AnyStateMachine, input: unknown, commands: readonly Command[]): Observation[] {
  let effects: unknown[] = [];
  const timers: (Timer & { handle: object })[] = [];
  let scheduling: { target: unknown; event: EventObject; delay: number; id: string | undefined } | undefined;
  let firing: EventObject | undefined;
  const clock = {
    setTimeout(fn: () => void, _ms: number) {
      const handle = {};
      if (!scheduling) throw new Error('harness: a timer set outside the scheduler');
      // One pending event per id, as the scheduler's table keeps it (a re-used id replaces the
      // entry in place; XState leaves the replaced timer running, a quirk no host copies).
      const entry = { ...scheduling, fire: fn, handle };
      const same = scheduling.id === undefined ? -1 : timers.findIndex((t) => t.id === scheduling!.id);
      if (same >= 0) timers[same] = entry;
      else timers.push(entry);
      return handle;
    },
    clearTimeout(handle: object) {
      const index = timers.findIndex((t) => t.handle === handle);
      if (index >= 0) timers.splice(index, 1);
    },
  };
  let actor: any;
  const nameOf: NameOf = (value) => {
    if (value === undefined || value === null || typeof value !== 'object') return undefined;
    if (value === actor) return 'self';
    if (value === parentStub) return 'parent';
    if ((value as { _parent?: unknown })._parent === actor && actor !== undefined) return `child:${(value as { id: string }).id}`;
    return undefined;
  };
  const record = (entry: unknown[]) => effects.push(entry);
  actor = createActor(machine, {
    input,
    clock,
    logger: (...args: unknown[]) => record(['log', ...args.map((a) => normalise(a, nameOf))]),
    inspect: (inspection: any) => {
      if (inspection.type !== '@xstate.event' || inspection.sourceRef !== actor || actor === undefined) return;
      if (firing !== undefined && inspection.event === firing) {
        record(['fire', nameOf(inspection.actorRef) ?? '<?>', normalise(inspection.event, nameOf)]);
        firing = undefined;
        return;
      }
      if (inspection.event.type === 'xstate.init' && inspection.actorRef._parent === actor) {
        record(['start', nameOf(inspection.actorRef), normalise(inspection.actorRef.options?.input, nameOf)]);
        return;
      }
      record(['send', nameOf(inspection.actorRef) ?? '<?>', normalise(inspection.event, nameOf)]);
    },
  });
  const scheduler = actor.system.scheduler;
  const schedule = scheduler.schedule;
  const cancel = scheduler.cancel;
  const cancelAll = scheduler.cancelAll;
  let cancellingAll = false;
  scheduler.schedule = (source: unknown, target: unknown, event: EventObject, delay: number, id?: string) => {
    record(['schedule', nameOf(target) ?? '<?>', normalise(event, nameOf), delay, id ?? '<generated>']);
    scheduling = { target, event, delay, id };
    try {
      schedule(source, target, event, delay, id);
    } finally {
      scheduling = undefined;
    }
  };
  scheduler.cancel = (source: unknown, id: string) => {
    if (!cancellingAll) record(['cancel', id]);
    cancel(source, id);
  };
  scheduler.cancelAll = (ref: unknown) => {
    cancellingAll = true;
    try {
      cancelAll(ref);
    } finally {
      cancellingAll = false;
    }
  };
  actor.on('*', (event: EventObject) => record(['emit', normalise(event, nameOf)]));
  actor.subscribe({ error: () => {} });

  const observations: Observation[] = [];
  const observe = () => {
    observations.push({ effects, snapshot: observeSnapshot(actor.getSnapshot(), nameOf), timers: timersOf(timers, nameOf) });
    effects = [];
  };
  childStopSink = record;
  try {
    actor.start();
    observe();
    for (const command of commands) {
      // An actor that has ended takes no events (XState only warns); neither side sends them.
      if (actor.getSnapshot().status !== 'active') {
        observe();
        continue;
      }
      if (command.kind === 'event') actor.send(command.event);
      else if (command.kind === 'stop') actor.stop();
      else if (timers.length > 0) {
        const timer = timers[command.index % timers.length]!;
        timers.splice(timers.indexOf(timer), 1);
        firing = timer.event;
        timer.fire();
        firing = undefined;
      }
      observe();
    }
  } finally {
    childStopSink = undefined;
  }
  return observations;
}

/** The compiled engine, with a minimal host: a timer list, child starts and stops, emits. */
export function runEngine(machine: AnyStateMachine, input: unknown, commands: readonly Command[]): Observation[] {
  const compiled = compileMachine(machine);
  if (!compiled.ok) throw new Error(`engine cannot run ${machine.id}: ${compiled.reasons.join('; ')}`);
  const engine = compiled.engine;
  let snapshot: EngineSnapshot;
  // Machines may read their own snapshot (XState's self.getSnapshot(): the one before the step).
  const self = { id: 'engine-self', sessionId: 'engine-self', send() {}, _send() {}, getSnapshot: () => snapshot };
  const handles = new Set<unknown>();
  const started = new Set<unknown>();
  const nameOf: NameOf = (value) => {
    if (value === self) return 'self';
    if (value === parentStub) return 'parent';
    if (handles.has(value)) return `child:${(value as ChildHandle).id}`;
    return undefined;
  };
  const scope = {
    self,
    createChild: (spec: { id: string }) => {
      const handle = { id: spec.id, getSnapshot: () => ({ status: 'active' }) };
      handles.add(handle);
      return handle;
    },
  };
  let effects: unknown[] = [];
  const timers: Timer[] = [];
  const record = (entry: unknown[]) => effects.push(entry);

  const carryOut = (list: Effect[]) => {
    for (const effect of list) {
      switch (effect.type) {
        case 'send':
          record(['send', nameOf(effect.to) ?? '<?>', normalise(effect.event, nameOf)]);
          break;
        case 'schedule':
          record(['schedule', nameOf(effect.to) ?? '<?>', normalise(effect.event, nameOf), effect.delay, effect.id ?? '<generated>']);
          {
            const entry = { target: effect.to, event: effect.event, delay: effect.delay, id: effect.id, fire: () => {} };
            const same = effect.id === undefined ? -1 : timers.findIndex((t) => t.id === effect.id);
            if (same >= 0) timers[same] = entry;
            else timers.push(entry);
          }
          break;
        case 'cancel': {
          record(['cancel', effect.id]);
          const index = timers.findIndex((t) => t.id === effect.id);
          if (index >= 0) timers.splice(index, 1);
          break;
        }
        case 'emit':
          record(['emit', normalise(effect.event, nameOf)]);
          break;
        case 'spawn':
          if (effect.skip) break;
          started.add(effect.child);
          record(['start', nameOf(effect.child), normalise(effect.spec.input, nameOf)]);
          break;
        case 'stop':
          if (started.delete(effect.child)) record(['stop', nameOf(effect.child)]);
          break;
        case 'log':
          record(['log', ...(effect.label === undefined ? [] : [effect.label]), normalise(effect.value, nameOf)]);
          break;
        case 'exec':
          effect.run();
          break;
      }
    }
  };
  const step = (event: EventObject) => {
    const list: Effect[] = [];
    snapshot = engine.transition(snapshot, event, scope, list);
    carryOut(list);
    // The host's part of an actor ending: its pending timers go (XState's cancelAll).
    if (snapshot.status !== 'active') timers.length = 0;
  };

  const observations: Observation[] = [];
  const observe = () => {
    observations.push({ effects, snapshot: observeSnapshot(snapshot, nameOf), timers: timersOf(timers, nameOf) });
    effects = [];
  };
  childStopSink = record;
  try {
    runCommands();
  } finally {
    childStopSink = undefined;
  }
  return observations;

  function runCommands() {
    const initial: Effect[] = [];
    snapshot = engine.initial(input, scope, initial);
    if (snapshot.status === 'error') initial.length = 0;
    carryOut(initial);
    if (snapshot.status !== 'active') timers.length = 0;
    observe();
    for (const command of commands) {
      if (snapshot.status !== 'active') {
        observe();
        continue;
      }
      if (command.kind === 'event') step(command.event);
      else if (command.kind === 'stop') step({ type: 'xstate.stop' });
      else if (timers.length > 0 && snapshot.status === 'active') {
        const timer = timers[command.index % timers.length]!;
        timers.splice(timers.indexOf(timer), 1);
        record(['fire', nameOf(timer.target) ?? '<?>', normalise(timer.event, nameOf)]);
        if (timer.target === self) step(timer.event);
      }
      observe();
    }
  }
}

export interface EquivalenceCase<TInput> {
  /** The machine as the runtime uses it; its actors are replaced by stubs here. */
  readonly machine: AnyStateMachine;
  readonly input: fc.Arbitrary<TInput>;
  readonly events: fc.Arbitrary<EventObject>;
  /** Longest command sequence. @default 40 */
  readonly commandsMax?: number;
  /** Events that open most runs (e.g. an admission answer), so deep states are reached often. */
  readonly prelude?: fc.Arbitrary<readonly EventObject[]>;
}

export function commandsArbitrary(events: fc.Arbitrary<EventObject>, commandsMax = 40): fc.Arbitrary<Command[]> {
  return fc.array(
    fc.oneof(
      { weight: 12, arbitrary: events.map((event): Command => ({ kind: 'event', event })) },
      { weight: 4, arbitrary: fc.nat(16).map((index): Command => ({ kind: 'fire', index })) },
      { weight: 1, arbitrary: fc.constant<Command>({ kind: 'stop' }) },
    ),
    { maxLength: commandsMax },
  );
}

/** A case's command sequences: its prelude (if any), then random commands. */
export function caseCommands(testCase: EquivalenceCase<unknown>): fc.Arbitrary<Command[]> {
  return fc
    .tuple(testCase.prelude ?? fc.constant([]), commandsArbitrary(testCase.events, testCase.commandsMax))
    .map(([prelude, rest]) => [...prelude.map((event): Command => ({ kind: 'event', event })), ...rest]);
}

/** Throws, with the first step that differs, unless both runs observed the same. */
function expectSameRuns(label: string, commands: readonly Command[], expected: readonly Observation[], actual: readonly Observation[]): void {
  for (let i = 0; i < expected.length; i++) {
    const a = JSON.stringify(actual[i]);
    const e = JSON.stringify(expected[i]);
    if (a !== e) {
      throw new Error(
        `${label} and interpreter differ after ${i === 0 ? 'start' : `command ${i - 1} ${JSON.stringify(commands[i - 1])}`}\n` +
          `interpreter: ${e}\n${label}: ${a}`,
      );
    }
  }
}

/** The property: for every input and command sequence, both runs observe the same, step by step. */
export function equivalenceProperty(testCase: EquivalenceCase<unknown>) {
  const machine = withStubChildren(testCase.machine);
  return fc.property(testCase.input, caseCommands(testCase), (input, commands) => {
    expectSameRuns('engine', commands, runInterpreter(machine, input, commands), runEngine(machine, input, commands));
  });
}

/**
 * The same property for the machine hosted in a real actor (machines/host/hostedMachine.ts):
 * what XState's interpreter does, the hosted engine does through the actor system.
 */
export function hostedEquivalenceProperty(testCase: EquivalenceCase<unknown>) {
  const machine = withStubChildren(testCase.machine);
  const logic = hosted(machine);
  if (logic === machine) throw new Error(`${machine.id} is not supported by the engine`);
  return fc.property(testCase.input, caseCommands(testCase), (input, commands) => {
    expectSameRuns('hosted engine', commands, runInterpreter(machine, input, commands), runInterpreter(logic, input, commands));
  });
}

/** fast-check parameters: the tier's seed (specs/support/propertySeed.ts); ENGINE_RUNS overrides the count. */
export function equivalenceParameters(numRuns: number): fc.Parameters<unknown> {
  return { numRuns: Number(process.env.ENGINE_RUNS ?? numRuns) };
}
