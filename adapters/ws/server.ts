/**
 * The provider's listening WebSocket server (ServerCommand in, ServerEvent out) and the transport
 * of each socket it accepts (StreamCommand in, StreamEvent out), over `ws` and node:http(s).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { fromCallback, type CallbackActorLogic } from 'xstate';
import { WebSocketServer, type WebSocket } from 'ws';
import { defaultCodecLimits, type CodecLimits } from '../../machines/codec.js';
import { errorShape } from '../../machines/errors.js';
import { CloseCode, type AcceptedInput, type ServerCommand, type ServerEvent, type StreamCommand } from '../../machines/transport.js';
import { SocketBinding, type BindingContext } from './binding.js';
import { AddressWindows, FrameWindow } from './budget.js';
import {
  addressKeyOf,
  ATTACH_TIMEOUT_MS_DEFAULT,
  CONNECTIONS_PER_ADDRESS_MAX_DEFAULT,
  FRAMES_PER_SECOND_DEFAULTS,
  sendBoundsOf,
  UPGRADE_TIMEOUT_MS_DEFAULT,
  MAX_PAYLOAD_DEFAULT,
  PENDING_BYTES_MAX_DEFAULT,
  PENDING_EVENTS_MAX_DEFAULT,
  advertisedHostFor,
  bracketed,
  clientProofOf,
  createWsMetrics,
  defaultStamp,
  newConnectionId,
  noLog,
  remoteAddressOf,
  tokenOf,
  type SideChannel,
  type WsServerOptions,
} from './options.js';

export interface WsServer {
  /** Emits server.listening, then server.accepted per connection; server.failed if listen fails. */
  readonly server: CallbackActorLogic<ServerCommand>;
  /** The provider side of one accepted socket, named by the connectionId of server.accepted. */
  readonly accepted: CallbackActorLogic<StreamCommand, AcceptedInput>;
  /** The real bound port after listening (undefined before, and after the server actor stopped). */
  port(): number | undefined;
}

interface Pending {
  readonly binding: SocketBinding;
  /** An accepted transport claimed it (attach runs on the next microtask). */
  claimed: boolean;
  timer: NodeJS.Timeout | undefined;
}

