/**
 * The three systems under test, each as a server (what a provider process runs) and a caller
 * (what a client process uses), in the same shape: one trivial operation that answers `{ ok: true }`
 * at once, reached from another process over loopback.
 *
 * - switchboard: a provider hosting the `Bench` service (operations `echo` and `hold`), found by UDP
 *   discovery (broadcast to 127.255.255.255 only), tasks over WebSocket.
 * - ws: the floor. A `ws` server that answers `{ id, result }` for every `{ id, params }`; the
 *   caller knows its port (no discovery).
 * - moleculer: Moleculer 0.15 with the TCP transporter (UDP discovery broadcast to 127.255.255.255,
 *   multicast off), a service `bench` with action `echo`, called with `broker.call('bench.echo')`.
 */
import * as z from 'zod';
import { WebSocket, WebSocketServer } from 'ws';
import { ServiceBroker, type BrokerOptions } from 'moleculer';
import type { Client, Provider } from '../runtime/index.js';
import type { TaskLimits } from '../machines/taskLedger.js';
import { LOOPBACK, LOOPBACK_BROADCAST, MOLECULER_UDP_PORT, SERVICE_NAME, SWITCHBOARD_UDP_PORT, within } from './common.js';

// ---- switchboard ------------------------------------------------------------------------------

/**
 * Which switchboard is measured: by default the JavaScript that tsc emits (bench/run.ts builds it
 * into bench/.build first), i.e. what an installed package runs. `SWITCHBOARD_SOURCE=ts` measures
 * the TypeScript sources under tsx instead, whose esbuild transform adds `__name(...)` calls
 * (keepNames) to every function expression: measurably slower on hot paths.
 */
const entry = process.env.SWITCHBOARD_SOURCE === 'ts' ? '../runtime/index.js' : './.build/runtime/index.js';
export const { createClient, createProvider, defineService } = (await import(entry)) as typeof import('../runtime/index.js');

/** Tasks held by the `hold` operation until `releaseHeld()`; `holdStarts[k]` is when the k-th began (performance.now()). */
const held: Array<() => void> = [];
export let holdStarts = new Float64Array(0);
export let holdStarted = 0;

export function prepareHold(capacity: number): void {
  holdStarts = new Float64Array(capacity);
  holdStarted = 0;
}

export function releaseHeld(): number {
  const count = held.length;
  for (const release of held.splice(0)) release();
  return count;
}

export const benchService = defineService({
  name: SERVICE_NAME,
  version: '1.0.0',
  operations: {
    /** The trivial task: answers at once. */
    echo: { params: z.object({}), run: () => ({ ok: true }) },
    /** A long-running task: waits until released (the in-flight memory test). */
    hold: {
      params: z.object({}),
      run: () => {
        if (holdStarted < holdStarts.length) holdStarts[holdStarted] = performance.now();
        holdStarted++;
        return new Promise<{ ok: true }>((resolve) => held.push(() => resolve({ ok: true })));
      },
    },
  },
});

/** Limits raised so the throughput phases measure running tasks, not the queue (defaults: 64 running, 32 per client). */
export const throughputLimits: Partial<TaskLimits> = { tasksRunningMax: 4_096, tasksRunningPerClientMax: 4_096 };
/** Limits for the in-flight memory test. */
export const floodLimits: Partial<TaskLimits> = { tasksRunningMax: 200_000, tasksRunningPerClientMax: 200_000 };

/**
 * SEC-16's frame budgets raised likewise: by default a provider reads at most 5,000 frames per
 * second from one connection (10,000 per address), which would cap a benchmark client there.
 */
export const benchFrameBudgets = { perConnection: 10_000_000, perAddress: 10_000_000 };

export function switchboardProvider(limits: Partial<TaskLimits>): Provider {
  return createProvider({
    services: [benchService],
    host: LOOPBACK,
    advertisedHost: LOOPBACK,
    discovery: { port: SWITCHBOARD_UDP_PORT, broadcastAddresses: [LOOPBACK_BROADCAST] },
    limits,
    server: { framesPerSecondMax: benchFrameBudgets },
  });
}

export function switchboardClient(): Client {
  return createClient({ discovery: { port: SWITCHBOARD_UDP_PORT, broadcastAddresses: [LOOPBACK_BROADCAST] } });
}

// ---- raw ws -----------------------------------------------------------------------------------

export async function wsEchoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = new WebSocketServer({ host: LOOPBACK, port: 0, perMessageDeflate: false, clientTracking: false });
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.on('message', (data) => {
      const { id } = JSON.parse(data.toString()) as { id: number; params: unknown };
      socket.send(JSON.stringify({ id, result: { ok: true } }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as { port: number };
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

// ---- Moleculer --------------------------------------------------------------------------------

export function moleculerBroker(nodeID: string): ServiceBroker {
  // udpBroadcast takes an address (or a list) and udpMulticast false turns multicast off, though
  // Moleculer's typings say boolean and string: hence the cast.
  const tcp = {
    udpDiscovery: true,
    udpPort: MOLECULER_UDP_PORT,
    udpBroadcast: LOOPBACK_BROADCAST,
    udpMulticast: false,
    udpReuseAddr: true,
  };
  const options: BrokerOptions = {
    nodeID,
    logger: false,
    transporter: { type: 'TCP', options: tcp } as unknown as BrokerOptions['transporter'],
  };
  return new ServiceBroker(options);
}

export function addEchoService(broker: ServiceBroker): void {
  broker.createService({ name: 'bench', actions: { echo: () => ({ ok: true }) } });
}

// ---- callers ----------------------------------------------------------------------------------

/** One way to run the trivial operation from a client process. */
export interface Caller {
  call(): Promise<unknown>;
  close(): Promise<void>;
}

export async function switchboardCaller(): Promise<Caller> {
  const client = switchboardClient();
  await client.waitFor(SERVICE_NAME, { operation: 'echo', timeoutMs: 10_000 });
  return {
    call: () => client.assign(SERVICE_NAME, 'echo', {}).result,
    close: () => within(client.stop(), 5_000, 'switchboard client stop'),
  };
}

export async function wsCaller(port: number): Promise<Caller> {
  const socket = new WebSocket(`ws://${LOOPBACK}:${port}`, { perMessageDeflate: false });
  const pending = new Map<number, (result: unknown) => void>();
  let nextId = 0;
  socket.on('message', (data) => {
    const { id, result } = JSON.parse(data.toString()) as { id: number; result: unknown };
    const resolve = pending.get(id);
    pending.delete(id);
    resolve?.(result);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return {
    call: () =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, params: {} }));
      }),
    close: async () => socket.close(),
  };
}

export async function moleculerCaller(): Promise<Caller> {
  const broker = moleculerBroker(`bench-client-${process.pid}`);
  await broker.start();
  await broker.waitForServices('bench', 30_000, 10);
  return {
    call: () => broker.call('bench.echo', {}),
    close: () => within(broker.stop(), 5_000, 'moleculer broker stop'),
  };
}
