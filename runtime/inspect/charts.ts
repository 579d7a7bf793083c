/**
 * The participants' statecharts as plain data, read from the machine definitions themselves
 * (`machine.root.definition`): every state node and every transition. The web UI draws them,
 * metrics label time-in-state with their paths, and `switchboard machines --json` exports them.
 * Nothing here is hand-listed: a state added to a machine appears everywhere.
 */
import type { AnyStateMachine, StateValue } from 'xstate';
import { clientMachine } from '../../machines/client.js';
import { clientTaskMachine } from '../../machines/clientTask.js';
import { connectionMachine } from '../../machines/connection.js';
import { providerMachine } from '../../machines/provider.js';
import { providerTaskMachine } from '../../machines/providerTask.js';
import { repositoryMachine } from '../../machines/repository.js';
import { repositoryEntryMachine } from '../../machines/repositoryEntry.js';
import { sessionMachine } from '../../machines/session.js';
import type { ParticipantKind } from './kinds.js';

/** The participants that are statecharts (the task registry is plain actor logic). */
export type ChartedKind = Exclude<ParticipantKind, 'taskRegistry'>;

/** Every participant that is a statechart, by kind (= machine id). */
export const participantMachines: Readonly<Record<ChartedKind, AnyStateMachine>> = {
  provider: providerMachine,
  session: sessionMachine,
  providerTask: providerTaskMachine,
  client: clientMachine,
  repository: repositoryMachine,
  repositoryEntry: repositoryEntryMachine,
  connection: connectionMachine,
  clientTask: clientTaskMachine,
};

export type StateNodeType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface ChartNode {
  /** The state node's id, e.g. `connection.active.open` (the root's is the machine id). */
  readonly id: string;
  readonly key: string;
  readonly type: StateNodeType;
  /** Dotted path below the root (`active.open`); '' for the root. */
  readonly path: string;
  readonly initial: string | undefined;
  readonly entry: readonly string[];
  readonly exit: readonly string[];
  readonly invoke: readonly string[];
  readonly children: readonly ChartNode[];
}

export interface ChartEdge {
  /** Unique in its chart. */
  readonly id: string;
  readonly source: string;
  readonly targets: readonly string[];
  /** The event as a person reads it: `entry.advertised`, `after suspectAfterMs`, `always`, `done: admission`. */
  readonly label: string;
  /** The event type the machine reacts to ('' for eventless transitions). */
  readonly eventType: string;
  readonly guard: string | undefined;
  readonly actions: readonly string[];
  readonly reenter: boolean;
}

export interface Chart {
  readonly machineId: string;
  readonly root: ChartNode;
  readonly edges: readonly ChartEdge[];
  /** Every state path below the root, in document order. */
  readonly states: readonly string[];
}

/** A transition as `machine.root.definition` gives it (targets are StateNodes). */
export interface DefinitionTransition {
  readonly target?: readonly unknown[];
  readonly eventType: string;
  readonly guard?: unknown;
  readonly actions?: readonly unknown[];
  readonly reenter?: boolean;
  readonly delay?: unknown;
}

/** A state node as `machine.root.definition` gives it. */
export interface DefinitionNode {
  readonly id: string;
  readonly key: string;
  readonly type: StateNodeType;
  readonly description?: string;
  readonly initial?: { readonly target?: readonly unknown[] };
  readonly states: Readonly<Record<string, DefinitionNode>>;
  readonly transitions: readonly DefinitionTransition[];
  readonly entry?: readonly unknown[];
  readonly exit?: readonly unknown[];
  readonly invoke?: readonly { readonly id?: string; readonly src?: unknown }[];
}

/** A named implementation (action, guard) as text: its name, its `type`, or what it is. */
export function nameOf(implementation: unknown): string {
  if (typeof implementation === 'string') return implementation;
  if (typeof implementation === 'function') return implementation.name ? `${implementation.name}()` : 'inline';
  const type = (implementation as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : 'inline';
}

/** A transition target or initial state (a StateNode in a live definition, `#id` text in its JSON). */
export function targetIdOf(target: unknown): string {
  const id = typeof target === 'string' ? target : (target as { id?: unknown } | null)?.id;
  const text = String(id);
  return text.startsWith('#') ? text.slice(1) : text;
}

export function labelOf(transition: DefinitionTransition): string {
  const type = transition.eventType;
  if (type === '') return 'always';
  if (transition.delay !== undefined || type.startsWith('xstate.after.')) return `after ${String(transition.delay ?? type.split('.')[2])}`;
  const done = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
  if (done) return `${done[1]}: ${done[2]}`;
  return type;
}

function nodeOf(definition: DefinitionNode, rootId: string): ChartNode {
  const path = definition.id === rootId ? '' : definition.id.slice(rootId.length + 1);
  const initialTarget = definition.initial?.target?.[0];
  return {
    id: definition.id,
    key: definition.key,
    type: definition.type,
    path,
    initial: initialTarget === undefined ? undefined : targetIdOf(initialTarget),
    entry: (definition.entry ?? []).map(nameOf),
    exit: (definition.exit ?? []).map(nameOf),
    invoke: (definition.invoke ?? []).map((invoke) => `${invoke.id ?? ''}: ${nameOf(invoke.src)}`),
    children: Object.values(definition.states).map((child) => nodeOf(child, rootId)),
  };
}

function edgesOf(definition: DefinitionNode, edges: ChartEdge[]): void {
  definition.transitions.forEach((transition, index) => {
    edges.push({
      id: `${definition.id}#${index}`,
      source: definition.id,
      targets: (transition.target ?? []).map(targetIdOf),
      label: labelOf(transition),
      eventType: transition.eventType,
      guard: transition.guard === undefined ? undefined : nameOf(transition.guard),
      actions: (transition.actions ?? []).map(nameOf),
      reenter: transition.reenter === true,
    });
  });
  for (const child of Object.values(definition.states)) edgesOf(child, edges);
}

const charts = new WeakMap<AnyStateMachine, Chart>();

/** The chart of a machine (computed once per machine). */
export function chartOf(machine: AnyStateMachine): Chart {
  const known = charts.get(machine);
  if (known) return known;
  const definition = machine.root.definition as unknown as DefinitionNode;
  const root = nodeOf(definition, definition.id);
  const edges: ChartEdge[] = [];
  edgesOf(definition, edges);
  const states: string[] = [];
  const walk = (node: ChartNode) => {
    if (node.path !== '') states.push(node.path);
    node.children.forEach(walk);
  };
  walk(root);
  const chart = { machineId: definition.id, root, edges, states };
  charts.set(machine, chart);
  return chart;
}

/** The state paths a state value is in, ancestors included: `{active: {open: 'x'}}` -> active, active.open, active.open.x. */
export function statePathsOf(value: StateValue | undefined, prefix = ''): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [prefix === '' ? value : `${prefix}.${value}`];
  const paths: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    paths.push(path);
    if (child !== undefined) paths.push(...statePathsOf(child as StateValue, path));
  }
  return paths;
}

/** The chart of a participant kind, if it is a statechart. */
export function chartOfKind(kind: string): Chart | undefined {
  const machine = (participantMachines as Record<string, AnyStateMachine | undefined>)[kind];
  return machine === undefined ? undefined : chartOf(machine);
}
