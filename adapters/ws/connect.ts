/**
 * The client side of one WebSocket connection over `ws`: StreamCommand in, StreamEvent out.
 *
 * A connect that fails (refused, handshake timeout, an HTTP answer such as 401 or 403, a TLS or
 * pin failure) ends with transport.closed {graceful: false, code: 1006, reason} and no
 * transport.opened, as on the simulated network.
 */
import type { ClientRequest } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { fromCallback, type CallbackActorLogic } from 'xstate';
import { WebSocket, type ClientOptions } from 'ws';
import { defaultCodecLimits, type CodecLimits } from '../../machines/codec.js';
import { CloseCode, type ConnectInput, type StreamCommand, type StreamEvent } from '../../machines/transport.js';
import { SocketBinding, type BindingContext } from './binding.js';
import {
  CLIENT_PROOF_HEADER,
  clientProofFor,
  HANDSHAKE_TIMEOUT_MS_DEFAULT,
  MAX_PAYLOAD_DEFAULT,
  createWsMetrics,
  defaultStamp,
  noLog,
  normalizeFingerprint,
  sendBoundsOf,
  type WsConnectOptions,
} from './options.js';

/**
 * Refuses (destroys the request before it writes a byte) a TLS peer whose certificate is not the
 * pinned one: every given fingerprint must match (the configured pin and the one a verified
 * advertisement binds to the provider's key, when both exist).
 */
function pinTo(...fingerprints: string[]): NonNullable<ClientOptions['finishRequest']> {
  return (request: ClientRequest) => {
    request.once('socket', (socket) => {
      const tlsSocket = socket as TLSSocket;
      tlsSocket.once('secureConnect', () => {
        if (request.destroyed) return; // the attempt was abandoned meanwhile
        const actual = normalizeFingerprint(tlsSocket.getPeerCertificate().fingerprint256 ?? '');
        if (fingerprints.every((fingerprint) => actual === fingerprint)) request.end();
        else request.destroy(new Error('certificate fingerprint mismatch'));
      });
    });
  };
}

/** The options of one connection: the logic's, plus the pin its input carries (wss:// only). */
function optionsFor(base: ClientOptions, options: WsConnectOptions, configured: string | undefined, input: ConnectInput, scheme: string): ClientOptions | string {
  if (input.tlsFingerprint256 === undefined || scheme !== 'wss') return base;
  const advertised = normalizeFingerprint(input.tlsFingerprint256);
  if (advertised === undefined) return 'the advertised certificate fingerprint is not a SHA-256 fingerprint';
  return {
    ...base,
    rejectUnauthorized: options.tls?.rejectUnauthorized ?? options.tls?.ca !== undefined,
    finishRequest: configured === undefined ? pinTo(advertised) : pinTo(configured, advertised),
  };
}

/**
 * The `ws` options of a client's connection to `input.endpoint`, or why it must not be opened:
 * its token, CA, client certificate, configured and advertised pins (SEC-1) and client proof
 * (SEC-10). Every WebSocket a client opens to a provider takes them from here: its task
 * connection and its file links (runtime/files/clientFiles.ts), so both present the same
 * identity and trust the same certificate. Throws a TypeError for a pin that is not a SHA-256
 * fingerprint.
 */
export function wsClientOptions(options: WsConnectOptions = {}): (input: ConnectInput) => ClientOptions | string {
  const pinned = options.tls?.fingerprint256;
  const fingerprint = pinned === undefined ? undefined : normalizeFingerprint(pinned);
  if (pinned !== undefined && fingerprint === undefined) {
    throw new TypeError(`switchboard: wsConnect: tls.fingerprint256 is not a SHA-256 fingerprint: ${pinned}`);
  }
  const clientOptions: ClientOptions = {
    maxPayload: options.maxPayload ?? MAX_PAYLOAD_DEFAULT,
    handshakeTimeout: options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS_DEFAULT,
    perMessageDeflate: false,
    followRedirects: false,
    ...(options.token === undefined ? {} : { headers: { authorization: `Bearer ${options.token}` } }),
    ...(options.tls?.ca === undefined ? {} : { ca: options.tls.ca }),
    ...(options.tls?.cert === undefined ? {} : { cert: options.tls.cert }),
    ...(options.tls?.key === undefined ? {} : { key: options.tls.key }),
    // A pin replaces chain verification (a LAN's self-signed certificate) unless told otherwise.
    rejectUnauthorized: options.tls?.rejectUnauthorized ?? (fingerprint === undefined || options.tls?.ca !== undefined),
    ...(fingerprint === undefined ? {} : { finishRequest: pinTo(fingerprint) }),
  };
  return (input) => {
    const scheme = /^(wss?):\/\//i.exec(input.endpoint)?.[1]?.toLowerCase();
    if (scheme === undefined) return 'invalid endpoint: not a ws:// or wss:// URL';
    if (fingerprint !== undefined && scheme !== 'wss') return 'a certificate is pinned but the endpoint is not wss://';
    const connectionOptions = optionsFor(clientOptions, options, fingerprint, input, scheme);
    if (typeof connectionOptions === 'string') return connectionOptions;
    // SEC-10: the proof of this client's secret, bound to this endpoint (its scheme, host and port).
    const secret = options.clientSecret;
    return secret === undefined
      ? connectionOptions
      : { ...connectionOptions, headers: { ...connectionOptions.headers, [CLIENT_PROOF_HEADER]: clientProofFor(secret, input.endpoint) } };
  };
}

export function wsConnect(options: WsConnectOptions = {}): CallbackActorLogic<StreamCommand, ConnectInput> {
  const metrics = options.metrics ?? createWsMetrics();
  const log = options.log ?? noLog;
  const limits: CodecLimits = { ...defaultCodecLimits, ...options.limits };
  const stamp = options.stamp ?? defaultStamp;
  const send = sendBoundsOf(options);
  const optionsOf = wsClientOptions(options);

  return fromCallback<StreamCommand, ConnectInput>(({ input, sendBack, receive }) => {
    const refuse = (reason: string): (() => void) => {
      metrics.connectFailures++;
      log('warn', `ws: cannot connect to ${input.endpoint}: ${reason}`);
      let released = false;
      queueMicrotask(() => {
        if (!released) sendBack({ type: 'transport.closed', graceful: false, code: CloseCode.abnormal, reason } satisfies StreamEvent);
      });
      return () => {
        released = true;
      };
    };
    const connectOptions = optionsOf(input);
    if (typeof connectOptions === 'string') return refuse(connectOptions);
    let socket: WebSocket;
    try {
      socket = new WebSocket(input.endpoint, connectOptions);
    } catch (error) {
      return refuse(`invalid endpoint: ${error instanceof Error ? error.message : String(error)}`.slice(0, 123));
    }
    const context: BindingContext = { limits, stamp, metrics, log, label: `client ${input.endpoint}`, readBatches: options.readBatches ?? false };
    const binding = new SocketBinding(socket, context, { sink: sendBack, send });
    binding.onOpened = () => {
      metrics.connectionsOpened++;
    };
    binding.onNeverOpened = () => {
      metrics.connectFailures++;
    };
    receive((command) => binding.command(command));
    return () => binding.release();
  });
}
