/**
 * What the engine does not execute is found when a machine is loaded, and such a machine runs on
 * XState's interpreter, logged once (runtime/interpreter.ts); SWITCHBOARD_INTERPRETER=xstate
 * puts every machine on the interpreter.
 */
import { createMachine, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { clientMachine } from '../machines/client.js';
import { clientTaskMachine } from '../machines/clientTask.js';
import { connectionMachine } from '../machines/connection.js';
import { compileMachine } from '../machines/engine/index.js';
import { providerMachine } from '../machines/provider.js';
import { providerTaskMachine } from '../machines/providerTask.js';
import { repositoryMachine } from '../machines/repository.js';
import { repositoryEntryMachine } from '../machines/repositoryEntry.js';
import { sessionMachine } from '../machines/session.js';
import { engineFor, interpreterFromEnv } from '../runtime/interpreter.js';

describe('engine: supported constructs', () => {
  it('compiles every machine of machines/', () => {
    for (const machine of [providerTaskMachine, clientTaskMachine, sessionMachine, connectionMachine, providerMachine, clientMachine, repositoryMachine, repositoryEntryMachine]) {
      const result = compileMachine(machine);
      expect(result.ok ? [] : result.reasons, machine.id).toEqual([]);
    }
  });

  it('reports a history state, a route and an unknown built-in action, with where', () => {
    const withHistory = createMachine({
      id: 'h',
      initial: 'a',
      states: { a: { initial: 'x', states: { x: {}, past: { type: 'history' } } } },
    });
    const withRoute = createMachine({ id: 'r', initial: 'a', states: { a: {}, b: { id: 'b', route: {} } } } as never);
    const strange = Object.assign(() => {}, { type: 'xstate.teleport', resolve: () => [] });
    const withStrangeAction = setup({ actions: { odd: strange as never } }).createMachine({ id: 's', entry: 'odd' });
    expect(compileMachine(withHistory)).toEqual({ ok: false, reasons: ['history state #h.a.past'] });
    expect(compileMachine(withRoute)).toEqual({ ok: false, reasons: ['route on #b'] });
    const result = compileMachine(withStrangeAction);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.reasons).toContain('action "xstate.teleport" in #s');
  });

  it('an unsupported machine runs on the interpreter, logged once at warn with the reasons', () => {
    const machine = createMachine({ id: 'old', initial: 'a', states: { a: {}, back: { type: 'history' } } });
    const lines: unknown[][] = [];
    const log = (...line: unknown[]) => void lines.push(line);
    expect(engineFor(machine, 'engine', log)).toBeUndefined();
    expect(engineFor(machine, 'engine', log)).toBeUndefined();
    expect(lines).toEqual([
      [
        'warn',
        `machine "old" runs on XState's interpreter: the engine does not support history state #old.back`,
        { machine: 'old', reasons: ['history state #old.back'] },
      ],
    ]);
  });

  it('SWITCHBOARD_INTERPRETER=xstate runs every machine on the interpreter; anything else but engine is refused', () => {
    expect(interpreterFromEnv({})).toBe('engine');
    expect(interpreterFromEnv({ SWITCHBOARD_INTERPRETER: 'engine' })).toBe('engine');
    expect(interpreterFromEnv({ SWITCHBOARD_INTERPRETER: 'XState' })).toBe('xstate');
    expect(() => interpreterFromEnv({ SWITCHBOARD_INTERPRETER: 'fast' })).toThrow(/must be "engine" or "xstate"/);
    expect(engineFor(providerTaskMachine, 'xstate', undefined)).toBeUndefined();
    expect(engineFor(providerTaskMachine, 'engine', undefined)).toBeDefined();
  });
});
