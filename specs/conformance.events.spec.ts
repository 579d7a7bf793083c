/**
 * The conformance suite's events checks (runtime/conformance/provider/events.ts): they pass a
 * switchboard provider with events and one without, and they fail broken providers. Each broken
 * provider is a real switchboard provider behind a WebSocket proxy that rewrites one kind of frame
 * (the defect), so the suite meets exactly one wrong answer.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, describe, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import * as z from 'zod';
import { runProviderSuite } from '../runtime/conformance/provider/index.js';
import type { SuiteReport } from '../runtime/conformance/types.js';
import { createProvider, type Provider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { startReferenceProvider } from './fixtures/peers/referenceProvider.js';
import { providerFixtureOptions } from './support/conformanceSweep.js';
import { allocatePort } from './support/ports.js';
import { freeDiscoveryPort } from './support/udpPort.js';

type Json = Record<string, unknown>;
type Rewrite = (frame: Json) => Json;

const operations = { echo: { params: z.object({ text: z.string() }), run: ({ text }: { text: string }) => ({ text }) } };
const withEvents = defineService({ name: 'Alerts', version: '1', operations, events: { alarm: { schema: z.object({ level: z.number() }) } } });
const withoutEvents = defineService({ name: 'Quiet', version: '1', operations });

const CHECKS = ['provider.events.subscribe', 'provider.events.unknownEvent', 'provider.events.unknownSubscription', 'provider.events.otherClient', 'provider.events.unannounced'];

const stops: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  await Promise.all(stops.map((stop) => stop()));
});

/** A WebSocket proxy to `target` that passes every frame, rewriting those from the provider with `rewrite`. */
async function proxy(target: string, rewrite: Rewrite): Promise<string> {
  const http: Server = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (inbound) => {
    const outbound = new WebSocket(target);
    const early: string[] = [];
    outbound.on('open', () => early.splice(0).forEach((text) => outbound.send(text)));
    inbound.on('message', (data) => (outbound.readyState === WebSocket.OPEN ? outbound.send(String(data)) : early.push(String(data))));
    outbound.on('message', (data) => inbound.send(JSON.stringify(rewrite(JSON.parse(String(data)) as Json))));
    inbound.on('close', () => outbound.close());
    outbound.on('close', (code, reason) => inbound.close(code, reason.toString()));
    outbound.on('error', () => inbound.terminate());
    inbound.on('error', () => outbound.terminate());
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  stops.push(
    () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.close(resolve);
      }),
  );
  return `ws://127.0.0.1:${(http.address() as { port: number }).port}`;
}

async function judge(service: typeof withEvents | typeof withoutEvents, rewrite?: Rewrite): Promise<Record<string, string>> {
  const port = await freeDiscoveryPort();
  const provider: Provider = createProvider({ services: [service], host: '127.0.0.1', discovery: { port, broadcastAddresses: ['127.255.255.255'] }, log: () => {} });
  const { endpoint } = await provider.start();
  stops.push(() => provider.stop());
  const report: SuiteReport = await runProviderSuite({
    endpoint: rewrite === undefined ? endpoint : await proxy(endpoint, rewrite),
    udp: { host: '127.0.0.1', port },
    service: service.name,
    operation: 'echo',
    params: { text: 'conformance' },
    level: 'full',
    only: CHECKS,
    // Loopback answers within milliseconds: a missing answer is judged after 1 s, not 2.
    timing: { answerMs: 1_000, settleMs: 200 },
  });
  return Object.fromEntries(report.checks.map((check) => [check.name, `${check.status}: ${check.evidence}`]));
}

const statusOf = (verdicts: Record<string, string>) => Object.fromEntries(Object.entries(verdicts).map(([name, verdict]) => [name, verdict.split(':')[0]]));

const payloadOf = (frame: Json) => frame.payload as Json;

