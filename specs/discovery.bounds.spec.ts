/**
 * Bounds on a provider's answers to discovery requests (DISC-16, DISC-17): answers per source
 * address and in all per window, and answer bytes never more than `amplificationFactor` times the
 * request's own bytes (switchboard clients pad their requests so a few answers fit). Pure
 * bookkeeping first (machines/discovery/answers.ts), then on real UDP sockets on loopback, each
 * bound next to a provider without it, where the same traffic gets through. The simulated network
 * applies the same bounds (specs/simulatedNetwork.spec.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createUdpMetrics } from '../adapters/udp.js';
import { AnswerBounds, answerBoundsDefaults, padRequest, REQUEST_BYTES_MIN } from '../machines/discovery/answers.js';
import { defineService } from '../runtime/service.js';
import { closeAll, discoveryPort, greeterService, LOOPBACK, rawSocket, sleep, startProvider, until } from './support/discoveryNet.js';

afterEach(closeAll);

const from = (host: string, port = 40_000) => ({ host, port });

describe('answer bounds (pure)', () => {
  it('DISC-16: answers at most requestsPerSourceMax requests per source host and requestsMax in all per window', () => {
    const bounds = new AnswerBounds({ ...answerBoundsDefaults, requestsPerSourceMax: 2, requestsMax: 3, windowMs: 1_000 });
    const padded = REQUEST_BYTES_MIN;
    expect([0, 1, 2].map((i) => bounds.admitRequest(from('10.0.0.1', 40_000 + i), padded, 0))).toEqual(['answer', 'answer', 'sourceLimited']);
    expect(bounds.admitRequest(from('10.0.0.2'), padded, 999)).toBe('answer');
    expect(bounds.admitRequest(from('10.0.0.3'), padded, 999)).toBe('limited');
    // A new window starts afresh.
    expect(bounds.admitRequest(from('10.0.0.1'), padded, 1_000)).toBe('answer');
  });

  it('DISC-17: a padded request grants its source address and port amplificationFactor times its bytes, for budgetTtlMs', () => {
    const bounds = new AnswerBounds({ ...answerBoundsDefaults, amplificationFactor: 3, budgetTtlMs: 2_000, paddedBytesMin: 100 });
    bounds.admitRequest(from('10.0.0.1'), 100, 0);
    expect(bounds.spend(from('10.0.0.1'), 200, 10)).toBe('send');
    expect(bounds.spend(from('10.0.0.1'), 101, 10)).toBe('overBudget'); // 100 left
    expect(bounds.spend(from('10.0.0.1'), 100, 10)).toBe('send');
    expect(bounds.spend(from('10.0.0.1'), 1, 10)).toBe('overBudget');
    // Another port of the same host asked nothing: not an answer, not bounded here.
    expect(bounds.spend(from('10.0.0.1', 40_001), 10_000, 10)).toBe('send');
    // A request's budget is its own: an earlier one's leftover does not add up; budgets lapse after budgetTtlMs.
    bounds.admitRequest(from('10.0.0.2'), 1_000, 0);
    bounds.admitRequest(from('10.0.0.2'), 100, 500);
    expect(bounds.spend(from('10.0.0.2'), 301, 600)).toBe('overBudget');
    expect(bounds.spend(from('10.0.0.2'), 300, 600)).toBe('send');
    bounds.admitRequest(from('10.0.0.3'), 100, 0);
    expect(bounds.spend(from('10.0.0.3'), 300, 2_001)).toBe('send'); // lapsed: no longer an answer to it
  });

  it('DISC-17: an unpadded request gets one answer of at most factor x paddedBytesMin bytes, the next request the next answer in turn', () => {
    const bounds = new AnswerBounds({ ...answerBoundsDefaults, amplificationFactor: 3, paddedBytesMin: 1_200, windowMs: 1_000 });
    const seedClient = from('10.0.0.9', 41_000);
    const offer = (nowMs: number, sizes: number[]) => sizes.map((bytes) => bounds.spend(seedClient, bytes, nowMs));
    expect(bounds.admitRequest(seedClient, 120, 0)).toBe('answer');
    expect(offer(1, [900, 800, 700])).toEqual(['send', 'notItsTurn', 'notItsTurn']);
    // One per source host per window: a second request in the same window is read, but answered with nothing.
    expect(bounds.admitRequest(seedClient, 120, 500)).toBe('unanswered');
    expect(offer(501, [900, 800, 700])).toEqual(['notItsTurn', 'notItsTurn', 'notItsTurn']);
    expect(bounds.admitRequest(seedClient, 120, 1_000)).toBe('answer');
    expect(offer(1_001, [900, 800, 700])).toEqual(['notItsTurn', 'send', 'notItsTurn']);
    bounds.admitRequest(seedClient, 120, 2_000);
    expect(offer(2_001, [900, 800, 700])).toEqual(['notItsTurn', 'notItsTurn', 'send']);
    bounds.admitRequest(seedClient, 120, 3_000);
    expect(offer(3_001, [900, 800, 700])).toEqual(['send', 'notItsTurn', 'notItsTurn']); // round again
    // Too big for 3 x 1200 bytes: not sent; the next request moves on to the next one.
    const other = from('10.0.0.10', 41_000);
    bounds.admitRequest(other, 120, 4_000);
    expect([5_000, 800].map((bytes) => bounds.spend(other, bytes, 4_001))).toEqual(['overBudget', 'notItsTurn']);
    bounds.admitRequest(other, 120, 5_000);
    expect([5_000, 800].map((bytes) => bounds.spend(other, bytes, 5_001))).toEqual(['notItsTurn', 'send']);
  });

  it('DISC-16, DISC-17: unpadded requests are answered at most unpaddedMax per window in all, whatever their sources', () => {
    const bounds = new AnswerBounds({ ...answerBoundsDefaults, requestsMax: 200, unpaddedMax: 20 });
    const admitted = Array.from({ length: 100 }, (_, i) => bounds.admitRequest(from(`10.1.0.${i}`), 120, 0)).filter((verdict) => verdict === 'answer');
    expect(admitted).toHaveLength(20);
    // Padded requests are still answered in that window.
    expect(bounds.admitRequest(from('10.2.0.1'), 1_200, 1)).toBe('answer');
  });

  it('keeps budgets bounded: expired ones go when a window rolls', () => {
    const bounds = new AnswerBounds({ ...answerBoundsDefaults, requestsPerSourceMax: 1_000, requestsMax: 1_000 });
    for (let i = 0; i < 500; i++) bounds.admitRequest(from(`10.0.${i >> 8}.${i & 255}`), REQUEST_BYTES_MIN, 0);
    expect(bounds.budgets).toBe(500);
    bounds.admitRequest(from('10.9.9.9'), REQUEST_BYTES_MIN, 5_000);
    expect(bounds.budgets).toBe(1);
  });

  it('padRequest pads to exactly the size asked, with a member receivers ignore, and never shortens', () => {
    const text = JSON.stringify({ discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'client-é', timestamp: '2025-07-02T11:45:00Z' });
    const padded = padRequest(text, REQUEST_BYTES_MIN);
    expect(Buffer.byteLength(padded)).toBe(REQUEST_BYTES_MIN);
    expect(JSON.parse(padded)).toEqual({ ...JSON.parse(text), padding: expect.stringMatching(/^ *$/) });
    expect(padRequest(text, 10)).toBe(text);
    expect(Buffer.byteLength(padRequest(text, Buffer.byteLength(text) + 3))).toBeGreaterThanOrEqual(Buffer.byteLength(text) + 3);
  });
});

/** A service whose advertisement is about 1.2 KB signed (a dozen operations). */
function bigService(name: string) {
  const operations = Object.fromEntries(
    Array.from({ length: 12 }, (_, i) => [`operation${i}`, { params: z.object({ inputPath: z.string(), width: z.number().int() }), run: () => ({}) }]),
  );
  return defineService({ name, version: '1.0.0', operations });
}

