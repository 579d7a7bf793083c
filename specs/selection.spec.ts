import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ServiceView } from '../machines/repository.js';
import {
  candidatesFor,
  defaultSelectionPolicy,
  initialSelectionState,
  selectionCursorsMax,
  type SelectionRequest,
  type SelectionState,
} from '../machines/selection.js';

// ---- helpers ----------------------------------------------------------------------------------

function service(serviceId: string, overrides: Partial<ServiceView> = {}): ServiceView {
  return {
    serviceId,
    serviceName: 'ImageProcessingService',
    serviceVersion: '1.2.0',
    endpoint: `ws://10.0.4.17:${8000 + serviceId.length}`,
    capabilities: [
      { key: 'resizeImage', settings: [{ type: 'int', name: 'width' }] },
      { key: 'applyFilter', settings: [] },
    ],
    status: 'Online',
    load: 0,
    health: 'alive',
    ...overrides,
  };
}

const resize: SelectionRequest = { serviceName: 'ImageProcessingService', operation: 'resizeImage' };

/** Runs the default policy `times` times, threading its state; returns the picked serviceIds. */
function selectMany(services: readonly ServiceView[], request: SelectionRequest, times: number, state: SelectionState = initialSelectionState) {
  const picked: (string | undefined)[] = [];
  let current = state;
  for (let i = 0; i < times; i += 1) {
    const choice = defaultSelectionPolicy(services, request, current);
    picked.push(choice.service?.serviceId);
    current = choice.state;
  }
  return { picked, state: current };
}

const select = (services: readonly ServiceView[], request: SelectionRequest = resize) =>
  defaultSelectionPolicy(services, request, initialSelectionState).service?.serviceId;

// ---- unit -------------------------------------------------------------------------------------

