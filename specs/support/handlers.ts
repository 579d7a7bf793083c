/**
 * Test handlers for providerTaskMachine's `handler` placeholder, and a probe that watches them.
 *
 * The steps handler is a small machine: its `after` delays run on the actor system's clock, so a
 * SimulatedClock drives it synchronously (`clock.increment(ms)` and every progress, result and
 * failure has been processed, up to the provider's replies). It reports with `sendParent`, which
 * is fine here: the handler is the task's invoked child, and this is test code, not machines/.
 *
 * Time: `SimulatedClock.increment(ms)` moves `now` by the whole amount first and then fires what
 * is due, so a timer set while firing counts from the END of the increment (a 5-step handler needs
 * five increments). `advance(clock, ms)` below steps from timer to timer instead, as a real clock
 * would; use it whenever one increment spans more than one handler step.
 *
 * A probe records, per handler instance, when it started and how it ended: `finished` (it reported
 * done or failed on its own) or `stopped` (its actor was stopped from outside: what the runtime
 * turns into an aborted AbortSignal, TASK-11 and TASK-14).
 */
import { assign, fromCallback, sendParent, setup, type AnyActorLogic, type EventObject } from 'xstate';
import type { TaskFailure } from '../../machines/outcome.js';
import type { HandlerEvent, HandlerInput, HandlerLogic } from '../../machines/providerTask.js';

export interface HandlerRun {
  readonly input: HandlerInput;
  ended: 'finished' | 'stopped' | undefined;
}

export interface HandlerProbe {
  /**
   * Every handler instance ever started, in start order. The steps handler records itself in its
   * initial entry, i.e. when its actor is created (just before it starts): a stricter count.
   */
  readonly runs: HandlerRun[];
  /** Largest number of handlers running at once, overall and for one client. */
  readonly maxActive: number;
  readonly maxActivePerClient: number;
  /** Handlers running now. */
  active(): HandlerRun[];
  /** Runs of one task (`clientId`, `taskId`). */
  runsOf(clientId: string, taskId: string): HandlerRun[];
  start(input: HandlerInput): HandlerRun;
  end(run: HandlerRun, how: 'finished' | 'stopped'): void;
}

export function createProbe(): HandlerProbe {
  const runs: HandlerRun[] = [];
  const activeRuns = new Set<HandlerRun>();
  const activeByClient = new Map<string, number>();
  let maxActive = 0;
  let maxActivePerClient = 0;
  return {
    runs,
    get maxActive() {
      return maxActive;
    },
    get maxActivePerClient() {
      return maxActivePerClient;
    },
    active: () => [...activeRuns],
    runsOf: (clientId, taskId) => runs.filter((run) => run.input.clientId === clientId && run.input.taskId === taskId),
    start(input) {
      const run: HandlerRun = { input, ended: undefined };
      runs.push(run);
      activeRuns.add(run);
      const clientActive = (activeByClient.get(input.clientId) ?? 0) + 1;
      activeByClient.set(input.clientId, clientActive);
      maxActive = Math.max(maxActive, activeRuns.size);
      maxActivePerClient = Math.max(maxActivePerClient, clientActive);
      return run;
    },
    end(run, how) {
      if (run.ended !== undefined) return;
      run.ended = how;
      activeRuns.delete(run);
      activeByClient.set(run.input.clientId, (activeByClient.get(run.input.clientId) ?? 1) - 1);
    },
  };
}

/** The steps handler's parameters (its task's `taskParameters`). */
export type StepsParams = {
  /** Progress reports before the outcome. @default 1 */
  readonly steps?: number;
  /** Time before each step. @default 10 */
  readonly stepMs?: number;
  /** Report this failure instead of a result, after the steps. */
  readonly failWith?: TaskFailure;
  /** The progress reported at step i (1-based) is `progressPattern[i-1]`; else `round(100 i / steps)`. */
  readonly progressPattern?: readonly number[];
  /** The result to report (even `undefined`, when the key is present). @default { steps } */
  readonly resultData?: unknown;
};

