/**
 * The subscribing process of bench/broadcast.ts: `--count` connections (default 1000), each
 * subscribed to the event. For switchboard each connection is a WebSocket speaking the protocol
 * (Subscribe, then Event frames, docs/protocol.md), not a whole client each: a client process per
 * subscriber would measure discovery and 1,000 actor systems, not the broadcast. Reports `ready` once all are connected and subscribed, then, per
 * broadcast `k`, `received {k, lastAt}` when every connection got it (its wall time, comparable
 * with the publisher's on one machine).
 */
import { io as connect, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { argOf, nowMs, numberArg, onCommand, report, reportCrashes } from './common.js';

reportCrashes();
const system = argOf('system', 'socketio');
const count = numberArg('count', 1000);
const port = numberArg('port', 0);

const seen = new Map<number, number>();
const onEvent = (k: number) => {
  const n = (seen.get(k) ?? 0) + 1;
  seen.set(k, n);
  if (n === count) {
    seen.delete(k);
    report('received', { k, lastAt: nowMs() });
  }
};

if (system === 'socketio') {
  const sockets: Socket[] = [];
  let connected = 0;
  for (let i = 0; i < count; i++) {
    const socket = connect(`ws://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    socket.on('imageProcessed', (data: { id: number }) => onEvent(data.id));
    socket.on('connect', () => {
      if (++connected === count) report('ready', { count });
    });
    socket.on('connect_error', (error) => report('fatal', { message: `connect_error: ${error.message}` }));
    sockets.push(socket);
  }
  onCommand((command) => {
    if (command.cmd === 'stop') {
      for (const socket of sockets) socket.close();
      process.exit(0);
    }
  });
} else if (system === 'switchboard') {
  const sockets: WebSocket[] = [];
  let subscribed = 0;
  for (let i = 0; i < count; i++) {
    const socket = new WebSocket(`ws://127.0.0.1:${port}`);
    socket.on('open', () =>
      socket.send(
        JSON.stringify({
          type: 'Subscribe',
          messageId: `subscribe-${i}`,
          timestamp: new Date().toISOString(),
          payload: { subscriptionId: 'images', clientId: `subscriber-${i}`, serviceName: 'Images', event: 'imageProcessed' },
        }),
      ),
    );
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; payload: { data?: { id: number } } };
      if (message.type === 'Event') onEvent(message.payload.data!.id);
      else if (message.type === 'Subscribed' && ++subscribed === count) report('ready', { count });
      else if (message.type === 'Error') report('fatal', { message: JSON.stringify(message.payload) });
    });
    socket.on('error', (error) => report('fatal', { message: `ws error: ${error.message}` }));
    sockets.push(socket);
  }
  onCommand((command) => {
    if (command.cmd === 'stop') {
      for (const socket of sockets) socket.terminate();
      process.exit(0);
    }
  });
} else {
  throw new Error(`broadcastClients: unknown --system ${system}`);
}
