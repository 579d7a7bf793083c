/**
 * SEC-13 attack test: a client that never reads. It asks a provider PROCESS for a 100 KB result
 * 2,000 times (200 MB of replies) and reads none of them. The provider stops reading it once
 * 1 MiB waits unsent, drops it (1008) when it has not read a byte for `stallMs`, and its RSS
 * (measured in the provider process) rises by at most 64 MB meanwhile. Another client is served
 * throughout. Without the bound the replies pile up in the provider's memory (measured: see
 * docs/security.md).
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listeningOf, startProviderProcess, statsOf, stopTracked, type Listening, type NodeChild } from './support/processes.js';
import { payloadOf, rawSession } from './support/rawSession.js';
import { freeDiscoveryPort } from './support/udpPort.js';

const RSS_RISE_MAX = 64 * 1024 * 1024;
const STALL_MS = 1_500;
const REQUESTS = 2_000;
const TEXT = 'x'.repeat(100_000);

let provider: NodeChild;
let listening: Listening;

beforeAll(async () => {
  // Long pings: a peer that does not read does not pong either (CONN-3 would end it first).
  provider = startProviderProcess({
    name: 'Mem',
    discoveryPort: await freeDiscoveryPort(),
    args: ['--send-stall-ms', String(STALL_MS), '--ping-ms', '30000', '--pong-ms', '30000'],
  });
  listening = await listeningOf(provider);
}, 30_000);

afterAll(async () => {
  await stopTracked();
});

const now = () => new Date().toISOString();
const rssOf = async () => (await statsOf(provider)).memoryRssBytes as number;

/** A session from `localAddress` that has a 100 KB result (task `taskId`) to ask for again and again. */
async function bigResultSession(localAddress: string, clientId: string, taskId: string) {
  const session = await rawSession(listening.endpoint, { localAddress });
  session.send({
    type: 'AssignTask',
    messageId: taskId,
    timestamp: now(),
    payload: { taskId, serviceName: 'Work', operation: 'echo', taskParameters: { text: TEXT }, callbackClientId: clientId },
  });
  await session.expectFrame((f) => f.type === 'TaskResult', `the big result of ${clientId}`);
  return session;
}

describe('a client that never reads (SEC-13)', () => {
  it('raises the provider RSS by at most 64 MB and is closed; another client is served meanwhile', async () => {
    const mallory = await bigResultSession('127.0.0.2', 'mallory', 'big');
    const baseline = await rssOf();

    // From now on Mallory reads nothing: its kernel buffers fill, then the provider's.
    (mallory.socket as unknown as { _socket: Socket })._socket.pause();
    for (let i = 0; i < REQUESTS; i++) {
      mallory.send({ type: 'GetResult', messageId: `r${i}`, timestamp: now(), payload: { taskId: 'big', originalClientId: 'mallory' } });
    }

    let peak = baseline;
    const deadline = Date.now() + 20_000;
    let stats: Record<string, any> = {};
    for (;;) {
      stats = await statsOf(provider);
      peak = Math.max(peak, stats.memoryRssBytes as number);
      if ((stats.ws.sendOverflows as number) >= 1 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(stats.ws.sendOverflows, 'the non-reading client was dropped').toBeGreaterThanOrEqual(1);
    expect(stats.ws.readsPaused, 'the provider stopped reading it first').toBeGreaterThanOrEqual(1);
    expect(peak - baseline, `RSS rose from ${baseline} to ${peak}`).toBeLessThanOrEqual(RSS_RISE_MAX);
    // The session ended on the provider's side.
    await provider.waitFor((e) => e.event === 'session' && e.kind === 'ended' && e.clientId === 'mallory', { what: "mallory's session ended", timeoutMs: 5_000 });

    // Another client is served, and the provider lives.
    const alice = await rawSession(listening.endpoint);
    alice.send({
      type: 'AssignTask',
      messageId: 'a1',
      timestamp: now(),
      payload: { taskId: 'a1', serviceName: 'Work', operation: 'echo', taskParameters: { text: 'hi' }, callbackClientId: 'alice' },
    });
    expect(payloadOf(await alice.expectFrame((f) => f.type === 'TaskResult', "alice's result")).resultData).toMatchObject({ text: 'hi' });
    alice.close();
    mallory.close();
    expect(provider.alive).toBe(true);
  }, 40_000);

  it('a peer that stops reading with less than the limit unsent is dropped after stallMs', async () => {
    const before = (await statsOf(provider)).ws.sendOverflows as number;
    const slow = await bigResultSession('127.0.0.3', 'slow', 'big2');
    (slow.socket as unknown as { _socket: Socket })._socket.pause();
    // 60 x 100 KB: past the 1 MiB pause mark once the kernel buffers are full, below the 8 MiB limit.
    for (let i = 0; i < 60; i++) slow.send({ type: 'GetResult', messageId: `s${i}`, timestamp: now(), payload: { taskId: 'big2', originalClientId: 'slow' } });
    const startedAt = Date.now();
    const ended = await provider.waitFor((e) => e.event === 'session' && e.kind === 'ended' && e.clientId === 'slow', { what: "the stalled session's end", timeoutMs: 10_000 });
    const elapsed = Date.now() - startedAt;
    expect(String(ended.reason)).toContain('the peer does not read');
    expect(elapsed).toBeGreaterThanOrEqual(STALL_MS - 200);
    expect((await statsOf(provider)).ws.sendOverflows).toBe(before + 1);
    slow.close();
  }, 20_000);
});