interface StepsContext {
  readonly run: HandlerRun | undefined;
  readonly input: HandlerInput;
  readonly params: StepsParams;
  readonly steps: number;
  readonly step: number;
}

const noProbe = createProbe();

/**
 * A handler that reports `steps` progress events `stepMs` apart, then `handler.done` (or
 * `handler.failed` when `failWith` is set). Total time: `steps * stepMs`.
 */
export function stepsHandler(probe: HandlerProbe = noProbe): HandlerLogic {
  const machine = setup({
    types: { input: {} as HandlerInput, context: {} as StepsContext },
    actors: {
      // Lives as long as the handler; its cleanup runs when the handler actor is stopped.
      lifetime: fromCallback<EventObject, { run: HandlerRun | undefined }>(({ input }) => () => {
        if (input.run) probe.end(input.run, 'stopped');
      }),
    },
    delays: { stepMs: ({ context }) => context.params.stepMs ?? 10 },
    guards: { allStepsDone: ({ context }) => context.step >= context.steps },
  }).createMachine({
    id: 'stepsHandler',
    context: ({ input }) => {
      const params = input.params as StepsParams;
      return { run: undefined, input, params, steps: params.steps ?? 1, step: 0 };
    },
    entry: assign({ run: ({ context }) => probe.start(context.input) }),
    invoke: { src: 'lifetime', input: ({ context }) => ({ run: context.run }) },
    initial: 'working',
    states: {
      working: {
        always: { guard: 'allStepsDone', target: 'finished' },
        after: {
          stepMs: {
            target: 'working',
            reenter: true,
            actions: [
              assign({ step: ({ context }) => context.step + 1 }),
              sendParent(({ context }): HandlerEvent => ({
                type: 'handler.progress',
                progressPercentage: context.params.progressPattern?.[context.step - 1] ?? Math.round((100 * context.step) / context.steps),
                message: `step ${context.step} of ${context.steps}`,
              })),
            ],
          },
        },
      },
      // Not a final state: a handler that reached `done` would send xstate.done.actor.handler to a
      // task that has already settled (and xstate warns). It idles until the task stops it.
      finished: {
        // Ended before the parent hears of it: a custom action runs now, sendParent is deferred.
        entry: [
          ({ context }) => {
            if (context.run) probe.end(context.run, 'finished');
          },
          sendParent(({ context }): HandlerEvent =>
            context.params.failWith
              ? { type: 'handler.failed', error: context.params.failWith }
              : { type: 'handler.done', resultData: 'resultData' in context.params ? context.params.resultData : { steps: context.steps } },
          ),
        ],
      },
    },
  });
  return asHandler(machine);
}

/** A handler that never ends on its own; its cleanup (the abort) is recorded as `stopped`. */
export function hangingHandler(probe: HandlerProbe = noProbe): HandlerLogic {
  return fromCallback<EventObject, HandlerInput>(({ input }) => {
    const run = probe.start(input);
    return () => probe.end(run, 'stopped');
  }) as unknown as HandlerLogic;
}

/** A handler that reports through `sendBack`, synchronously, the events it is given, then waits. */
export function scriptedHandler(events: readonly HandlerEvent[], probe: HandlerProbe = noProbe): HandlerLogic {
  return fromCallback<EventObject, HandlerInput>(({ input, sendBack }) => {
    const run = probe.start(input);
    for (const event of events) sendBack(event);
    return () => probe.end(run, 'stopped');
  }) as unknown as HandlerLogic;
}

/** A handler that throws as it starts (TASK-15: a thrown error, not a reported failure). */
export function throwingHandler(thrown: unknown): HandlerLogic {
  return fromCallback(() => {
    throw thrown;
  }) as unknown as HandlerLogic;
}

/** Any logic in the handler's place (a machine that uses sendParent, say). */
export function asHandler(logic: AnyActorLogic): HandlerLogic {
  return logic as unknown as HandlerLogic;
}

/** Moves a SimulatedClock forward by `ms`, firing every timer at its due time (see the header). */
export { advanceClock as advance } from '../../adapters/simulated/advance.js';
