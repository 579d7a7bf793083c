/**
 * Random whole networks as scenario files, for the whole-network property of `switchboard
 * simulate` (specs/simulate.networks*.spec.ts): 1 to 5 providers, 1 to 3 clients, workloads with
 * cancels and deadlines, small timings (heartbeat 1 s, pings every 300 ms, Ack timeout 120 ms, so
 * Acks are often late and AssignTasks duplicated), base loss, duplication and delay, and a random
 * fault schedule from the run seed (partitions symmetric and one-way, link faults, crashes with
 * restart, providers that stop reading, frozen participants, skewed clocks). Then the final heal
 * and the liveness phase, and every invariant of runtime/simulate/checker.ts.
 *
 * Most networks publish events (EVT-n): every provider's service publishes `tick` (to everyone,
 * one client or a group), with small queues and windows in some (so the overflow policy drops or
 * closes) and a short linger in others; each client holds one or two subscriptions, at-most-once
 * or at-least-once, some with a filter, some ended by Unsubscribe. Half of them have tasks with
 * files (FILE-n), uploaded on file links that suffer the same faults (and some return files the
 * client then fetches), and in some the links flip
 * bytes of chunks (`corrupt`), which the receiver must refuse (FILE-2).
 *
 * Discovery is signed in a third of the networks (SEC-8: every provider signs, clients trust on
 * first use, so duplicated, reordered and replayed advertisements meet the replay rule, and a
 * restarted provider's greater epoch ends its earlier serviceIds), unsigned in a third (seed-only
 * providers, clients told to allow them), and mixed in the rest (every other provider signs).
 */
import fc from 'fast-check';
import { EVENT_KINDS, type ScenarioInput } from '../../runtime/simulate/scenario.js';

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
    events: fc.option(
      fc.record({
        every: fc.integer({ min: 150, max: 1_000 }),
        toClient: fc.constantFrom(0, 0.2),
        toGroup: fc.constantFrom(0, 0.2),
        queueMax: fc.constantFrom(4, 16, 1_024),
        inFlightMax: fc.constantFrom(2, 8, 64),
        linger: fc.integer({ min: 500, max: 8_000 }),
      }),
      { freq: 4, nil: undefined },
    ),
    subscriptions: fc.array(
      fc.record({
        delivery: fc.constantFrom('at-most-once' as const, 'at-least-once' as const, 'at-least-once' as const),
        overflow: fc.constantFrom('drop-oldest' as const, 'drop-oldest' as const, 'close' as const),
        kinds: fc.option(fc.subarray([...EVENT_KINDS], { minLength: 1 }), { nil: undefined }),
        start: fc.integer({ min: 0, max: 3_000 }),
        until: fc.option(fc.integer({ min: 3_000, max: 18_000 }), { freq: 4, nil: undefined }),
      }),
      { minLength: 1, maxLength: 2 },
    ),
    files: fc.option(
      fc.record({ count: fc.integer({ min: 1, max: 3 }), sizeMax: fc.integer({ min: 1, max: 30_000 }), distinct: fc.integer({ min: 1, max: 6 }), every: fc.integer({ min: 600, max: 2_000 }), results: fc.integer({ min: 0, max: 2 }) }),
      { freq: 2, nil: undefined },
    ),
    corrupt: fc.constantFrom(0, 0, 0.05, 0.2),
  })
  .map((draw) => ({
    name: 'random network',
    seed: draw.seed,
    duration: 6_000,
    liveness: 14_000,
    network: { loss: draw.loss, duplicate: draw.duplicate, delay: [1, draw.delayMax] as [number, number], corrupt: draw.corrupt },
    providers: providerEntries(draw.providers, draw.discovery, draw.stepMax, draw.events),
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
          // Tasks with files (FILE-12): uploaded on a file link to the instance that then runs them.
          ...(draw.files === undefined
            ? []
            : [
                {
                  service: 'Work',
                  operation: 'run',
                  every: [Math.floor(draw.files.every / 3), draw.files.every] as [number, number],
                  files: { count: draw.files.count, size: [0, draw.files.sizeMax] as [number, number], distinct: draw.files.distinct, results: draw.files.results },
                  ...(draw.cancel === 0 ? {} : { cancel: { probability: draw.cancel, after: [10, 1_000] as [number, number] } }),
                },
              ]),
        ],
        ...(draw.events === undefined
          ? {}
          : {
              subscriptions: draw.subscriptions.map((subscription) => ({
                service: 'Work',
                event: 'tick',
                delivery: subscription.delivery,
                overflow: subscription.overflow,
                start: subscription.start,
                ...(subscription.kinds === undefined ? {} : { kinds: subscription.kinds }),
                ...(subscription.until === undefined ? {} : { until: subscription.until }),
              })),
            }),
      },
    ],
    random: { faults: draw.faults, kinds: [...draw.kinds], longest: 3_000 },
  }));

/** `count` providers: signed ones named p-1, ..., unsigned ones u-1, ... (mixed: half of them, rounded down). */
type EventsDraw = { every: number; toClient: number; toGroup: number; queueMax: number; inFlightMax: number; linger: number } | undefined;

function providerEntries(count: number, discovery: 'signed' | 'mixed' | 'unsigned', stepMax: number, events: EventsDraw): ScenarioInput['providers'] {
  const unsigned = discovery === 'signed' ? 0 : discovery === 'unsigned' ? count : Math.floor(count / 2);
  const entry = (name: string, entryCount: number, signed: boolean) => ({
    name,
    count: entryCount,
    services: [
      {
        name: 'Work',
        operations: { run: { duration: [10, stepMax] as [number, number], progressSteps: 3 } },
        ...(events === undefined ? {} : { events: { tick: { every: [Math.floor(events.every / 4), events.every] as [number, number], toClient: events.toClient, toGroup: events.toGroup } } }),
      },
    ],
    options: {
      ...providerOptions,
      signed,
      ...(events === undefined ? {} : { events: { queueMax: events.queueMax, inFlightMax: events.inFlightMax, linger: events.linger } }),
    },
  });
  return [
    ...(count - unsigned > 0 ? [entry('p', count - unsigned, true)] : []),
    ...(unsigned > 0 ? [entry('u', unsigned, false)] : []),
  ] as ScenarioInput['providers'];
}
