/**
 * The execution engine: our `setup().createMachine` definitions compiled into fast transition
 * functions that behave exactly as XState 5's interpreter does (same state value, context,
 * output and ordered effects; specs/engine.*.properties.spec.ts check it against XState on
 * random event sequences). Exit and entry sets and next configurations are cached per
 * (configuration, selected transitions); guards and actions still run per event, as they must.
 *
 * Pure: no I/O, no clock. A step returns the next snapshot and appends effects for the host to
 * carry out. Machines using a construct the engine does not implement are reported by
 * `compileMachine` (reasons listed) and must run on XState's interpreter.
 */
import type { AnyStateMachine } from 'xstate';
import { builtinActionTypes, builtinGuardChecks } from './actions.js';
import { MachineEngine } from './engine.js';
import { buildGraph, type Graph } from './graph.js';

export { EngineSnapshot, MachineEngine } from './engine.js';
export type { ChildHandle, ChildSpec, Effect, EngineScope, EngineStatus } from './types.js';

export type CompileResult = { readonly ok: true; readonly engine: MachineEngine } | { readonly ok: false; readonly reasons: readonly string[] };

const compiled = new WeakMap<AnyStateMachine, CompileResult>();

/** Compiles a machine once (cached per machine object; `machine.provide(...)` makes a new one). */
export function compileMachine(machine: AnyStateMachine): CompileResult {
  let result = compiled.get(machine);
  if (!result) {
    result = compile(machine);
    compiled.set(machine, result);
  }
  return result;
}

function compile(machine: AnyStateMachine): CompileResult {
  let graph: Graph;
  try {
    graph = buildGraph(machine);
  } catch (error) {
    return { ok: false, reasons: [(error as Error).message] };
  }
  const reasons = [...graph.unsupported, ...unsupportedImplementations(graph)];
  if (reasons.length > 0) return { ok: false, reasons };
  return { ok: true, engine: new MachineEngine(machine, graph) };
}

/** Built-in actions or guards of a kind the engine does not execute, wherever they are named. */
function unsupportedImplementations(graph: Graph): string[] {
  const reasons: string[] = [];
  const { actions, guards } = graph.machine.implementations as { actions: Record<string, unknown>; guards: Record<string, unknown> };
  const checkAction = (action: unknown, where: string) => {
    const resolved = typeof action === 'function' ? action : actions[typeof action === 'string' ? action : (action as { type: string }).type];
    const type = typeof resolved === 'function' && 'resolve' in resolved ? (resolved as unknown as { type: string }).type : undefined;
    if (type !== undefined && !builtinActionTypes.has(type)) reasons.push(`action "${type}" in ${where}`);
  };
  const checkGuard = (guard: unknown, where: string): void => {
    if (guard === undefined) return;
    const resolved = typeof guard === 'function' ? guard : guards[typeof guard === 'string' ? guard : (guard as { type: string }).type];
    const check = (resolved as { check?: unknown } | undefined)?.check;
    if (typeof check === 'function' && !builtinGuardChecks.has(check as never)) reasons.push(`guard in ${where}`);
    for (const inner of (resolved as { guards?: unknown[] } | undefined)?.guards ?? []) checkGuard(inner, where);
  };
  for (const node of graph.nodes) {
    for (const action of [...node.entry, ...node.exit, ...(node.initial?.actions ?? [])]) checkAction(action, `#${node.id}`);
    for (const list of [...node.on.values(), node.always ?? []]) {
      for (const t of list) {
        for (const action of t.actions) checkAction(action, `#${node.id} on "${t.eventType}"`);
        checkGuard(t.guard, `#${node.id} on "${t.eventType}"`);
      }
    }
  }
  for (const [name, action] of Object.entries(actions)) checkAction(action, `implementation "${name}"`);
  return reasons;
}
