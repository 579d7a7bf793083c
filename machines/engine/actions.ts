/**
 * Executing actions the way XState 5 resolves them (assign, sendTo, raise, cancel, emit,
 * spawnChild, stopChild, enqueueActions, log; named actions with params; custom functions), into
 * a run's context, children, internal queue and ordered effects. Each built-in is recognised by
 * its `type` and read through the same fields XState's own resolvers read.
 */
import {
  and,
  assign,
  cancel,
  emit,
  matchesState,
  not,
  or,
  raise,
  sendParent,
  sendTo,
  spawnChild,
  stateIn,
  stopChild,
  type AnyStateMachine,
  type EventObject,
  type StateValue,
} from 'xstate';
import type { Configuration } from './configuration.js';
import type { Node } from './graph.js';
import type { ChildHandle, ChildSpec, Effect, EngineScope, EngineStatus } from './types.js';

type Fn = (...args: any[]) => any;
interface BuiltinAction extends Fn {
  readonly type: string;
  readonly resolve: Fn;
  readonly [field: string]: any;
}

const isBuiltin = (action: unknown): action is BuiltinAction => typeof action === 'function' && 'resolve' in action;

/** The built-in action types this file executes. */
export const builtinActionTypes = new Set([
  'xstate.assign',
  'xstate.sendTo',
  'xstate.raise',
  'xstate.cancel',
  'xstate.emit',
  'xstate.spawnChild',
  'xstate.stopChild',
  'xstate.enqueueActions',
  'xstate.log',
]);

const checkNot = (not(() => true) as unknown as { check: Fn }).check;
const checkAnd = (and([]) as unknown as { check: Fn }).check;
const checkOr = (or([]) as unknown as { check: Fn }).check;
const checkStateIn = (stateIn('x') as unknown as { check: Fn }).check;
export const builtinGuardChecks = new Set<Fn>([checkNot, checkAnd, checkOr, checkStateIn]);

/** The mutable state of one macrostep. */
export class Run {
  context: any;
  children: Record<string, ChildHandle>;
  private childrenOwned = false;
  status: EngineStatus = 'active';
  output: unknown = undefined;
  error: unknown = undefined;
  /** Set by every action XState would clone the snapshot for (assign, spawn, stop). */
  cloned = false;
  readonly queue: EventObject[] = [];
  readonly execs: Effect[] = [];
  /** Children spawned in this macrostep and not started yet (a stop then skips the start). */
  private pendingStarts: Map<string, Extract<Effect, { type: 'spawn' }>> | undefined;
  /** While entering a node: its invoke ids, which sendTo may name before they exist. */
  deferredIds: readonly string[] | undefined;
  private assignArgsCache: any;

  constructor(
    readonly machine: AnyStateMachine,
    readonly scope: EngineScope,
    context: unknown,
    children: Record<string, ChildHandle>,
    readonly effects: Effect[],
    /** False while computing the initial snapshot (XState's actor is not running yet). */
    readonly running: boolean,
    public config: Configuration,
  ) {
    this.context = context;
    this.children = children;
  }

  private argsCache: { context: unknown; event: EventObject; self: unknown; system: unknown } | undefined;

  /** XState's action arguments; one object while context and event stay the same. */
  args(event: EventObject) {
    const cached = this.argsCache;
    if (cached !== undefined && cached.context === this.context && cached.event === event) return cached;
    return (this.argsCache = { context: this.context, event, self: this.scope.self, system: this.scope.system });
  }

  /** The children as they are now, kept intact: later stops work on a copy. */
  shareChildren(): Record<string, ChildHandle> {
    this.childrenOwned = false;
    return this.children;
  }

  private ownChildren(): Record<string, ChildHandle> {
    if (!this.childrenOwned) {
      this.children = { ...this.children };
      this.childrenOwned = true;
    }
    return this.children;
  }

