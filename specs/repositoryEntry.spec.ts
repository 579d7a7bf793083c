import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  createActor,
  initialTransition,
  SimulatedClock,
  transition,
} from 'xstate';
import type { ServiceAdvertisement } from '../machines/messages.js';
import {
  EXPIRY_TIMER_ID,
  repositoryEntryMachine,
  type RepositoryEntryToParentEvent,
} from '../machines/repositoryEntry.js';
import { serviceAdvertisement } from './support/arbitraries.js';
import { recorder, sampleAdvertisement } from './support/discoveryFixtures.js';

// ---- helpers ----------------------------------------------------------------------------------

const SUSPECT_TIMER_ID = 'xstate.after.suspectAfterMs.repositoryEntry.alive';

const advertisement = (overrides: Partial<ServiceAdvertisement> = {}): ServiceAdvertisement =>
  sampleAdvertisement({ serviceId: 'image-proc-service-001', endpoint: 'ws://127.0.0.1:8080', ...overrides });

const goodbye = (overrides: Partial<ServiceAdvertisement> = {}) => advertisement({ status: 'Offline', ...overrides });
const advertised = (ad: ServiceAdvertisement) => ({ type: 'entry.advertised' as const, advertisement: ad });


function startEntry(ad: ServiceAdvertisement, defaultHeartbeatIntervalMs = 30_000) {
  const clock = new SimulatedClock();
  const parent = recorder<RepositoryEntryToParentEvent>();
  const actor = createActor(repositoryEntryMachine, {
    clock,
    input: { advertisement: ad, defaultHeartbeatIntervalMs, parentRef: parent.ref },
  }).start();
  return { clock, actor, reports: parent.events };
}

type ActionLike = { type: string; params?: unknown };
const paramsOf = (actions: readonly ActionLike[], type: string) =>
  actions.filter((action) => action.type === type).map((action) => action.params as Record<string, unknown>);
const eventsSentBy = (actions: readonly ActionLike[]) =>
  paramsOf(actions, 'xstate.sendTo').map((params) => params['event']);

// ---- (a) pure ---------------------------------------------------------------------------------

