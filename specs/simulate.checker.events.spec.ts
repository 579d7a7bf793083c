/**
 * The checker's event and file invariants on hand-written histories: each passes a history that
 * keeps its rule and fails one that breaks it (a broken provider that loses an event without
 * counting it, a client that hands an event twice or out of order or one its filter excludes, a
 * store that keeps bytes under a hash they do not have), naming the rule's requirement id.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../runtime/simulate/checker.js';
import type { Observation } from '../runtime/simulate/history.js';
import { planRun } from '../runtime/simulate/plan.js';
import { parseScenario } from '../runtime/simulate/scenario.js';

const plan = planRun(
  parseScenario({
    duration: 10_000,
    liveness: 10_000,
    providers: [{ name: 'p', count: 2, services: [{ name: 'S', operations: { op: {} }, events: { tick: { every: 100_000 } } }], options: { heartbeatInterval: 1_000 } }],
    clients: [
      {
        name: 'c',
        options: { defaultHeartbeatInterval: 1_000 },
        subscriptions: [
          { service: 'S', event: 'tick', delivery: 'at-least-once' },
          { service: 'S', event: 'tick', kinds: ['red'] },
        ],
      },
      { name: 'd', options: { defaultHeartbeatInterval: 1_000 } },
    ],
  }),
  { seed: 1 },
);

const up: Observation[] = [
  { t: 0, type: 'up', participant: 'p-1', incarnation: 1, serviceIds: ['S-p-1#1'] },
  { t: 0, type: 'up', participant: 'p-2', incarnation: 1, serviceIds: ['S-p-2#1'] },
  { t: 0, type: 'up', participant: 'c', incarnation: 1, clientId: 'c' },
  { t: 0, type: 'up', participant: 'd', incarnation: 1, clientId: 'd' },
];
const created = (subscriptionId: string): Observation[] => [
  { t: 10, type: 'subscribing', participant: 'c', clientId: 'c', subscriptionId },
  { t: 12, type: 'psub', participant: 'p-1', incarnation: 1, clientId: 'c', subscriptionId, change: 'created', dropped: 0 },
  { t: 14, type: 'sub.opened', participant: 'c', clientId: 'c', subscriptionId, resumed: false },
];
const published = (n: number, kind = 'red', target: Extract<Observation, { type: 'published' }>['target'] = { all: true }): Observation => ({
  t: 100 * n,
  type: 'published',
  participant: 'p-1',
  incarnation: 1,
  id: `p-1.S.tick.${n}`,
  n,
  service: 'S',
  event: 'tick',
  kind,
  target,
  queued: 1,
});
const got = (n: number, seq: number, subscriptionId = 'c.s0', lost = 0): Observation => ({
  t: 100 * n + 5,
  type: 'event',
  participant: 'c',
  clientId: 'c',
  subscriptionId,
  seq,
  lost,
  id: `p-1.S.tick.${n}`,
});
const psub = (change: 'dropped' | 'ended', dropped: number, reason?: string): Observation => ({
  t: 5_000,
  type: 'psub',
  participant: 'p-1',
  incarnation: 1,
  clientId: 'c',
  subscriptionId: 'c.s0',
  change,
  dropped,
  ...(reason === undefined ? {} : { reason }),
});
const broken = (history: Observation[]) => {
  const verdict = check(plan, history);
  return Object.keys(verdict.counts);
};

describe('simulate checker: events', () => {
  it('passes a subscription that got every event once, in order', () => {
    expect(broken([...up, ...created('c.s0'), published(1), got(1, 1), published(2), got(2, 2), published(3), got(3, 3)])).toEqual([]);
  });

  it('EVT-10: an at-least-once event lost before the last one delivered, unless the overflow policy counted it dropped', () => {
    const gap = [...up, ...created('c.s0'), published(1), got(1, 1), published(2), published(3), got(3, 3, 'c.s0', 1)];
    expect(broken(gap)).toEqual(['event-not-lost']);
    expect(check(plan, gap).violations[0]?.message).toContain('p-1.S.tick.2');
    expect(broken([...gap.slice(0, -1), psub('dropped', 1), gap.at(-1) as Observation])).toEqual([]);
    // The broken provider of the whole-run spec: an event never queued leaves no gap in seq, and is still found.
    expect(broken([...up, ...created('c.s0'), published(1), got(1, 1), published(2), published(3), got(3, 2)])).toEqual(['event-not-lost']);
  });

  it('EVT-10: the last events never delivered, unless the subscription ended (linger expired, overflow close), or its provider or client went down', () => {
    const tail = [...up, ...created('c.s0'), published(1), got(1, 1), published(2), published(3)];
    expect(broken(tail)).toEqual(['event-not-lost']);
    expect(broken([...tail, psub('ended', 0, 'expired')])).toEqual([]);
    expect(broken([...tail, psub('ended', 0, 'overflow')])).toEqual([]);
    expect(broken([...tail, { t: 5_000, type: 'sub.ended', participant: 'c', clientId: 'c', subscriptionId: 'c.s0', how: 'failed:TIMEOUT' }])).toEqual([]);
    expect(broken([...tail, { t: 5_000, type: 'down', participant: 'p-1', incarnation: 1 }])).toEqual([]);
    // Published after the subscription ended: nothing was due.
    expect(broken([...up, ...created('c.s0'), published(1), got(1, 1), psub('ended', 0, 'expired'), published(9)])).toEqual([]);
  });

  it('EVT-10: an event handed to the application twice', () => {
    const again = [...up, ...created('c.s0'), published(1), got(1, 1), { t: 150, type: 'sub.opened', participant: 'c', clientId: 'c', subscriptionId: 'c.s0', resumed: false } as Observation, got(1, 1)];
    expect(broken(again)).toEqual(['event-once']);
    expect(broken([...up, ...created('c.s0'), published(1), got(1, 1), got(1, 1)])).toEqual(['event-once', 'event-order']);
  });

  it('EVT-6: events out of seq or publication order within one numbering', () => {
    const swapped = [...up, ...created('c.s0'), published(1), published(2), got(2, 1), got(1, 2)];
    expect(broken(swapped)).toEqual(['event-order']);
    // After a Subscribed that starts afresh (resumed false), seq starts again at 1.
    const afresh = [...up, ...created('c.s0'), published(1), got(1, 1), { t: 150, type: 'sub.opened', participant: 'c', clientId: 'c', subscriptionId: 'c.s0', resumed: false } as Observation, published(2), got(2, 1)];
    expect(broken(afresh)).toEqual([]);
  });

  it('EVT-7, EVT-6: an event its filter or its target excludes', () => {
    expect(broken([...up, ...created('c.s1'), published(1, 'red'), got(1, 1, 'c.s1')])).toEqual([]);
    expect(broken([...up, ...created('c.s1'), published(1, 'blue'), got(1, 1, 'c.s1')])).toEqual(['event-matches']);
    expect(broken([...up, ...created('c.s1'), published(1, 'red', { clientId: 'd' }), got(1, 1, 'c.s1')])).toEqual(['event-matches']);
    expect(broken([...up, ...created('c.s1'), published(1, 'red', { group: 'even' }), got(1, 1, 'c.s1')])).toEqual([]); // c is client 0: even
    expect(broken([...up, ...created('c.s1'), got(7, 1, 'c.s1')])).toEqual(['event-matches']); // nobody published it
  });
});

describe('simulate checker: files', () => {
  const sha = 'a'.repeat(64);
  const other = 'b'.repeat(64);
  it('FILE-2: a file stored, handed to an operation, or fetched by a client under a hash its bytes do not have', () => {
    const stored = (actual: string): Observation => ({ t: 50, type: 'file.stored', participant: 'p-1', incarnation: 1, clientId: 'c', sha256: sha, actual });
    const used = (actual: string): Observation => ({ t: 60, type: 'file.used', participant: 'p-1', incarnation: 1, clientId: 'c', taskId: 't1', sha256: sha, actual });
    expect(broken([...up, stored(sha), used(sha)])).toEqual([]);
    expect(broken([...up, stored(other)])).toEqual(['file-verified']);
    expect(broken([...up, used(other)])).toEqual(['file-verified']);
    expect(check(plan, [...up, stored(other)]).violations[0]).toMatchObject({ rule: 'FILE-2', participant: 'p-1' });
    const fetched = (actual: string): Observation => ({ t: 70, type: 'file.fetched', participant: 'c', clientId: 'c', taskId: 't1', provider: 'p-1', sha256: sha, status: 'done', actual });
    expect(broken([...up, fetched(sha)])).toEqual([]);
    expect(broken([...up, fetched(other)])).toEqual(['file-verified']);
    // A fetch that failed (the client's receiver refused it) kept nothing: no violation.
    expect(broken([...up, { t: 70, type: 'file.fetched', participant: 'c', clientId: 'c', taskId: 't1', provider: 'p-1', sha256: sha, status: 'failed', code: 'FILE_HASH_MISMATCH' }])).toEqual([]);
  });
});
