/**
 * Malformed input on real sockets, against a provider PROCESS and a well-behaved client PROCESS
 * (specs/fixtures/processes), LOOPBACK ONLY: raw `node:dgram` datagrams to the discovery port on
 * 127.255.255.255 (every discovery socket of the port gets them) or 127.0.0.1 (one of them gets
 * each), and a raw `ws` client on the provider's endpoint.
 *
 * - UDP garbage is dropped, counted (the adapter's `rejectedByCode` and the machines' own
 *   counters, read with the fixtures' {"cmd":"stats"}) and never answered (WIRE-8, DISC-12): the
 *   raw socket that sent it must receive nothing. Spoofed advertisements for the provider's own
 *   serviceId with bad fields change nothing in the client's view.
 * - WS garbage gets one Error each, with the code the codec gives that input (INVALID_MESSAGE,
 *   UNSUPPORTED_MESSAGE, MESSAGE_TOO_LARGE above frameBytesMax), the connection stays open
 *   (WIRE-8), the rejection is counted; above ws's maxPayload the frame is not taken in at all and
 *   the connection is closed with 1009.
 * - SEC-9: 50 tasks of the well-behaved client all complete, with their correct results, while a
 *   storm of garbage hits both planes.
 *
 * The provider runs with frameBytesMax 64 KiB, maxPayload 256 KiB and datagramBytesMax 8 KiB, so
 * each limit can be crossed with a datagram or frame loopback carries.
 * Discovery port: drawn from the specs' allocator (specs/support/ports.ts).
 */
import dgram from 'node:dgram';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeDatagram, decodeFrame, defaultCodecLimits } from '../machines/codec.js';
import {
  LOOPBACK,
  LOOPBACK_BROADCAST,
  assignTask,
  clientView,
  listeningOf,
  servicesIn,
  settledOf,
  sleep,
  startClientProcess,
  startProviderProcess,
  statsOf,
  stopTracked,
  until,
  type Listening,
  type NodeChild,
} from './support/processes.js';
import { allocatePort } from './support/ports.js';
import { note } from './support/notes.js';

const DISCOVERY_PORT = await allocatePort();
const FRAME_BYTES_MAX = 65_536;
const MAX_PAYLOAD = 262_144;
const DATAGRAM_BYTES_MAX = 8_192;
// Generous: on a loaded 2-core CI machine a garbage storm plus 50 tasks can take seconds; the
// assertions are about outcomes, not speed.
const WAIT_MS = 20_000;
const RUNS = 100;

let provider: NodeChild;
let client: NodeChild;
let listening: Listening;
let udp: dgram.Socket;
/** Datagrams that reached the raw sender: any would be a reflection (WIRE-8). */
const reflected: Array<{ from: string; bytes: number }> = [];

beforeAll(async () => {
  provider = startProviderProcess({
    name: 'M',
    discoveryPort: DISCOVERY_PORT,
    args: ['--frame-bytes-max', String(FRAME_BYTES_MAX), '--max-payload', String(MAX_PAYLOAD), '--datagram-bytes-max', String(DATAGRAM_BYTES_MAX)],
  });
  client = startClientProcess('client', DISCOVERY_PORT, ['--heartbeat-ms', '10000']);
  listening = await listeningOf(provider);
  await clientView(client, (s) => s.some((v) => v.serviceId === listening.serviceIds.Work), 'the provider', 20_000);
  udp = dgram.createSocket('udp4');
  udp.on('message', (bytes, rinfo) => reflected.push({ from: `${rinfo.address}:${rinfo.port}`, bytes: bytes.byteLength }));
  await new Promise<void>((resolve) => udp.bind({ port: 0, address: LOOPBACK }, resolve));
  udp.setBroadcast(true);
}, 60_000);

afterAll(async () => {
  udp?.close();
  await stopTracked();
});

// ---- UDP ----------------------------------------------------------------------------------------

const send = (bytes: Uint8Array, host: string): Promise<void> =>
  new Promise((resolve, reject) => udp.send(bytes, DISCOVERY_PORT, host, (error) => (error ? reject(error) : resolve())));

type Counts = Record<string, number>;

