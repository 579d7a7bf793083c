/**
 * Properties of the boundary codec (WIRE-9: never throws; WIRE-3/4: strict out, liberal in, and
 * the two agree) and of the timestamp arithmetic. fc.assert reports the seed, the path and the
 * shrunk counterexample on failure; replay with `{ seed, path }` in the failing assertion's options.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorCodes } from '../machines/errors.js';
import {
  decodeDatagram,
  decodeFrame,
  encodeDatagram,
  encodeFrame,
  toWire,
  toWireDatagram,
  type DecodeResult,
} from '../machines/codec.js';
import { formatTimestamp, parseTimestamp } from '../machines/timestamp.js';
import {
  TIMESTAMP_MAX_MS,
  TIMESTAMP_MIN_MS,
  anyDatagram,
  anyFrame,
  datagramArbitraries,
  frameArbitraries,
  jsonValue,
} from './support/arbitraries.js';

const runs = { numRuns: 1000 };

/** The decoder's whole contract for arbitrary input: a message, or an error with a known code. */
function expectOkOrCoded(result: DecodeResult<unknown>): void {
  if (result.ok) {
    expect(result.message).toBeTypeOf('object');
  } else {
    expect(errorCodes).toContain(result.error.code);
  }
}

/** Anything the decoder accepts the encoder can send, and it reads back the same (idempotence). */
function expectAcceptedIsStable(input: string): void {
  const frame = decodeFrame(input);
  expectOkOrCoded(frame);
  if (frame.ok) expect(decodeFrame(encodeFrame(frame.message))).toEqual(frame);
  const datagram = decodeDatagram(input);
  expectOkOrCoded(datagram);
  if (datagram.ok) expect(decodeDatagram(encodeDatagram(datagram.message))).toEqual(datagram);
}

describe('codec: decoders never throw (WIRE-9)', () => {
  it('WIRE-9: any byte string decodes to a message or a coded error, as frame and as datagram', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expectOkOrCoded(decodeFrame(bytes));
        expectOkOrCoded(decodeDatagram(bytes));
      }),
      runs,
    );
  });

  it('WIRE-9: any stringified JSON value decodes to a message or a coded error', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const input = JSON.stringify(value);
        expectAcceptedIsStable(input);
        expectOkOrCoded(decodeFrame(new TextEncoder().encode(input)));
      }),
      runs,
    );
  });

  it('WIRE-9: any string, including lone surrogates, decodes to a message or a coded error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })), (input) => {
        expectAcceptedIsStable(input);
      }),
      runs,
    );
  });
});

// ---- near-valid garbage -----------------------------------------------------------------------

type Mutation =
  | { kind: 'drop'; at: number }
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'add'; at: number; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: fc.oneof(jsonValue, fc.constantFrom(null, -1, '', [], {})) }),
  fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: fc.string({ maxLength: 12 }), value: jsonValue }),
);

/** Every (container, key) slot in a JSON tree, root excluded. */
function slots(root: unknown): Array<[Record<string, unknown> | unknown[], string | number]> {
  const found: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach((child, index) => (found.push([node, index]), walk(child)));
    else if (typeof node === 'object' && node !== null) {
      for (const [key, child] of Object.entries(node)) (found.push([node as Record<string, unknown>, key]), walk(child));
    }
  };
  walk(root);
  return found;
}

function objects(root: unknown): Array<Record<string, unknown>> {
  const found: Array<Record<string, unknown>> = [root as Record<string, unknown>];
  for (const [container, key] of slots(root)) {
    const child = (container as Record<string | number, unknown>)[key];
    if (typeof child === 'object' && child !== null && !Array.isArray(child)) found.push(child as Record<string, unknown>);
  }
  return found;
}

