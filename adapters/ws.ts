/**
 * The real WebSocket adapter: machines/transport.ts's stream and server contracts over `ws`.
 *
 * Same contract and semantics as the simulated network (adapters/simulated/streams.ts): every
 * frame goes through machines/codec.ts; `transport.closed` comes exactly once per transport, last;
 * an accepted socket buffers its events (bounded) until its transport attaches; the token is read
 * from `Authorization: Bearer` or `?token=`. Ping timing belongs to the statecharts (CONN-3): the
 * adapter only pings on `transport.ping` and reports pongs; ws answers pings by itself.
 *
 * - ./ws/server.ts: `wsServer(options)` -> `{ server, accepted, port() }`
 * - ./ws/connect.ts: `wsConnect(options)` -> the client transport
 * - ./ws/binding.ts: one socket <-> StreamCommand/StreamEvent (both sides)
 * - ./ws/options.ts: options, counters, pure helpers
 */
export { wsServer, type WsServer } from './ws/server.js';
export { wsConnect } from './ws/connect.js';
export {
  createWsMetrics,
  type WsConnectOptions,
  type WsLog,
  type WsLogLevel,
  type WsMetrics,
  type WsServerOptions,
  type SideChannel,
} from './ws/options.js';
