import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  acknowledgeEvents,
  emptyEventBuffer,
  enqueueEvent,
  highestSentSeq,
  resumeEvents,
  takeSendable,
  type EventBuffer,
  type EventBufferLimits,
} from '../machines/events/eventBuffer.js';
import { EventFilterSchema, matchesFilter } from '../machines/events/filter.js';

const limits: EventBufferLimits = { queueMax: 4, queueBytesMax: 1000, inFlightMax: 2 };

const publish = (buffer: EventBuffer, data: unknown, bytes = 10, policy: 'dropOldest' | 'close' = 'dropOldest', l = limits) =>
  enqueueEvent(buffer, data, bytes, l, policy);

describe('event filters (EVT-7)', () => {
  it('matches when every entry equals, or is one of the listed values, at its dotted path', () => {
    const data = { kind: 'resized', image: { width: 640, tags: ['a'] }, ok: true, none: null };
    expect(matchesFilter(undefined, data)).toBe(true);
    expect(matchesFilter({}, data)).toBe(true);
    expect(matchesFilter({ kind: 'resized' }, data)).toBe(true);
    expect(matchesFilter({ kind: ['cropped', 'resized'], 'image.width': 640 }, data)).toBe(true);
    expect(matchesFilter({ ok: true, none: null }, data)).toBe(true);
    expect(matchesFilter({ kind: 'cropped' }, data)).toBe(false);
    expect(matchesFilter({ 'image.height': null }, data)).toBe(false);
    expect(matchesFilter({ 'image.tags': 'a' }, data)).toBe(false);
    expect(matchesFilter({ kind: 'x' }, 'not an object')).toBe(false);
  });

  it('SEC-9: reads own members only (__proto__, constructor are ordinary names)', () => {
    expect(matchesFilter({ 'constructor.name': 'Object' }, {})).toBe(false);
    expect(matchesFilter({ __proto__: null } as never, {})).toBe(true);
    const data = JSON.parse('{"__proto__": {"polluted": 1}}');
    expect(matchesFilter({ '__proto__.polluted': 1 }, data)).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('EVT-14: bounds a filter (entries, values, path depth); generated garbage never throws', () => {
    expect(EventFilterSchema.safeParse({ a: 1, 'b.c': ['x', null] }).success).toBe(true);
    expect(EventFilterSchema.safeParse(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i]))).success).toBe(false);
    expect(EventFilterSchema.safeParse({ a: Array.from({ length: 65 }, (_, i) => i) }).success).toBe(false);
    expect(EventFilterSchema.safeParse({ 'a.b.c.d.e': 1 }).success).toBe(false);
    expect(EventFilterSchema.safeParse({ a: { nested: 1 } }).success).toBe(false);
    fc.assert(
      fc.property(fc.anything(), fc.jsonValue(), (filter, data) => {
        const parsed = EventFilterSchema.safeParse(filter);
        if (parsed.success) expect(typeof matchesFilter(parsed.data, data)).toBe('boolean');
      }),
    );
  });
});

