/**
 * The hand-written decoders of the hot task messages (machines/wire/taskDecoders.ts) agree with
 * the zod schemas: on valid messages (in their wire form, with liberal variations the schemas
 * allow) and on broken ones (a field replaced by anything, removed, or added; wrong types; case
 * variations; ISO and numeric timestamps in and out of range), the fast decoder accepts exactly
 * when zod accepts, and then returns the same value with the same key order. A rejection falls
 * back to zod in the codec, so a disagreement would only ever be a wasted check; agreement is
 * asserted anyway, as the brief for the fast path requires. The tier's seed (PROPERTY_SEED overrides).
 */
import fc from 'fast-check';
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeDraft, encodeFrame, stampFrame, toWire } from '../machines/codec.js';
import { messageSchemas, type WireMessage } from '../machines/messages.js';
import { decodeTaskMessage } from '../machines/wire/taskDecoders.js';
import { frameArbitraries, jsonValue, text } from './support/arbitraries.js';

const hotTypes = ['AssignTask', 'CancelTask', 'GetStatus', 'GetResult', 'Ack', 'TaskStatusUpdate', 'TaskResult', 'TaskFailed'] as const;
type Json = Record<string, unknown>;

const parameters = { numRuns: 400 };

/** A valid message of a hot type, in its wire form (what JSON.parse gives the codec). */
const wireMessage = fc.constantFrom(...hotTypes).chain((type) =>
  (frameArbitraries[type] as fc.Arbitrary<WireMessage>).map((message) => JSON.parse(JSON.stringify(toWire(message))) as Json),
);

const oddValue = fc.oneof(
  jsonValue,
  text(0, 300),
  fc.constantFrom('', 'queued', 'PROCESSING', 'completed', 'cancelled', 'FAILED', 'Done', '2026-07-10T12:00:00Z', '2026-07-10', '10000-01-01T00:00:00Z'),
  fc.constantFrom(0, -1, 0.5, 100, 100.5, 604_800_000, 604_800_001, 2 ** 53, -(2 ** 53), 253_402_300_799_999, 253_402_300_800_000, -62_167_219_200_001),
  fc.constant({ __proto__: null, a: 1 }),
);

/** Every field name of the hot schemas' envelopes and payloads (read from the schemas, so a new one is covered). */
const schemaFields = [
  ...new Set(
    hotTypes.flatMap((type) => {
      const envelope = messageSchemas[type] as unknown as { shape: Record<string, unknown> & { payload: { shape: Record<string, unknown> } } };
      return [...Object.keys(envelope.shape), ...Object.keys(envelope.shape.payload.shape)];
    }),
  ),
];

/** A valid message with optional schema fields it lacks filled in with values the schema accepts or not. */
const withOptionalFields = fc
  .tuple(wireMessage, fc.subarray(schemaFields), fc.constantFrom('k', 'a-valid-id', '', 'x'.repeat(300)))
  .map(([message, fields, value]) => {
    const payload = message.payload as Json;
    for (const field of fields) if (!(field in payload) && !(field in message)) payload[field] = value;
    return message;
  });

/** Mutations at the envelope or the payload: replace, delete, or add a field. */
const mutated = fc
  .tuple(
    wireMessage,
    fc.constantFrom('envelope', 'payload'),
    fc.constantFrom(...schemaFields, 'extra', '__proto__'),
    fc.constantFrom('replace', 'delete'),
    oddValue,
  )
  .map(([message, where, key, how, value]) => {
    const target: Json = where === 'envelope' ? message : (message.payload as Json);
    if (typeof target !== 'object' || target === null) return message;
    if (how === 'delete') delete target[key];
    else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
    return message;
  });

/** Round-trips through JSON text so the value is exactly what JSON.parse would hand the codec. */
const asParsed = (value: Json): Json => JSON.parse(JSON.stringify(value)) as Json;

function agree(value: Json): void {
  const type = value.type as keyof typeof messageSchemas;
  const schema = messageSchemas[type] as z.ZodType<unknown> | undefined;
  const fast = decodeTaskMessage(value);
  if (schema === undefined) {
    expect(fast).toBeUndefined();
    return;
  }
  const slow = z.safeDecode(schema, value as never);
  expect(fast !== undefined, `accept/reject of ${JSON.stringify(value).slice(0, 300)}`).toBe(slow.success);
  if (slow.success) expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.data));
}

describe('codec: the fast task-message decoders agree with zod', () => {
  it('valid messages of every hot type: accepted, with the same value and key order', () => {
    fc.assert(fc.property(wireMessage, (message) => agree(asParsed(message))), parameters);
  });

  it('optional fields of the schemas (every one, read from the schemas): kept exactly when zod keeps them', () => {
    fc.assert(fc.property(withOptionalFields, (message) => agree(asParsed(message))), { ...parameters, numRuns: 1_000 });
  });

  it('broken messages: rejected exactly when zod rejects them', () => {
    fc.assert(fc.property(mutated, (message) => agree(asParsed(message))), { ...parameters, numRuns: 2_000 });
  });

  it('taskParameters: copied without __proto__, defaulting to {} like the schema', () => {
    const text = '{"type":"AssignTask","messageId":"m","timestamp":"2026-07-10T12:00:00.5+02:00","payload":{"taskId":"t","serviceName":"S","operation":"o","callbackClientId":"c","taskParameters":{"b":1,"__proto__":{"x":1},"1":2}}}';
    const decoded = decodeFrame(text);
    expect(decoded.ok && decoded.message).toEqual({
      type: 'AssignTask',
      messageId: 'm',
      timestamp: Date.parse('2026-07-10T10:00:00.500Z'),
      payload: { taskId: 't', serviceName: 'S', operation: 'o', taskParameters: { 1: 2, b: 1 }, callbackClientId: 'c' },
    });
    agree(JSON.parse(text) as Json);
    agree(JSON.parse(text.replace(',"taskParameters":{"b":1,"__proto__":{"x":1},"1":2}', '')) as Json);
  });

  it('a rejection still carries zod\'s wording (WIRE-7)', () => {
    const decoded = decodeFrame('{"type":"Ack","messageId":"m","timestamp":1,"payload":{"acknowledgmentId":""}}');
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.error.message).toMatch(/payload\.acknowledgmentId/);
  });
});

describe('codec: frames built without spread', () => {
  it('encodeDraft writes exactly what encodeFrame(stampFrame(...)) writes', () => {
    fc.assert(
      fc.property(fc.constantFrom(...hotTypes).chain((type) => frameArbitraries[type] as fc.Arbitrary<WireMessage>), fc.boolean(), (message, keepId) => {
        const { messageId, timestamp, ...draft } = message;
        const source = { nowMs: () => timestamp, newId: () => messageId };
        const withId = keepId ? { ...draft, messageId } : draft;
        expect(encodeDraft(withId as never, source)).toBe(encodeFrame(stampFrame(withId as never, source)));
        expect(JSON.parse(encodeDraft(withId as never, source))).toEqual(toWire(message));
      }),
      parameters,
    );
  });
});
