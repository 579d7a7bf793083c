/**
 * SEC-15's attack at a given scale: idle anonymous WebSockets from many loopback "hosts" against a
 * provider PROCESS that requires a key, then a key holder's tasks. Shared by the fast tier (a small
 * provider: 64 sessions, 16 anonymous) and the slow tier (the defaults against 2,000 sockets), so
 * both prove the same defence: without the anonymous cap the idle sockets take every session and
 * the key holder is refused.
 */
import { expect } from 'vitest';
import { WebSocket } from 'ws';
import { listeningOf, startProviderProcess, statsOf, type NodeChild } from './processes.js';
import { payloadOf, rawSession } from './rawSession.js';
import { freeDiscoveryPort } from './udpPort.js';

export interface IdleFloodScale {
  /** Extra provider flags (smaller limits for the fast tier). */
  readonly providerArgs: readonly string[];
  readonly anonymousMax: number;
  readonly hosts: number;
  readonly socketsPerHost: number;
  readonly tasks: number;
}

export interface IdleFloodOutcome {
  readonly sockets: number;
  readonly open: number;
  readonly elapsedMs: number;
}

/** The API key of the legitimate client in the connection-bound attacks. */
export const KEY = 'key-of-the-legitimate-client-0001';
const now = () => new Date().toISOString();

/** An AssignTask of the fixture provider's `Work.echo`, as raw JSON. */
export const echo = (taskId: string, clientId: string) => ({
  type: 'AssignTask',
  messageId: `m-${taskId}`,
  timestamp: now(),
  payload: { taskId, serviceName: 'Work', operation: 'echo', taskParameters: { text: taskId }, callbackClientId: clientId },
});

/** Opens a WebSocket from `localAddress` and resolves once it is open, or closed/refused. */
function idleSocket(endpoint: string, localAddress: string): Promise<WebSocket> {
  return new Promise((resolve) => {
    const socket = new WebSocket(endpoint, { localAddress });
    socket.on('error', () => {});
    socket.once('open', () => resolve(socket));
    socket.once('close', () => resolve(socket));
  });
}

export async function idleFlood(name: string, scale: IdleFloodScale): Promise<IdleFloodOutcome> {
  // The first-message deadline is pushed out of the way: this is the anonymous cap's test.
  const args = ['--ping-ms', '30000', '--pong-ms', '30000', '--token', KEY, '--first-message-ms', '600000', ...scale.providerArgs];
  const child: NodeChild = startProviderProcess({ name, discoveryPort: await freeDiscoveryPort(), args });
  const { endpoint } = await listeningOf(child);
  const idle: WebSocket[] = [];
  for (let round = 0; round < scale.socketsPerHost; round++) {
    const opening = [];
    for (let host = 1; host <= scale.hosts; host++) opening.push(idleSocket(endpoint, `127.0.1.${host}`));
    idle.push(...(await Promise.all(opening)));
  }
  const stillOpen = () => idle.filter((socket) => socket.readyState === WebSocket.OPEN).length;
  // Those beyond the anonymous cap were refused with 1013 (after their Error OVERLOADED).
  await new Promise((resolve) => setTimeout(resolve, 500));
  const open = stillOpen();
  expect(open).toBeLessThanOrEqual(scale.anonymousMax);
  expect(open).toBeGreaterThan(scale.anonymousMax / 2);

  const alice = await rawSession(endpoint, { headers: { authorization: `Bearer ${KEY}` } });
  const started = Date.now();
  for (let i = 0; i < scale.tasks; i++) alice.send(echo(`t${i}`, 'alice'));
  for (let i = 0; i < scale.tasks; i++) {
    const result = await alice.expectFrame((f) => f.type === 'TaskResult' && payloadOf(f).taskId === `t${i}`, `task t${i}`, 20_000);
    expect(payloadOf(result).resultData).toMatchObject({ text: `t${i}` });
  }
  const elapsedMs = Date.now() - started;
  expect(stillOpen()).toBe(open); // the idle ones are still there: the key holder did not need their places
  const sockets = scale.hosts * scale.socketsPerHost;
  expect((await statsOf(child)).provider.sessionsRefused).toBeGreaterThanOrEqual(sockets - scale.anonymousMax);
  alice.close();
  for (const socket of idle) socket.terminate();
  expect(child.alive).toBe(true);
  return { sockets, open, elapsedMs };
}