/** Applies the mutations to a deep copy; inserted values are copied too, so nothing is aliased. */
function mutate(wire: Record<string, unknown>, mutations: Mutation[]): Record<string, unknown> {
  const copy = structuredClone(wire);
  for (const original of mutations) {
    const change = 'value' in original ? { ...original, value: structuredClone(original.value) } : original;
    if (change.kind === 'add') {
      const targets = objects(copy);
      Object.defineProperty(targets[change.at % targets.length], change.key, { value: change.value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const all = slots(copy);
    if (all.length === 0) continue;
    const [container, key] = all[change.at % all.length]!;
    if (change.kind === 'replace') (container as Record<string | number, unknown>)[key] = change.value;
    else if (Array.isArray(container)) container.splice(key as number, 1);
    else delete container[key as string];
  }
  return copy;
}

const wireOfAnyMessage = fc.oneof(anyFrame.map(toWire), anyDatagram.map(toWireDatagram));

describe('codec: near-valid garbage (WIRE-7, WIRE-9)', () => {
  it('WIRE-9: a valid message with fields dropped, replaced or added decodes to a message or a coded error', () => {
    fc.assert(
      fc.property(wireOfAnyMessage, fc.array(mutation, { minLength: 1, maxLength: 4 }), (wire, mutations) => {
        expectAcceptedIsStable(JSON.stringify(mutate(wire, mutations)));
      }),
      runs,
    );
  });

  it('WIRE-5: extra fields at the top level or in the payload leave the decoded message unchanged', () => {
    const extras = fc.dictionary(fc.string({ maxLength: 8 }).map((key) => `x-${key}`), jsonValue, { minKeys: 1, maxKeys: 3 });
    fc.assert(
      fc.property(fc.oneof(anyFrame, anyDatagram), extras, extras, (message, top, inPayload) => {
        if ('type' in message) {
          const wire = toWire(message);
          const widened = { ...top, ...wire, payload: { ...inPayload, ...(wire.payload as object) } };
          expect(decodeFrame(JSON.stringify(widened))).toEqual({ ok: true, message });
        } else {
          expect(decodeDatagram(JSON.stringify({ ...top, ...toWireDatagram(message) }))).toEqual({ ok: true, message });
        }
      }),
      runs,
    );
  });
});

// ---- round trips ------------------------------------------------------------------------------

describe('codec: round trip of every message type (WIRE-3, WIRE-4)', () => {
  for (const [type, arbitrary] of Object.entries(frameArbitraries)) {
    it(`WIRE-3: decodeFrame(encodeFrame(m)) equals m for ${type}, as text and as UTF-8 bytes`, () => {
      fc.assert(
        fc.property(arbitrary as fc.Arbitrary<Parameters<typeof encodeFrame>[0]>, (message) => {
          const text = encodeFrame(message);
          expect(decodeFrame(text)).toEqual({ ok: true, message });
          expect(decodeFrame(new TextEncoder().encode(text))).toEqual({ ok: true, message });
        }),
        runs,
      );
    });
  }

  for (const [type, arbitrary] of Object.entries(frameArbitraries)) {
    it(`WIRE-3: the fast encodeFrame writes exactly what the schema's strict encoding (toWire) writes, for ${type}`, () => {
      fc.assert(
        fc.property(arbitrary as fc.Arbitrary<Parameters<typeof encodeFrame>[0]>, (message) => {
          expect(JSON.parse(encodeFrame(message))).toEqual(JSON.parse(JSON.stringify(toWire(message))));
        }),
        runs,
      );
    });
  }

  for (const [type, arbitrary] of Object.entries(datagramArbitraries)) {
    it(`WIRE-3: decodeDatagram(encodeDatagram(m)) equals m for ${type}, as text and as UTF-8 bytes`, () => {
      fc.assert(
        fc.property(arbitrary as fc.Arbitrary<Parameters<typeof encodeDatagram>[0]>, (message) => {
          const text = encodeDatagram(message);
          expect(decodeDatagram(text)).toEqual({ ok: true, message });
          expect(decodeDatagram(new TextEncoder().encode(text))).toEqual({ ok: true, message });
        }),
        runs,
      );
    });
  }
});

// ---- timestamps -------------------------------------------------------------------------------

const epochMs = fc.integer({ min: TIMESTAMP_MIN_MS, max: TIMESTAMP_MAX_MS });
const two = (value: number) => String(value).padStart(2, '0');

/** ISO strings Date.parse reads too: 4-digit year, optional seconds and fraction, Z or ±HH:MM. */
const isoWithZone = fc
  .record({
    year: fc.integer({ min: 0, max: 9999 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.option(fc.integer({ min: 0, max: 59 }), { nil: undefined }),
    fraction: fc.option(fc.stringMatching(/^[0-9]{1,3}$/), { nil: undefined }),
    zone: fc.oneof(
      fc.constantFrom('Z'),
      fc.record({ sign: fc.constantFrom('+', '-'), h: fc.integer({ min: 0, max: 23 }), m: fc.integer({ min: 0, max: 59 }) })
        .map(({ sign, h, m }) => `${sign}${two(h)}:${two(m)}`),
    ),
  })
  .map(({ year, month, day, hour, minute, second, fraction, zone }) => {
    const seconds = second === undefined ? '' : `:${two(second)}${fraction === undefined ? '' : `.${fraction}`}`;
    return `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}T${two(hour)}:${two(minute)}${seconds}${zone}`;
  });

describe('timestamp properties', () => {
  it('WIRE-3: parseTimestamp(formatTimestamp(ms)) is ms for every ms in years 0000..9999', () => {
    fc.assert(
      fc.property(fc.oneof(epochMs, fc.constantFrom(TIMESTAMP_MIN_MS, TIMESTAMP_MAX_MS, 0, -1)), (ms) => {
        expect(parseTimestamp(formatTimestamp(ms))).toBe(ms);
      }),
      runs,
    );
  });

  it('WIRE-3: formatTimestamp matches Date#toISOString, without ".000" when the milliseconds are zero', () => {
    fc.assert(
      fc.property(epochMs, (ms) => {
        const expected = new Date(ms).toISOString().replace('.000Z', 'Z');
        expect(formatTimestamp(ms)).toBe(expected);
      }),
      runs,
    );
  });

  it('WIRE-4: parseTimestamp agrees with Date.parse on ISO strings with Z or an offset', () => {
    fc.assert(
      fc.property(isoWithZone, (iso) => {
        expect(parseTimestamp(iso)).toBe(Date.parse(iso));
      }),
      runs,
    );
  });
});