describe('selection (default policy)', () => {
  it('DISC-11: considers only instances of the requested serviceName', () => {
    expect(select([service('a', { serviceName: 'Other' }), service('b')])).toBe('b');
  });

  it('DISC-11: considers only instances that offer the operation', () => {
    expect(select([service('a', { capabilities: [{ key: 'applyFilter', settings: [] }] }), service('b')])).toBe('b');
  });

  it('DISC-11: never picks a Draining or Offline instance', () => {
    expect(select([service('a', { status: 'Draining' }), service('b', { status: 'Offline' })])).toBeUndefined();
    expect(select([service('a', { status: 'Draining' }), service('b', { status: 'Busy', load: 1 })])).toBe('b');
  });

  it('DISC-11: skips excluded instances', () => {
    expect(select([service('a'), service('b', { load: 0.5 })], { ...resize, excludeServiceIds: ['a'] })).toBe('b');
  });

  it('DISC-11: prefers Online over Busy, even a more loaded Online', () => {
    expect(select([service('a', { status: 'Busy', load: 0 }), service('b', { load: 0.9 })])).toBe('b');
  });

  it('DISC-11: prefers alive over suspect at the same status, even a more loaded alive', () => {
    expect(select([service('a', { health: 'suspect', load: 0 }), service('b', { load: 0.9 })])).toBe('b');
  });

  it('DISC-11: status outranks health: an Online suspect beats a Busy alive', () => {
    expect(select([service('a', { status: 'Busy' }), service('b', { health: 'suspect' })])).toBe('b');
  });

  it('DISC-11: prefers lower load at the same status and health', () => {
    expect(select([service('a', { load: 0.5 }), service('b', { load: 0.25 }), service('c', { load: 0.75 })])).toBe('b');
  });

  it('DISC-11: goes round-robin among equals, in serviceId order whatever the input order', () => {
    const services = [service('c'), service('a'), service('b')];
    expect(selectMany(services, resize, 7).picked).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
    expect(selectMany([...services].reverse(), resize, 3).picked).toEqual(['a', 'b', 'c']);
  });

  it('DISC-11: round-robin covers only the instances equal to the best on all three keys', () => {
    const services = [service('a'), service('b'), service('c', { load: 0.1 }), service('d', { health: 'suspect' })];
    expect(selectMany(services, resize, 4).picked).toEqual(['a', 'b', 'a', 'b']);
  });

  it('DISC-11: keeps one round-robin cursor per serviceName/operation', () => {
    const services = [service('a'), service('b')];
    const filter: SelectionRequest = { serviceName: 'ImageProcessingService', operation: 'applyFilter' };
    let state = initialSelectionState;
    const picks: string[] = [];
    for (const request of [resize, resize, filter, resize, filter]) {
      const choice = defaultSelectionPolicy(services, request, state);
      picks.push(`${request.operation}:${choice.service?.serviceId}`);
      state = choice.state;
    }
    expect(picks).toEqual(['resizeImage:a', 'resizeImage:b', 'applyFilter:a', 'resizeImage:a', 'applyFilter:b']);
    expect(Object.keys(state.cursors).sort()).toEqual(['ImageProcessingService/applyFilter', 'ImageProcessingService/resizeImage']);
  });

  it('DISC-13: finds nothing when nothing qualifies, and leaves the state as it was', () => {
    const state: SelectionState = { cursors: { 'ImageProcessingService/resizeImage': 1 } };
    const choice = defaultSelectionPolicy([service('a', { status: 'Draining' })], resize, state);
    expect(choice.service).toBeUndefined();
    expect(choice.state).toBe(state);
    expect(defaultSelectionPolicy([], resize, initialSelectionState).service).toBeUndefined();
  });

  it('is pure: the input list and state are not modified', () => {
    const services = Object.freeze([service('b'), service('a')]);
    const state: SelectionState = Object.freeze({ cursors: Object.freeze({}) });
    const choice = defaultSelectionPolicy(services, resize, state);
    expect(choice.service?.serviceId).toBe('a');
    expect(services.map((s) => s.serviceId)).toEqual(['b', 'a']);
    expect(state.cursors).toEqual({});
  });

  it('SEC-6: bounds the cursors record: a new key beyond selectionCursorsMax starts it afresh', () => {
    const cursors: Record<string, number> = {};
    for (let i = 0; i < selectionCursorsMax; i += 1) cursors[`S${i}/op`] = 1;
    const full: SelectionState = { cursors };
    const known = defaultSelectionPolicy([service('a', { serviceName: 'S0', capabilities: [{ key: 'op', settings: [] }] })], { serviceName: 'S0', operation: 'op' }, full);
    expect(Object.keys(known.state.cursors)).toHaveLength(selectionCursorsMax);
    const fresh = defaultSelectionPolicy([service('a')], resize, full);
    expect(fresh.state.cursors).toEqual({ 'ImageProcessingService/resizeImage': 0 });
  });

  it('treats a nonsense cursor (negative, fractional) as 0', () => {
    for (const cursor of [-1, 0.5, Number.NaN]) {
      const state: SelectionState = { cursors: { 'ImageProcessingService/resizeImage': cursor } };
      expect(defaultSelectionPolicy([service('a'), service('b')], resize, state).service?.serviceId).toBe('a');
    }
  });

  it('handles names that are Object.prototype members as plain keys', () => {
    const services = [
      service('a', { serviceName: '__proto__', capabilities: [{ key: 'constructor', settings: [] }] }),
      service('b', { serviceName: '__proto__', capabilities: [{ key: 'constructor', settings: [] }] }),
    ];
    const { picked, state } = selectMany(services, { serviceName: '__proto__', operation: 'constructor' }, 3);
    expect(picked).toEqual(['a', 'b', 'a']);
    expect(Object.hasOwn(state.cursors, '__proto__/constructor')).toBe(true);
  });

  it('candidatesFor ranks the eligible instances best first, ties by serviceId', () => {
    const services = [
      service('e', { status: 'Busy' }),
      service('d', { health: 'suspect' }),
      service('c', { load: 0.5 }),
      service('b'),
      service('a'),
      service('x', { status: 'Draining' }),
    ];
    expect(candidatesFor(services, resize).map((s) => s.serviceId)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});

// ---- properties -------------------------------------------------------------------------------

describe('selection (properties)', () => {
  const names = ['S', 'T'] as const;
  const operations = ['op1', 'op2', 'op3'] as const;

  const serviceView = (serviceId: string): fc.Arbitrary<ServiceView> =>
    fc.record({
      serviceName: fc.constantFrom(...names),
      operations: fc.subarray([...operations]),
      status: fc.constantFrom('Online' as const, 'Busy' as const, 'Draining' as const, 'Offline' as const),
      health: fc.constantFrom('alive' as const, 'suspect' as const),
      load: fc.constantFrom(0, 0.25, 0.5, 1, 2),
    }).map(({ operations: keys, ...rest }) =>
      service(serviceId, { ...rest, capabilities: keys.map((key) => ({ key, settings: [] })) }),
    );

  const views: fc.Arbitrary<ServiceView[]> = fc
    .uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'), { maxLength: 7 })
    .chain((ids) => fc.tuple(...ids.map(serviceView)))
    .map((tuple) => [...tuple]);

  const requests: fc.Arbitrary<SelectionRequest> = fc.record({
    serviceName: fc.constantFrom(...names),
    operation: fc.constantFrom(...operations),
    excludeServiceIds: fc.subarray(['a', 'b', 'c', 'd', 'e', 'f', 'g']),
  });

  const isEligible = (s: ServiceView, request: SelectionRequest) =>
    s.serviceName === request.serviceName &&
    s.capabilities.some((c) => c.key === request.operation) &&
    (s.status === 'Online' || s.status === 'Busy') &&
    !(request.excludeServiceIds ?? []).includes(s.serviceId);

  it('DISC-11: the selected instance always satisfies the filters, and one is selected whenever one is eligible', () => {
    fc.assert(
      fc.property(views, requests, fc.nat({ max: 20 }), (services, request, rounds) => {
        const { picked } = selectMany(services, request, rounds + 1);
        const anyEligible = services.some((s) => isEligible(s, request));
        for (const serviceId of picked) {
          if (!anyEligible) {
            expect(serviceId).toBeUndefined();
            continue;
          }
          const chosen = services.find((s) => s.serviceId === serviceId);
          expect(chosen).toBeDefined();
          expect(isEligible(chosen!, request)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('DISC-11: never selects Busy while an eligible Online instance exists, nor suspect over an alive one of the same status, nor a higher load', () => {
    fc.assert(
      fc.property(views, requests, fc.nat({ max: 20 }), (services, request, rounds) => {
        const { picked } = selectMany(services, request, rounds + 1);
        const eligible = services.filter((s) => isEligible(s, request));
        for (const serviceId of picked) {
          const chosen = services.find((s) => s.serviceId === serviceId);
          if (chosen === undefined) continue;
          if (eligible.some((s) => s.status === 'Online')) expect(chosen.status).toBe('Online');
          const peers = eligible.filter((s) => s.status === chosen.status);
          if (peers.some((s) => s.health === 'alive')) expect(chosen.health).toBe('alive');
          const equals = peers.filter((s) => s.health === chosen.health);
          expect(chosen.load).toBe(Math.min(...equals.map((s) => s.load)));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('DISC-11: over k x n selections among n equal instances, each is picked exactly k times', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(),
        (ids, k, startCursor) => {
          const services = ids.map((id) => service(id));
          // Start from any cursor: fairness must not depend on where the rotation stands.
          const state: SelectionState = { cursors: { [`${resize.serviceName}/${resize.operation}`]: startCursor } };
          const { picked } = selectMany(services, resize, k * ids.length, state);
          const counts = new Map<string, number>();
          for (const id of picked) counts.set(id as string, (counts.get(id as string) ?? 0) + 1);
          expect(counts.size).toBe(ids.length);
          for (const id of ids) expect(counts.get(id)).toBe(k);
        },
      ),
      { numRuns: 300 },
    );
  });
});
