/**
 * Configurations (the set of active state nodes) and everything derived from one that does not
 * depend on context or event, computed once and cached:
 *
 * - the state value;
 * - per event type, which transitions are candidates, in XState's selection order;
 * - per set of selected transitions, the microstep plan: which nodes exit (in order), which
 *   enter (in order, with default entry and final-state bookkeeping) and the next configuration.
 *
 * The plan is XState 5's SCXML microstep (stateUtils: removeConflictingTransitions,
 * computeExitSet, computeEntrySet, enterStates) run over nodes instead of a snapshot.
 *
 * Node ORDER matters, not only the set: XState keeps `_nodes` in insertion order, and that order
 * decides the key order of parallel state values, the order regions are asked for transitions,
 * and the order eventless transitions are collected. A configuration is therefore interned by its
 * ordered node list.
 */
import type { StateValue } from 'xstate';
import { candidatesOf, isAtomic, isDescendant, properAncestors, type Graph, type Node, type Transition } from './graph.js';

/** One region of the selection walk: a node with candidates of its own or below it. */
export interface SelectNode {
  readonly node: Node;
  readonly candidates: readonly Transition[] | undefined;
  readonly kind: 'leaf' | 'compound' | 'parallel';
  readonly children: readonly SelectNode[];
}

export interface FinalEntry {
  /** The compound parent whose done event carries this final state's output. */
  readonly parentDone: Node | undefined;
  /** Parallel ancestors completed by this entry, innermost first. */
  readonly parallelDone: readonly Node[];
  /** The machine is done; `completion` is XState's rootCompletionNode. */
  readonly machineDone: boolean;
  readonly completion: Node;
}

export interface EnterStep {
  readonly node: Node;
  readonly defaultEntry: boolean;
  readonly final: FinalEntry | undefined;
}

export interface Plan {
  readonly transitions: readonly Transition[];
  readonly exits: readonly Node[];
  readonly enters: readonly EnterStep[];
  /** The node set differs from the current one (as a set): XState then takes the new order. */
  readonly setChanged: boolean;
  readonly next: Configuration;
  /** When the machine ends in this step: every node's exit, deepest first, and the config then. */
  readonly machineDone: boolean;
  readonly doneExits: readonly Node[];
  readonly doneNext: Configuration;
}

export class Configuration {
  readonly nodes: readonly Node[];
  readonly members: ReadonlySet<Node>;
  readonly atomics: readonly Node[];
  private valueCache: StateValue | undefined;
  private tagsCache: ReadonlySet<string> | undefined;
  private readonly selections = new Map<string, SelectNode | null>();
  private readonly singlePlans = new Map<Transition, Plan>();
  private readonly multiPlans = new Map<string, Plan>();
  /** Per atomic node (in node order), its chain of nodes with `always` transitions. */
  readonly eventless: readonly (readonly Node[])[];

  constructor(
    readonly space: ConfigurationSpace,
    nodes: readonly Node[],
  ) {
    this.nodes = nodes;
    this.members = new Set(nodes);
    this.atomics = nodes.filter(isAtomic);
    this.eventless = this.atomics
      .map((atomic) => [atomic, ...atomic.ancestors].filter((node) => node.always !== undefined))
      .filter((chain) => chain.length > 0);
  }

  get value(): StateValue {
    return (this.valueCache ??= Object.freeze(stateValueOf(this.space.graph.root, this.nodes)) as StateValue);
  }

  get tags(): ReadonlySet<string> {
    return (this.tagsCache ??= new Set(this.nodes.flatMap((node) => node.tags)));
  }

  /** The candidates for an event type, as a walk mirroring XState's transitionNode; null: none. */
  selection(eventType: string): SelectNode | null {
    let selection = this.selections.get(eventType);
    if (selection === undefined) {
      selection = buildSelection(this, this.space.graph.root, eventType);
      // Only the machine's own event types are kept: others (`xstate.done.actor.<id>` with a new
      // id per child, say) would make the cache grow for as long as the actor lives.
      if (this.space.graph.exactTypes.has(eventType)) this.selections.set(eventType, selection);
    }
    return selection;
  }

  plan(selected: readonly Transition[]): Plan {
    if (selected.length === 1) {
      const only = selected[0] as Transition;
      let plan = this.singlePlans.get(only);
      if (!plan) this.singlePlans.set(only, (plan = buildPlan(this, selected, false)));
      return plan;
    }
    const key = selected.map((t) => t.index).join(',');
    let plan = this.multiPlans.get(key);
    if (!plan) this.multiPlans.set(key, (plan = buildPlan(this, selected, false)));
    return plan;
  }

  /** The initial microstep's plan (from the pre-initial configuration, the root alone). */
  initialPlan(): Plan {
    const root = this.space.graph.root;
    const targets = initialStateNodes(root);
    const transition: Transition = { index: -1, source: root, target: targets, reenter: true, actions: [], guard: undefined, eventType: '', alone: [] };
    return buildPlan(this, [transition], true);
  }
}