/** Datagram rejections by code at the provider and the client: adapter counters, machine counters. */
async function udpRejections() {
  const [p, c] = await Promise.all([statsOf(provider), statsOf(client)]);
  return {
    provider: { byCode: { ...p.udp.rejectedByCode } as Counts, total: p.udp.rejected as number, machine: p.provider.datagramsRejected as number },
    client: { byCode: { ...c.udp.rejectedByCode } as Counts, total: c.udp.rejected as number, machine: c.repository.datagramsRejected as number },
  };
}

const delta = (after: Counts, before: Counts): Counts =>
  Object.fromEntries(Object.keys(after).map((code) => [code, (after[code] ?? 0) - (before[code] ?? 0)]).filter(([, n]) => n !== 0));

const tally = (codes: readonly string[]): Counts => codes.reduce<Counts>((counts, code) => ({ ...counts, [code]: (counts[code] ?? 0) + 1 }), {});

const utf8 = (text: string) => Buffer.from(text, 'utf8');

/** A valid advertisement of the provider's own Work instance, as it would send it. */
function genuineAdvertisement(): Record<string, unknown> {
  return {
    discoveryType: 'ServiceAdvertisement',
    serviceId: listening.serviceIds.Work,
    serviceName: 'Work',
    serviceVersion: '1.0.0',
    endpoint: listening.endpoint,
    capabilities: [{ key: 'work', settings: [] }, { key: 'echo', settings: [] }],
    status: 'Online',
    load: 0,
    timestamp: new Date().toISOString(),
    heartbeatIntervalMs: 10_000,
  };
}

/** Spoofed advertisements for the provider's serviceId, each with one bad field. */
function spoofedAdvertisements(): Array<[string, Buffer]> {
  const base = genuineAdvertisement();
  const variants: Array<[string, Record<string, unknown>]> = [
    ['endpoint with an http scheme', { endpoint: 'http://203.0.113.7:80' }],
    ['forged goodbye with a bad endpoint', { status: 'Offline', endpoint: 'ftp://203.0.113.7' }],
    ['unknown status', { status: 'Exploded' }],
    ['negative load', { load: -1 }],
    ['capabilities as a string', { capabilities: 'everything' }],
    ['heartbeatIntervalMs 0', { heartbeatIntervalMs: 0 }],
    ['timestamp not a time', { timestamp: 'yesterday' }],
    ['serviceName missing', { serviceName: undefined }],
    ['serviceVersion a number', { serviceVersion: 2 }],
    ['endpoint with whitespace', { endpoint: 'ws://127.0.0.1:1 /x' }],
  ];
  return variants.map(([name, change]) => [name, utf8(JSON.stringify({ ...base, ...change }))]);
}

/**
 * Above the provider's datagramBytesMax (MESSAGE_TOO_LARGE there, unparsed); the client keeps the
 * default limit, parses it and finds a bad discovery request (INVALID_MESSAGE).
 */
const oversizedDatagram = () => utf8(JSON.stringify({ discoveryType: 'ClientServiceDiscoveryRequest', clientId: '', padding: 'x'.repeat(DATAGRAM_BYTES_MAX) }));

/** The codec's verdict on a datagram at the provider (datagramBytesMax 8 KiB) or the client (the default). */
const verdict = (bytes: Uint8Array, side: 'provider' | 'client' = 'provider'): string => {
  const decoded = decodeDatagram(bytes, side === 'provider' ? { datagramBytesMax: DATAGRAM_BYTES_MAX } : defaultCodecLimits);
  return decoded.ok ? 'ok' : decoded.error.code;
};
const rejectedByBoth = (bytes: Uint8Array) => verdict(bytes, 'provider') !== 'ok' && verdict(bytes, 'client') !== 'ok';