describe('repositoryEntry (pure)', () => {
  const parent = recorder<RepositoryEntryToParentEvent>();
  const input = (ad: ServiceAdvertisement, defaultHeartbeatIntervalMs = 30_000) => ({
    advertisement: ad,
    defaultHeartbeatIntervalMs,
    parentRef: parent.ref,
  });

  it('DISC-9: starts alive and schedules suspect at 1.5x and expiry at 3x the default heartbeat', () => {
    const [snapshot, actions] = initialTransition(repositoryEntryMachine, input(advertisement()));
    expect(snapshot.value).toBe('alive');
    expect(paramsOf(actions, 'xstate.raise')).toEqual([
      { event: { type: 'entry.expiryDue' }, id: EXPIRY_TIMER_ID, delay: 90_000 },
      { event: { type: SUSPECT_TIMER_ID }, id: SUSPECT_TIMER_ID, delay: 45_000 },
    ]);
    expect(eventsSentBy(actions)).toEqual([]);
  });

  it('DISC-9: the heartbeatIntervalMs of the advertisement wins over the default', () => {
    const [, actions] = initialTransition(repositoryEntryMachine, input(advertisement({ heartbeatIntervalMs: 1_000 })));
    expect(paramsOf(actions, 'xstate.raise').map((params) => [params['id'], params['delay']])).toEqual([
      [EXPIRY_TIMER_ID, 3_000],
      [SUSPECT_TIMER_ID, 1_500],
    ]);
  });

  it('DISC-9: rounds 1.5x down to a whole ms and keeps expiry at exactly 3x', () => {
    const [, actions] = initialTransition(repositoryEntryMachine, input(advertisement({ heartbeatIntervalMs: 101 })));
    expect(paramsOf(actions, 'xstate.raise').map((params) => params['delay'])).toEqual([303, 151]);
  });

  it('DISC-8: an advertisement cancels both timers, reschedules them with its heartbeat and reports entry.changed', () => {
    const [alive] = initialTransition(repositoryEntryMachine, input(advertisement()));
    const refresh = advertisement({ status: 'Busy', load: 0.75, heartbeatIntervalMs: 10_000 });
    const [next, actions] = transition(repositoryEntryMachine, alive, advertised(refresh));
    expect(next.value).toBe('alive');
    expect(next.context.advertisement).toEqual(refresh);
    expect(paramsOf(actions, 'xstate.cancel').map((params) => params['sendId']).sort()).toEqual(
      [EXPIRY_TIMER_ID, SUSPECT_TIMER_ID].sort(),
    );
    expect(paramsOf(actions, 'xstate.raise').map((params) => [params['id'], params['delay']])).toEqual([
      [EXPIRY_TIMER_ID, 30_000],
      [SUSPECT_TIMER_ID, 15_000],
    ]);
    expect(eventsSentBy(actions)).toEqual([
      { type: 'entry.changed', serviceId: refresh.serviceId, health: 'alive', advertisement: refresh },
    ]);
    expect(parent.events).toEqual([]); // pure: nothing was executed
  });

  it('DISC-9: the suspect timer moves to suspect and reports it, without touching the expiry timer', () => {
    const [alive] = initialTransition(repositoryEntryMachine, input(advertisement()));
    const [suspect, actions] = transition(repositoryEntryMachine, alive, { type: SUSPECT_TIMER_ID } as never);
    expect(suspect.value).toBe('suspect');
    expect(eventsSentBy(actions)).toEqual([
      { type: 'entry.changed', serviceId: 'image-proc-service-001', health: 'suspect', advertisement: advertisement() },
    ]);
    // Leaving `alive` cancels only its own (already fired) timer; the expiry timer keeps running.
    expect(paramsOf(actions, 'xstate.cancel')).toEqual([{ sendId: SUSPECT_TIMER_ID }]);
    expect(paramsOf(actions, 'xstate.raise')).toEqual([]);
  });

  it('DISC-9: the expiry timer ends the entry as expired with typed output', () => {
    const [alive] = initialTransition(repositoryEntryMachine, input(advertisement()));
    const [suspect] = transition(repositoryEntryMachine, alive, { type: SUSPECT_TIMER_ID } as never);
    const [expired, actions] = transition(repositoryEntryMachine, suspect, { type: 'entry.expiryDue' });
    expect(expired.value).toBe('expired');
    expect(expired.status).toBe('done');
    expect(expired.output).toEqual({ serviceId: 'image-proc-service-001', reason: 'expired' });
    expect(eventsSentBy(actions)).toEqual([{ type: 'entry.ended', serviceId: 'image-proc-service-001', reason: 'expired' }]);
  });

  it('DISC-10: a goodbye ends the entry as gone, from alive and from suspect', () => {
    const [alive] = initialTransition(repositoryEntryMachine, input(advertisement()));
    const [suspect] = transition(repositoryEntryMachine, alive, { type: SUSPECT_TIMER_ID } as never);
    for (const from of [alive, suspect]) {
      const [gone, actions] = transition(repositoryEntryMachine, from, advertised(goodbye()));
      expect(gone.value).toBe('gone');
      expect(gone.status).toBe('done');
      expect(gone.output).toEqual({ serviceId: 'image-proc-service-001', reason: 'goodbye' });
      expect(eventsSentBy(actions)).toEqual([{ type: 'entry.ended', serviceId: 'image-proc-service-001', reason: 'goodbye' }]);
    }
  });
});

// ---- (b) actor on SimulatedClock --------------------------------------------------------------

