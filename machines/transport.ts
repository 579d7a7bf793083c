/**
 * The transport event contract: the only way a machine touches a network.
 *
 * A machine invokes a transport as a callback actor (`fromCallback`, so simulated delivery is
 * processed inside `clock.increment()`), sends it commands and receives events. The real
 * adapters (`adapters/udp.ts`, `adapters/ws.ts`) and the simulated network
 * (`adapters/simulated/`) implement the same contract and run every message through
 * machines/codec.ts, so machines only ever see typed, decoded messages.
 *
 * Three shapes of transport:
 * - stream (one WebSocket connection, either side): `transport.*`
 * - datagram (the UDP discovery socket): `datagram.*`
 * - server (the provider's listening WebSocket server): `server.*`; each accepted connection is
 *   then driven through its own stream transport, bound by `connectionId`.
 */
import type { ErrorShape } from './errors.js';
import type { DiscoveryDraft, DiscoveryMessage, WireDraft, WireMessage } from './messages.js';

// ---- stream (WebSocket connection) ------------------------------------------------------------

export type StreamCommand =
  | { readonly type: 'transport.send'; readonly draft: WireDraft }
  | { readonly type: 'transport.ping' }
  /** Graceful close: the close handshake with this code. */
  | { readonly type: 'transport.close'; readonly code: number; readonly reason?: string }
  /** Abrupt end: no handshake (a dead peer, an overdue pong). */
  | { readonly type: 'transport.terminate' };

export type StreamEvent =
  | { readonly type: 'transport.opened' }
  | { readonly type: 'transport.message'; readonly message: WireMessage }
  /** Input that failed decoding at the boundary (already counted by the adapter). */
  /** A message that failed decoding; `taskId` when it named one (a client says "answer not understood" for it). */
  | { readonly type: 'transport.rejected'; readonly error: ErrorShape; readonly messageId?: string | undefined; readonly taskId?: string | undefined }
  | { readonly type: 'transport.pong' }
  /**
   * The socket's unsent bytes rose above its send mark (`above` true: SEC-13's first bound) or
   * fell back below it (`above` false). Told only by a transport with send bounds (a provider's
   * WebSocket); what a session sends while above is written all the same, but what can wait
   * (events, EVT-8) should.
   */
  | { readonly type: 'transport.sendMark'; readonly above: boolean }
  /** Exactly once per transport, last. `graceful` is true only after a completed close handshake. */
  | {
      readonly type: 'transport.closed';
      readonly graceful: boolean;
      readonly code: number;
      readonly reason: string;
      /**
       * Never opened because the endpoint's host answered that nothing listens there (TCP
       * refused, NATS no responders): the provider's process is gone (CONN-12). Not set for a
       * timeout, an unreachable host or an HTTP answer.
       */
      readonly refused?: boolean;
    };

/** A received frame as a session or connection sees it: decoded, or rejected by the codec. */
export type StreamInput = Extract<StreamEvent, { type: 'transport.message' | 'transport.rejected' }>;

/**
 * The frames of one socket read (two or more, in the order received), delivered as one event by
 * a transport that batches its reads (adapters/ws `readBatches`). Its receiver processes it as
 * the same frames one by one (machines/host/readBatches.ts), in one step of its actor.
 */
export interface StreamBatch {
  readonly type: 'transport.batch';
  readonly events: readonly StreamInput[];
}

/** Input of a client-side stream transport: where to connect. */
export interface ConnectInput {
  readonly endpoint: string;
  /** Pin the provider's TLS certificate to this SHA-256 fingerprint (wss:// only; SEC-8). */
  readonly tlsFingerprint256?: string | undefined;
}

/** Input of a provider-side stream transport: which accepted connection to drive. */
export interface AcceptedInput {
  readonly connectionId: string;
}

// ---- datagram (UDP discovery) ----------------------------------------------------------------

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export type DatagramCommand = {
  readonly type: 'datagram.send';
  readonly draft: DiscoveryDraft;
  /** A unicast peer, or every host in the broadcast domain on the discovery port. */
  readonly to: PeerAddress | 'broadcast';
};

/**
 * What the adapter found when it checked a received advertisement's signature (SEC-8) on the
 * datagram as parsed, before decoding: no signature fields at all, a signature that verifies
 * under the `publicKey` the advertisement carries, or one that does not (with why). The trust
 * policy (machines/discovery/trust.ts) decides what that means; a missing proof counts as unsigned.
 */
export type DatagramProof =
  | { readonly kind: 'unsigned' }
  | { readonly kind: 'signed'; readonly publicKey: string }
  | { readonly kind: 'invalid'; readonly reason: string };

export type DatagramEvent =
  | {
      readonly type: 'datagram.received';
      readonly message: DiscoveryMessage;
      readonly from: PeerAddress;
      /** For an advertisement: its signature check (absent: treated as unsigned). */
      readonly proof?: DatagramProof | undefined;
      /** The receiver's wall clock at arrival, epoch ms (the freshness check of signed advertisements). */
      readonly receivedAtMs?: number | undefined;
    }
  | { readonly type: 'datagram.rejected'; readonly error: ErrorShape; readonly from: PeerAddress };

// ---- server (provider's WebSocket listener) ---------------------------------------------------

export type ServerCommand =
  | { readonly type: 'server.close' }
  /**
   * End one accepted connection at once, whatever its transport's state (SEC-21: its session
   * failed and cannot close it). Best effort: an adapter that cannot reach the socket ignores it.
   */
  | { readonly type: 'server.drop'; readonly connectionId: string };

export type ServerEvent =
  | { readonly type: 'server.listening'; readonly endpoint: string }
  | {
      readonly type: 'server.accepted';
      readonly connectionId: string;
      readonly remoteAddress: string;
      /** A credential presented at the upgrade (Authorization: Bearer or ?token=), if any. */
      readonly token?: string | undefined;
      /** Digest of the client secret presented at the upgrade (SEC-10), if any. */
      readonly clientProof?: string | undefined;
      /** SHA-256 fingerprint of a TLS client certificate the server verified (SEC-10), if any. */
      readonly peerCertificate?: string | undefined;
    }
  | { readonly type: 'server.failed'; readonly error: ErrorShape };

/** WebSocket close codes used by switchboard (docs/protocol.md, close codes). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  abnormal: 1006,
  policy: 1008,
  tooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
} as const;
