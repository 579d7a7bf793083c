/**
 * Random whole networks as scenario files, for the whole-network property of `switchboard
 * simulate` (specs/simulate.networks*.spec.ts): 1 to 5 providers, 1 to 3 clients, workloads with
 * cancels and deadlines, small timings (heartbeat 1 s, pings every 300 ms, Ack timeout 120 ms, so
 * Acks are often late and AssignTasks duplicated), base loss, duplication and delay, and a random
 * fault schedule from the run seed (partitions symmetric and one-way, link faults, crashes with
 * restart, providers that stop reading, frozen participants, skewed clocks). Then the final heal
 * and the liveness phase, and every invariant of runtime/simulate/checker.ts.
 *
 * Discovery is signed in a third of the networks (SEC-8: every provider signs, clients trust on
 * first use, so duplicated, reordered and replayed advertisements meet the replay rule, and a
 * restarted provider's greater epoch ends its earlier serviceIds), unsigned in a third (seed-only
 * providers, clients told to allow them), and mixed in the rest (every other provider signs).
 */
import fc from 'fast-check';
import type { ScenarioInput } from '../../runtime/simulate/scenario.js';

const providerOptions = { heartbeatInterval: 1_000, pingInterval: 300, pongTimeout: 300, closeTimeout: 300, answerDelay: 300, limits: { tasksRunningMax: 3, tasksRunningPerClientMax: 2, tasksQueuedMax: 6 } };
const clientOptions = {
  discoveryPeriod: 4_000,
  defaultHeartbeatInterval: 1_000,
  pingInterval: 300,
  pongTimeout: 300,
  connectTimeout: 500,
  closeTimeout: 300,
  backoff: { base: 50, max: 800, attemptsMax: 8 },
  outboxMax: 64,
  ackTimeout: 120,
  assignAttemptsMax: 5,
  cancelTimeout: 600,
};

export const networkScenarioArb: fc.Arbitrary<ScenarioInput> = fc
  .record({
    seed: fc.nat(),
    providers: fc.integer({ min: 1, max: 5 }),
    clients: fc.integer({ min: 1, max: 3 }),
    loss: fc.constantFrom(0, 0.05, 0.2),
    duplicate: fc.constantFrom(0, 0.1),
    delayMax: fc.integer({ min: 1, max: 80 }),
    faults: fc.integer({ min: 0, max: 8 }),
    kinds: fc.subarray(['partition', 'link', 'crash', 'stall', 'freeze', 'skew'] as const, { minLength: 1 }),
    every: fc.integer({ min: 150, max: 1_500 }),
    stepMax: fc.integer({ min: 20, max: 1_600 }),
    cancel: fc.constantFrom(0, 0.2),
    deadline: fc.option(fc.integer({ min: 300, max: 3_000 }), { nil: undefined }),
    discovery: fc.constantFrom('signed' as const, 'mixed' as const, 'unsigned' as const),
  })
  .map((draw) => ({
    name: 'random network',
    seed: draw.seed,
    duration: 6_000,
    liveness: 14_000,
    network: { loss: draw.loss, duplicate: draw.duplicate, delay: [1, draw.delayMax] as [number, number] },
    providers: providerEntries(draw.providers, draw.discovery, draw.stepMax),
    clients: [
      {
        name: 'c',
        count: draw.clients,
        options: { ...clientOptions, allowUnsigned: draw.discovery !== 'signed' },
        workload: [
          {
            service: 'Work',
            operation: 'run',
            every: [Math.floor(draw.every / 3), draw.every] as [number, number],
            ...(draw.deadline === undefined ? {} : { deadline: draw.deadline }),
            ...(draw.cancel === 0 ? {} : { cancel: { probability: draw.cancel, after: [10, 1_000] as [number, number] } }),
          },
        ],
      },
    ],
    random: { faults: draw.faults, kinds: [...draw.kinds], longest: 3_000 },
  }));

/** `count` providers: signed ones named p-1, ..., unsigned ones u-1, ... (mixed: half of them, rounded down). */
function providerEntries(count: number, discovery: 'signed' | 'mixed' | 'unsigned', stepMax: number): ScenarioInput['providers'] {
  const unsigned = discovery === 'signed' ? 0 : discovery === 'unsigned' ? count : Math.floor(count / 2);
  const entry = (name: string, entryCount: number, signed: boolean) => ({
    name,
    count: entryCount,
    services: [{ name: 'Work', operations: { run: { duration: [10, stepMax] as [number, number], progressSteps: 3 } } }],
    options: { ...providerOptions, signed },
  });
  return [
    ...(count - unsigned > 0 ? [entry('p', count - unsigned, true)] : []),
    ...(unsigned > 0 ? [entry('u', unsigned, false)] : []),
  ] as ScenarioInput['providers'];
}