describe('conformance: events checks (EVT-1, EVT-2, EVT-4, EVT-9, EVT-12, EVT-14)', () => {
  it.concurrent('pass a switchboard provider with events; the unannounced check is not applicable', async ({ expect }) => {
    const verdicts = await judge(withEvents);
    expect(statusOf(verdicts), JSON.stringify(verdicts, null, 1)).toEqual({
      'provider.events.subscribe': 'pass',
      'provider.events.unknownEvent': 'pass',
      'provider.events.unknownSubscription': 'pass',
      'provider.events.otherClient': 'pass',
      'provider.events.unannounced': 'not-applicable',
    });
  });

  it.concurrent('pass a switchboard provider without events on the unannounced check; the others are not applicable', async ({ expect }) => {
    const verdicts = await judge(withoutEvents);
    expect(statusOf(verdicts), JSON.stringify(verdicts, null, 1)).toEqual({
      'provider.events.subscribe': 'not-applicable',
      'provider.events.unknownEvent': 'not-applicable',
      'provider.events.unknownSubscription': 'not-applicable',
      'provider.events.otherClient': 'not-applicable',
      'provider.events.unannounced': 'pass',
    });
  });

  it.concurrent('broken: Subscribed cites the subscriptionId instead of the Subscribe (EVT-4)', async ({ expect }) => {
    const verdicts = await judge(withEvents, (frame) =>
      frame.type === 'Subscribed' ? { ...frame, payload: { ...payloadOf(frame), acknowledgmentId: payloadOf(frame).subscriptionId } } : frame,
    );
    expect(verdicts['provider.events.subscribe']).toMatch(/^fail: Subscribed cites/);
  });

  it.concurrent('broken: an unknown event refused with UNKNOWN_OPERATION; an unknown Unsubscribe unanswered (EVT-4, EVT-12)', async ({ expect }) => {
    const verdicts = await judge(withEvents, (frame) => {
      if (frame.type === 'Error' && payloadOf(frame).code === 'UNKNOWN_EVENT') return { ...frame, payload: { ...payloadOf(frame), code: 'UNKNOWN_OPERATION' } };
      // Swallows the answer to an Unsubscribe of a subscription never made (a ping-like filler frame instead).
      if (frame.type === 'SubscriptionEnded' && String(payloadOf(frame).subscriptionId).startsWith('conformance-')) return { type: 'Ack', messageId: 'x', timestamp: frame.timestamp, payload: { acknowledgmentId: 'nothing' } };
      return frame;
    });
    expect(verdicts['provider.events.unknownEvent']).toMatch(/^fail: .*expected Error UNKNOWN_EVENT/);
    expect(verdicts['provider.events.unknownSubscription']).toMatch(/^fail: .*SubscriptionEnded unsubscribed/);
  });

  it.concurrent('broken: a provider without events that answers Subscribe as if it had them (EVT-1)', async ({ expect }) => {
    const verdicts = await judge(withoutEvents, (frame) =>
      frame.type === 'Error' && payloadOf(frame).code === 'UNSUPPORTED_MESSAGE'
        ? { type: 'Subscribed', messageId: frame.messageId, timestamp: frame.timestamp, payload: { acknowledgmentId: payloadOf(frame).relatesTo, subscriptionId: payloadOf(frame).subscriptionId, resumed: false } }
        : frame,
    );
    expect(verdicts['provider.events.unannounced']).toMatch(/^fail: sent Subscribed/);
  });

  it.concurrent('the reference provider (written from the protocol, no events) passes them or is not judged', async ({ expect }) => {
    const provider = await startReferenceProvider({ discoveryPort: await allocatePort() });
    try {
      const report = await runProviderSuite(providerFixtureOptions(provider, { only: CHECKS, timing: { answerMs: 1_000, settleMs: 200 } }));
      expect(report.checks.filter((check) => check.status === 'fail').map((check) => `${check.name}: ${check.evidence}`)).toEqual([]);
      expect(report.checks.find((check) => check.name === 'provider.events.unannounced')?.status).toBe('pass');
    } finally {
      await provider.stop();
    }
  });
});
