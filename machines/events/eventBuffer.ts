/**
 * One subscription's events at the provider (EVT-8, EVT-9, EVT-11), as pure functions over an
 * immutable value: the events sent and not yet confirmed, the events waiting to be sent, and the
 * sequence numbers.
 *
 * - Every event queued for a subscription gets the next `seq` (1, 2, 3, ...), so a subscriber
 *   sees a lost event as a gap in the numbers and needs no separate counter on the wire.
 * - At-least-once: an event stays in `unconfirmed` until the subscriber acknowledges its seq (or a
 *   later one: acknowledgments are cumulative); at most `inFlightMax` events are unconfirmed, the
 *   rest wait in `queued`. At-most-once: an event leaves the buffer when it is handed to the
 *   socket, so `unconfirmed` stays empty.
 * - Bounds: `queued` holds at most `queueMax` events, and both lists together at most
 *   `queueBytesMax` bytes of event data. Beyond that the overflow policy applies: `dropOldest`
 *   drops the oldest queued event and counts it, `close` ends the subscription.
 * - A subscriber that comes back (`resume`) names the last seq it processed; everything up to it
 *   is confirmed, and every unconfirmed event after it is sent again, in order, before the queue.
 */

export type Delivery = 'atMostOnce' | 'atLeastOnce';
export type OverflowPolicy = 'dropOldest' | 'close';

export interface EventItem {
  readonly seq: number;
  readonly data: unknown;
  /** UTF-8 bytes of the data's JSON, computed once by the publisher (EVT-14). */
  readonly bytes: number;
}

export interface EventBufferLimits {
  /** Events waiting to be sent. @default 1024 */
  readonly queueMax: number;
  /** Bytes of event data held, waiting and unconfirmed together. @default 1_048_576 */
  readonly queueBytesMax: number;
  /** At-least-once: events sent and not yet acknowledged. @default 64 */
  readonly inFlightMax: number;
}

export const defaultEventBufferLimits: EventBufferLimits = { queueMax: 1024, queueBytesMax: 1_048_576, inFlightMax: 64 };

export interface EventBuffer {
  readonly unconfirmed: readonly EventItem[];
  readonly queued: readonly EventItem[];
  /** Bytes of data in both lists. */
  readonly bytes: number;
  /** The seq the next queued event gets. */
  readonly nextSeq: number;
  /** The highest seq acknowledged (at-least-once), or resumed after. */
  readonly confirmedSeq: number;
  /** Events dropped by the overflow policy so far. */
  readonly dropped: number;
}

export const emptyEventBuffer: EventBuffer = { unconfirmed: [], queued: [], bytes: 0, nextSeq: 1, confirmedSeq: 0, dropped: 0 };

const sumBytes = (items: readonly EventItem[]) => items.reduce((sum, item) => sum + item.bytes, 0);

/**
 * Queues one event with the next seq. With `dropOldest`, drops the oldest queued events until
 * the bounds hold again (the new event itself, when it alone is beyond them); with `close`,
 * leaves the buffer as it was and reports `overflow`.
 */
export function enqueueEvent(
  buffer: EventBuffer,
  data: unknown,
  bytes: number,
  limits: EventBufferLimits,
  policy: OverflowPolicy,
): { readonly buffer: EventBuffer; readonly overflow: boolean } {
  const item: EventItem = { seq: buffer.nextSeq, data, bytes };
  let queued = [...buffer.queued, item];
  let total = buffer.bytes + bytes;
  const over = () => queued.length > limits.queueMax || total > limits.queueBytesMax;
  if (!over()) return { buffer: { ...buffer, queued, bytes: total, nextSeq: item.seq + 1 }, overflow: false };
  if (policy === 'close') return { buffer, overflow: true };
  let dropped = 0;
  while (queued.length > 0 && over()) {
    total -= (queued[0] as EventItem).bytes;
    queued = queued.slice(1);
    dropped++;
  }
  return { buffer: { ...buffer, queued, bytes: total, nextSeq: item.seq + 1, dropped: buffer.dropped + dropped }, overflow: false };
}

/**
 * The events to hand to the socket now, in seq order: at-least-once, as many queued events as the
 * in-flight window leaves room for (they become unconfirmed); at-most-once, every queued event
 * (they leave the buffer).
 */
export function takeSendable(
  buffer: EventBuffer,
  delivery: Delivery,
  limits: EventBufferLimits,
): { readonly buffer: EventBuffer; readonly send: readonly EventItem[] } {
  if (buffer.queued.length === 0) return { buffer, send: [] };
  if (delivery === 'atMostOnce') {
    return { buffer: { ...buffer, queued: [], bytes: buffer.bytes - sumBytes(buffer.queued) }, send: buffer.queued };
  }
  const room = limits.inFlightMax - buffer.unconfirmed.length;
  if (room <= 0) return { buffer, send: [] };
  const send = buffer.queued.slice(0, room);
  return { buffer: { ...buffer, queued: buffer.queued.slice(send.length), unconfirmed: [...buffer.unconfirmed, ...send] }, send };
}

/** The highest seq handed to the socket so far. */
export function highestSentSeq(buffer: EventBuffer): number {
  const first = buffer.queued[0];
  return (first === undefined ? buffer.nextSeq : first.seq) - 1;
}

/**
 * EVT-9: a cumulative acknowledgment: every unconfirmed event up to `seq` is done. An
 * acknowledgment of nothing new, or of a seq never sent, changes nothing (`valid` false for the
 * latter, so the provider can count it).
 */
export function acknowledgeEvents(buffer: EventBuffer, seq: number): { readonly buffer: EventBuffer; readonly valid: boolean } {
  if (!Number.isInteger(seq) || seq < 0 || seq > highestSentSeq(buffer)) return { buffer, valid: false };
  if (seq <= buffer.confirmedSeq) return { buffer, valid: true };
  const kept = buffer.unconfirmed.filter((item) => item.seq > seq);
  const released = buffer.unconfirmed.length - kept.length;
  if (released === 0) return { buffer: { ...buffer, confirmedSeq: seq }, valid: true };
  const freed = sumBytes(buffer.unconfirmed) - sumBytes(kept);
  return { buffer: { ...buffer, unconfirmed: kept, bytes: buffer.bytes - freed, confirmedSeq: seq }, valid: true };
}

/**
 * EVT-10: a subscriber resumes after `resumeAfter` (the last seq it processed, or undefined).
 * Events up to it are confirmed; the unconfirmed rest goes back to the front of the queue, to be
 * sent again in order. (The queue may then exceed `queueMax` by at most `inFlightMax` events
 * until the next `takeSendable`, which moves them back into flight.)
 */
export function resumeEvents(buffer: EventBuffer, resumeAfter: number | undefined): EventBuffer {
  const after = resumeAfter === undefined ? buffer.confirmedSeq : Math.min(Math.max(resumeAfter, buffer.confirmedSeq), highestSentSeq(buffer));
  const again = buffer.unconfirmed.filter((item) => item.seq > after);
  const queued = [...again, ...buffer.queued.filter((item) => item.seq > after)];
  return { ...buffer, unconfirmed: [], queued, bytes: sumBytes(queued), confirmedSeq: after };
}