/** All configurations of one machine, interned by ordered node list. */
export class ConfigurationSpace {
  private readonly interned = new Map<string, Configuration>();
  readonly preInitial: Configuration;
  readonly initialPlan: Plan;

  constructor(readonly graph: Graph) {
    this.preInitial = this.intern([graph.root]);
    this.initialPlan = this.preInitial.initialPlan();
  }

  intern(nodes: readonly Node[]): Configuration {
    const key = nodes.map((node) => node.index).join(',');
    let config = this.interned.get(key);
    if (!config) this.interned.set(key, (config = new Configuration(this, nodes)));
    return config;
  }

  get size(): number {
    return this.interned.size;
  }
}

// ---------------------------------------------------------------------------------------------
// State value (XState's getAllStateNodes + getAdjList + getValueFromAdj).

function stateValueOf(root: Node, nodes: readonly Node[]): StateValue {
  const all = new Set(nodes);
  const adjacent = (set: Set<Node>) => {
    const adj = new Map<Node, Node[]>();
    for (const s of set) {
      if (!adj.has(s)) adj.set(s, []);
      if (s.parent) {
        if (!adj.has(s.parent)) adj.set(s.parent, []);
        adj.get(s.parent)!.push(s);
      }
    }
    return adj;
  };
  const firstAdj = adjacent(all);
  for (const s of all) {
    if (s.type === 'compound' && !firstAdj.get(s)?.length) {
      for (const n of initialStateNodesWithAncestors(s)) all.add(n);
    } else if (s.type === 'parallel') {
      for (const child of s.children) {
        if (!all.has(child)) for (const n of initialStateNodesWithAncestors(child)) all.add(n);
      }
    }
  }
  for (const s of all) for (let m = s.parent; m; m = m.parent) all.add(m);
  const adj = adjacent(all);
  const valueFrom = (base: Node): StateValue => {
    const children = adj.get(base);
    if (!children) return {};
    if (base.type === 'compound') {
      const child = children[0];
      if (!child) return {};
      if (isAtomic(child)) return child.key;
    }
    const value: Record<string, StateValue> = {};
    for (const child of children) value[child.key] = valueFrom(child);
    return value;
  };
  return valueFrom(root);
}

function initialStateNodes(node: Node): Node[] {
  const set = new Set<Node>();
  const visit = (n: Node) => {
    if (set.has(n)) return;
    set.add(n);
    if (n.type === 'compound') visit(n.initial!.target![0]!);
    else if (n.type === 'parallel') for (const child of n.children) visit(child);
  };
  visit(node);
  return [...set];
}

function initialStateNodesWithAncestors(node: Node): Set<Node> {
  const states = new Set(initialStateNodes(node));
  for (const s of [...states]) for (const a of properAncestors(s, node)) states.add(a);
  return states;
}

// ---------------------------------------------------------------------------------------------
// Selection (XState's transitionNode): leaves first, then their ancestors; parallel regions in
// the configuration's order, each contributing its own selection.

function buildSelection(config: Configuration, node: Node, eventType: string): SelectNode | null {
  const own = candidatesOf(node, eventType);
  const candidates = own.length > 0 ? own : undefined;
  const active = config.nodes.filter((n) => n.parent === node);
  if (node.type === 'compound' || (node.type === 'parallel' && active.length === 1)) {
    const child = active[0] ? buildSelection(config, active[0], eventType) : null;
    if (!child && !candidates) return null;
    return { node, candidates, kind: 'compound', children: child ? [child] : [] };
  }
  if (node.type === 'parallel') {
    const children = active.map((n) => buildSelection(config, n, eventType)).filter((s): s is SelectNode => s !== null);
    if (children.length === 0 && !candidates) return null;
    return { node, candidates, kind: 'parallel', children };
  }
  return candidates ? { node, candidates, kind: 'leaf', children: [] } : null;
}

// ---------------------------------------------------------------------------------------------
// Microstep plans.

function effectiveTargets(t: Transition): readonly Node[] {
  return t.target ?? [];
}

function leastCommonAncestor(states: readonly Node[]): Node | undefined {
  const [head, ...tail] = states;
  if (!head) return undefined;
  for (const ancestor of properAncestors(head, undefined)) {
    if (tail.every((s) => isDescendant(s, ancestor))) return ancestor;
  }
  return undefined;
}

function transitionDomain(t: Transition, root: Node): Node | undefined {
  const targets = effectiveTargets(t);
  if (!t.reenter && targets.every((target) => target === t.source || isDescendant(target, t.source))) return t.source;
  const lca = leastCommonAncestor([...targets, t.source]);
  if (lca) return lca;
  if (t.reenter) return undefined;
  return root;
}

function exitSet(transitions: readonly Transition[], members: Iterable<Node>, root: Node): Node[] {
  const exits = new Set<Node>();
  for (const t of transitions) {
    if (!t.target?.length) continue;
    const domain = transitionDomain(t, root);
    if (t.reenter && t.source === domain) exits.add(domain);
    for (const s of members) if (domain !== undefined && isDescendant(s, domain)) exits.add(s);
  }
  return [...exits];
}

