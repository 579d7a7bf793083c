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
    expect([0, 1, 2].map((i) => bounds.admitRequest(from('10.0.0.1', 40_000 + i), 100, 0))).toEqual(['answer', 'answer', 'sourceLimited']);
    expect(bounds.admitRequest(from('10.0.0.2'), 100, 999)).toBe('answer');
    expect(bounds.admitRequest(from('10.0.0.3'), 100, 999)).toBe('limited');
    // A new window starts afresh.
    expect(bounds.admitRequest(from('10.0.0.1'), 100, 1_000)).toBe('answer');
  });

  it('DISC-17: a request grants its source address and port amplificationFactor times its bytes, for budgetTtlMs', () => {
    const bounds = new AnswerBounds({ ...answerBoundsDefaults, amplificationFactor: 3, budgetTtlMs: 2_000 });
    bounds.admitRequest(from('10.0.0.1'), 100, 0);
    expect(bounds.spend(from('10.0.0.1'), 200, 10)).toBe(true);
    expect(bounds.spend(from('10.0.0.1'), 101, 10)).toBe(false); // 100 left
    expect(bounds.spend(from('10.0.0.1'), 100, 10)).toBe(true);
    expect(bounds.spend(from('10.0.0.1'), 1, 10)).toBe(false);
    // Another port of the same host asked nothing: not an answer, not bounded here.
    expect(bounds.spend(from('10.0.0.1', 40_001), 10_000, 10)).toBe(true);
    // A request's budget is its own: an earlier one's leftover does not add up; budgets lapse after budgetTtlMs.
    bounds.admitRequest(from('10.0.0.2'), 1_000, 0);
    bounds.admitRequest(from('10.0.0.2'), 100, 500);
    expect(bounds.spend(from('10.0.0.2'), 301, 600)).toBe(false);
    expect(bounds.spend(from('10.0.0.2'), 300, 600)).toBe(true);
    bounds.admitRequest(from('10.0.0.3'), 100, 0);
    expect(bounds.spend(from('10.0.0.3'), 300, 2_001)).toBe(true); // lapsed: no longer an answer to it
  });

  it('keeps budgets bounded: expired ones go when a window rolls', () => {
    const bounds = new AnswerBounds({ ...answerBoundsDefaults, requestsPerSourceMax: 1_000, requestsMax: 1_000 });
    for (let i = 0; i < 500; i++) bounds.admitRequest(from(`10.0.${i >> 8}.${i & 255}`), 100, 0);
    expect(bounds.budgets).toBe(500);
    bounds.admitRequest(from('10.9.9.9'), 100, 5_000);
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
  it('DISC-17: answers never exceed 3x the request in bytes; a padded request gets what fits; without the bound a small request gets everything', async () => {
    const port = await discoveryPort();
    const services = [greeterService('real'), bigService('Big-A'), bigService('Big-B')];
    const metrics = createUdpMetrics();
    const bounded = await startProvider(port, { services, discovery: { metrics } });
    const attacker = await rawSocket('127.0.0.66');
    const sizes = [150, 400, REQUEST_BYTES_MIN, 4_000];
    for (const [index, bytes] of sizes.entries()) await attacker.send(request(`bounded-${index}`, bytes), port, LOOPBACK);
    await sleep(300);
    const ratios = sizes.map((bytes, index) => answersTo(attacker.received, `bounded-${index}`).bytes / bytes);
    for (const ratio of ratios) expect(ratio).toBeLessThanOrEqual(3);
    expect(answersTo(attacker.received, 'bounded-2').count).toBeGreaterThanOrEqual(1); // a padded request is answered
    expect(answersTo(attacker.received, 'bounded-3').count).toBe(3); // a big enough one in full
    expect(metrics.answersOverBudget).toBeGreaterThan(0);
    await bounded.stop();

    // The same small request to a provider without the bound: every answer, many times its size.
    const unboundedPort = await discoveryPort();
    await startProvider(unboundedPort, { services, discovery: { answers: { amplificationFactor: 1_000_000 } } });
    await attacker.send(request('unbounded', 150), unboundedPort, LOOPBACK);
    const unbounded = await until(() => {
      const answers = answersTo(attacker.received, 'unbounded');
      return answers.count === 3 && answers;
    }, 'all three answers from the provider without the bound');
    expect(unbounded.bytes / 150).toBeGreaterThan(10);
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
    expect(answered).toBeGreaterThan(0);
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
