/**
 * The liberal decoders against generated dialect variants (issue: interoperate with peers built
 * from the seed alone). Metamorphic properties: every rendering a field peer might write of a
 * message decodes to what switchboard's own rendering of the same message decodes to.
 *
 * - Status answers: a task state written as a flat `Status` or an un-enveloped reply, with any of
 *   the words seen in the field for it, in any case and spacing, at the top or in a payload, under
 *   `taskStatus` or `status`, with or without progress, messageId, timestamp and unknown members,
 *   reads as that state (machines/dialect.ts), and what the `flat-status` profile writes reads back
 *   as what it said.
 * - Advertisements: capabilities as the seed's list or keyed by operation (settings as one-key
 *   objects or `{name, type}`), the endpoint without scheme or with an upper-case one, statuses in
 *   any case, timestamps without zone or with an offset, unknown members: the same decoded message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDatagramValue, decodeFrame, toWireDatagram } from '../machines/codec.js';
import { meaningOf } from '../machines/clientTaskMessages.js';
import { toFlatStatus } from '../machines/dialect.js';
import type { ServiceAdvertisement, TaskStatus } from '../machines/messages.js';
import { formatTimestamp } from '../machines/timestamp.js';
import { serviceAdvertisement, setting, taskStatusUpdate, text } from './support/arbitraries.js';

type State = TaskStatus | 'Unknown';
type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** Words field peers write for each state (docs/protocol.md, "Dialects seen in the field"). */
const WORDS: Record<State, readonly string[]> = {
  Queued: ['Queued', 'pending', 'waiting'],
  Processing: ['Processing', 'running', 'in_progress', 'In Progress', 'started', 'accepted', 'NotReady', 'not-ready', 'busy'],
  Completed: ['Completed', 'Done', 'complete', 'finished', 'success', 'succeeded', 'ready'],
  Failed: ['Failed', 'failure', 'error'],
  Cancelled: ['Cancelled', 'canceled'],
  Unknown: ['Unknown', 'not_found', 'NotFound'],
};

const casing = (word: string): fc.Arbitrary<string> =>
  fc.constantFrom(word, word.toLowerCase(), word.toUpperCase(), word.charAt(0).toUpperCase() + word.slice(1).toLowerCase());

const taskId = text(1, 64).filter((value) => value.trim() === value && value !== '__proto__');

/** Members a peer adds that nobody asked for (never the ones the dialect reader looks at). */
const noise = fc.dictionary(
  fc.constantFrom('extra', 'version', 'server', 'meta', 'note', 'x-trace'),
  fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean()),
  { maxKeys: 3 },
);

const statusReply = fc
  .record({
    state: fc.constantFrom<State>('Queued', 'Processing', 'Completed', 'Failed', 'Cancelled', 'Unknown'),
    taskId,
    wordIndex: fc.nat(),
    where: fc.constantFrom('top', 'payload'),
    key: fc.constantFrom('taskStatus', 'status'),
    typed: fc.boolean(),
    progress: fc.option(fc.oneof(fc.integer({ min: -50, max: 150 }), fc.double({ min: 0, max: 100, noNaN: true })), { nil: undefined }),
    progressKey: fc.constantFrom('progress', 'progressPercentage'),
    messageId: fc.option(text(1, 32), { nil: undefined }),
    timestamp: fc.option(fc.constantFrom('2025-07-02T11:50:00', '2025-07-02T11:50:00Z', '2025-07-02 11:50:00.123+02:00', 1_751_456_700_000), { nil: undefined }),
    extra: noise,
  })
  .chain((reply) => casing(WORDS[reply.state][reply.wordIndex % WORDS[reply.state].length]!).map((word) => ({ ...reply, word })));

function render(reply: ValueOf<typeof statusReply>): Record<string, unknown> {
  const body: Record<string, unknown> = { ...reply.extra, taskId: reply.taskId, [reply.key]: reply.word };
  if (reply.progress !== undefined) body[reply.progressKey] = reply.progress;
  // An un-enveloped reply has no `type`; a flat Status says so.
  const head: Record<string, unknown> = reply.typed || reply.where === 'payload' ? { type: 'Status' } : {};
  if (reply.messageId !== undefined) head.messageId = reply.messageId;
  if (reply.timestamp !== undefined) head.timestamp = reply.timestamp;
  return reply.where === 'top' ? { ...head, ...body } : { ...head, payload: body };
}