function removeConflicting(enabled: readonly Transition[], members: ReadonlySet<Node>, root: Node): Transition[] {
  const filtered = new Set<Transition>();
  for (const t1 of enabled) {
    let preempted = false;
    const toRemove = new Set<Transition>();
    for (const t2 of filtered) {
      const exits1 = exitSet([t1], members, root);
      const exits2 = new Set(exitSet([t2], members, root));
      if (exits1.some((n) => exits2.has(n))) {
        if (isDescendant(t1.source, t2.source)) toRemove.add(t2);
        else {
          preempted = true;
          break;
        }
      }
    }
    if (!preempted) {
      for (const t3 of toRemove) filtered.delete(t3);
      filtered.add(t1);
    }
  }
  return [...filtered];
}

function addDescendants(node: Node, defaultEntry: Set<Node>, toEnter: Set<Node>): void {
  if (node.type === 'compound') {
    const initial = node.initial!.target![0]!;
    toEnter.add(initial);
    defaultEntry.add(initial);
    addDescendants(initial, defaultEntry, toEnter);
    addAncestors(toEnter, defaultEntry, properAncestors(initial, node), undefined);
  } else if (node.type === 'parallel') {
    for (const child of node.children) {
      if (![...toEnter].some((s) => isDescendant(s, child))) {
        toEnter.add(child);
        defaultEntry.add(child);
        addDescendants(child, defaultEntry, toEnter);
      }
    }
  }
}

function addAncestors(toEnter: Set<Node>, defaultEntry: Set<Node>, ancestors: readonly Node[], reentrancyDomain: Node | undefined): void {
  for (const anc of ancestors) {
    if (!reentrancyDomain || isDescendant(anc, reentrancyDomain)) toEnter.add(anc);
    if (anc.type === 'parallel') {
      for (const child of anc.children) {
        if (![...toEnter].some((s) => isDescendant(s, child))) {
          toEnter.add(child);
          addDescendants(child, defaultEntry, toEnter);
        }
      }
    }
  }
}

function entrySet(transitions: readonly Transition[], root: Node, defaultEntry: Set<Node>, toEnter: Set<Node>): void {
  for (const t of transitions) {
    const domain = transitionDomain(t, root);
    for (const s of t.target ?? []) {
      if (t.source !== s || t.source !== domain || t.reenter) {
        toEnter.add(s);
        defaultEntry.add(s);
      }
      addDescendants(s, defaultEntry, toEnter);
    }
    for (const s of effectiveTargets(t)) {
      const ancestors = properAncestors(s, domain);
      if (domain?.type === 'parallel') ancestors.push(domain);
      addAncestors(toEnter, defaultEntry, ancestors, !t.source.parent && t.reenter ? undefined : domain);
    }
  }
}

function isInFinalState(members: ReadonlySet<Node>, node: Node): boolean {
  if (node.type === 'compound') return node.children.some((s) => s.type === 'final' && members.has(s));
  if (node.type === 'parallel') return node.children.every((s) => isInFinalState(members, s));
  return node.type === 'final';
}

function buildPlan(config: Configuration, selected: readonly Transition[], isInitial: boolean): Plan {
  const root = config.space.graph.root;
  const members = new Set(config.nodes);
  const transitions = removeConflicting(selected, members, root);

  const exits = isInitial ? [] : exitSet(transitions, members, root).sort((a, b) => b.index - a.index);
  for (const node of exits) members.delete(node);

  const defaultEntry = new Set<Node>();
  const toEnter = new Set<Node>();
  entrySet(transitions, root, defaultEntry, toEnter);
  if (isInitial) defaultEntry.add(root);

  const completed = new Set<Node>();
  let machineDone = false;
  const enters: EnterStep[] = [];
  for (const node of [...toEnter].sort((a, b) => a.index - b.index)) {
    members.add(node);
    let final: FinalEntry | undefined;
    if (node.type === 'final') {
      const parent = node.parent;
      let marker = parent?.type === 'parallel' ? parent : parent?.parent;
      let completion = marker ?? node;
      const parallelDone: Node[] = [];
      while (marker?.type === 'parallel' && !completed.has(marker) && isInFinalState(members, marker)) {
        completed.add(marker);
        parallelDone.push(marker);
        completion = marker;
        marker = marker.parent;
      }
      const reachesRoot = marker === undefined;
      if (reachesRoot) machineDone = true;
      final = { parentDone: parent?.type === 'compound' ? parent : undefined, parallelDone, machineDone: reachesRoot, completion };
    }
    enters.push({ node, defaultEntry: defaultEntry.has(node), final });
  }

  const nextNodes = [...members];
  const setChanged = nextNodes.length !== config.nodes.length || config.nodes.some((n) => !members.has(n));
  const doneExits = machineDone ? [...nextNodes].sort((a, b) => b.index - a.index) : [];
  const space = config.space;
  return {
    transitions,
    exits,
    enters,
    setChanged,
    next: setChanged ? space.intern(nextNodes) : config,
    machineDone,
    doneExits,
    doneNext: machineDone && setChanged ? space.intern(doneExits) : setChanged ? space.intern(nextNodes) : config,
  };
}