describe('repositoryEntry (actor)', () => {
  it('DISC-9: becomes suspect at exactly 1.5x heartbeat and reports it', () => {
    const { clock, actor, reports } = startEntry(advertisement());
    clock.increment(44_999);
    expect(actor.getSnapshot().value).toBe('alive');
    expect(reports).toEqual([]);
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('suspect');
    expect(reports).toEqual([
      { type: 'entry.changed', serviceId: 'image-proc-service-001', health: 'suspect', advertisement: advertisement() },
    ]);
  });

  it('DISC-9: expires at exactly 3x heartbeat, not 1 ms before', () => {
    const { clock, actor, reports } = startEntry(advertisement());
    clock.increment(45_000);
    clock.increment(44_999);
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().value).toBe('suspect');
    clock.increment(1);
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('expired');
    expect(actor.getSnapshot().output).toEqual({ serviceId: 'image-proc-service-001', reason: 'expired' });
    expect(reports.at(-1)).toEqual({ type: 'entry.ended', serviceId: 'image-proc-service-001', reason: 'expired' });
  });

  it('DISC-9: expires at exactly 3x even when one clock step jumps over the suspect time', () => {
    const { clock, actor } = startEntry(advertisement());
    clock.increment(89_999);
    expect(actor.getSnapshot().value).toBe('suspect');
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('expired');
  });

  it('DISC-8, DISC-9: an advertisement restarts both timers from its arrival', () => {
    const { clock, actor, reports } = startEntry(advertisement());
    clock.increment(40_000);
    actor.send(advertised(advertisement({ load: 0.25 })));
    expect(reports).toEqual([
      {
        type: 'entry.changed',
        serviceId: 'image-proc-service-001',
        health: 'alive',
        advertisement: advertisement({ load: 0.25 }),
      },
    ]);
    clock.increment(44_999);
    expect(actor.getSnapshot().value).toBe('alive');
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('suspect');
    clock.increment(44_999);
    expect(actor.getSnapshot().status).toBe('active');
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('expired');
  });

  it('DISC-8: an advertisement brings a suspect entry back to alive and reports it', () => {
    const { clock, actor, reports } = startEntry(advertisement());
    clock.increment(50_000);
    actor.send(advertised(advertisement({ status: 'Busy', load: 1 })));
    expect(actor.getSnapshot().value).toBe('alive');
    expect(reports.map((report) => (report.type === 'entry.changed' ? report.health : report.type))).toEqual([
      'suspect',
      'alive',
    ]);
    expect(actor.getSnapshot().context.advertisement).toMatchObject({ status: 'Busy', load: 1 });
  });

  it('DISC-9: the heartbeatIntervalMs of the advertisement wins over the default', () => {
    const { clock, actor } = startEntry(advertisement({ heartbeatIntervalMs: 1_000 }), 30_000);
    clock.increment(1_499);
    expect(actor.getSnapshot().value).toBe('alive');
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('suspect');
    clock.increment(1_499);
    expect(actor.getSnapshot().value).toBe('suspect');
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('expired');
  });

  it('DISC-9: a later advertisement may change the heartbeat, and one without it falls back to the default', () => {
    const { clock, actor } = startEntry(advertisement({ heartbeatIntervalMs: 1_000 }), 2_000);
    clock.increment(500);
    actor.send(advertised(advertisement({ heartbeatIntervalMs: 10_000 })));
    clock.increment(29_999);
    expect(actor.getSnapshot().status).toBe('active');
    actor.send(advertised(advertisement())); // no heartbeatIntervalMs: the default 2_000 applies
    clock.increment(5_999);
    expect(actor.getSnapshot().value).toBe('suspect');
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('expired');
  });

  it('DISC-10: a goodbye ends the entry at once, alive or suspect', () => {
    for (const waitMs of [0, 45_000]) {
      const { clock, actor, reports } = startEntry(advertisement());
      clock.increment(waitMs);
      actor.send(advertised(goodbye()));
      expect(actor.getSnapshot().value).toBe('gone');
      expect(actor.getSnapshot().output).toEqual({ serviceId: 'image-proc-service-001', reason: 'goodbye' });
      expect(reports.at(-1)).toEqual({ type: 'entry.ended', serviceId: 'image-proc-service-001', reason: 'goodbye' });
    }
  });

  it('DISC-9, DISC-10: reports entry.ended exactly once, whatever comes after', () => {
    const { clock, actor, reports } = startEntry(advertisement());
    clock.increment(90_000);
    // XState warns about events sent to a stopped actor; that is the situation under test.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    actor.send(advertised(advertisement()));
    actor.send(advertised(goodbye()));
    warn.mockRestore();
    clock.increment(1_000_000);
    expect(reports.filter((report) => report.type === 'entry.ended')).toEqual([
      { type: 'entry.ended', serviceId: 'image-proc-service-001', reason: 'expired' },
    ]);
    expect(reports).toHaveLength(2); // suspect, then ended
  });
});

