/**
 * The transport logics of one simulated host: `fromCallback` actors implementing the contracts of
 * machines/transport.ts, so a machine runs unchanged over the simulated network or the real
 * adapters. Callback actors because their deliveries are processed synchronously inside the clock
 * callback that makes them (STYLE principle 4), so `clock.increment()` returns with every
 * reaction done.
 *
 * Each call returns fresh logic; one logic may back many actors (each start opens its own socket
 * or connection end), and stopping an actor closes what it opened (a stream: like terminate).
 */
import { fromCallback, type CallbackActorLogic } from 'xstate';
import type {
  AcceptedInput,
  ConnectInput,
  DatagramCommand,
  ServerCommand,
  StreamCommand,
} from '../../machines/transport.js';
import type { DatagramLayer, DatagramSocketOptions } from './datagrams.js';
import type { StreamLayer } from './streams.js';

/** UDP discovery socket: DatagramCommand in, DatagramEvent out. */
export type DatagramTransportLogic = CallbackActorLogic<DatagramCommand>;
/** Listening WebSocket server: ServerCommand in, ServerEvent out. */
export type ServerTransportLogic = CallbackActorLogic<ServerCommand>;
/** Provider side of one accepted connection: StreamCommand in, StreamEvent out. */
export type AcceptedTransportLogic = CallbackActorLogic<StreamCommand, AcceptedInput>;
/** Client side of one connection: StreamCommand in, StreamEvent out. */
export type ConnectTransportLogic = CallbackActorLogic<StreamCommand, ConnectInput>;

/** The well-known discovery port (docs/protocol.md, DISC-1). */
export const DISCOVERY_PORT = 50_001;

export interface DiscoveryOptions extends DatagramSocketOptions {
  /** The shared discovery port to bind and broadcast to. @default 50001 */
  readonly port?: number;
}

export interface ServerOptions {
  /** The TCP port to listen on; the endpoint is `ws://<address>:<port>`. */
  readonly port: number;
}

export interface SimulatedHost {
  readonly address: string;
  /**
   * A discovery socket bound to the shared port, with an ephemeral port of its own that it sends
   * from (see adapters/simulated/datagrams.ts for why).
   */
  discovery(options?: DiscoveryOptions): DatagramTransportLogic;
  /** Emits server.listening (or server.failed) on the next tick, then server.accepted per connection. */
  server(options: ServerOptions): ServerTransportLogic;
  /** Drives the provider side of the connection named by `input.connectionId`. */
  accepted(): AcceptedTransportLogic;
  /** Connects to `input.endpoint`: transport.opened, or transport.closed 1006 'connection refused'. */
  connect(): ConnectTransportLogic;
}

export interface HostLayers {
  readonly datagrams: DatagramLayer;
  readonly streams: StreamLayer;
}

function checkPort(port: number): void {
  if (!(Number.isInteger(port) && port >= 1 && port <= 65_535)) {
    throw new RangeError(`switchboard: simulated network: port must be an integer in [1, 65535], got ${port}`);
  }
}

export function createSimulatedHost(address: string, layers: HostLayers): SimulatedHost {
  const { datagrams, streams } = layers;
  return {
    address,

    discovery(options = {}) {
      const port = options.port ?? DISCOVERY_PORT;
      checkPort(port);
      return fromCallback<DatagramCommand>(({ sendBack, receive }) => {
        const socket = datagrams.open(address, port, sendBack, options);
        receive((command) => {
          if (command.type === 'datagram.send') datagrams.send(socket, command);
        });
        return () => datagrams.close(socket);
      });
    },

    server(options) {
      checkPort(options.port);
      return fromCallback<ServerCommand>(({ sendBack, receive }) => {
        const listener = streams.listen(address, options.port, sendBack);
        receive((command) => {
          if (command.type === 'server.close') streams.unlisten(listener);
        });
        return () => streams.unlisten(listener);
      });
    },

    accepted() {
      return fromCallback<StreamCommand, AcceptedInput>(({ input, sendBack, receive }) => {
        const end = streams.attach(address, input.connectionId, sendBack);
        receive((command) => streams.command(end, command));
        return () => streams.release(end);
      });
    },

    connect() {
      return fromCallback<StreamCommand, ConnectInput>(({ input, sendBack, receive }) => {
        const end = streams.connect(address, input.endpoint, sendBack);
        receive((command) => streams.command(end, command));
        return () => streams.release(end);
      });
    },
  };
}