const request = (clientId: string, bytes: number): string =>
  padRequest(JSON.stringify({ discoveryType: 'ClientServiceDiscoveryRequest', clientId, timestamp: new Date().toISOString() }), bytes);

/** Answers (by respondsToClientId) and their bytes at `socket`. */
function answersTo(received: { text: string; bytes: number }[], clientId: string) {
  const answers = received.filter((datagram) => datagram.text.includes(`"respondsToClientId":"${clientId}"`));
  return { count: answers.length, bytes: answers.reduce((sum, datagram) => sum + datagram.bytes, 0) };
}

describe('answer bounds on real UDP (DISC-16, DISC-17)', () => {
  it('DISC-17: answers to a padded request never exceed 3x its bytes, an unpadded one gets one answer; without the bound a small request gets everything', async () => {
    const port = await discoveryPort();
    const services = [greeterService('real'), bigService('Big-A'), bigService('Big-B')];
    const metrics = createUdpMetrics();
    const bounded = await startProvider(port, { services, discovery: { metrics } });
    const attacker = await rawSocket('127.0.0.66');
    const sizes = [150, 400, REQUEST_BYTES_MIN, 4_000];
    for (const [index, bytes] of sizes.entries()) await attacker.send(request(`bounded-${index}`, bytes), port, LOOPBACK);
    await sleep(300);
    for (const [index, bytes] of sizes.entries()) {
      const answers = answersTo(attacker.received, `bounded-${index}`);
      // A padded request: 3x its bytes. An unpadded one (a seed-only client's): one answer, as if padded.
      if (bytes >= REQUEST_BYTES_MIN) expect(answers.bytes / bytes).toBeLessThanOrEqual(3);
      else expect(answers.count <= 1 && answers.bytes <= 3 * REQUEST_BYTES_MIN).toBe(true);
    }
    // Of the two unpadded requests from one address, only the first is answered in its window (DISC-16).
    expect([answersTo(attacker.received, 'bounded-0').count, answersTo(attacker.received, 'bounded-1').count]).toEqual([1, 0]);
    expect(answersTo(attacker.received, 'bounded-2').count).toBeGreaterThanOrEqual(1); // a padded request is answered
    expect(answersTo(attacker.received, 'bounded-3').count).toBe(3); // a big enough one in full
    expect(metrics.answersOverBudget).toBeGreaterThan(0);
    await bounded.stop();

    // The same small request to a provider without the bound: every answer, many times its size.
    const unboundedPort = await discoveryPort();
    await startProvider(unboundedPort, { services, discovery: { answers: { amplificationFactor: 1_000_000, paddedBytesMin: 0 } } });
    await attacker.send(request('unbounded', 150), unboundedPort, LOOPBACK);
    const unbounded = await until(() => {
      const answers = answersTo(attacker.received, 'unbounded');
      return answers.count === 3 && answers;
    }, 'all three answers from the provider without the bound');
    expect(unbounded.bytes / 150).toBeGreaterThan(10);
  });

  it('DISC-16, DISC-17: unpadded requests from 40 addresses get at most 20 answers a second, one address at most one; without the bound all 40', async () => {
    const port = await discoveryPort();
    const metrics = createUdpMetrics();
    await startProvider(port, { discovery: { metrics } });
    const spoofed = await Promise.all(Array.from({ length: 40 }, (_, i) => rawSocket(`127.0.3.${i + 1}`)));
    const flooder = await rawSocket('127.0.4.1');
    for (const [index, socket] of spoofed.entries()) await socket.send(request(`unpadded-${index}`, 0), port, LOOPBACK);
    for (let i = 0; i < 20; i++) await flooder.send(request(`unpadded-flood-${i}`, 0), port, LOOPBACK);
    await sleep(300);
    const answered = spoofed.filter((socket, index) => answersTo(socket.received, `unpadded-${index}`).count > 0).length;
    const flood = Array.from({ length: 20 }, (_, i) => answersTo(flooder.received, `unpadded-flood-${i}`).count).reduce((sum, count) => sum + count, 0);
    expect(answered, JSON.stringify(metrics)).toBeGreaterThan(0);
    expect(answered + flood).toBeLessThanOrEqual(20);
    expect(flood).toBeLessThanOrEqual(1);

    // The same requests to a provider without the unpadded bounds: every one of the 40 is answered.
    const openPort = await discoveryPort();
    await startProvider(openPort, { discovery: { answers: { unpaddedMax: 1_000_000, unpaddedPerSourceMax: 1_000_000 } } });
    for (const [index, socket] of spoofed.entries()) await socket.send(request(`open-${index}`, 0), openPort, LOOPBACK);
    await until(() => spoofed.every((socket, index) => answersTo(socket.received, `open-${index}`).count === 1), 'every unpadded request answered without the bound');
  });

  it('DISC-16: a flood of requests from one address gets at most 10 answers a second; another address is still answered', async () => {
    const port = await discoveryPort();
    const metrics = createUdpMetrics();
    await startProvider(port, { discovery: { metrics } });
    const flooder = await rawSocket('127.0.0.66');
    const bystander = await rawSocket('127.0.0.67');
    for (let i = 0; i < 50; i++) await flooder.send(request(`flood-${i}`, REQUEST_BYTES_MIN), port, LOOPBACK);
    await bystander.send(request('bystander', REQUEST_BYTES_MIN), port, LOOPBACK);
    await until(() => answersTo(bystander.received, 'bystander').count === 1, 'the answer to the other address');
    await sleep(200);
    const answered = Array.from({ length: 50 }, (_, i) => answersTo(flooder.received, `flood-${i}`).count).filter((count) => count > 0).length;
    expect(answered).toBeLessThanOrEqual(10);
    expect(answered, JSON.stringify(metrics)).toBeGreaterThan(0);
    expect(metrics.requestsRateLimited).toBeGreaterThanOrEqual(40);

    // Without the rate bound, the same flood is answered in full.
    const openPort = await discoveryPort();
    await startProvider(openPort, { discovery: { answers: { requestsPerSourceMax: 1_000_000, requestsMax: 1_000_000 } } });
    for (let i = 0; i < 50; i++) await flooder.send(request(`open-${i}`, REQUEST_BYTES_MIN), openPort, LOOPBACK);
    await until(
      () => Array.from({ length: 50 }, (_, i) => answersTo(flooder.received, `open-${i}`).count).every((count) => count === 1),
      'every request answered by the provider without the rate bound',
    );
  });
});
