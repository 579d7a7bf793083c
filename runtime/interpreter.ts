/**
 * Which executor runs a machine definition: the compiled engine (machines/engine, the default)
 * or XState's interpreter, for everything (`SWITCHBOARD_INTERPRETER=xstate`) or for a machine
 * that uses a construct the engine does not implement. The fallback is never silent: it is
 * logged once per machine definition, with the reasons.
 */
import type { AnyStateMachine } from 'xstate';
import { compileMachine, type MachineEngine } from '../machines/engine/index.js';
import { hosted } from '../machines/host/hostedMachine.js';
import type { Logger } from './service.js';

export type InterpreterChoice = 'engine' | 'xstate';

/** Reads SWITCHBOARD_INTERPRETER: `xstate` runs everything on XState's interpreter. */
export function interpreterFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): InterpreterChoice {
  const value = env.SWITCHBOARD_INTERPRETER?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'engine') return 'engine';
  if (value === 'xstate') return 'xstate';
  throw new Error(`SWITCHBOARD_INTERPRETER must be "engine" or "xstate", not "${env.SWITCHBOARD_INTERPRETER}"`);
}

const reported = new WeakSet<AnyStateMachine>();

/**
 * The engine for `machine`, or undefined when it must run on XState's interpreter: because the
 * choice says so, or because the machine uses a construct the engine does not implement (then
 * logged once, at warn level, with what and where).
 */
export function engineFor(machine: AnyStateMachine, choice: InterpreterChoice, log: Logger | undefined): MachineEngine | undefined {
  if (choice === 'xstate') return undefined;
  const compiled = compileMachine(machine);
  if (compiled.ok) return compiled.engine;
  if (!reported.has(machine)) {
    reported.add(machine);
    log?.('warn', `machine "${machine.id}" runs on XState's interpreter: the engine does not support ${compiled.reasons.join('; ')}`, {
      machine: machine.id,
      reasons: compiled.reasons,
    });
  }
  return undefined;
}

/**
 * The logic to run `machine` with: hosted on the engine inside its actor (machines/host), or the
 * machine itself on XState's interpreter (by choice, or logged once when unsupported).
 */
export function runnable<TMachine extends AnyStateMachine>(machine: TMachine, choice: InterpreterChoice, log: Logger | undefined): TMachine {
  return engineFor(machine, choice, log) === undefined ? machine : hosted(machine);
}