export function wsServer(options: WsServerOptions): WsServer {
  const host = options.host ?? '0.0.0.0';
  const metrics = options.metrics ?? createWsMetrics();
  const log = options.log ?? noLog;
  const limits: CodecLimits = { ...defaultCodecLimits, ...options.limits };
  const stamp = options.stamp ?? defaultStamp;
  const maxPayload = options.maxPayload ?? MAX_PAYLOAD_DEFAULT;
  const attachTimeoutMs = options.attachTimeoutMs ?? ATTACH_TIMEOUT_MS_DEFAULT;
  const pendingEventsMax = options.pendingEventsMax ?? PENDING_EVENTS_MAX_DEFAULT;
  const pendingBytesMax = options.pendingBytesMax ?? PENDING_BYTES_MAX_DEFAULT;
  const upgradeTimeoutMs = options.upgradeTimeoutMs ?? UPGRADE_TIMEOUT_MS_DEFAULT;
  const connectionsPerAddressMax = options.connectionsPerAddressMax ?? CONNECTIONS_PER_ADDRESS_MAX_DEFAULT;
  const frames = { ...FRAMES_PER_SECOND_DEFAULTS, ...options.framesPerSecondMax };
  const send = sendBoundsOf(options);
  const coalesceAcks = options.coalesceAcks ?? true;
  const readBatches = options.readBatches ?? false;
  /** SEC-16: the shared frame budget of each address with open connections. */
  const addressWindows = new AddressWindows(frames.perAddress);
  /** SEC-15: TCP connections open per remote address (before and after the upgrade). */
  const openByAddress = new Map<string, number>();
  /** SEC-14: TCP connections still to complete their upgrade, with the timer that drops them. */
  const awaitingUpgrade = new Map<Socket, NodeJS.Timeout>();
  const scheme = options.tls === undefined ? 'ws' : 'wss';
  if (!(Number.isInteger(options.port) && options.port >= 0 && options.port <= 65_535)) {
    throw new RangeError(`switchboard: wsServer: port must be an integer in [0, 65535], got ${options.port}`);
  }

  /** Every accepted socket not yet settled, by connectionId (bounded by the sockets the OS lets in). */
  const connections = new Map<string, Pending>();
  let boundPort: number | undefined;
  let running = false;

  /** SEC-14, SEC-15: every TCP connection, before any byte: refused over the per-address cap, else timed until upgraded. */
  function admitTcp(raw: Socket): void {
    const address = addressKeyOf(raw.remoteAddress);
    const open = (openByAddress.get(address) ?? 0) + 1;
    if (open > connectionsPerAddressMax) {
      metrics.connectionsRefused++;
      raw.destroy();
      return;
    }
    openByAddress.set(address, open);
    raw.once('close', () => {
      const left = (openByAddress.get(address) ?? 1) - 1;
      if (left <= 0) openByAddress.delete(address);
      else openByAddress.set(address, left);
      const timer = awaitingUpgrade.get(raw);
      if (timer !== undefined) clearTimeout(timer);
      awaitingUpgrade.delete(raw);
    });
    const timer = setTimeout(() => {
      awaitingUpgrade.delete(raw);
      metrics.upgradesTimedOut++;
      raw.destroy();
    }, upgradeTimeoutMs);
    timer.unref();
    awaitingUpgrade.set(raw, timer);
  }

  /** The upgrade completed: the connection is a WebSocket now, no longer on the upgrade clock. */
  function upgraded(request: IncomingMessage): void {
    // Over TLS, request.socket wraps the TCP socket admitTcp saw.
    const raw = ((request.socket as Socket & { _parent?: Socket })._parent ?? request.socket) as Socket;
    const timer = awaitingUpgrade.get(raw);
    if (timer !== undefined) clearTimeout(timer);
    awaitingUpgrade.delete(raw);
  }

  function accept(socket: WebSocket, request: IncomingMessage, emit: (event: ServerEvent) => void): void {
    const connectionId = newConnectionId();
    // The flat-status profile answers every AssignTask with Status Processing, as the seed's diagram does: no Ack is coalesced away.
    const context: BindingContext = { limits, stamp, metrics, log, label: `server ${connectionId}`, coalesceAcks: coalesceAcks && options.statusForm !== 'flat', readBatches, flatStatus: options.statusForm === 'flat' };
    const address = addressKeyOf(request.socket.remoteAddress);
    const budgets = [new FrameWindow(frames.perConnection), addressWindows.hold(address)];
    socket.once('close', () => addressWindows.release(address));
    const binding = new SocketBinding(socket, context, { inboxMax: pendingEventsMax, inboxBytesMax: pendingBytesMax, send, budgets });
    const entry: Pending = { binding, claimed: false, timer: undefined };
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (entry.claimed) return;
      binding.terminateUnattached(`no transport attached within ${attachTimeoutMs} ms`);
      connections.delete(connectionId);
    }, attachTimeoutMs);
    entry.timer.unref();
    binding.onSettled = () => {
      if (entry.timer !== undefined) clearTimeout(entry.timer);
      connections.delete(connectionId);
    };
    connections.set(connectionId, entry);
    metrics.connectionsAccepted++;
    const token = tokenOf(request);
    const clientProof = clientProofOf(request);
    const tlsSocket = request.socket as Partial<TLSSocket>;
    const peerCertificate = tlsSocket.authorized === true ? tlsSocket.getPeerCertificate?.().fingerprint256 : undefined;
    emit({
      type: 'server.accepted',
      connectionId,
      remoteAddress: remoteAddressOf(request),
      ...(token === undefined ? {} : { token }),
      ...(clientProof === undefined ? {} : { clientProof }),
      ...(peerCertificate === undefined ? {} : { peerCertificate }),
    });
  }

  const server = fromCallback<ServerCommand>(({ sendBack, receive }) => {
    if (running) throw new Error('switchboard: wsServer: its server logic is already running (one server actor at a time)');
    running = true;
    /** starting -> listening -> closed (server.close or stop); `stopped`: the actor ended. */
    let state: 'starting' | 'listening' | 'closed' = 'starting';
    let stopped = false;
    const { tls } = options;
    const http: Server =
      tls === undefined
        ? createHttpServer()
        : createHttpsServer({
            key: tls.key,
            cert: tls.cert,
            // Ask for a client certificate; one that does not verify is not refused here (the
            // client may authenticate with a key instead), it just is no credential (SEC-10).
            ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false }),
          });
    http.on('request', (_request: IncomingMessage, response: ServerResponse) => {
      response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket', connection: 'close' });
      response.end('switchboard: WebSocket endpoint; upgrade required\n');
    });
    const wss = new WebSocketServer({ server: http, maxPayload, clientTracking: false, perMessageDeflate: false });
    // ws re-emits the http server's errors here; the http listener below handles them.
    wss.on('error', () => {});
    http.on('connection', admitTcp);
    wss.on('connection', (socket, request) => {
      upgraded(request);
      if (stopped) {
        socket.on('error', () => {});
        socket.terminate();
        return;
      }
      // A side channel (a provider's file links, FILE-1) takes its own path; everything else is a session.
      const side = options.sideChannels === undefined ? undefined : sideChannelOf(options.sideChannels, request);
      if (side !== undefined) side(socket, request);
      else accept(socket, request, sendBack);
    });
    http.on('error', (error: NodeJS.ErrnoException) => {
      metrics.socketErrors++;
      if (state !== 'starting') {
        log('error', `ws: server error: ${error.message}`, { code: error.code });
        return;
      }
      state = 'closed';
      log('error', `ws: listen on ${host}:${options.port} failed: ${error.message}`, { code: error.code });
      sendBack({
        type: 'server.failed',
        error: errorShape('INTERNAL_ERROR', `listen on ${bracketed(host)}:${options.port} failed: ${error.code ?? error.message}`),
      });
    });
    http.once('listening', () => {
      if (state === 'closed') {
        http.close();
        return;
      }
      state = 'listening';
      boundPort = (http.address() as AddressInfo).port;
      const endpoint = `${scheme}://${options.advertisedHost ?? advertisedHostFor(host)}:${boundPort}`;
      log('info', `ws: listening on ${bracketed(host)}:${boundPort}, advertised as ${endpoint}`);
      sendBack({ type: 'server.listening', endpoint });
    });
    http.listen(options.port, host);

    /** Stops accepting; established sockets stay (their sessions close them, CONN-7). */
    const stopListening = (): void => {
      if (state === 'listening') http.close();
      state = 'closed'; // still starting: the 'listening' listener closes it
      boundPort = undefined;
    };

    receive((command) => {
      if (command.type === 'server.close') stopListening();
      else if (command.type === 'server.drop') connections.get(command.connectionId)?.binding.drop('dropped by the provider');
    });

    return () => {
      stopped = true;
      running = false;
      stopListening();
      wss.close();
      http.closeAllConnections(); // HTTP connections that never upgraded
      for (const timer of awaitingUpgrade.values()) clearTimeout(timer);
      awaitingUpgrade.clear();
      for (const [connectionId, entry] of connections) {
        if (entry.timer !== undefined) clearTimeout(entry.timer);
        if (entry.claimed) entry.binding.command({ type: 'transport.terminate' });
        else entry.binding.terminateUnattached('the server stopped');
        connections.delete(connectionId);
      }
      boundPort = undefined;
    };
  });

  const accepted = fromCallback<StreamCommand, AcceptedInput>(({ input, sendBack, receive }) => {
    const entry = connections.get(input.connectionId);
    if (entry === undefined) {
      let released = false;
      queueMicrotask(() => {
        if (!released) {
          sendBack({ type: 'transport.closed', graceful: false, code: CloseCode.abnormal, reason: 'unknown connection' });
        }
      });
      return () => {
        released = true;
      };
    }
    if (entry.claimed) {
      throw new Error(`switchboard: wsServer: connection ${input.connectionId} already has an accepted transport`);
    }
    entry.claimed = true;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    const { binding } = entry;
    binding.attach(sendBack);
    receive((command) => binding.command(command));
    return () => binding.release();
  });

  return { server, accepted, port: () => boundPort };
}

/** The side channel a request's path names, if any. */
function sideChannelOf(channels: NonNullable<WsServerOptions['sideChannels']>, request: IncomingMessage): SideChannel | undefined {
  const pathname = new URL(request.url ?? '/', 'ws://localhost').pathname;
  return Object.hasOwn(channels, pathname) ? channels[pathname] : undefined;
}
