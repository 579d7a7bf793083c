/**
 * The publishing process of bench/broadcast.ts. `--system socketio`: a Socket.IO server; each
 * `broadcast` command emits one event to every connected socket (`io.emit`). Reports
 * `listening {port}`, and per broadcast `sent {k, cpuBefore}`; `cpu` on request.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { argOf, nowMs, onCommand, report, reportCrashes } from './common.js';

reportCrashes();
const system = argOf('system', 'socketio');
const payload = { kind: 'resized', id: 0, width: 640, height: 480, note: 'x'.repeat(64) };

if (system === 'socketio') {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false });
  http.listen(0, '127.0.0.1', () => report('listening', { port: (http.address() as { port: number }).port }));
  onCommand((command) => {
    if (command.cmd === 'broadcast') {
      const cpuBefore = process.cpuUsage();
      report('sent', { k: command.k, cpuBefore, sentAt: nowMs() });
      io.emit('imageProcessed', { ...payload, id: command.k });
    }
    if (command.cmd === 'cpu') report('cpu', { cpu: process.cpuUsage() });
    if (command.cmd === 'stop') {
      io.close();
      process.exit(0);
    }
  });
} else {
  throw new Error(`broadcastServer: unknown --system ${system}`);
}
