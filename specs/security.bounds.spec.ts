/**
 * Attack tests of the connection bounds (SEC-14, SEC-15, SEC-16, SEC-19), real sockets on
 * loopback against provider PROCESSES (specs/fixtures/processes/provider.ts). Other loopback
 * addresses (127.0.x.y) stand for other hosts.
 *
 * - 2,000 idle anonymous WebSockets (from 100 addresses, under the per-address cap) do not stop a
 *   client with an API key from completing 100 tasks: anonymous sessions have a cap of their own.
 * - A TCP connection that sends no byte, or an upgrade that never finishes, is dropped after
 *   upgradeTimeoutMs; a WebSocket that sends no message is closed after firstMessageTimeoutMs.
 * - One address may hold only connectionsPerAddressMax connections; others are unaffected.
 * - Failed authentication is throttled per host: the right key from a guessing host is refused
 *   for the rest of the window, from another host it works.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { listeningOf, startProviderProcess, statsOf, stopTracked, type Listening, type NodeChild } from './support/processes.js';
import { payloadOf, rawSession, type RawSession } from './support/rawSession.js';
import { freeDiscoveryPort } from './support/udpPort.js';
import { note } from './support/notes.js';

const KEY = 'key-of-the-legitimate-client-0001';
const now = () => new Date().toISOString();

afterAll(async () => {
  await stopTracked();
});

async function provider(name: string, args: readonly string[]): Promise<{ child: NodeChild; listening: Listening }> {
  const child = startProviderProcess({ name, discoveryPort: await freeDiscoveryPort(), args: ['--ping-ms', '30000', '--pong-ms', '30000', ...args] });
  return { child, listening: await listeningOf(child) };
}

const echo = (taskId: string, clientId: string) => ({
  type: 'AssignTask',
  messageId: `m-${taskId}`,
  timestamp: now(),
  payload: { taskId, serviceName: 'Work', operation: 'echo', taskParameters: { text: taskId }, callbackClientId: clientId },
});

/** Opens a WebSocket from `localAddress` and resolves once it is open, or closed/refused. */
function idleSocket(endpoint: string, localAddress: string): Promise<{ socket: WebSocket; opened: boolean; closeCode: Promise<number> }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(endpoint, { localAddress });
    let settled = false;
    const closeCode = new Promise<number>((done) => socket.once('close', (code) => done(code)));
    socket.on('error', () => {});
    socket.once('open', () => {
      settled = true;
      resolve({ socket, opened: true, closeCode });
    });
    socket.once('close', () => {
      if (!settled) resolve({ socket, opened: false, closeCode });
    });
  });
}

describe('SEC-15: idle anonymous sockets cannot lock out key holders', () => {
  it('2,000 idle anonymous WebSockets from 100 hosts; a client with a key completes 100 tasks', async () => {
    // The first-message deadline is pushed out of the way: this is the anonymous cap's test.
    const { child, listening } = await provider('Anon', ['--token', KEY, '--first-message-ms', '600000']);
    const idle: { socket: WebSocket; opened: boolean; closeCode: Promise<number> }[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const opening = [];
      for (let host = 1; host <= 100; host++) opening.push(idleSocket(listening.endpoint, `127.0.1.${host}`));
      idle.push(...(await Promise.all(opening)));
    }
    const stillOpen = () => idle.filter((entry) => entry.socket.readyState === WebSocket.OPEN).length;
    // Those beyond the anonymous cap were refused with 1013 (after their Error OVERLOADED).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const open = stillOpen();
    expect(open).toBeLessThanOrEqual(256);
    expect(open).toBeGreaterThan(100);

    const alice = await rawSession(listening.endpoint, { headers: { authorization: `Bearer ${KEY}` } });
    const started = Date.now();
    for (let i = 0; i < 100; i++) alice.send(echo(`t${i}`, 'alice'));
    for (let i = 0; i < 100; i++) {
      const result = await alice.expectFrame((f) => f.type === 'TaskResult' && payloadOf(f).taskId === `t${i}`, `task t${i}`, 20_000);
      expect(payloadOf(result).resultData).toMatchObject({ text: `t${i}` });
    }
    const elapsedMs = Date.now() - started;
    expect(stillOpen()).toBe(open); // the idle ones are still there: the key holder did not need their places
    expect((await statsOf(child)).provider.sessionsRefused).toBeGreaterThanOrEqual(2_000 - 256);
    alice.close();
    for (const entry of idle) entry.socket.terminate();
    expect(child.alive).toBe(true);
    note(`SEC-15: ${open} of 2,000 anonymous sockets admitted; 100 tasks of the key holder in ${elapsedMs} ms`);
  }, 90_000);
});

