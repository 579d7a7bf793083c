/**
 * The timer wheel (machines/host/timerWheel.ts) on the actor system's clock: on a SimulatedClock
 * advanced as specs advance it (to each due time in turn), timers scheduled through the wheel
 * fire in exactly the order, and at exactly the simulated times, that one clock timer each
 * would, interleaved with other timers of the same clock, whatever the scheduling, cancelling,
 * re-entrant scheduling from a firing timer, and advances (a fast-check property, the tier's seed).
 * And it arms only one clock timer.
 */
import fc from 'fast-check';
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { advanceClock } from '../adapters/simulated/advance.js';
import { TimerWheel, type TimerEntry } from '../machines/host/timerWheel.js';

type Command =
  | { kind: 'schedule'; viaWheel: boolean; delay: number; chained?: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'advance'; ms: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('schedule' as const), viaWheel: fc.boolean(), delay: fc.integer({ min: 0, max: 50 }), chained: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }) }) },
);

/** Runs the commands; timers marked viaWheel go through a wheel unless `allNative`. */
function run(commands: readonly Command[], allNative: boolean): string[] {
  const clock = new SimulatedClock();
  const wheel = new TimerWheel(clock, (error) => log.push(`error ${String(error)}`));
  const log: string[] = [];
  const live: { name: string; cancel: () => void }[] = [];
  let seq = 0;
  const start = (viaWheel: boolean, delay: number, chained: number | undefined) => {
    const name = `${viaWheel ? 'w' : 'n'}${seq}`;
    // Times in thousandths, plus a remainder that makes the due time's thousandths this timer's
    // own number: every due time is unique (SimulatedClock orders ties arbitrarily), a chained
    // timer's included (it starts at its parent's due time), and stays an exact integer.
    const own = ++seq;
    const exact = delay * 1_000 + ((own - (clock.now() % 1_000) + 1_000) % 1_000);
    const fire = () => {
      log.push(`${name}@${clock.now()}`);
      if (chained !== undefined) start(viaWheel, chained, undefined);
    };
    if (viaWheel && !allNative) {
      const entry: TimerEntry = wheel.schedule(exact, fire);
      live.push({ name, cancel: () => wheel.cancel(entry) });
    } else {
      const id = clock.setTimeout(fire, exact);
      live.push({ name, cancel: () => clock.clearTimeout(id) });
    }
  };
  for (const c of commands) {
    if (c.kind === 'schedule') start(c.viaWheel, c.delay, c.chained);
    else if (c.kind === 'cancel' && live.length > 0) {
      const [victim] = live.splice(c.pick % live.length, 1);
      victim!.cancel();
      log.push(`cancel ${victim!.name}`);
    } else if (c.kind === 'advance') advanceClock(clock, c.ms * 1_000);
  }
  advanceClock(clock, 1_000_000);
  return log;
}

describe('timer wheel', () => {
  it('fires in the same order and at the same simulated times as one clock timer per entry', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (commands) => {
        expect(run(commands, false)).toEqual(run(commands, true));
      }),
      { numRuns: 500 },
    );
  });

  it('arms one clock timer, and schedules later than the earliest without touching the clock', () => {
    const clock = new SimulatedClock();
    let sets = 0;
    const counted = { setTimeout: (fn: () => void, ms: number) => (sets++, clock.setTimeout(fn, ms)), clearTimeout: (id: unknown) => clock.clearTimeout(id as number), now: () => clock.now() };
    const wheel = new TimerWheel(counted, (error) => {
      throw error;
    });
    const fired: number[] = [];
    for (let i = 0; i < 1_000; i++) wheel.schedule(2_000, () => fired.push(i));
    expect(sets).toBe(1);
    expect((clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size).toBe(1);
    clock.increment(1_999);
    expect(fired).toEqual([]);
    clock.increment(1);
    expect(fired).toHaveLength(1_000);
    expect(fired.slice(0, 3)).toEqual([0, 1, 2]);
    expect(wheel.size).toBe(0);
    expect((clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size).toBe(0);
  });

  it('cancelling the last entry clears the clock timer; cancelling twice or after firing is harmless', () => {
    const clock = new SimulatedClock();
    const wheel = new TimerWheel(clock, () => {});
    const fired: string[] = [];
    const a = wheel.schedule(10, () => fired.push('a'));
    const b = wheel.schedule(20, () => fired.push('b'));
    wheel.cancel(a);
    wheel.cancel(a);
    clock.increment(20);
    wheel.cancel(b);
    expect(fired).toEqual(['b']);
    const c = wheel.schedule(5, () => fired.push('c'));
    wheel.cancel(c);
    expect((clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size).toBe(0);
    wheel.schedule(5, () => fired.push('d'));
    wheel.clear();
    clock.increment(10);
    expect(fired).toEqual(['b']);
  });

  it('a throwing timer goes to onError; the others due with it still run, and the clock keeps working', () => {
    const clock = new SimulatedClock();
    const errors: unknown[] = [];
    const wheel = new TimerWheel(clock, (error) => errors.push(error));
    const fired: string[] = [];
    wheel.schedule(1, () => {
      throw new Error('boom');
    });
    wheel.schedule(1, () => fired.push('after'));
    wheel.schedule(2, () => fired.push('later'));
    clock.increment(1);
    expect(errors).toEqual([new Error('boom')]);
    expect(fired).toEqual(['after']);
    clock.increment(1);
    expect(fired).toEqual(['after', 'later']);
  });
});
