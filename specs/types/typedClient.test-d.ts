/**
 * Type tests of the typed client (runtime/typed/): checked by `tsc` in `npm test`'s typecheck
 * step (and by `vitest --typecheck`). Each `@ts-expect-error` is a misuse that must NOT compile:
 * if it ever compiled, the directive would be unused and tsc would fail, so these cannot pass
 * vacuously. Nothing here runs.
 */
import { expectTypeOf } from 'vitest';
import * as z from 'zod';
import { createClient, defineService, type ErrorCode, type TaskError, type TaskHandle } from '../../runtime/index.js';

const greeter = defineService({
  name: 'Greeter',
  version: '1.0.0',
  operations: {
    greet: {
      description: 'Greets someone.',
      params: z.object({ name: z.string(), times: z.number().int().default(1) }),
      errors: { SHY: 'The greeter is too shy today.' },
      run: async ({ name, times }) => ({ greeting: `Hello, ${name}`.repeat(times), at: new Date() }),
    },
    add: {
      params: z.object({ a: z.number(), b: z.number() }),
      result: z.object({ sum: z.number() }),
      run: ({ a, b }) => ({ sum: a + b }),
    },
    ping: {
      params: z.object({}),
      run: () => undefined,
    },
  },
});

declare const client: ReturnType<typeof createClient>;
const typed = client.service(greeter);

// ---- the operation name ------------------------------------------------------------------------
expectTypeOf(typed).toHaveProperty('greet');
// @ts-expect-error a misspelt operation does not exist
typed.greett({ name: 'Ada' });
// @ts-expect-error nor does one the service never had
typed.resizeImage({});

// ---- the params --------------------------------------------------------------------------------
typed.greet({ name: 'Ada' }); // `times` has a default: optional for the client
typed.greet({ name: 'Ada', times: 3 }, { timeoutMs: 1_000, waitFor: { timeoutMs: 5_000 } });
// @ts-expect-error a parameter of the wrong type
typed.greet({ name: 42 });
// @ts-expect-error a missing required parameter
typed.greet({ times: 2 });
// @ts-expect-error params are required when the operation has required parameters
typed.greet();
// @ts-expect-error an unknown parameter in an object literal
typed.greet({ name: 'Ada', nmae: 'Ada' });
typed.ping(); // no parameters: may be omitted
expectTypeOf(typed.add).parameter(0).toEqualTypeOf<{ a: number; b: number }>();

// ---- the result --------------------------------------------------------------------------------
const greeting = typed.greet({ name: 'Ada' });
expectTypeOf(greeting).toMatchTypeOf<TaskHandle>();
// From what `run` returns, as JSON: a Date arrives as its ISO string.
expectTypeOf(greeting.result).resolves.toEqualTypeOf<{ greeting: string; at: string }>();
// From the declared result schema.
expectTypeOf(typed.add({ a: 1, b: 2 }).result).resolves.toEqualTypeOf<{ sum: number }>();
// Nothing returned arrives as null.
expectTypeOf(typed.ping().result).resolves.toEqualTypeOf<null>();

async function resultMisuse(): Promise<void> {
  const { sum } = await typed.add({ a: 1, b: 2 }).result;
  // @ts-expect-error the result used as the wrong type
  const text: string = sum;
  // @ts-expect-error a field the result does not have
  (await typed.greet({ name: 'Ada' }).result).farewell;
  void text;
}
void resultMisuse;

// ---- the error codes ---------------------------------------------------------------------------
async function errorCodes(): Promise<void> {
  const settled = await typed.greet({ name: 'Ada' }).settled;
  if (settled.ok) {
    expectTypeOf(settled.result.greeting).toBeString();
    return;
  }
  expectTypeOf(settled.error).toEqualTypeOf<TaskError<ErrorCode | 'SHY'>>();
  expectTypeOf(settled.error.code).toEqualTypeOf<ErrorCode | 'SHY'>();
  // @ts-expect-error a code neither switchboard nor the operation has
  if (settled.error.code === 'NO_SUCH_CODE') return;
  // An operation without codes of its own fails with switchboard's only.
  const added = await typed.add({ a: 1, b: 2 }).settled;
  if (!added.ok) expectTypeOf(added.error.code).toEqualTypeOf<ErrorCode>();
}
void errorCodes;

// ---- the definition side -----------------------------------------------------------------------
defineService({
  name: 'Bad',
  version: '1',
  operations: {
    // @ts-expect-error run must return what the result schema accepts
    f: { params: z.object({ a: z.number() }), result: z.string(), run: ({ a }) => a },
  },
});
defineService({
  name: 'Bad',
  version: '1',
  operations: {
    g: {
      params: z.object({ a: z.number() }),
      run: ({ a }) => {
        // @ts-expect-error run's params are typed by the params schema
        a.toUpperCase();
        return a;
      },
    },
  },
});

// ---- a contract by name (what `switchboard types` writes) ---------------------------------------
type Remote = {
  resize: { params: { width: number; path: string }; result: { bytes: number }; errors: 'FILE_NOT_FOUND' };
};
const remote = client.service<Remote>('ImageService');
expectTypeOf(remote.resize({ width: 1, path: 'a.png' }).result).resolves.toEqualTypeOf<{ bytes: number }>();
// @ts-expect-error by name too, a misspelt operation
remote.resise({ width: 1, path: 'a.png' });
// @ts-expect-error and a wrong parameter type
remote.resize({ width: '1', path: 'a.png' });
// @ts-expect-error by name without a contract there is no operation to call (use client.assign)
client.service('Anything').whatever({ x: 1 });