describe.sequential('UDP garbage', () => {
  afterEach(() => {
    expect(reflected).toEqual([]);
  });

  it('WIRE-7, WIRE-8, DISC-12: not JSON, wrong types, unknown types, oversized, spoofed bad advertisements: dropped, counted by code at every receiver, never answered; the client view is unchanged', async () => {
    const garbage: Array<[string, Uint8Array]> = [
      ['not JSON', utf8('hello, switchboard')],
      ['truncated JSON', utf8('{"discoveryType": "ServiceAdvertisement"')],
      ['a comment in JSON', utf8('{"discoveryType": "ServiceAdvertisement", // seed comment\n"serviceId": "x"}')],
      ['an array', utf8('[1, 2, 3]')],
      ['a number', utf8('42')],
      ['null', utf8('null')],
      ['no discoveryType', utf8('{"serviceId": "x"}')],
      ['discoveryType a number', utf8('{"discoveryType": 7}')],
      ['unknown discoveryType', utf8('{"discoveryType": "Teleport", "to": "mars"}')],
      ['a WebSocket envelope on UDP', utf8('{"type": "AssignTask", "messageId": "m", "payload": {}}')],
      ['invalid UTF-8', Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
      ['a discovery request with bad fields', utf8('{"discoveryType": "ClientServiceDiscoveryRequest", "clientId": "", "timestamp": "now"}')],
      ['a discovery request for a 300-character service name', utf8(JSON.stringify({ discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'c', timestamp: new Date().toISOString(), serviceName: 'W'.repeat(300) }))],
      ['oversized datagram', oversizedDatagram()],
      ...spoofedAdvertisements(),
    ];
    const expected = { provider: garbage.map(([, bytes]) => verdict(bytes, 'provider')), client: garbage.map(([, bytes]) => verdict(bytes, 'client')) };
    // The spec's own premise: the genuine advertisement decodes, each piece of garbage does not.
    expect(verdict(utf8(JSON.stringify(genuineAdvertisement())))).toBe('ok');
    expect(garbage.filter(([, bytes]) => !rejectedByBoth(bytes)).map(([name]) => name)).toEqual([]);
    expect(tally(expected.provider)).toEqual({ INVALID_MESSAGE: garbage.length - 2, UNSUPPORTED_MESSAGE: 1, MESSAGE_TOO_LARGE: 1 });
    expect(tally(expected.client)).toEqual({ INVALID_MESSAGE: garbage.length - 1, UNSUPPORTED_MESSAGE: 1 });

    const before = await udpRejections();
    for (const [, bytes] of garbage) {
      await send(bytes, LOOPBACK_BROADCAST);
      await sleep(2);
    }
    const after = await until(async () => {
      const now = await udpRejections();
      return now.provider.total - before.provider.total >= garbage.length && now.client.total - before.client.total >= garbage.length && now;
    }, 'every datagram counted at both receivers', WAIT_MS, 20);
    for (const side of ['provider', 'client'] as const) {
      expect(delta(after[side].byCode, before[side].byCode), side).toEqual(tally(expected[side]));
      expect(after[side].total - before[side].total, side).toBe(garbage.length);
      expect(after[side].machine - before[side].machine, `${side} machine counter`).toBe(garbage.length);
    }

    // Unicast to 127.0.0.1 reaches exactly one of the sockets sharing the port.
    const unicast = 10;
    for (let i = 0; i < unicast; i++) await send(utf8(`unicast garbage ${i}`), LOOPBACK);
    const final = await until(async () => {
      const now = await udpRejections();
      return now.provider.total + now.client.total - after.provider.total - after.client.total >= unicast && now;
    }, 'unicast garbage counted', WAIT_MS, 20);
    expect(final.provider.total + final.client.total - after.provider.total - after.client.total).toBe(unicast);

    await sleep(100); // time for a reflection to arrive, were there one
    const view = await client.request({ cmd: 'services' }, (e) => e.event === 'services', { what: 'services', timeoutMs: WAIT_MS });
    const work = servicesIn(view).find((v) => v.serviceId === listening.serviceIds.Work);
    expect(work).toMatchObject({ endpoint: listening.endpoint, status: 'Online', health: 'alive' });
  });

  it(`WIRE-9: random bytes (${RUNS} runs) never crash a receiver, are each counted with the codec's code, and are never answered`, async () => {
    let previous = await udpRejections();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 1_400 }),
          fc.string({ unit: 'binary', maxLength: 600 }).map(utf8),
          fc.jsonValue({ maxDepth: 3 }).map((value) => utf8(JSON.stringify(value) ?? 'undefined')),
          fc.record({ discoveryType: fc.constantFrom('ServiceAdvertisement', 'ClientServiceDiscoveryRequest'), serviceId: fc.jsonValue({ maxDepth: 1 }), clientId: fc.jsonValue({ maxDepth: 1 }) }).map((value) => utf8(JSON.stringify(value))),
        ),
        async (bytes) => {
          fc.pre(rejectedByBoth(bytes));
          await send(bytes, LOOPBACK_BROADCAST);
          const now = await until(async () => {
            const counts = await udpRejections();
            return counts.provider.total > previous.provider.total && counts.client.total > previous.client.total && counts;
          }, 'the datagram counted', WAIT_MS, 5);
          expect(delta(now.provider.byCode, previous.provider.byCode)).toEqual({ [verdict(bytes, 'provider')]: 1 });
          expect(delta(now.client.byCode, previous.client.byCode)).toEqual({ [verdict(bytes, 'client')]: 1 });
          previous = now;
        },
      ),
      { numRuns: RUNS },
    );
    expect(provider.alive && client.alive).toBe(true);
  }, 60_000);
});

