/**
 * Specs written for mutants that survived the sampled mutation run of 2026-12-03
 * (docs/testing.md, "Mutation testing": seed 1265876825). Each names the line it guards.
 */
import { createMachine, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../machines/codec.js';
import { compileMachine } from '../machines/engine/index.js';
import type { Effect } from '../machines/engine/index.js';
import { rejectionFromError } from '../machines/sessionRules.js';
import { typeOfSchema } from '../runtime/typed/jsonSchemaToTs.js';

const stamp = '2026-12-03T10:00:00.000Z';

describe('codec: a rejected frame still names its task (WIRE-8), machines/codec.ts decodeFrame', () => {
  it('cites the taskId of an enveloped payload, and only an Id of 1 to 256 characters', () => {
    const frame = (taskId: unknown) =>
      JSON.stringify({ type: 'AssignTask', messageId: 'm-1', timestamp: stamp, payload: { taskId, operation: 42 } });
    const named = decodeFrame(frame('t-1'));
    expect(named.ok).toBe(false);
    expect(named.ok ? undefined : named.taskId).toBe('t-1');
    for (const bad of ['', 'x'.repeat(257), 7]) {
      const result = decodeFrame(frame(bad));
      expect(result.ok ? 'decoded' : result.taskId).toBeUndefined();
    }
  });

  it('cites a top-level taskId when there is no payload object', () => {
    const result = decodeFrame(JSON.stringify({ type: 'GetStatus', messageId: 'm-2', timestamp: stamp, taskId: 't-2', payload: 'nope' }));
    expect(result.ok ? undefined : result.taskId).toBe('t-2');
  });
});

describe('dialect: flat Status answers (WIRE-11), machines/dialect.ts', () => {
  it('a payload that is null or a list is not an object to read fields from', () => {
    for (const payload of [null, ['taskId']]) {
      const result = decodeFrame(JSON.stringify({ type: 'Status', taskId: 't-3', status: 'done', payload }));
      expect(result.ok, JSON.stringify(payload)).toBe(true);
      expect(result.ok ? result.message.type : undefined).toBe('TaskStatusUpdate');
    }
  });

  it("keeps the peer's timestamp, and uses the epoch when it has none", () => {
    const dated = decodeFrame(JSON.stringify({ type: 'Status', taskId: 't-4', status: 'running', timestamp: stamp }));
    const undated = decodeFrame(JSON.stringify({ type: 'Status', taskId: 't-4', status: 'running' }));
    expect(dated.ok && new Date(dated.message.timestamp).toISOString()).toBe(stamp);
    expect(undated.ok && new Date(undated.message.timestamp).getTime()).toBe(0);
  });
});

describe('engine: machines/engine', () => {
  it('stops an eventless cycle at the machine\'s maxIterations with the interpreter\'s "Infinite loop" error (engine.ts)', () => {
    // XState's default is Infinity (it spins, as the engine does); a machine may set a bound.
    const cycle = createMachine({ id: 'cycle', initial: 'a', options: { maxIterations: 100 }, states: { a: { always: 'b' }, b: { always: 'a' } } } as never);
    const compiled = compileMachine(cycle);
    expect(compiled.ok).toBe(true);
    if (!compiled.ok) return;
    const effects: Effect[] = [];
    // As XState's actor does, the throw ends the machine in an error snapshot carrying it.
    const snapshot = compiled.engine.initial(undefined, { self: { id: 'cycle' } }, effects);
    expect(snapshot.status).toBe('error');
    expect(String(snapshot.error)).toMatch(/Infinite loop detected: the machine has processed more than 100 microsteps/);
  });

  it('finds an unknown built-in action named in object form, { type } (index.ts)', () => {
    const strange = Object.assign(() => {}, { type: 'xstate.teleport', resolve: () => [] });
    const machine = setup({ actions: { odd: strange as never } }).createMachine({ id: 'o', entry: { type: 'odd' } });
    const result = compileMachine(machine);
    expect(result.ok ? [] : result.reasons).toContain('action "xstate.teleport" in #o');
  });
});

describe('sessionRules: rejectionFromError (SEC-11), machines/sessionRules.ts', () => {
  it('a throw of undefined or null is INTERNAL_ERROR, not a second throw', () => {
    expect(rejectionFromError(undefined).code).toBe('INTERNAL_ERROR');
    expect(rejectionFromError(null).code).toBe('INTERNAL_ERROR');
  });
});

describe('typed: TypeScript from an advertised JSON Schema, runtime/typed/jsonSchemaToTs.ts', () => {
  const options = { rootName: 'Root', nameOfDef: (key: string) => key };

  it('a schema that says nothing (or only describes) is unknown', () => {
    expect(typeOfSchema({}, options)).toBe('unknown');
    expect(typeOfSchema({ description: 'anything', title: 'Any', default: 1 }, options)).toBe('unknown');
    expect(typeOfSchema(true, options)).toBe('unknown');
  });

  it('a `required` that is not a list makes nothing required, and does not throw', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: 'a' };
    expect(typeOfSchema(schema, options)).toMatch(/a\?: string/);
    expect(typeOfSchema({ ...schema, required: ['a'] }, options)).toMatch(/a: string/);
  });
});