  /** XState's createSpawner, for `spawn` inside assign. */
  spawner(event: EventObject) {
    return (src: unknown, options?: { id?: string; input?: unknown; systemId?: string; syncSnapshot?: boolean }) => {
      let logic = src;
      let input = options?.input;
      if (typeof src === 'string') {
        logic = referencedActor(this.machine, src);
        if (!logic) throw new Error(`Actor logic '${src}' not implemented in machine '${this.machine.id}'`);
        input = typeof input === 'function' ? input({ context: this.context, event, self: this.scope.self }) : input;
      }
      const child = this.spawn({ id: options?.id as string, src, logic: logic as never, input, systemId: options?.systemId, syncSnapshot: !!options?.syncSnapshot });
      this.recordChild(child.id, child);
      return child;
    };
  }

  spawn(spec: ChildSpec): ChildHandle {
    const child = this.scope.createChild ? this.scope.createChild(spec) : spec;
    const effect: Extract<Effect, { type: 'spawn' }> = { type: 'spawn', child, spec, skip: false };
    (this.pendingStarts ??= new Map()).set(child.id, effect);
    this.effects.push(effect);
    return child;
  }

  recordChild(id: string, child: ChildHandle | undefined): void {
    this.ownChildren()[id] = child as ChildHandle;
  }

  stop(child: ChildHandle | undefined): void {
    const children = this.ownChildren();
    this.cloned = true;
    if (!child) return;
    delete children[child.id];
    const pending = this.pendingStarts?.get(child.id);
    if (pending && pending.child === child) pending.skip = true;
    this.effects.push({ type: 'stop', child });
  }

  assignArgs(event: EventObject) {
    const args = this.assignArgsCache;
    if (args && args.context === this.context && args.event === event) return args;
    return (this.assignArgsCache = {
      context: this.context,
      event,
      spawn: this.spawner(event),
      self: this.scope.self,
      system: this.scope.system,
    });
  }
}

/**
 * XState's `Object.assign({}, context, partial)`, made the fast way where it can be: on Node 20 a
 * spread copy of an object is several times faster than Object.assign when every key of
 * `partial` is already in `context`, and several times slower when one is new. `__proto__` always
 * goes through Object.assign, whose meaning (the setter) the spread would not keep.
 */
export function mergeContext(context: any, partial: Record<string, unknown> | undefined | null): any {
  if (partial === undefined || partial === null) return { ...context };
  for (const key in partial) {
    if (!(key in context) || key === '__proto__') return Object.assign({}, context, partial);
  }
  return { ...context, ...partial };
}

function referencedActor(machine: AnyStateMachine, src: string): unknown {
  const match = /^xstate\.invoke\.(\d+)\.(.*)/.exec(src);
  if (!match) return machine.implementations.actors[src];
  const node = (machine as unknown as { getStateNodeById(id: string): { config: { invoke: unknown } } }).getStateNodeById(match[2]!);
  const invoke = node.config.invoke as any;
  return (Array.isArray(invoke) ? invoke[Number(match[1])] : invoke).src;
}

export function resolveActorLogic(machine: AnyStateMachine, src: string): unknown {
  return referencedActor(machine, src);
}

function resolveDelay(machine: AnyStateMachine, delay: unknown, args: unknown, params: unknown): unknown {
  if (typeof delay === 'string') {
    const configured = (machine.implementations.delays as Record<string, unknown>)[delay];
    return typeof configured === 'function' ? configured(args, params) : configured;
  }
  return typeof delay === 'function' ? delay(args, params) : delay;
}

/** The event and the delay of a sendTo or raise, resolved as XState resolves them. */
function eventAndDelay(r: Run, action: BuiltinAction, args: unknown, params: unknown, creator: 'sendTo' | 'raise') {
  const spec = action.event;
  if (typeof spec === 'string') throw new Error(`Only event objects may be used with ${creator}; use ${creator}({ type: "${spec}" }) instead`);
  const resolved: EventObject = typeof spec === 'function' ? spec(args, params) : spec;
  return { resolved, delay: resolveDelay(r.machine, action.delay, args, params) };
}

