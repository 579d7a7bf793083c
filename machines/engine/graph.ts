/**
 * The state tree of a machine as the engine walks it: XState's own normalised state nodes
 * (`machine.root`, after `setup().createMachine` has resolved targets, `after` into raise/cancel
 * entry and exit actions, invokes into ids), indexed by document order and stripped to what a
 * step needs. Built once per machine object. Constructs the engine does not implement are listed
 * in `unsupported`, so the loader can keep such a machine on XState's interpreter.
 */
import type { AnyStateMachine } from 'xstate';

/** XState's normalised state node, the fields this file reads. */
interface XNode {
  readonly id: string;
  readonly key: string;
  readonly type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  readonly order: number;
  readonly parent?: XNode;
  readonly states: Record<string, XNode>;
  readonly entry: unknown[];
  readonly exit: unknown[];
  readonly invoke: readonly XInvoke[];
  readonly transitions: Map<string, XTransition[]>;
  readonly always?: XTransition[];
  readonly initial?: XTransition;
  readonly output?: unknown;
  readonly tags: readonly string[];
  readonly config: Record<string, unknown>;
}

interface XInvoke {
  readonly id: string;
  readonly src: string;
  readonly systemId?: string;
  readonly input?: unknown;
  readonly onSnapshot?: unknown;
}

interface XTransition {
  readonly source: XNode;
  readonly target?: readonly XNode[];
  readonly reenter: boolean;
  readonly actions: readonly unknown[];
  readonly guard?: unknown;
  readonly eventType: string | null;
}

export interface Invoke {
  readonly id: string;
  readonly src: string;
  readonly systemId: string | undefined;
  readonly input: unknown;
}

export interface Node {
  /** Document order, XState's `order`; also the index in `Graph.nodes`. */
  readonly index: number;
  readonly id: string;
  readonly key: string;
  readonly type: XNode['type'];
  readonly parent: Node | undefined;
  /** Child states, history states excluded, in document order. */
  readonly children: Node[];
  /** Ancestors, nearest first. */
  readonly ancestors: Node[];
  readonly entry: readonly unknown[];
  readonly exit: readonly unknown[];
  readonly invokes: readonly Invoke[];
  readonly on: Map<string, Transition[]>;
  /** Descriptors of `on` that are wildcards (`*`, `prefix.*`). */
  readonly wildcards: string[];
  readonly always: readonly Transition[] | undefined;
  /** Compound nodes: the initial transition (its target and actions). */
  initial: Transition | undefined;
  readonly output: unknown;
  readonly tags: readonly string[];
  readonly xnode: XNode;
}

export interface Transition {
  /** Unique within the graph: cache keys of step plans are made of these. */
  readonly index: number;
  readonly source: Node;
  /** Undefined (or empty) for a targetless transition. */
  readonly target: readonly Node[] | undefined;
  readonly reenter: boolean;
  readonly actions: readonly unknown[];
  readonly guard: unknown;
  readonly eventType: string;
  /** `[this]`, made once: what a selection of this transition alone returns. */
  readonly alone: readonly Transition[];
}

export interface Graph {
  readonly machine: AnyStateMachine;
  readonly root: Node;
  readonly nodes: readonly Node[];
  readonly unsupported: readonly string[];
  readonly hasTags: boolean;
  /** Every exact (non-wildcard) event descriptor of the machine. */
  readonly exactTypes: ReadonlySet<string>;
}

const isWildcard = (descriptor: string) => descriptor === '*' || descriptor.endsWith('.*');

/** XState's matchesEventDescriptor: exact, `*`, or a `prefix.*` that matches whole tokens. */
export function matchesDescriptor(eventType: string, descriptor: string): boolean {
  if (descriptor === eventType || descriptor === '*') return true;
  if (!descriptor.endsWith('.*')) return false;
  const partial = descriptor.split('.');
  const tokens = eventType.split('.');
  for (let i = 0; i < partial.length; i++) {
    if (partial[i] === '*') return i === partial.length - 1;
    if (partial[i] !== tokens[i]) return false;
  }
  return true;
}

