/**
 * WebSocket liveness and closing (CONN-3, CONN-7, CONN-8). Pinging, answering pings and ending a
 * connection whose pongs stop are the seed's "WebSocket ping/pong … to actively maintain connections
 * and detect network disconnections", asked of both sides: core. The provider's own pings are
 * waited for at most `periodicWaitMaxMs` (12 s by default, more than twice the default
 * pingIntervalMs of 5 s).
 */
import { SEED } from '../seedWords.js';
import { Blocked, fail, mismatch, pass, type Check } from '../types.js';
import type { ProviderProbe } from './probe.js';

type ProviderCheck = Check<ProviderProbe>;

const pong: ProviderCheck = {
  name: 'provider.liveness.pong',
  requirements: ['CONN-3'],
  level: 'core',
  title: 'a ping is answered with a pong carrying the same data',
  seed: SEED.ping,
  run: async (probe) => {
    const connection = await probe.connect();
    const data = `conformance-${Date.now()}`;
    const sentAt = Date.now();
    connection.ping(data);
    const answer = await connection.until(() => connection.pongs.find((candidate) => candidate.data === data), probe.timing.answerMs);
    if (answer === undefined) return fail(mismatch({ sent: `a ping with data "${data}"`, expected: `a pong with the same data within ${probe.timing.answerMs} ms`, observed: `${connection.pongs.length} pong(s), none with it` }));
    return pass(`pong after ${answer.at - sentAt} ms`);
  },
};

const closeHandshake: ProviderCheck = {
  name: 'provider.liveness.closeHandshake',
  requirements: ['CONN-7'],
  level: 'core',
  title: 'a close frame 1000 is answered with a close frame',
  seed: SEED.close,
  run: async (probe) => {
    const connection = await probe.connect();
    const sentAt = Date.now();
    connection.close(1000, 'conformance close handshake');
    const closed = await connection.closed(probe.timing.answerMs);
    if (closed === undefined) return fail(mismatch({ sent: 'a close frame 1000', expected: `a close frame back within ${probe.timing.answerMs} ms (closeTimeoutMs)`, observed: 'the connection still open' }));
    if (closed.code === 1006) return fail(mismatch({ sent: 'a close frame 1000', expected: 'a close frame back', observed: 'the socket dropped without one (1006)' }));
    return pass(`close frame ${closed.code} back after ${closed.at - sentAt} ms`);
  },
};

/** How long after opening an idle connection the provider's first ping came, or why none did. Shared. */
function firstPing(probe: ProviderProbe): Promise<number | string> {
  return probe.memo('liveness.firstPing', async () => {
    const connection = await probe.connect();
    const waitMs = probe.timing.periodicWaitMaxMs;
    const first = await connection.until(() => connection.pings[0], waitMs);
    if (first === undefined) return `no ping from the provider within ${waitMs} ms on an idle connection${connection.closeInfo ? ` (closed ${connection.closeInfo.code})` : ''}`;
    return first - connection.openedAt;
  });
}

const providerPings: ProviderCheck = {
  name: 'provider.liveness.providerPings',
  requirements: ['CONN-3'],
  level: 'core',
  title: 'the provider pings an idle connection (every pingIntervalMs)',
  seed: SEED.ping,
  timeoutMs: 16_000,
  run: async (probe) => {
    const first = await firstPing(probe);
    if (typeof first === 'string') return fail(first);
    return pass(`first ping ${first} ms after the connection opened`);
  },
};

const deadPeer: ProviderCheck = {
  name: 'provider.liveness.deadPeer',
  requirements: ['CONN-3'],
  level: 'core',
  title: 'a connection that stops answering pings is terminated',
  seed: SEED.ping,
  timeoutMs: 30_000,
  run: async (probe) => {
    const pinged = await firstPing(probe);
    if (typeof pinged === 'string') throw new Blocked('provider.liveness.providerPings', `the provider does not ping, so a missing pong cannot be observed: ${pinged}`, 'not-applicable');
    const connection = await probe.connect({ autoPong: false });
    const waitMs = probe.timing.periodicWaitMaxMs;
    const first = await connection.until(() => connection.pings[0], waitMs);
    if (first === undefined) return fail(`no ping within ${waitMs} ms on this connection, although the provider pinged another one`);
    // No pong is sent: pingIntervalMs + pongTimeoutMs at most, and the default is 5 s + 5 s.
    const closed = await connection.closed(waitMs);
    if (closed === undefined) return fail(mismatch({ sent: 'no pong to the provider\'s ping', expected: `the connection ended within pongTimeoutMs (${waitMs} ms allowed)`, observed: `still open ${waitMs} ms after the ping` }));
    return pass(`ended (${closed.code}) ${closed.at - first} ms after an unanswered ping`);
  },
};

export const livenessChecks: readonly ProviderCheck[] = [pong, closeHandshake, providerPings, deadPeer];