/** Runs one action item (a name, `{ type, params }`, a built-in or a custom function). */
export function runAction(r: Run, action: unknown, event: EventObject): void {
  if (typeof action === 'function') {
    if (isBuiltin(action)) runBuiltin(r, action, undefined, event);
    else runCustom(r, action as Fn, undefined, event);
    return;
  }
  const type = typeof action === 'string' ? action : (action as { type: string }).type;
  const implementation = (r.machine.implementations.actions as Record<string, unknown>)[type];
  let params: unknown;
  if (typeof action !== 'string' && 'params' in (action as object)) {
    const spec = (action as { params: unknown }).params;
    params = typeof spec === 'function' ? spec({ context: r.context, event }) : spec;
  }
  if (!implementation) return;
  if (isBuiltin(implementation)) runBuiltin(r, implementation, params, event);
  else runCustom(r, implementation as Fn, params, event);
}

export function runActions(r: Run, actions: readonly unknown[], event: EventObject): void {
  for (let i = 0; i < actions.length; i++) runAction(r, actions[i], event);
}

function runCustom(r: Run, fn: Fn, params: unknown, event: EventObject): void {
  const args = r.args(event);
  if (r.running) fn(args, params);
  else r.execs.push({ type: 'exec', run: () => fn(args, params) });
}

function runBuiltin(r: Run, action: BuiltinAction, params: unknown, event: EventObject): void {
  switch (action.type) {
    case 'xstate.assign': {
      if (!r.context) throw new Error('Cannot assign to undefined `context`. Ensure that `context` is defined in the machine config.');
      const assignment = action.assignment;
      const args = r.assignArgs(event);
      let partial: Record<string, unknown>;
      if (typeof assignment === 'function') {
        partial = assignment(args, params);
      } else {
        partial = {};
        for (const key of Object.keys(assignment)) {
          const value = assignment[key];
          partial[key] = typeof value === 'function' ? value(args, params) : value;
        }
      }
      r.context = mergeContext(r.context, partial);
      r.cloned = true;
      return;
    }
    case 'xstate.sendTo': {
      const args = r.args(event);
      const { resolved, delay } = eventAndDelay(r, action, args, params, 'sendTo');
      const to = typeof action.to === 'function' ? action.to(args, params) : action.to;
      let target: unknown;
      if (typeof to === 'string') {
        if (to === '#_parent') target = (r.scope.self as { _parent?: unknown })._parent;
        else if (to === '#_internal') target = r.scope.self;
        else if (to.startsWith('#_')) target = r.children[to.slice(2)];
        else target = r.deferredIds?.includes(to) ? to : r.children[to];
        if (!target) throw new Error(`Unable to send event to actor '${to}' from machine '${r.machine.id}'.`);
      } else {
        target = to || r.scope.self;
      }
      if (typeof delay === 'number') {
        r.effects.push({ type: 'schedule', to: target, event: resolved, delay, id: action.id });
      } else {
        const self = r.scope.self as { id?: string };
        const relayed =
          resolved.type === 'xstate.error'
            ? { type: `xstate.error.actor.${self.id}`, error: (resolved as { data?: unknown }).data, actorId: self.id }
            : resolved;
        r.effects.push({ type: 'send', to: target, event: relayed });
      }
      return;
    }
    case 'xstate.raise': {
      const { resolved, delay } = eventAndDelay(r, action, r.args(event), params, 'raise');
      if (typeof delay !== 'number') r.queue.push(resolved);
      else r.effects.push({ type: 'schedule', to: r.scope.self, event: resolved, delay, id: action.id });
      return;
    }
    case 'xstate.cancel': {
      const sendId = action.sendId;
      r.effects.push({ type: 'cancel', id: typeof sendId === 'function' ? sendId(r.args(event), params) : sendId });
      return;
    }
    case 'xstate.emit': {
      const spec = action.event;
      r.effects.push({ type: 'emit', event: typeof spec === 'function' ? spec(r.args(event), params) : spec });
      return;
    }
    case 'xstate.spawnChild': {
      const src = action.src;
      const logic = typeof src === 'string' ? referencedActor(r.machine, src) : src;
      const id = typeof action.id === 'function' ? action.id(r.args(event)) : action.id;
      let child: ChildHandle | undefined;
      if (logic) {
        const input = typeof action.input === 'function' ? action.input({ context: r.context, event, self: r.scope.self }) : action.input;
        child = r.spawn({ id, src, logic: logic as never, input, systemId: action.systemId, syncSnapshot: !!action.syncSnapshot });
      }
      r.recordChild(id, child);
      r.cloned = true;
      return;
    }
    case 'xstate.stopChild': {
      const ref = typeof action.actorRef === 'function' ? action.actorRef(r.args(event), params) : action.actorRef;
      r.stop(typeof ref === 'string' ? r.children[ref] : ref);
      return;
    }
    case 'xstate.enqueueActions': {
      const queued: unknown[] = [];
      const enqueue = (a: unknown) => void queued.push(a);
      Object.assign(enqueue, enqueuers(queued));
      const context = r.context;
      action.collect(
        {
          context,
          event,
          enqueue,
          check: (guard: unknown) => evaluateGuard(r, guard, context, event),
          self: r.scope.self,
          system: r.scope.system,
        },
        params,
      );
      runActions(r, queued, event);
      return;
    }
    case 'xstate.log': {
      const value = typeof action.value === 'function' ? action.value(r.args(event), params) : action.value;
      r.effects.push({ type: 'log', label: action.label, value });
      return;
    }
    default:
      throw new Error(`engine: built-in action "${action.type}" is not supported`);
  }
}