/**
 * XState's getCandidates: a node's transitions for an event type, the exact ones first, then
 * those of matching wildcard descriptors, longest descriptor first.
 */
export function candidatesOf(node: Node, eventType: string): readonly Transition[] {
  const exact = node.on.get(eventType);
  if (node.wildcards.length === 0) return exact ?? [];
  const matching = node.wildcards
    .filter((descriptor) => descriptor !== eventType && matchesDescriptor(eventType, descriptor))
    .sort((a, b) => b.length - a.length)
    .flatMap((descriptor) => node.on.get(descriptor) ?? []);
  return exact ? [...exact, ...matching] : matching;
}

export function buildGraph(machine: AnyStateMachine): Graph {
  const unsupported: string[] = [];
  const nodes: Node[] = [];
  const byX = new Map<XNode, Node>();
  let transitionCount = 0;
  let hasTags = false;

  const visit = (x: XNode, parent: Node | undefined): Node => {
    if (x.type === 'history') unsupported.push(`history state #${x.id}`);
    if (x.config.route !== undefined) unsupported.push(`route on #${x.id}`);
    if (x.tags.length > 0) hasTags = true;
    for (const invoke of x.invoke) {
      if (invoke.onSnapshot !== undefined) unsupported.push(`invoke onSnapshot on #${x.id}`);
    }
    const node: Node = {
      index: x.order,
      id: x.id,
      key: x.key,
      type: x.type,
      parent,
      children: [],
      ancestors: parent ? [parent, ...parent.ancestors] : [],
      entry: x.entry,
      exit: x.exit,
      invokes: x.invoke.map((invoke) => ({ id: invoke.id, src: invoke.src, systemId: invoke.systemId, input: invoke.input })),
      on: new Map(),
      wildcards: [],
      always: undefined,
      initial: undefined,
      output: x.output,
      tags: x.tags,
      xnode: x,
    };
    nodes[x.order] = node;
    byX.set(x, node);
    for (const child of Object.values(x.states)) {
      const built = visit(child, node);
      if (child.type !== 'history') node.children.push(built);
    }
    return node;
  };
  const root = visit((machine as unknown as { root: XNode }).root, undefined);

  const toTransition = (x: XTransition, eventType: string): Transition => {
    const source = byX.get(x.source);
    if (!source) throw new Error(`engine: transition from unknown state #${x.source.id}`);
    const transition: Transition = {
      index: transitionCount++,
      source,
      target: x.target?.map((target) => {
        const node = byX.get(target);
        if (!node) throw new Error(`engine: transition to unknown state #${target.id}`);
        return node;
      }),
      reenter: x.reenter,
      actions: x.actions,
      guard: x.guard,
      eventType,
      alone: [],
    };
    (transition as { alone: readonly Transition[] }).alone = [transition];
    return transition;
  };

  for (const node of nodes) {
    const x = node.xnode;
    for (const [descriptor, list] of x.transitions) {
      if (isWildcard(descriptor)) node.wildcards.push(descriptor);
      node.on.set(descriptor, list.map((t) => toTransition(t, descriptor)));
    }
    if (x.always) (node as unknown as { always: Transition[] }).always = x.always.map((t) => toTransition(t, ''));
    if (x.type === 'compound' && x.initial) node.initial = toTransition(x.initial, '');
  }
  const exactTypes = new Set(nodes.flatMap((node) => [...node.on.keys()].filter((descriptor) => !isWildcard(descriptor))));
  return { machine, root, nodes, unsupported, hasTags, exactTypes };
}

/** XState's isDescendant: is `child` strictly inside `ancestor`? */
export function isDescendant(child: Node, ancestor: Node): boolean {
  let marker = child;
  while (marker.parent && marker.parent !== ancestor) marker = marker.parent;
  return marker.parent === ancestor;
}

/** Ancestors of `node` up to (excluding) `until`; all of them when `until` is undefined. */
export function properAncestors(node: Node, until: Node | undefined): Node[] {
  if (until === node) return [];
  const result: Node[] = [];
  for (let m = node.parent; m && m !== until; m = m.parent) result.push(m);
  return result;
}

export const isAtomic = (node: Node) => node.type === 'atomic' || node.type === 'final';
