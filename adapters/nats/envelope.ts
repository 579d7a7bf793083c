/**
 * The envelope of one task-connection message on NATS: an ASCII line `<op> <seq>\n`, then the
 * payload (for `msg`, one switchboard frame, which then goes through machines/codec.ts).
 *
 * NATS core delivers at most once: a message can vanish (a route down, a slow consumer, a
 * reconnect) while later ones arrive. WebSocket never does that (TCP delivers a prefix of what was
 * sent, or closes). `seq` restores the stream contract: each direction numbers its messages from
 * 1, and a receiver that sees a gap ends the connection abnormally instead of going on without
 * the lost frame (docs/nats.md, "Delivery semantics"). Pings and pongs are numbered too, so a lost
 * last frame is noticed at the next liveness check.
 */

export const envelopeOps = ['msg', 'ping', 'pong', 'close', 'closed', 'reset'] as const;
export type EnvelopeOp = (typeof envelopeOps)[number];

const OPS: ReadonlySet<string> = new Set(envelopeOps);
const HEADER_BYTES_MAX = 32;
const NEWLINE = 0x0a;

export interface Envelope {
  readonly op: EnvelopeOp;
  readonly seq: number;
  readonly payload: Uint8Array;
}

export function encodeEnvelope(op: EnvelopeOp, seq: number, payload = ''): string {
  return `${op} ${seq}\n${payload}`;
}

/** The envelope, or undefined when the bytes are not one (counted as INVALID_MESSAGE by the caller). */
export function decodeEnvelope(data: Uint8Array): Envelope | undefined {
  const end = Math.min(data.byteLength, HEADER_BYTES_MAX);
  let newline = -1;
  for (let i = 0; i < end; i++) {
    if (data[i] === NEWLINE) {
      newline = i;
      break;
    }
  }
  if (newline < 0) return undefined;
  let header = '';
  for (let i = 0; i < newline; i++) header += String.fromCharCode(data[i] as number);
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const op = header.slice(0, space);
  const digits = header.slice(space + 1);
  if (!OPS.has(op) || !/^[1-9][0-9]{0,14}$/.test(digits)) return undefined;
  return { op: op as EnvelopeOp, seq: Number(digits), payload: data.subarray(newline + 1) };
}

/** Body of a `close`: the close code and reason, as JSON. Anything else reads as 1005 (no status). */
export function decodeCloseBody(payload: Uint8Array): { code: number; reason: string } {
  try {
    const value = JSON.parse(new TextDecoder().decode(payload)) as { code?: unknown; reason?: unknown };
    const code = typeof value.code === 'number' && Number.isInteger(value.code) ? value.code : 1005;
    const reason = typeof value.reason === 'string' ? value.reason.slice(0, 123) : '';
    return { code, reason };
  } catch {
    return { code: 1005, reason: '' };
  }
}
