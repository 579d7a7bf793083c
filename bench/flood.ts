/**
 * A raw WebSocket load generator for the in-flight test: it speaks switchboard's wire protocol
 * directly (no switchboard client, so the client's own cost is not in the way) and keeps the
 * provider saturated with AssignTask frames.
 *
 *   node --import tsx bench/flood.ts --endpoint ws://127.0.0.1:P --tasks 100000 [--clients 4] [--window 250] [--warmup 2000]
 *
 * 1. Opens `clients` connections, each acting for its own clientId (a session binds one, CONN-9).
 * 2. Warm-up: `warmup` `echo` tasks, waits for all their results; prints `warmed`.
 * 3. On {"cmd":"go"}: sends `tasks` `hold` tasks (distinct taskIds), at most `window` un-acknowledged
 *    per connection, and prints `flooded` once every one is acknowledged, with the time to each
 *    1,000th Ack as seen here.
 * Stays (connections open, tasks in flight) until {"cmd":"stop"}.
 */
import { WebSocket } from 'ws';
import { argOf, numberArg, onCommand, report, reportCrashes, SERVICE_NAME } from './common.js';

reportCrashes();
setTimeout(() => process.exit(3), numberArg('lifetime-ms', 10 * 60_000)).unref();

const endpoint = argOf('endpoint');
if (endpoint === undefined) throw new TypeError('flood: --endpoint is required');
const tasks = numberArg('tasks', 10_000);
const clients = numberArg('clients', 4);
const window = numberArg('window', 250);
const warmup = numberArg('warmup', 2_000);

interface Lane {
  readonly socket: WebSocket;
  readonly clientId: string;
  sent: number;
  acked: number;
  /** Tasks of this phase acknowledged so far: by their Ack, or by a final message that coalesced it (TASK-2). */
  readonly acknowledged: Set<string>;
  results: number;
  failed: number;
  /** How many tasks this lane sends in the current phase, and of which operation. */
  quota: number;
  operation: string;
  phase: string;
}

let stopping = false;
let ackedTotal = 0;
let floodStart = 0;
const ackTimes: number[] = [];
let onProgress: () => void = () => {};

function frame(lane: Lane): string {
  const n = lane.sent++;
  const id = `${lane.phase}-${lane.clientId}-${n}`;
  return JSON.stringify({
    type: 'AssignTask',
    messageId: `m-${id}`,
    timestamp: new Date().toISOString(),
    payload: { taskId: `t-${id}`, serviceName: SERVICE_NAME, operation: lane.operation, taskParameters: {}, callbackClientId: lane.clientId },
  });
}

function pump(lane: Lane): void {
  while (lane.sent < lane.quota && lane.sent - lane.acked < window) lane.socket.send(frame(lane));
}

async function open(index: number): Promise<Lane> {
  const socket = new WebSocket(endpoint as string, { perMessageDeflate: false });
  const lane: Lane = { socket, clientId: `flood-${process.pid}-${index}`, sent: 0, acked: 0, acknowledged: new Set(), results: 0, failed: 0, quota: 0, operation: 'echo', phase: 'warm' };
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { type: string; payload?: { taskId?: string } };
    // A task that ends in the turn it was accepted is acknowledged by its final message alone (TASK-2).
    const acknowledge = () => {
      const taskId = message.payload?.taskId;
      if (taskId === undefined || lane.acknowledged.has(taskId)) return;
      lane.acknowledged.add(taskId);
      lane.acked++;
      if (lane.phase === 'hold') {
        ackedTotal++;
        if (ackedTotal % 1_000 === 0) ackTimes.push(performance.now() - floodStart);
      }
      pump(lane);
    };
    switch (message.type) {
      case 'Ack':
        acknowledge();
        break;
      case 'TaskResult':
        lane.results++;
        acknowledge();
        break;
      case 'TaskFailed':
      case 'Error':
        lane.failed++;
        if (lane.failed <= 3) report('refused', { message });
        // No Ack will come for a refused task.
        if (message.payload?.taskId !== undefined) acknowledge();
        else {
          lane.acked++;
          pump(lane);
        }
        break;
      default:
        break;
    }
    onProgress();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const pings: number[] = [];
  socket.on('ping', () => {
    pings.push(Math.round(performance.now() - floodStart));
    if (pings.length > 20) pings.shift();
  });
  // A connection the provider closes mid-run would stall its lane: say so and stop.
  socket.on('close', (code, reason) => {
    if (stopping) return;
    report('fatal', { message: `flood: connection of ${lane.clientId} closed (${code} ${reason.toString()}) after ${lane.acked} acks in phase ${lane.phase}, ${Math.round(performance.now() - floodStart)} ms into the flood; last pings received at ${pings.join(', ')} ms` });
    process.exit(71);
  });
  return lane;
}

const lanes = await Promise.all(Array.from({ length: clients }, (_, index) => open(index)));

function run(phase: string, operation: string, total: number, done: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    onProgress = () => {
      if (done()) {
        onProgress = () => {};
        resolve();
      }
    };
    lanes.forEach((lane, index) => {
      lane.phase = phase;
      lane.operation = operation;
      lane.sent = 0;
      lane.acked = 0;
      lane.acknowledged.clear();
      lane.results = 0;
      lane.quota = Math.floor(total / clients) + (index < total % clients ? 1 : 0);
      pump(lane);
    });
  });
}

await run('warm', 'echo', warmup, () => lanes.every((lane) => lane.results + lane.failed >= lane.quota));
report('warmed', { tasks: warmup, failed: lanes.reduce((sum, lane) => sum + lane.failed, 0) });

onCommand((command) => {
  if (command.cmd === 'stop') {
    stopping = true;
    for (const lane of lanes) lane.socket.terminate();
    process.exit(0);
  }
  if (command.cmd !== 'go') return;
  floodStart = performance.now();
  void run('hold', 'hold', tasks, () => lanes.every((lane) => lane.acked >= lane.quota)).then(() => {
    const failed = lanes.reduce((sum, lane) => sum + lane.failed, 0);
    report('flooded', { tasks, acked: ackedTotal, failed, elapsedMs: performance.now() - floodStart, ackAtMs: ackTimes });
  });
});