describe('dialects: status answers (WIRE-11)', () => {
  it('any rendering of a task state decodes to that state; Unknown to TASK_NOT_FOUND; progress kept within 0..100', () => {
    fc.assert(
      fc.property(statusReply, (reply) => {
        const decoded = decodeFrame(JSON.stringify(render(reply)));
        expect(decoded.ok, JSON.stringify(decoded)).toBe(true);
        if (!decoded.ok) return;
        const message = decoded.message;
        if (reply.state === 'Unknown') {
          expect(message).toMatchObject({ type: 'Error', payload: { code: 'TASK_NOT_FOUND', taskId: reply.taskId } });
          return;
        }
        expect(message.type).toBe('TaskStatusUpdate');
        if (message.type !== 'TaskStatusUpdate') return;
        expect(message.payload.taskId).toBe(reply.taskId);
        expect(message.payload.status).toBe(reply.state);
        expect(message.payload.progressPercentage).toBeGreaterThanOrEqual(0);
        expect(message.payload.progressPercentage).toBeLessThanOrEqual(100);
        // And what a client task makes of it: progress, finished when the state is final.
        const meaning = meaningOf(message, { taskId: reply.taskId, messageId: 'assign-1' });
        expect(meaning).toMatchObject({ kind: 'progress', queued: reply.state === 'Queued', finished: ['Completed', 'Failed', 'Cancelled'].includes(reply.state) });
      }),
    );
  });

  it("what the flat-status profile writes, the reader reads back as the TaskStatusUpdate it stood for", () => {
    fc.assert(
      fc.property(taskStatusUpdate, (update) => {
        const flat = toFlatStatus(update);
        expect(flat).toBeDefined();
        const decoded = decodeFrame(JSON.stringify(flat));
        expect(decoded.ok && decoded.message).toMatchObject({
          type: 'TaskStatusUpdate',
          payload: { taskId: update.payload.taskId, status: update.payload.status, progressPercentage: update.payload.progressPercentage },
        });
      }),
    );
  });
});

// ---- advertisements -------------------------------------------------------------------------------

/** An advertisement whose operations have distinct keys (a keyed form cannot carry duplicates). */
const advertisement = serviceAdvertisement
  .filter((ad) => new Set(ad.capabilities.map((capability) => capability.key)).size === ad.capabilities.length)
  .filter((ad) => ad.capabilities.every((capability) => capability.key !== '__proto__'));

const variant = fc.record({
  keyed: fc.boolean(),
  keyedValue: fc.constantFrom('object', 'array'),
  namedSettings: fc.boolean(),
  endpointForm: fc.constantFrom('as-is', 'no-scheme', 'upper-scheme', 'padded'),
  statusCase: fc.constantFrom('as-is', 'lower', 'upper'),
  timestampForm: fc.constantFrom('canonical', 'naive', 'offset', 'number'),
  extra: noise,
});

function renderAdvertisement(ad: ServiceAdvertisement, how: ValueOf<typeof variant>): Record<string, unknown> {
  const wire = toWireDatagram(ad) as Record<string, any>;
  const settingsOf = (settings: Record<string, string>[]) =>
    how.namedSettings ? settings.map((one) => Object.entries(one).map(([type, name]) => ({ name, type }))[0]) : settings;
  const list = (wire.capabilities as { key: string; settings: Record<string, string>[]; schema?: unknown }[]).map((capability) => ({
    ...capability,
    settings: settingsOf(capability.settings),
  }));
  let capabilities: unknown = list;
  if (how.keyed) {
    const keyed: Record<string, unknown> = {};
    for (const { key, settings, schema } of list) {
      const value = how.keyedValue === 'array' && schema === undefined ? settings : { status: 'available', settings, ...(schema === undefined ? {} : { schema }) };
      Object.defineProperty(keyed, key, { value, enumerable: true, writable: true, configurable: true });
    }
    capabilities = keyed;
  }
  const endpoint = wire.endpoint as string;
  const endpointVariant = {
    'as-is': endpoint,
    'no-scheme': endpoint.startsWith('ws://') ? endpoint.slice('ws://'.length) : endpoint,
    'upper-scheme': endpoint.replace(/^wss?/, (scheme) => scheme.toUpperCase()),
    padded: ` ${endpoint} `,
  }[how.endpointForm];
  const status = { 'as-is': wire.status as string, lower: (wire.status as string).toLowerCase(), upper: (wire.status as string).toUpperCase() }[how.statusCase];
  const canonical = formatTimestamp(ad.timestamp);
  const timestamp = {
    canonical,
    naive: canonical.replace(/Z$/, ''),
    offset: canonical.replace(/Z$/, '+00:00'),
    number: ad.timestamp,
  }[how.timestampForm];
  return JSON.parse(JSON.stringify({ ...how.extra, ...wire, capabilities, endpoint: endpointVariant, status, timestamp }));
}

describe('dialects: advertisements (WIRE-4)', () => {
  it("every field rendering decodes to what switchboard's own rendering decodes to", () => {
    fc.assert(
      fc.property(advertisement, variant, (ad, how) => {
        const own = decodeDatagramValue(JSON.parse(JSON.stringify(toWireDatagram(ad))));
        const field = decodeDatagramValue(renderAdvertisement(ad, how));
        expect(own.ok).toBe(true);
        expect(field.ok, JSON.stringify(field)).toBe(true);
        if (own.ok && field.ok) expect(field.message).toEqual(own.message);
      }),
    );
  });

  it('a setting written as {name, type} or {type: name} is the same setting', () => {
    fc.assert(
      fc.property(setting, (one) => {
        const base = { discoveryType: 'ServiceAdvertisement', serviceId: 's', serviceName: 'S', serviceVersion: '1', endpoint: 'ws://h:1', status: 'Online', load: 0, timestamp: '2025-07-02T11:45:00Z' };
        const a = decodeDatagramValue({ ...base, capabilities: [{ key: 'op', settings: [{ [one.type]: one.name }] }] });
        const b = decodeDatagramValue({ ...base, capabilities: { op: { settings: [{ name: one.name, type: one.type }] } } });
        expect(a.ok && b.ok).toBe(true);
        if (a.ok && b.ok) expect(b.message).toEqual(a.message);
      }),
    );
  });
});
