/**
 * ByClient (machines/task/byClient.ts) behaves as a Map keyed by the pair (clientId, taskId),
 * whatever the ids contain (the `\0` a concatenated key would have used included): a fast-check
 * model test against a Map of JSON-encoded pairs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByClient } from '../machines/task/byClient.js';

const idPart = fc.oneof(fc.constantFrom('a', 'b', 'a\0b', '', '__proto__', 'constructor'), fc.string({ maxLength: 3 }));
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), clientId: idPart, taskId: idPart, value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), clientId: idPart, taskId: idPart }),
  fc.record({ kind: fc.constant('clear' as const) }),
);

describe('ByClient', () => {
  it('is a Map keyed by (clientId, taskId)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const table = new ByClient<number>();
        const model = new Map<string, number>();
        const key = (clientId: string, taskId: string) => JSON.stringify([clientId, taskId]);
        for (const o of ops) {
          if (o.kind === 'set') {
            table.set(o.clientId, o.taskId, o.value);
            model.set(key(o.clientId, o.taskId), o.value);
          } else if (o.kind === 'delete') {
            expect(table.delete(o.clientId, o.taskId)).toBe(model.delete(key(o.clientId, o.taskId)));
          } else {
            table.clear();
            model.clear();
          }
          expect(table.size).toBe(model.size);
        }
        for (const [k, v] of model) {
          const [clientId, taskId] = JSON.parse(k) as [string, string];
          expect(table.get(clientId, taskId)).toBe(v);
          expect(table.has(clientId, taskId)).toBe(true);
        }
        expect([...table.values()].sort()).toEqual([...model.values()].sort());
        expect(table.get('a\0b', '')).toBe(model.get(key('a\0b', '')));
        expect(table.get('a', '\0b')).toBe(model.get(key('a', '\0b')));
      }),
      { numRuns: 300 },
    );
  });
});