// ---- WebSocket ------------------------------------------------------------------------------------

interface Raw {
  readonly ws: WebSocket;
  readonly inbox: Array<Record<string, any>>;
  closed: { code: number; reason: string } | undefined;
  next(what: string): Promise<Record<string, any>>;
}

async function openRaw(): Promise<Raw> {
  const ws = new WebSocket(listening.endpoint, { perMessageDeflate: false, maxPayload: MAX_PAYLOAD * 4 });
  const raw: Raw = {
    ws,
    inbox: [],
    closed: undefined,
    next: (what) => until(() => raw.inbox.shift(), `a reply to ${what}`, WAIT_MS, 1),
  };
  ws.on('message', (data) => raw.inbox.push(JSON.parse(String(data))));
  ws.on('close', (code, reason) => (raw.closed = { code, reason: String(reason) }));
  ws.on('error', () => {});
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return raw;
}

const envelope = (type: string, messageId: string, payload: unknown) => JSON.stringify({ type, messageId, timestamp: new Date().toISOString(), payload });

/** The connection still works: a GetStatus for an unknown task is answered TASK_NOT_FOUND. */
async function probe(raw: Raw, id: string): Promise<void> {
  raw.ws.send(envelope('GetStatus', `probe-${id}`, { taskId: `nothing-${id}`, originalClientId: 'raw-client' }));
  const reply = await raw.next(`probe ${id}`);
  expect(reply).toMatchObject({ type: 'Error', payload: { code: 'TASK_NOT_FOUND', relatesTo: `probe-${id}` } });
}

const frameVerdict = (input: string | Uint8Array): string => {
  const decoded = decodeFrame(input, { frameBytesMax: FRAME_BYTES_MAX });
  return decoded.ok ? 'ok' : decoded.error.code;
};

async function wsRejections(): Promise<{ byCode: Counts; sessions: number }> {
  const stats = await statsOf(provider);
  const sessions = (stats.sessions as Array<{ stats?: { messagesRejected?: number } }>).reduce((sum, s) => sum + (s.stats?.messagesRejected ?? 0), 0);
  return { byCode: { ...stats.ws.rejected }, sessions };
}

