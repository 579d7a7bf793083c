/**
 * The scripted provider the client suite talks to: a small provider on raw `ws` and `node:dgram`,
 * deliberately NOT built from switchboard's machines, so that a scenario can make it misbehave:
 * withhold Acks and every answer, stop answering pings, close abruptly, refuse connections for a
 * while, advertise in liberal forms, send unknown message types.
 *
 * Loopback only. The discovery socket is bound to `0.0.0.0:<discoveryPort>` with SO_REUSEADDR
 * (DISC-1): that is what receives a broadcast to 127.255.255.255. Everything it sends goes to
 * loopback: replies unicast to the requester (only requests from 127.0.0.0/8 are answered, DISC-3),
 * heartbeats to 127.255.255.255 (DISC-4). The WebSocket server listens on 127.0.0.1, port 0.
 *
 * Everything seen and done is pushed into the scenario's Recorder. What to answer is up to the
 * scenario: `onFrame` is called for every text message, `admit` for every upgrade request,
 * `answerPings` decides whether pings get a pong.
 */
import dgram from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { stampDatagram, stampFrame, toWire, toWireDatagram } from '../../../machines/codec.js';
import type { ProviderDraft } from '../../../machines/messages.js';
import { createDatagramSigner } from '../../../adapters/udp/signature.js';
import { ephemeralKey } from '../../keys.js';
import { LOOPBACK, LOOPBACK_BROADCAST } from './options.js';
import type { Recorder } from './recorder.js';

/** `seed`: the seed's forms (WIRE-3). `liberal`: capabilities keyed by operation, endpoint without scheme (WIRE-4). */
export type AdvertisementForm = 'seed' | 'liberal';

export interface ScriptedProviderOptions {
  readonly recorder: Recorder;
  readonly discoveryPort: number;
  readonly serviceName: string;
  readonly operation: string;
  /** Describes the operation's settings (informational, from the parameters' JSON types). */
  readonly params: Record<string, unknown>;
  readonly form: AdvertisementForm;
  readonly heartbeatIntervalMs: number;
}

/** Largest WebSocket message the scripted provider takes in (frameBytesMax). */
const FRAME_BYTES_MAX = 1_048_576;
/** Characters of a message kept in the log (enough to decode any message the checks look at). */
const TEXT_KEPT_MAX = 65_536;

const isLoopback = (address: string): boolean => address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Closes a UDP socket that may never have bound (close throws then). */
function closeQuietly(socket: dgram.Socket | undefined, done: () => void): void {
  if (socket === undefined) return done();
  try {
    socket.close(() => done());
  } catch {
    done();
  }
}

const settingType = (value: unknown): string =>
  typeof value === 'string' ? 'string' : typeof value === 'boolean' ? 'bool' : Number.isInteger(value) ? 'int' : typeof value === 'number' ? 'float' : 'object';

export class ScriptedProvider {
  readonly #options: ScriptedProviderOptions;
  readonly #recorder: Recorder;
  readonly #serviceId = `conformance-${process.pid}-${randomUUID().slice(0, 8)}`;
  /**
   * Signs the advertisements as a switchboard provider does (SEC-8): a client that checks
   * signatures trusts them on first use, and one that does not ignores the extra fields (WIRE-5).
   */
  readonly #signer = createDatagramSigner({ privateKey: ephemeralKey().privateKey, epoch: Date.now() });
  readonly #path = `/conformance/${randomUUID().slice(0, 8)}`;
  readonly #sockets = new Map<number, WebSocket>();
  readonly #rawSockets = new Set<Duplex>();
  readonly #terminatedHere = new Set<number>();
  #shared: dgram.Socket | undefined;
  #sender: dgram.Socket | undefined;
  #senderPort = 0;
  #http: Server | undefined;
  #wss: WebSocketServer | undefined;
  #port = 0;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #nextConnId = 1;
  #stopped = false;