describe('SEC-14: deadlines for connections that say nothing', () => {
  it('a TCP connection with no byte, or a never-finished upgrade, is dropped after upgradeTimeoutMs; a silent WebSocket after firstMessageTimeoutMs', async () => {
    const { child, listening } = await provider('Silent', ['--upgrade-timeout-ms', '400', '--first-message-ms', '600']);
    const port = Number(new URL(listening.endpoint).port);
    const endOf = (socket: Socket) => new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    const started = Date.now();
    const byteless = connect({ host: '127.0.0.1', port });
    const partial = connect({ host: '127.0.0.1', port });
    partial.on('connect', () => partial.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n')); // never finished
    for (const socket of [byteless, partial]) socket.on('error', () => {});
    const [bytelessEnd, partialEnd] = await Promise.all([endOf(byteless), endOf(partial)]);
    for (const end of [bytelessEnd, partialEnd]) {
      expect(end - started).toBeGreaterThanOrEqual(300);
      expect(end - started).toBeLessThan(3_000);
    }
    const silent = await rawSession(listening.endpoint);
    const error = await silent.expectFrame((f) => f.type === 'Error', 'the deadline Error', 3_000);
    expect(payloadOf(error)).toMatchObject({ code: 'TIMEOUT', message: 'no message within firstMessageTimeoutMs' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(silent.closed()?.code).toBe(1008);
    expect((await statsOf(child)).ws.upgradesTimedOut).toBe(2);
  }, 30_000);
});

describe('SEC-15: connections per address', () => {
  it('one address may hold connectionsPerAddressMax connections; the next is refused at once; another address is not affected', async () => {
    const { child, listening } = await provider('PerAddress', ['--connections-per-address', '5']);
    const sockets: RawSession[] = [];
    for (let i = 0; i < 5; i++) sockets.push(await rawSession(listening.endpoint, { localAddress: '127.0.2.1' }));
    await expect(rawSession(listening.endpoint, { localAddress: '127.0.2.1' })).rejects.toThrow();
    const other = await rawSession(listening.endpoint, { localAddress: '127.0.2.2' });
    other.send(echo('o1', 'other'));
    await other.expectFrame((f) => f.type === 'TaskResult', 'the other host served');
    expect((await statsOf(child)).ws.connectionsRefused).toBe(1);
    for (const socket of [...sockets, other]) socket.close();
  }, 30_000);
});

describe('SEC-19: throttled key guessing', () => {
  it('after 10 wrong keys from a host, even the right key from it is refused for the window; another host is served', async () => {
    const { listening } = await provider('Guess', ['--token', KEY]);
    const tryKey = async (key: string, localAddress: string): Promise<string> => {
      const socket = new WebSocket(listening.endpoint, { localAddress, headers: { authorization: `Bearer ${key}` } });
      socket.on('error', () => {});
      return new Promise((resolve) => {
        socket.once('message', (data) => {
          const frame = JSON.parse(String(data)) as { type: string; payload: { message?: string } };
          socket.terminate();
          resolve(frame.type === 'Error' ? String(frame.payload.message) : frame.type);
        });
        socket.once('open', () => socket.send(JSON.stringify(echo('probe', 'guesser'))));
      });
    };
    for (let i = 0; i < 10; i++) expect(await tryKey(`wrong-${i}`, '127.0.3.1')).toBe('the token presented at the upgrade is not valid');
    expect(await tryKey(KEY, '127.0.3.1')).toBe('too many failed authentication attempts from this host; try later');
    expect(['Ack', 'TaskResult']).toContain(await tryKey(KEY, '127.0.3.2'));
  }, 30_000);
});
