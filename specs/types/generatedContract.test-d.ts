/**
 * Type tests of what `switchboard types` writes (./fixtures/greeter.types.ts, generated from
 * ./fixtures/greeter.ts and kept equal to the generator's output by specs/typed.contract.spec.ts):
 * it types the client exactly as the definition itself does, and misuse does not compile.
 * Checked by tsc in `npm test`'s typecheck step; each @ts-expect-error must be needed.
 */
import { expectTypeOf } from 'vitest';
import { createClient } from '../../runtime/index.js';
import type { ContractOf } from '../../runtime/typed/contract.js';
import type { Greeter } from './fixtures/greeter.types.js';
import type { greeter } from './fixtures/greeter.js';

type FromDefinition = ContractOf<typeof greeter>;

// The generated contract types the client as the definition does.
expectTypeOf<Greeter['greet']['params']>().toEqualTypeOf<FromDefinition['greet']['params']>();
expectTypeOf<Greeter['greet']['result']>().toEqualTypeOf<FromDefinition['greet']['result']>();
expectTypeOf<Greeter['greet']['errors']>().toEqualTypeOf<FromDefinition['greet']['errors']>();
expectTypeOf<Greeter['tree']['result']>().toEqualTypeOf<FromDefinition['tree']['result']>();
expectTypeOf<Greeter['tree']['params']['pair']>().toEqualTypeOf<[string, number]>();
expectTypeOf<Greeter['tree']['params']['extra']>().toEqualTypeOf<{ [key: string]: boolean }>();

declare const client: ReturnType<typeof createClient>;
const remote = client.service<Greeter>('Greeter');
remote.greet({ name: 'Ada', tone: 'dry' });
remote.tree({ root: { value: 1, children: [{ value: 2 }] }, pair: ['a', 1], extra: {} });
// @ts-expect-error a misspelt operation
remote.gret({ name: 'Ada' });
// @ts-expect-error a value outside the enum
remote.greet({ name: 'Ada', tone: 'loud' });
// @ts-expect-error a wrong type deep in a recursive parameter
remote.tree({ root: { value: 'one' }, pair: ['a', 1], extra: {} });
async function misuse() {
  // @ts-expect-error the result used as the wrong type
  const n: number = (await remote.greet({ name: 'Ada' }).result).greeting;
  const settled = await remote.greet({ name: 'Ada' }).settled;
  // @ts-expect-error a code the operation does not have
  if (!settled.ok && settled.error.code === 'TOO_LOUD') return n;
  return n;
}
void misuse;