  /** Called for every text message from the client (after it was recorded). */
  onFrame: (connId: number, raw: unknown) => void = () => {};
  /** Decides each upgrade request: true accepts, false refuses with HTTP 503. */
  admit: () => boolean = () => true;
  /** Whether pings are answered with a pong. */
  answerPings = true;

  constructor(options: ScriptedProviderOptions) {
    this.#options = options;
    this.#recorder = options.recorder;
  }

  /** The advertised endpoint, with its scheme. */
  get endpoint(): string {
    return `ws://${LOOPBACK}:${this.#port}${this.#path}`;
  }

  get path(): string {
    return this.#path;
  }

  get serviceId(): string {
    return this.#serviceId;
  }

  async start(): Promise<void> {
    await this.#listenWebSocket();
    await this.#bindDiscovery();
    this.#advertise('broadcast');
    this.#heartbeat = setInterval(() => this.#advertise('broadcast'), Math.max(50, this.#options.heartbeatIntervalMs));
  }

  /** Sends a known provider-to-client message (validated and encoded by the codec), plus `extra` fields. */
  send(connId: number, draft: ProviderDraft, extra: { envelope?: Record<string, unknown>; payload?: Record<string, unknown> } = {}): void {
    const wire = toWire(stampFrame(draft, { nowMs: Date.now, newId: () => `conformance-${randomUUID()}` }));
    const payload = { ...(wire.payload as Record<string, unknown>), ...extra.payload };
    this.sendRaw(connId, { ...wire, ...extra.envelope, payload });
  }

  /** Sends any JSON object, as is. */
  sendRaw(connId: number, raw: Record<string, unknown>): void {
    const socket = this.#sockets.get(connId);
    if (socket === undefined || socket.readyState !== socket.OPEN) return;
    socket.send(JSON.stringify(raw));
    this.#recorder.push({ kind: 'sent', connId, raw });
  }

  /** Ends a connection abruptly: no close frame (the client sees 1006). */
  terminate(connId: number): void {
    const socket = this.#sockets.get(connId);
    if (socket === undefined) return;
    this.#terminatedHere.add(connId);
    socket.terminate();
  }

  openConnections(): number[] {
    return [...this.#sockets.entries()].filter(([, socket]) => socket.readyState === socket.OPEN).map(([id]) => id);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    for (const id of this.#sockets.keys()) this.terminate(id);
    for (const socket of this.#rawSockets) socket.destroy();
    this.#wss?.close();
    await Promise.all([
      new Promise<void>((resolve) => (this.#http ? this.#http.close(() => resolve()) : resolve())),
      ...[this.#shared, this.#sender].map((socket) => new Promise<void>((resolve) => closeQuietly(socket, resolve))),
    ]);
  }

  // ---- WebSocket --------------------------------------------------------------------------------

  #listenWebSocket(): Promise<void> {
    const wss = new WebSocketServer({ noServer: true, autoPong: false, maxPayload: FRAME_BYTES_MAX });
    const http = createServer((_request, response) => {
      response.writeHead(426, { 'content-type': 'text/plain' });
      response.end('WebSocket only\n');
    });
    http.on('connection', (socket: Duplex) => {
      this.#rawSockets.add(socket);
      socket.on('close', () => this.#rawSockets.delete(socket));
      socket.on('error', () => {});
    });
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(request, socket, head));
    this.#wss = wss;
    this.#http = http;
    return new Promise((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, LOOPBACK, () => {
        const address = http.address();
        this.#port = typeof address === 'object' && address !== null ? address.port : 0;
        resolve();
      });
    });
  }

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const connId = this.#nextConnId++;
    const path = request.url ?? '/';
    if (this.#stopped || !this.admit()) {
      this.#recorder.push({ kind: 'upgrade', connId, path, refused: true });
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      this.#recorder.push({ kind: 'refused', connId });
      return;
    }
    this.#recorder.push({ kind: 'upgrade', connId, path, refused: false });
    this.#wss?.handleUpgrade(request, socket, head, (ws) => this.#attach(connId, ws));
  }

  #attach(connId: number, ws: WebSocket): void {
    this.#sockets.set(connId, ws);
    this.#recorder.push({ kind: 'open', connId });
    ws.on('message', (data, isBinary) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
      const raw = isBinary ? undefined : parseJson(text);
      this.#recorder.push({ kind: 'frame', connId, text: text.slice(0, TEXT_KEPT_MAX), raw, ...(isBinary ? { binary: true as const } : {}) });
      try {
        this.onFrame(connId, raw);
      } catch (error) {
        this.#recorder.mark('script-error', error instanceof Error ? error.message : String(error));
      }
    });
    ws.on('ping', () => {
      this.#recorder.push({ kind: 'ping', connId });
      if (this.answerPings && ws.readyState === ws.OPEN) ws.pong();
    });
    ws.on('close', (code) => {
      this.#sockets.delete(connId);
      this.#recorder.push({ kind: 'close', connId, code, by: this.#terminatedHere.has(connId) ? 'provider' : 'client' });
    });
    ws.on('error', () => {});
  }

