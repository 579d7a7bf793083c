/**
 * Attack tests of the connection bounds (SEC-14, SEC-15, SEC-16, SEC-19), real sockets on
 * loopback against provider PROCESSES (specs/fixtures/processes/provider.ts). Other loopback
 * addresses (127.0.x.y) stand for other hosts.
 *
 * - 200 idle anonymous WebSockets (from 20 addresses, under the per-address cap) do not stop a
 *   client with an API key from completing 50 tasks on a provider of 64 sessions: anonymous
 *   sessions have a cap of their own (2,000 against the defaults: security.bounds.slow.spec.ts).
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
import { echo, idleFlood, KEY } from './support/idleFlood.js';
import { note } from './support/notes.js';

afterAll(async () => {
  await stopTracked();
});

async function provider(name: string, args: readonly string[]): Promise<{ child: NodeChild; listening: Listening }> {
  const child = startProviderProcess({ name, discoveryPort: await freeDiscoveryPort(), args: ['--ping-ms', '30000', '--pong-ms', '30000', ...args] });
  return { child, listening: await listeningOf(child) };
}


describe('SEC-15: idle anonymous sockets cannot lock out key holders', () => {
  it('200 idle anonymous WebSockets from 20 hosts against 64 sessions (16 anonymous); a client with a key completes 50 tasks', async () => {
    // The same attack at full scale, against the default limits, is security.bounds.slow.spec.ts.
    const outcome = await idleFlood('Anon', {
      providerArgs: ['--sessions-max', '64', '--anonymous-max', '16'],
      anonymousMax: 16,
      hosts: 20,
      socketsPerHost: 10,
      tasks: 50,
    });
    note(`SEC-15: ${outcome.open} of ${outcome.sockets} anonymous sockets admitted; 50 tasks of the key holder in ${outcome.elapsedMs} ms`);
  }, 30_000);
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
