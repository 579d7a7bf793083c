/**
 * The codec at the boundary: bytes or text in, a typed message or a coded ProtocolError out.
 * It never throws, whatever the input (property-tested in specs/codec.properties.spec.ts).
 *
 * Two stages, as in tRPC: JSON text <-> unknown, then unknown -> message by the schema named by
 * the `type` (WebSocket) or `discoveryType` (UDP) field. Size is checked before parsing.
 * Both real adapters and the simulated network run every message through these functions.
 */
import * as z from 'zod';
import { ProtocolError } from './errors.js';
import { fromDialect } from './dialect.js';
import { formatTimestamp } from './timestamp.js';
import { decodeTaskMessage } from './wire/taskDecoders.js';
import {
  discoverySchemas,
  isDiscoveryType,
  isMessageType,
  messageSchemas,
  type DiscoveryDraft,
  type DiscoveryMessage,
  type WireDraft,
  type WireMessage,
} from './messages.js';

export interface CodecLimits {
  /** Largest accepted UDP datagram, in bytes. @default 65_507 (the largest IPv4 UDP payload) */
  readonly datagramBytesMax: number;
  /** Largest accepted WebSocket frame (message), in bytes. @default 1_048_576 */
  readonly frameBytesMax: number;
}

export const defaultCodecLimits: CodecLimits = { datagramBytesMax: 65_507, frameBytesMax: 1_048_576 };

export type DecodeResult<M> =
  | { readonly ok: true; readonly message: M }
  | {
      readonly ok: false;
      readonly error: ProtocolError;
      /** The offending message's id when it could be read, so an Error reply can cite it. */
      readonly messageId?: string | undefined;
      /** The task it names, when it could be read: a client says "answer not understood" for it. */
      readonly taskId?: string | undefined;
    };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 length of a string without allocating, stopping early once past `limit`. */
function utf8LengthExceeds(text: string, limit: number): boolean {
  if (text.length > limit) return true; // every UTF-16 unit is at least one UTF-8 byte
  if (text.length * 3 <= limit) return false; // and at most three
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
    if (bytes > limit) return true;
  }
  return false;
}

type Parsed = { ok: true; value: unknown } | { ok: false; error: ProtocolError };

