/**
 * The publishing process of bench/broadcast.ts. `--system socketio`: a Socket.IO server; each
 * `broadcast` command emits one event to every connected socket (`io.emit`). `--system
 * switchboard`: a provider whose service declares the event; each `broadcast` publishes it to
 * every subscriber (`provider.publish`, EVT-6). Reports
 * `listening {port}`, and per broadcast `sent {k, cpuBefore}`; `cpu` on request.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import * as z from 'zod';
import { createProvider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
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
} else if (system === 'switchboard') {
  const images = defineService({
    name: 'Images',
    version: '1.0.0',
    operations: { ping: { params: z.object({}), run: () => ({}) } },
    events: {
      imageProcessed: {
        schema: z.object({ kind: z.string(), id: z.number(), width: z.number(), height: z.number(), note: z.string() }),
      },
    },
  });
  // A discovery port of its own (never 50001); subscribers connect to the endpoint directly.
  const discoveryPort = 20_000 + Math.floor(Math.random() * 10_000);
  const provider = createProvider({
    services: [images],
    host: '127.0.0.1',
    discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] },
    sessionsMax: 4_096,
    // Every subscriber comes from 127.0.0.1: lift the per-address bound (SEC-15) for the bench.
    server: { connectionsPerAddressMax: 4_096 },
    log: (level, message) => {
      if (level === 'error') report('fatal', { message });
    },
  });
  const { endpoint } = await provider.start();
  report('listening', { port: Number(new URL(endpoint).port) });
  onCommand(async (command) => {
    if (command.cmd === 'broadcast') {
      const cpuBefore = process.cpuUsage();
      report('sent', { k: command.k, cpuBefore, sentAt: nowMs() });
      provider.publish(images, 'imageProcessed', { ...payload, id: command.k as number });
    }
    if (command.cmd === 'cpu') report('cpu', { cpu: process.cpuUsage() });
    if (command.cmd === 'stop') {
      await provider.stop();
      process.exit(0);
    }
  });
} else {
  throw new Error(`broadcastServer: unknown --system ${system}`);
}