  // ---- discovery --------------------------------------------------------------------------------

  async #bindDiscovery(): Promise<void> {
    const shared = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    const sender = dgram.createSocket({ type: 'udp4' });
    this.#shared = shared;
    this.#sender = sender;
    for (const socket of [shared, sender]) {
      socket.on('error', (error) => this.#recorder.mark('udp-error', error.message));
      socket.on('message', (bytes, from) => this.#datagram(bytes, { address: from.address, port: from.port }));
    }
    await new Promise<void>((resolve, reject) => {
      sender.once('error', reject);
      sender.bind({ port: 0, address: LOOPBACK }, () => {
        sender.setBroadcast(true);
        this.#senderPort = sender.address().port;
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      shared.once('error', reject);
      shared.bind({ port: this.#options.discoveryPort, address: '0.0.0.0' }, () => resolve());
    });
  }

  #datagram(bytes: Buffer, from: { address: string; port: number }): void {
    if (this.#stopped) return;
    // Our own heartbeats come back to the shared socket.
    if (isLoopback(from.address) && from.port === this.#senderPort) return;
    const text = bytes.toString('utf8');
    const raw = parseJson(text);
    this.#recorder.push({ kind: 'datagram', from, text: text.slice(0, TEXT_KEPT_MAX), raw });
    const request = raw as { discoveryType?: unknown; clientId?: unknown } | undefined;
    if (request?.discoveryType === 'ClientServiceDiscoveryRequest' && isLoopback(from.address)) {
      this.#advertise(from, typeof request.clientId === 'string' ? request.clientId : undefined);
    }
  }

  /** One ServiceAdvertisement, broadcast on loopback or unicast to a requester. */
  #advertise(to: 'broadcast' | { address: string; port: number }, respondsToClientId?: string): void {
    const sender = this.#sender;
    if (sender === undefined || this.#stopped) return;
    const { serviceName, operation, params, form } = this.#options;
    const settings = Object.entries(params).map(([name, value]) => ({ type: settingType(value), name }));
    const wire = toWireDatagram(
      stampDatagram(
        {
          discoveryType: 'ServiceAdvertisement',
          serviceId: this.#serviceId,
          serviceName,
          serviceVersion: '1.0.0',
          endpoint: this.endpoint,
          capabilities: [{ key: operation, settings }],
          status: 'Online',
          load: 0,
          ...(respondsToClientId === undefined ? {} : { respondsToClientId }),
        },
        { nowMs: Date.now },
      ),
    );
    const datagram =
      form === 'liberal'
        ? { ...wire, endpoint: this.endpoint.replace(/^ws:\/\//, ''), capabilities: { [operation]: (wire.capabilities as { settings: unknown }[])[0]?.settings ?? [] } }
        : wire;
    const target = to === 'broadcast' ? { address: LOOPBACK_BROADCAST, port: this.#options.discoveryPort } : to;
    sender.send(JSON.stringify(this.#signer.seal(datagram)), target.port, target.address, (error) => {
      if (error) this.#recorder.mark('udp-error', error.message);
    });
  }
}