// ---- (c) properties ---------------------------------------------------------------------------

describe('repositoryEntry (properties)', () => {
  /**
   * Arrival gaps up to 4x heartbeat: gaps of 3x or more let the entry expire before the next
   * advertisement arrives (an advertisement arriving at the very ms of expiry is too late).
   */
  const scenario = fc
    .integer({ min: 100, max: 120_000 })
    .chain((heartbeatIntervalMs) =>
      fc.record({
        heartbeatIntervalMs: fc.constant(heartbeatIntervalMs),
        inAdvertisement: fc.boolean(),
        first: serviceAdvertisement,
        gapsMs: fc.array(
          fc.oneof(
            fc.integer({ min: 0, max: 3 * heartbeatIntervalMs - 1 }),
            fc.integer({ min: 0, max: 4 * heartbeatIntervalMs }),
            fc.constantFrom(0, 3 * heartbeatIntervalMs - 1, 3 * heartbeatIntervalMs, Math.floor(1.5 * heartbeatIntervalMs)),
          ),
          { maxLength: 12 },
        ),
      }),
    );

  it('DISC-9: for any heartbeat and arrival times, expires exactly 3x heartbeat after the last advertisement, never earlier', () => {
    fc.assert(
      fc.property(scenario, ({ heartbeatIntervalMs, inAdvertisement, first, gapsMs }) => {
        // The heartbeat comes either from the advertisements or from the default, never both.
        const base: ServiceAdvertisement = { ...first, status: 'Online' };
        delete (base as { heartbeatIntervalMs?: number }).heartbeatIntervalMs;
        const ad = inAdvertisement ? { ...base, heartbeatIntervalMs } : base;
        const defaultHeartbeatIntervalMs = inAdvertisement ? heartbeatIntervalMs * 2 + 1 : heartbeatIntervalMs;
        const { clock, actor, reports } = startEntry(ad, defaultHeartbeatIntervalMs);
        const suspectMs = Math.floor(1.5 * heartbeatIntervalMs);
        const expireMs = 3 * heartbeatIntervalMs;

        let lastMs = 0;
        let nowMs = 0;
        /** Moves the clock to `targetMs`, checking the state at each boundary on the way. */
        const advanceTo = (targetMs: number) => {
          const checkpoints = [lastMs + suspectMs - 1, lastMs + suspectMs, lastMs + expireMs - 1, lastMs + expireMs]
            .filter((ms) => ms > nowMs && ms < targetMs)
            .concat(targetMs > nowMs ? [targetMs] : []);
          for (const ms of checkpoints) {
            clock.increment(ms - nowMs);
            nowMs = ms;
            const sinceMs = nowMs - lastMs;
            const expected = sinceMs >= expireMs ? 'expired' : sinceMs >= suspectMs ? 'suspect' : 'alive';
            expect(actor.getSnapshot().value).toBe(expected);
          }
        };

        for (const gapMs of gapsMs) {
          advanceTo(nowMs + gapMs);
          if (actor.getSnapshot().status === 'done') break;
          actor.send(advertised(ad));
          lastMs = nowMs;
          expect(actor.getSnapshot().value).toBe('alive');
        }
        // Either a gap already let it expire (checked at the boundary by advanceTo), or it does now.
        advanceTo(Math.max(nowMs, lastMs + expireMs - 1));
        expect(actor.getSnapshot().status).toBe(nowMs < lastMs + expireMs ? 'active' : 'done');
        advanceTo(Math.max(nowMs, lastMs + expireMs));
        expect(actor.getSnapshot().status).toBe('done');
        expect(actor.getSnapshot().output).toEqual({ serviceId: ad.serviceId, reason: 'expired' });
        expect(reports.filter((report) => report.type === 'entry.ended')).toHaveLength(1);
      }),
      { numRuns: 500 },
    );
  });
});
