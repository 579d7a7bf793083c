/**
 * One datagram in and out, the same for the real UDP adapter and the simulated network, so both
 * sign, pad and check alike:
 *
 * - out: the draft is stamped and encoded (WIRE-3); an advertisement is then sealed by the
 *   signer when there is one (SEC-8), a request is padded to `requestBytesMin` (DISC-17);
 * - in: parsed, then decoded (WIRE-6, WIRE-7), then, for an advertisement, its signature is
 *   checked on the object AS PARSED (the decoded message has lost unknown members and been
 *   normalised); the proof and the arrival time travel with the `datagram.received` event.
 */
import { Buffer } from 'node:buffer';
import { decodeDatagramValue, parseDatagram, stampDatagram, toWireDatagram, type CodecLimits } from '../../machines/codec.js';
import { keyedCapabilities } from '../../machines/capabilities.js';
import { padRequest } from '../../machines/discovery/answers.js';
import type { DiscoveryDraft } from '../../machines/messages.js';
import type { DatagramEvent, PeerAddress } from '../../machines/transport.js';
import type { DatagramSigner, SignatureChecker } from './signature.js';

export interface OutgoingOptions {
  readonly nowMs: () => number;
  /** Seals advertisements; without one they go unsigned (a seed-compatible provider). */
  readonly signer?: DatagramSigner | undefined;
  /** Requests are padded to at least this many bytes (0: not padded). */
  readonly requestBytesMin: number;
  /** `keyed`: advertisements carry capabilities keyed by operation (the `keyed-capabilities` compat profile). @default 'list' */
  readonly capabilitiesForm?: 'list' | 'keyed' | undefined;
}

export interface IncomingOptions {
  readonly limits: Pick<CodecLimits, 'datagramBytesMax'>;
  readonly nowMs: () => number;
  /** Checks advertisements' signatures; without one no proof is attached (they count as unsigned). */
  readonly checker?: SignatureChecker | undefined;
}

/** The JSON text of an outgoing datagram. Throws only on a programmer error (a draft that does not encode). */
export function encodeOutgoing(draft: DiscoveryDraft, options: OutgoingOptions): string {
  const message = stampDatagram(draft, options);
  const encoded = toWireDatagram(message);
  const wire =
    options.capabilitiesForm === 'keyed' && Array.isArray(encoded.capabilities)
      ? { ...encoded, capabilities: keyedCapabilities(encoded.capabilities as Parameters<typeof keyedCapabilities>[0]) }
      : encoded;
  if (message.discoveryType === 'ServiceAdvertisement') {
    return JSON.stringify(options.signer === undefined ? wire : options.signer.seal(wire));
  }
  return padRequest(JSON.stringify(wire), options.requestBytesMin);
}

/** The event a received datagram becomes. Never throws (WIRE-9). */
export function incomingEvent(input: Uint8Array | string, from: PeerAddress, options: IncomingOptions): DatagramEvent {
  const parsed = parseDatagram(input, options.limits);
  const decoded = parsed.ok ? decodeDatagramValue(parsed.value) : parsed;
  if (!decoded.ok) return { type: 'datagram.rejected', error: decoded.error.toShape(), from };
  const proof = parsed.ok ? options.checker?.inspect(parsed.value, cacheKeyOf(input, parsed.value)) : undefined;
  return {
    type: 'datagram.received',
    message: decoded.message,
    from,
    ...(proof === undefined ? {} : { proof }),
    receivedAtMs: options.nowMs(),
  };
}

/**
 * The exact datagram as the key of the checker's proof cache: a broadcast reaching many sockets of
 * the simulated network, or a replay flood, is then checked once. Only signed advertisements need
 * one (the others are not checked at all).
 */
function cacheKeyOf(input: Uint8Array | string, value: Readonly<Record<string, unknown>>): string | undefined {
  if (value.signature === undefined) return undefined;
  return typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
}
