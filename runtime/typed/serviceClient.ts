/**
 * The typed client: one method per operation of a service, its params checked and its result and
 * error codes typed at compile time.
 *
 * ```ts
 * const greeterClient = client.service(greeter);          // from the definition (defineService)
 * const task = greeterClient.greet({ name: 'Ada' });      // greetz(...) or { name: 1 } do not compile
 * const settled = await task.settled;                     // never rejects
 * if (settled.ok) console.log(settled.result.greeting);   // typed result
 * else if (settled.error.code === 'SHY') ...              // ErrorCode | the operation's own codes
 *
 * const remote = client.service<Greeter>('Greeter');      // from `switchboard types Greeter`
 * ```
 * With a definition, the parameters are also checked here with its zod schema before anything is
 * sent: a mistake the types could not see (a value from JSON, say) fails at once with
 * INVALID_PARAMETERS and the same details the provider would give. By name there is no schema on
 * this side: the provider checks (TASK-6).
 */
import { v4 as uuid } from 'uuid';
import { describeIssues } from '../../machines/codec.js';
import type { ErrorCode } from '../../machines/errors.js';
import type { AssignOptions, Client } from '../client.js';
import type { OperationDefinition, ServiceDefinition } from '../service.js';
import { TaskHandleState, type TaskHandle } from '../taskHandle.js';
import type { OperationContract } from './contract.js';

/** The handle of a typed task: the result typed, and `settled` with the error code typed. */
export type TypedTaskHandle<O extends OperationContract> = TaskHandle<O['result'], ErrorCode | O['errors']>;

/** One operation as a method: optional params when every parameter is optional. */
type OperationMethod<O> = O extends OperationContract
  ? {} extends O['params']
    ? (params?: O['params'], options?: AssignOptions) => TypedTaskHandle<O>
    : (params: O['params'], options?: AssignOptions) => TypedTaskHandle<O>
  : never;

/** What `client.service(...)` returns: a method per operation of the contract. */
export type ServiceClient<C> = { readonly [K in keyof C & string]: OperationMethod<C[K]> };

type Assign = Client['assign'];

/** A handle that failed before anything was sent (the parameters did not pass the local check). */
function failedHandle(taskId: string, code: ErrorCode, message: string, details: string): TaskHandle {
  const handle = new TaskHandleState(taskId, () => {});
  handle.settle({ status: 'Failed', error: { code, message, details } });
  return handle;
}

function fromDefinition(assign: Assign, definition: ServiceDefinition): Record<string, unknown> {
  const operations = definition.operations as Readonly<Record<string, OperationDefinition>>;
  const methods = Object.keys(operations).map((operation) => {
    const method = (params: Record<string, unknown> = {}, options: AssignOptions = {}) => {
      const checked = operations[operation]!.params.safeParse(params);
      if (!checked.success) {
        const details = describeIssues(checked.error);
        return failedHandle(options.taskId ?? uuid(), 'INVALID_PARAMETERS', `invalid parameters: ${details}`, details);
      }
      // The params as given, not as parsed: the provider parses them again (defaults, transforms).
      return assign(definition.name, operation, params, options);
    };
    return [operation, method] as const;
  });
  return Object.freeze(Object.fromEntries(methods));
}

/**
 * By name: any property is an operation of that name. `then` is not (so that awaiting the object
 * by mistake does not call an operation named `then`); call such an operation with assign().
 */
function byName(assign: Assign, serviceName: string): Record<string, unknown> {
  return new Proxy(Object.freeze({}), {
    get: (_target, operation) =>
      typeof operation === 'string' && operation !== 'then'
        ? (params: Record<string, unknown> = {}, options?: AssignOptions) => assign(serviceName, operation, params, options)
        : undefined,
  });
}

/** The runtime side of `client.service(...)` (its types are on Client). */
export function serviceClient(assign: Assign, service: ServiceDefinition | string): Record<string, unknown> {
  return typeof service === 'string' ? byName(assign, service) : fromDefinition(assign, service);
}
