/** Scalar wire schemas shared by every message schema: ids and timestamps (WIRE-2). */
import * as z from 'zod';
import { formatTimestamp, parseTimestamp } from '../timestamp.js';

/** Ids are opaque strings (the seed uses UUIDs; we do not insist). */
export const IdSchema = z.string().min(1).max(256);

const TIMESTAMP_MIN_MS = parseTimestamp('0000-01-01T00:00:00Z') as number;
const TIMESTAMP_MAX_MS = parseTimestamp('9999-12-31T23:59:59.999Z') as number;

export const TimestampSchema = z.number().int().min(TIMESTAMP_MIN_MS).max(TIMESTAMP_MAX_MS);

/** ISO-8601 text (any precision, zone optional) or epoch milliseconds in; ISO-8601 UTC out. */
export const TimestampCodec = z.codec(
  z.union([z.string().max(64), z.number().int()]),
  TimestampSchema,
  {
    decode: (wire, ctx) => {
      const ms = typeof wire === 'number' ? wire : parseTimestamp(wire);
      if (ms === undefined) {
        ctx.issues.push({ code: 'custom', message: 'not an ISO-8601 timestamp', input: wire });
        return z.NEVER;
      }
      return ms;
    },
    encode: (ms) => formatTimestamp(ms),
  },
);
