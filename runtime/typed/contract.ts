/**
 * A service's contract as the typed client sees it: per operation, the params a client sends,
 * the result it gets and the service's own failure codes. Two sources, one shape:
 *
 * - a definition (`defineService`): `ContractOf<typeof greeter>`, read from the zod schemas and
 *   from what `run` returns;
 * - the network: `switchboard types <Service>` writes the contract of an advertised service as a
 *   type (from its JSON Schemas), used as `client.service<Greeter>('Greeter')`.
 *
 * Types only: nothing here exists at run time.
 */
import type * as z from 'zod';
import type { serviceContract, ServiceDefinition } from '../service.js';

export interface OperationContract {
  /** What the client sends (the params schema's input type: defaults optional). */
  readonly params: unknown;
  /** What the client gets (the result schema's output type, else what `run` returns, as JSON). */
  readonly result: unknown;
  /** The operation's own failure codes; switchboard's ERROR_CODES come on top. */
  readonly errors: string;
}

/** A contract: operation name -> OperationContract (an interface or a type alias). */
export type ServiceContract<O = Record<string, OperationContract>> = { readonly [K in keyof O]: OperationContract };

/**
 * What a value looks like after a JSON round trip: `undefined` is `null` (a task with no result),
 * a Date is its ISO string (anything with `toJSON`, what that returns), functions are dropped.
 * Declare `result` on the operation for an exact type.
 */
export type WireForm<T> = T extends undefined | void
  ? null
  : T extends { toJSON(): infer J }
    ? J
    : T extends string | number | boolean | null
      ? T
      : T extends readonly (infer E)[]
        ? WireForm<E>[]
        : T extends object
          ? { [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K]: WireForm<Exclude<T[K], undefined>> }
          : unknown;

type ResultOf<Operation> = Operation extends { readonly result: infer R extends z.ZodType }
  ? z.output<R>
  : Operation extends { run(...args: never[]): infer X }
    ? WireForm<Awaited<X>>
    : unknown;

type ErrorsOf<Operation> = Operation extends { readonly errors: infer E } ? keyof E & string : never;

/** The contract of a definition: `T` its params schemas, `D` its operations as written. */
export type DefinitionContract<T extends Record<string, z.ZodType>, D> = {
  readonly [K in keyof T & string]: {
    readonly params: z.input<T[K]>;
    readonly result: ResultOf<K extends keyof D ? D[K] : unknown>;
    readonly errors: ErrorsOf<K extends keyof D ? D[K] : unknown>;
  };
};

/** The contract a definition carries in its type (a definition not made by defineService: untyped results). */
export type ContractOf<S extends ServiceDefinition> = S extends { readonly [serviceContract]?: infer C }
  ? unknown extends C
    ? UntypedContract<S>
    : NonNullable<C>
  : UntypedContract<S>;

type UntypedContract<S extends ServiceDefinition> = {
  readonly [K in keyof S['operations'] & string]: { readonly params: Record<string, unknown>; readonly result: unknown; readonly errors: string };
};