describe.sequential('WebSocket garbage', () => {
  const raws: Raw[] = [];
  afterAll(() => {
    for (const raw of raws) raw.ws.terminate();
  });

  it('WIRE-7, WIRE-8, WIRE-6: malformed, unknown, wrong-direction and oversized frames each get an Error with the right code (relatesTo when readable); the connection stays open and every rejection is counted', async () => {
    const raw = await openRaw();
    raws.push(raw);
    const before = await wsRejections();
    const taskResult = { taskId: 't', status: 'Completed', resultData: {}, originalClientId: 'raw-client' };
    /** relatesTo: the id the Error must cite; null: it must cite none. */
    const cases: Array<{ name: string; frame: string | Buffer; code: string; relatesTo?: string | null; details?: RegExp }> = [
      { name: 'not JSON', frame: 'not json at all', code: 'INVALID_MESSAGE' },
      { name: 'an array', frame: '[1,2,3]', code: 'INVALID_MESSAGE' },
      { name: 'no type', frame: '{"messageId":"m-notype","payload":{}}', code: 'INVALID_MESSAGE', relatesTo: 'm-notype' },
      { name: 'wrong field types', frame: envelope('AssignTask', 'm-types', { taskId: 5, serviceName: 'Work' }), code: 'INVALID_MESSAGE', relatesTo: 'm-types', details: /payload\./ },
      { name: 'unknown type', frame: envelope('Teleport', 'm-unknown', {}), code: 'UNSUPPORTED_MESSAGE', relatesTo: 'm-unknown' },
      // An id no Error can cite (empty, or over 256 characters) is left out of the reply, which is still sent.
      { name: 'unknown type, empty messageId', frame: envelope('', '', []), code: 'UNSUPPORTED_MESSAGE', relatesTo: null },
      { name: 'wrong types, 300-character messageId', frame: envelope('CancelTask', 'm'.repeat(300), {}), code: 'INVALID_MESSAGE', relatesTo: null },
      { name: 'a provider message from a client', frame: envelope('TaskResult', 'm-direction', taskResult), code: 'UNSUPPORTED_MESSAGE', relatesTo: 'm-direction' },
      { name: 'binary, not UTF-8', frame: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), code: 'INVALID_MESSAGE' },
      { name: 'above frameBytesMax', frame: envelope('AssignTask', 'm-large', { pad: 'x'.repeat(FRAME_BYTES_MAX) }), code: 'MESSAGE_TOO_LARGE' },
    ];
    for (const [index, testCase] of cases.entries()) {
      raw.ws.send(testCase.frame);
      const reply = await raw.next(testCase.name);
      expect(reply.type, testCase.name).toBe('Error');
      expect(reply.payload.code, testCase.name).toBe(testCase.code);
      if (testCase.relatesTo === null) expect(reply.payload, testCase.name).not.toHaveProperty('relatesTo');
      else if (testCase.relatesTo !== undefined) expect(reply.payload.relatesTo, testCase.name).toBe(testCase.relatesTo);
      if (testCase.details !== undefined) expect(reply.payload.details, testCase.name).toMatch(testCase.details);
      expect(raw.ws.readyState, testCase.name).toBe(WebSocket.OPEN);
      await probe(raw, String(index));
    }
    const after = await wsRejections();
    // The adapter counts what the codec refused; the session also counts the wrong direction.
    expect(delta(after.byCode, before.byCode)).toEqual({ INVALID_MESSAGE: 6, UNSUPPORTED_MESSAGE: 2, MESSAGE_TOO_LARGE: 1 });
    expect(after.sessions - before.sessions).toBe(cases.length);
    expect(raw.inbox).toEqual([]);
  });

  it('WIRE-6, SEC-6: a frame above maxPayload is not taken in: the connection is closed with 1009, and the provider serves the next one', async () => {
    const raw = await openRaw();
    raws.push(raw);
    raw.ws.send('x'.repeat(MAX_PAYLOAD + 1));
    const closed = await until(() => raw.closed, 'the close', WAIT_MS);
    expect(closed.code).toBe(1009);
    const again = await openRaw();
    raws.push(again);
    await probe(again, 'after-1009');
  });

  it(`WIRE-9: random text and binary frames (${RUNS} runs each) get exactly one Error each, with the codec's code, on a connection that stays open`, async () => {
    const raw = await openRaw();
    raws.push(raw);
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 300 }),
      fc.json({ maxDepth: 3 }),
      fc.record({
        type: fc.oneof(fc.constantFrom('AssignTask', 'CancelTask', 'GetStatus', 'GetResult', 'Ack', 'TaskResult'), fc.string({ maxLength: 40 })),
        messageId: fc.oneof(fc.string({ maxLength: 300 }), fc.nat()),
        payload: fc.jsonValue({ maxDepth: 2 }),
      }).map((value) => JSON.stringify(value)),
    );
    const binary = fc.uint8Array({ minLength: 0, maxLength: 2_000 });
    let sent = 0;
    for (const [name, arbitrary] of [['text', text], ['binary', binary]] as const) {
      await fc.assert(
        fc.asyncProperty(arbitrary as fc.Arbitrary<string | Uint8Array>, async (frame) => {
          const code = frameVerdict(frame);
          fc.pre(code !== 'ok'); // a valid message by chance is not garbage
          raw.ws.send(frame, { binary: typeof frame !== 'string' });
          sent++;
          const reply = await raw.next(`a random ${name} frame`);
          expect(reply.type).toBe('Error');
          expect(reply.payload.code).toBe(code);
          expect(raw.ws.readyState).toBe(WebSocket.OPEN);
        }),
        { numRuns: RUNS },
      );
    }
    expect(sent).toBeGreaterThanOrEqual(RUNS);
    await probe(raw, 'after-random');
    await sleep(50);
    expect(raw.inbox).toEqual([]); // one reply per frame, no more
  }, 60_000);
});

