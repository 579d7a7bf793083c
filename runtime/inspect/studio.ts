/**
 * A machine definition as XState configuration JSON, for Stately Studio (paste it into
 * `createMachine(...)` or import it there) and for any tool that reads XState configs. Targets
 * are absolute (`#connection.backoff`), delayed transitions are `after`, eventless ones `always`;
 * actions, guards and invoked logic are referred to by name, since their code is not data.
 */
import type { AnyStateMachine } from 'xstate';
import { labelOf, nameOf, targetIdOf, type DefinitionNode, type DefinitionTransition } from './charts.js';

type TransitionConfig = { target?: string[]; guard?: string; actions?: string[]; reenter?: true; description?: string };

function transitionConfig(transition: DefinitionTransition): TransitionConfig {
  const config: TransitionConfig = {};
  if (transition.target && transition.target.length > 0) config.target = transition.target.map((target) => `#${targetIdOf(target)}`);
  if (transition.guard !== undefined) config.guard = nameOf(transition.guard);
  if (transition.actions && transition.actions.length > 0) config.actions = transition.actions.map(nameOf);
  if (transition.reenter === true) config.reenter = true;
  return config;
}

function push<T>(record: Record<string, T[]>, key: string, value: T): void {
  (record[key] ??= []).push(value);
}

function stateConfig(node: DefinitionNode): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  if (node.type === 'parallel' || node.type === 'final' || node.type === 'history') config.type = node.type;
  if (node.description) config.description = node.description;
  const initial = node.initial?.target?.[0];
  if (initial !== undefined && Object.keys(node.states).length > 0) {
    const key = targetIdOf(initial).slice(node.id.length + 1);
    if (key.length > 0) config.initial = key;
  }
  if (node.entry?.length) config.entry = node.entry.map(nameOf);
  if (node.exit?.length) config.exit = node.exit.map(nameOf);
  if (node.invoke?.length) config.invoke = node.invoke.map((invoke) => ({ id: invoke.id, src: nameOf(invoke.src) }));
  const on: Record<string, TransitionConfig[]> = {};
  const after: Record<string, TransitionConfig[]> = {};
  const always: TransitionConfig[] = [];
  for (const transition of node.transitions) {
    if (transition.eventType === '') always.push(transitionConfig(transition));
    else if (labelOf(transition).startsWith('after ')) push(after, String(transition.delay ?? labelOf(transition).slice(6)), transitionConfig(transition));
    else push(on, transition.eventType, transitionConfig(transition));
  }
  if (Object.keys(on).length > 0) config.on = on;
  if (Object.keys(after).length > 0) config.after = after;
  if (always.length > 0) config.always = always;
  if (Object.keys(node.states).length > 0) {
    config.states = Object.fromEntries(Object.entries(node.states).map(([key, child]) => [key, stateConfig(child)]));
  }
  return config;
}

/** The machine as XState config JSON (`createMachine(studioConfigOf(m))` rebuilds its shape). */
export function studioConfigOf(machine: AnyStateMachine): Record<string, unknown> {
  const root = machine.root.definition as unknown as DefinitionNode;
  return { id: root.id, ...stateConfig(root) };
}