describe('event buffer (EVT-8, EVT-9, EVT-11)', () => {
  it('EVT-6: numbers events 1, 2, 3 in the order they are queued', () => {
    let buffer = emptyEventBuffer;
    for (const data of ['a', 'b', 'c']) buffer = publish(buffer, data).buffer;
    expect(buffer.queued.map((item) => [item.seq, item.data])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
    expect(buffer.bytes).toBe(30);
  });

  it('EVT-8: at-least-once keeps at most inFlightMax unconfirmed; a cumulative ack frees the window', () => {
    let buffer = emptyEventBuffer;
    for (const data of ['a', 'b', 'c']) buffer = publish(buffer, data).buffer;
    const first = takeSendable(buffer, 'atLeastOnce', limits);
    expect(first.send.map((item) => item.seq)).toEqual([1, 2]);
    expect(takeSendable(first.buffer, 'atLeastOnce', limits).send).toEqual([]);
    const acked = acknowledgeEvents(first.buffer, 2);
    expect(acked.valid).toBe(true);
    expect(acked.buffer.unconfirmed).toEqual([]);
    expect(acked.buffer.bytes).toBe(10);
    expect(takeSendable(acked.buffer, 'atLeastOnce', limits).send.map((item) => item.seq)).toEqual([3]);
  });

  it('EVT-9: an ack of a seq never sent is invalid and changes nothing; an old ack is harmless', () => {
    let buffer = publish(publish(emptyEventBuffer, 'a').buffer, 'b').buffer;
    buffer = takeSendable(buffer, 'atLeastOnce', { ...limits, inFlightMax: 1 }).buffer;
    expect(highestSentSeq(buffer)).toBe(1);
    expect(acknowledgeEvents(buffer, 2)).toEqual({ buffer, valid: false });
    expect(acknowledgeEvents(buffer, -1).valid).toBe(false);
    expect(acknowledgeEvents(buffer, 1.5).valid).toBe(false);
    const once = acknowledgeEvents(buffer, 1).buffer;
    expect(acknowledgeEvents(once, 1)).toEqual({ buffer: once, valid: true });
  });

  it('at-most-once hands every queued event over and keeps nothing', () => {
    let buffer = emptyEventBuffer;
    for (const data of ['a', 'b', 'c']) buffer = publish(buffer, data).buffer;
    const { buffer: after, send } = takeSendable(buffer, 'atMostOnce', limits);
    expect(send.map((item) => item.seq)).toEqual([1, 2, 3]);
    expect(after).toMatchObject({ queued: [], unconfirmed: [], bytes: 0, nextSeq: 4 });
  });

  it('EVT-11: dropOldest drops the oldest queued events and counts them; close reports overflow and keeps the buffer', () => {
    let buffer = emptyEventBuffer;
    for (let i = 1; i <= 6; i++) buffer = publish(buffer, i).buffer;
    expect(buffer.queued.map((item) => item.seq)).toEqual([3, 4, 5, 6]);
    expect(buffer.dropped).toBe(2);
    const closing = publish(buffer, 7, 10, 'close');
    expect(closing).toEqual({ buffer, overflow: true });
    // The byte bound applies to unconfirmed and queued together.
    const big = publish(emptyEventBuffer, 'x', 600).buffer;
    const sent = takeSendable(big, 'atLeastOnce', limits).buffer;
    const after = publish(sent, 'y', 600).buffer;
    expect(after.queued).toEqual([]);
    expect(after.dropped).toBe(1);
    expect(after.nextSeq).toBe(3);
  });

  it('EVT-10: resuming confirms up to resumeAfter and sends the unconfirmed rest again first, in order', () => {
    let buffer = emptyEventBuffer;
    for (const data of ['a', 'b', 'c']) buffer = publish(buffer, data).buffer;
    buffer = takeSendable(buffer, 'atLeastOnce', limits).buffer; // 1, 2 in flight
    const resumed = resumeEvents(buffer, 1);
    expect(resumed.confirmedSeq).toBe(1);
    expect(resumed.queued.map((item) => item.seq)).toEqual([2, 3]);
    expect(resumed.bytes).toBe(20);
    // A resumeAfter beyond what was sent cannot confirm events never sent.
    expect(resumeEvents(buffer, 99).queued.map((item) => item.seq)).toEqual([3]);
  });

  /**
   * The at-least-once promise, end to end over the buffer: a subscriber that processes what it
   * receives, acknowledges some of it and comes back after losing its connection (losing what was
   * in flight) receives every seq exactly once in increasing order, except those the overflow
   * policy dropped, and it sees each of those as a gap (never more gaps than drops).
   */
  it('EVT-8..EVT-11: every event reaches a resuming subscriber once, in order, or is counted as dropped', () => {
    type Step = { kind: 'publish' } | { kind: 'receive'; count: number } | { kind: 'ack' } | { kind: 'reconnect' };
    const step = fc.oneof(
      { weight: 4, arbitrary: fc.constant<Step>({ kind: 'publish' }) },
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 5 }).map<Step>((count) => ({ kind: 'receive', count })) },
      { weight: 2, arbitrary: fc.constant<Step>({ kind: 'ack' }) },
      { weight: 1, arbitrary: fc.constant<Step>({ kind: 'reconnect' }) },
    );
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 200 }),
        fc.record({ queueMax: fc.integer({ min: 1, max: 8 }), queueBytesMax: fc.integer({ min: 10, max: 200 }), inFlightMax: fc.integer({ min: 1, max: 6 }) }),
        (steps, l) => {
          let buffer = emptyEventBuffer;
          let wire: number[] = []; // sent, not yet received
          const received: number[] = [];
          let lastSeq = 0;
          let gaps = 0;
          const pump = () => {
            const taken = takeSendable(buffer, 'atLeastOnce', l);
            buffer = taken.buffer;
            wire.push(...taken.send.map((item) => item.seq));
          };
          for (const s of steps) {
            if (s.kind === 'publish') {
              buffer = enqueueEvent(buffer, buffer.nextSeq, 10, l, 'dropOldest').buffer;
              pump();
            } else if (s.kind === 'receive') {
              for (const seq of wire.splice(0, s.count)) {
                if (seq <= lastSeq) continue; // a replay: dropped by the client
                gaps += seq - lastSeq - 1;
                received.push(seq);
                lastSeq = seq;
              }
            } else if (s.kind === 'ack') {
              buffer = acknowledgeEvents(buffer, lastSeq).buffer;
              pump();
            } else {
              wire = [];
              buffer = resumeEvents(buffer, lastSeq);
              pump();
            }
            // Invariants after every step.
            expect(buffer.unconfirmed.length).toBeLessThanOrEqual(l.inFlightMax);
            expect(buffer.queued.length).toBeLessThanOrEqual(l.queueMax);
            expect(buffer.bytes).toBe([...buffer.unconfirmed, ...buffer.queued].reduce((sum, item) => sum + item.bytes, 0));
            const seqs = [...buffer.unconfirmed, ...buffer.queued].map((item) => item.seq);
            expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
          }
          // Drain: deliver everything still held.
          for (let round = 0; round < 1000 && (buffer.unconfirmed.length > 0 || buffer.queued.length > 0 || wire.length > 0); round++) {
            for (const seq of wire.splice(0)) {
              if (seq <= lastSeq) continue;
              gaps += seq - lastSeq - 1;
              received.push(seq);
              lastSeq = seq;
            }
            buffer = acknowledgeEvents(buffer, lastSeq).buffer;
            pump();
          }
          gaps += buffer.nextSeq - 1 - lastSeq;
          expect(received).toEqual([...new Set(received)].sort((a, b) => a - b));
          expect(received.length + gaps).toBe(buffer.nextSeq - 1);
          expect(gaps).toBeLessThanOrEqual(buffer.dropped);
        },
      ),
    );
  });
});