// ---- SEC-9 --------------------------------------------------------------------------------------------

describe('another client under a garbage storm', () => {
  it('SEC-9: 50 tasks of a well-behaved client all complete with correct results while garbage hits the discovery port and the WebSocket endpoint', async () => {
    const raw = await openRaw();
    const tasks = Array.from({ length: 50 }, (_, i) => ({
      taskId: `storm-${i}`,
      ...(i % 2 === 0 ? { operation: 'work', params: { steps: 5, stepMs: 40, tag: `g${i}` } } : { operation: 'echo', params: { text: `intact ${i} ✓` } }),
    }));
    const beforeUdp = await udpRejections();
    for (const task of tasks) assignTask(client, task.taskId, 'Work', task.operation, task.params);
    const settled = Promise.all(tasks.map((task) => settledOf(client, task.taskId, 30_000)));
    let done = false;
    void settled.finally(() => (done = true));

    const datagrams = fc.sample(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.string({ maxLength: 200 }).map(utf8)), { numRuns: 400, seed: 9 });
    const spoofs = spoofedAdvertisements().map(([, bytes]) => bytes);
    const frames = fc.sample(fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 2 })), { numRuns: 400, seed: 11 });
    let udpSent = 0;
    let framesSent = 0;
    for (let round = 0; !done && round < 400; round++) {
      const datagram = round % 5 === 0 ? (spoofs[round % spoofs.length] as Buffer) : (datagrams[round] as Uint8Array);
      if (rejectedByBoth(datagram)) {
        await send(datagram, LOOPBACK_BROADCAST);
        udpSent++;
      }
      // Now and then a frame above frameBytesMax (MESSAGE_TOO_LARGE, the connection stays open).
      const frame = round % 25 === 24 ? envelope('AssignTask', `big-${round}`, { pad: 'x'.repeat(FRAME_BYTES_MAX) }) : (frames[round] as string);
      if (frameVerdict(frame) !== 'ok') {
        raw.ws.send(frame);
        framesSent++;
      }
      await sleep(3);
    }
    const outcomes = await settled;
    for (const [i, outcome] of outcomes.entries()) {
      const task = tasks[i]!;
      expect(outcome.ok, task.taskId).toBe(true);
      if (task.operation === 'work') expect(outcome.result).toMatchObject({ steps: 5, tag: task.params.tag, taskId: task.taskId, pid: listening.pid });
      else expect(outcome.result).toMatchObject({ text: task.params.text, pid: listening.pid });
    }
    expect(udpSent).toBeGreaterThan(10);
    expect(framesSent).toBeGreaterThan(10);
    const counted = await until(async () => {
      const now = await udpRejections();
      return now.provider.total - beforeUdp.provider.total >= udpSent && now.client.total - beforeUdp.client.total >= udpSent && now;
    }, 'the storm counted', WAIT_MS, 20);
    expect(counted.provider.total - beforeUdp.provider.total).toBe(udpSent);
    await until(() => raw.inbox.length >= framesSent, 'an Error for every garbage frame', WAIT_MS);
    expect(raw.inbox.every((m) => m.type === 'Error')).toBe(true);
    expect(raw.ws.readyState).toBe(WebSocket.OPEN);
    expect(provider.alive && client.alive).toBe(true);
    expect(reflected).toEqual([]);
    const view = await client.request({ cmd: 'services' }, (e) => e.event === 'services', { what: 'services', timeoutMs: WAIT_MS });
    expect(servicesIn(view).find((v) => v.serviceId === listening.serviceIds.Work)).toMatchObject({ endpoint: listening.endpoint, status: 'Online' });
    note(`SEC-9: 50 tasks completed under ${udpSent} garbage datagrams and ${framesSent} garbage frames`);
    raw.ws.terminate();
  }, 45_000);
});
