/**
 * A policy answer as actor logic that is done the moment it starts.
 *
 * Machines invoke policies (admission, authentication) as promise-shaped actors and wait for
 * their `onDone`. A real promise resolves only after a microtask, which a SimulatedClock run
 * cannot drive; this logic reaches `done` synchronously with its output, so a simulated network
 * stays a pure function of its seed. Asynchronous policies (a database lookup) use `fromPromise`.
 */
import type { ActorLogic, NonReducibleUnknown, PromiseActorLogic } from 'xstate';

export function decided<TOutput, TInput extends NonReducibleUnknown>(
  decide: (input: TInput) => TOutput,
): PromiseActorLogic<TOutput, TInput> {
  const logic: ActorLogic<
    { status: 'done'; output: TOutput; error: undefined; input: TInput | undefined },
    { type: string },
    TInput
  > = {
    transition: (snapshot) => snapshot,
    getInitialSnapshot: (_scope, input) => ({ status: 'done', output: decide(input), error: undefined, input }),
    getPersistedSnapshot: (snapshot) => snapshot,
  };
  return logic as unknown as PromiseActorLogic<TOutput, TInput>;
}