/** enqueue.assign / .sendTo / ...: the same creators XState's enqueueActions offers. */
function enqueuers(queued: unknown[]): Record<string, Fn> {
  const push = (creator: Fn) => (...a: unknown[]) => void queued.push(creator(...a));
  return {
    assign: push(assign),
    cancel: push(cancel),
    raise: push(raise),
    sendTo: push(sendTo),
    sendParent: push(sendParent),
    spawnChild: push(spawnChild),
    stopChild: push(stopChild),
    emit: push(emit),
  };
}

/** XState's evaluateGuard, with not/and/or/stateIn evaluated against the run's configuration. */
export function evaluateGuard(r: Run, guard: unknown, context: unknown, event: EventObject): boolean {
  const inline = typeof guard === 'function';
  const name = typeof guard === 'string' ? guard : (guard as { type?: string }).type;
  const resolved = inline ? guard : (r.machine.implementations.guards as Record<string, unknown>)[name as string];
  if (!inline && !resolved) throw new Error(`Guard '${name}' is not implemented.'.`);
  if (typeof resolved !== 'function') return evaluateGuard(r, resolved, context, event);
  let params: unknown;
  if (!inline && typeof guard !== 'string' && 'params' in (guard as object)) {
    const spec = (guard as { params: unknown }).params;
    params = typeof spec === 'function' ? spec({ context, event }) : spec;
  }
  const check = (resolved as { check?: Fn }).check;
  if (!check) return (resolved as Fn)({ context, event }, params);
  const builtin = resolved as unknown as { guards: unknown[]; stateValue: unknown };
  if (check === checkNot) return !evaluateGuard(r, builtin.guards[0], context, event);
  if (check === checkAnd) return builtin.guards.every((g) => evaluateGuard(r, g, context, event));
  if (check === checkOr) return builtin.guards.some((g) => evaluateGuard(r, g, context, event));
  if (check === checkStateIn) return stateInConfig(r.config, builtin.stateValue);
  throw new Error('engine: unknown built-in guard');
}

function stateInConfig(config: Configuration, stateValue: unknown): boolean {
  if (typeof stateValue === 'string' && stateValue.startsWith('#')) {
    const id = stateValue.slice(1);
    return config.nodes.some((node: Node) => node.id === id);
  }
  return matchesState(stateValue as StateValue, config.value);
}