function parseJson(input: Uint8Array | string, bytesMax: number): Parsed {
  const tooLarge = typeof input === 'string' ? utf8LengthExceeds(input, bytesMax) : input.byteLength > bytesMax;
  if (tooLarge) {
    return { ok: false, error: new ProtocolError('MESSAGE_TOO_LARGE', `larger than ${bytesMax} bytes`) };
  }
  let text: string;
  try {
    text = typeof input === 'string' ? input : utf8.decode(input);
  } catch {
    return { ok: false, error: new ProtocolError('INVALID_MESSAGE', 'not valid UTF-8') };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (cause) {
    return { ok: false, error: new ProtocolError('INVALID_MESSAGE', 'not valid JSON', { cause }) };
  }
}

/** Turns zod issues into one short line a person can act on: `payload.width: expected number`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(message)'}: ${issue.message}`)
    .join('; ');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeWith<M>(
  value: Record<string, unknown>,
  schema: z.ZodType<M> | undefined,
  messageId: string | undefined,
): DecodeResult<M> {
  if (schema === undefined) return { ok: false, error: new ProtocolError('INVALID_MESSAGE'), messageId };
  const result = z.safeDecode(schema, value as never);
  if (result.success) return { ok: true, message: result.data };
  const details = describeIssues(result.error);
  return { ok: false, error: new ProtocolError('INVALID_MESSAGE', details, { details }), messageId };
}

/** Decodes one WebSocket message (client- or provider-bound). */
export function decodeFrame(
  input: Uint8Array | string,
  limits: Pick<CodecLimits, 'frameBytesMax'> = defaultCodecLimits,
): DecodeResult<WireMessage> {
  const parsed = parseJson(input, limits.frameBytesMax);
  if (!parsed.ok) return parsed;
  if (!isPlainObject(parsed.value)) {
    return { ok: false, error: new ProtocolError('INVALID_MESSAGE', 'a message is a JSON object') };
  }
  // The seed's flat "Status" answers and un-enveloped status replies (machines/dialect.ts).
  const value = fromDialect(parsed.value) ?? parsed.value;
  const named = value.payload !== null && typeof value.payload === 'object' ? (value.payload as { taskId?: unknown }).taskId : value.taskId;
  const taskId = typeof named === 'string' && named.length >= 1 && named.length <= 256 ? named : undefined;
  // Only an id an Error can cite (an `Id`: 1 to 256 characters): citing an empty one would make
  // the reply itself invalid, and the rejected message would go unanswered (WIRE-8).
  const messageId =
    typeof value.messageId === 'string' && value.messageId.length >= 1 && value.messageId.length <= 256 ? value.messageId : undefined;
  if (typeof value.type !== 'string') {
    return { ok: false, error: new ProtocolError('INVALID_MESSAGE', 'missing "type"'), messageId, taskId };
  }
  if (!isMessageType(value.type)) {
    const shown = value.type.slice(0, 64);
    return { ok: false, error: new ProtocolError('UNSUPPORTED_MESSAGE', `unknown type "${shown}"`), messageId, taskId };
  }
  // The hot task messages take a strict hand-written check first (wire/taskDecoders.ts); zod
  // decodes the rest, and words every rejection.
  const fast = decodeTaskMessage(value);
  if (fast !== undefined) return { ok: true, message: fast };
  const decoded = decodeWith(value, messageSchemas[value.type] as z.ZodType<WireMessage>, messageId);
  return decoded.ok || taskId === undefined ? decoded : { ...decoded, taskId };
}

export type ParsedDatagram =
  | { readonly ok: true; readonly value: Record<string, unknown> }
  | { readonly ok: false; readonly error: ProtocolError };

/**
 * The first stage of decoding a datagram: size, UTF-8, JSON, a JSON object. The object is what a
 * signature covers (SEC-8: verified as parsed, before liberal decoding drops and normalises).
 */
export function parseDatagram(
  input: Uint8Array | string,
  limits: Pick<CodecLimits, 'datagramBytesMax'> = defaultCodecLimits,
): ParsedDatagram {
  const parsed = parseJson(input, limits.datagramBytesMax);
  if (!parsed.ok) return parsed;
  if (!isPlainObject(parsed.value)) {
    return { ok: false, error: new ProtocolError('INVALID_MESSAGE', 'a datagram is a JSON object') };
  }
  return { ok: true, value: parsed.value };
}

/** Decodes one discovery datagram. */
export function decodeDatagram(
  input: Uint8Array | string,
  limits: Pick<CodecLimits, 'datagramBytesMax'> = defaultCodecLimits,
): DecodeResult<DiscoveryMessage> {
  const parsed = parseDatagram(input, limits);
  return parsed.ok ? decodeDatagramValue(parsed.value) : parsed;
}

/** The second stage: the parsed object against the schema its `discoveryType` names. */
export function decodeDatagramValue(value: Record<string, unknown>): DecodeResult<DiscoveryMessage> {
  if (typeof value.discoveryType !== 'string') {
    return { ok: false, error: new ProtocolError('INVALID_MESSAGE', 'missing "discoveryType"') };
  }
  if (!isDiscoveryType(value.discoveryType)) {
    const shown = value.discoveryType.slice(0, 64);
    return { ok: false, error: new ProtocolError('UNSUPPORTED_MESSAGE', `unknown discoveryType "${shown}"`) };
  }
  return decodeWith(value, discoverySchemas[value.discoveryType] as z.ZodType<DiscoveryMessage>, undefined);
}

/** The wire (JSON-ready) form of a message: seed field names, ISO timestamps, list capabilities. */
export function toWire(message: WireMessage): Record<string, unknown> {
  return z.encode(messageSchemas[message.type] as z.ZodType<unknown, WireMessage>, message) as Record<string, unknown>;
}

export function toWireDatagram(message: DiscoveryMessage): Record<string, unknown> {
  return z.encode(
    discoverySchemas[message.discoveryType] as z.ZodType<unknown, DiscoveryMessage>,
    message,
  ) as Record<string, unknown>;
}

/**
 * Encodes a message as JSON text, on the hot path: a WebSocket message's only wire transform is
 * its timestamp (epoch ms -> ISO-8601), so this formats that and serialises, without re-running
 * the schema over a message our own machines built (that cost 18 us of 22 per frame).
 * `specs/codec.properties.spec.ts` proves it equal to the schema's strict encoding (`toWire`)
 * for every valid message; use `toWire` to validate a message of unknown origin.
 */
export function encodeFrame(message: WireMessage): string {
  return JSON.stringify({
    type: message.type,
    messageId: message.messageId,
    timestamp: formatTimestamp(message.timestamp),
    payload: message.payload,
  });
}

export function encodeDatagram(message: DiscoveryMessage): string {
  return JSON.stringify(toWireDatagram(message));
}

/** What the boundary injects to finish a draft: the wall clock and an id source. */
export interface StampSource {
  readonly nowMs: () => number;
  readonly newId: () => string;
}

/**
 * Completes a machine's draft with `timestamp` (always) and `messageId` (unless it chose one).
 * Built field by field, not by spreading the draft and adding to it (on Node 20 every property
 * added after a spread costs about a microsecond).
 */
export function stampFrame(draft: WireDraft, source: StampSource): WireMessage {
  return { type: draft.type, messageId: draft.messageId ?? source.newId(), timestamp: source.nowMs(), payload: draft.payload } as WireMessage;
}

/** `encodeFrame(stampFrame(draft, source))` without the intermediate message: the send path. */
export function encodeDraft(draft: WireDraft, source: StampSource): string {
  return JSON.stringify({
    type: draft.type,
    messageId: draft.messageId ?? source.newId(),
    timestamp: formatTimestamp(source.nowMs()),
    payload: draft.payload,
  });
}

export function stampDatagram(draft: DiscoveryDraft, source: Pick<StampSource, 'nowMs'>): DiscoveryMessage {
  return { ...draft, timestamp: source.nowMs() } as DiscoveryMessage;
}
