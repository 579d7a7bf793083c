/**
 * The seed document's JSON examples decode and re-encode field for field (WIRE-1..3), and the
 * liberal forms a receiver must accept (WIRE-4, WIRE-5) decode to the canonical internal shape.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeDatagram, decodeFrame, toWire, toWireDatagram } from '../machines/codec.js';
import type { ServiceAdvertisement, TaskStatusUpdate, WireMessage } from '../machines/messages.js';

const seedDir = new URL('./fixtures/seed/', import.meta.url);
const fixtures = readdirSync(seedDir)
  .filter((name) => name.endsWith('.json'))
  .map((name) => ({ name, wire: JSON.parse(readFileSync(new URL(name, seedDir), 'utf8')) as Record<string, unknown> }));

const seed = (name: string): Record<string, unknown> =>
  structuredClone(fixtures.find((fixture) => fixture.name === `${name}.json`)!.wire);

function decodeAdvertisement(wire: Record<string, unknown>): ServiceAdvertisement {
  const result = decodeDatagram(JSON.stringify(wire));
  if (!result.ok) throw result.error;
  return result.message as ServiceAdvertisement;
}

function decodeMessage(wire: Record<string, unknown>): WireMessage {
  const result = decodeFrame(JSON.stringify(wire));
  if (!result.ok) throw result.error;
  return result.message;
}

const withTimestamp = (timestamp: unknown) => decodeMessage({ ...seed('CancelTask'), timestamp }).timestamp;

describe('codec: seed fixtures', () => {
  it('finds the seed examples', () => {
    const names = ['AssignTask', 'CancelTask', 'ClientServiceDiscoveryRequest', 'ServiceAdvertisement', 'TaskFailed', 'TaskResult', 'TaskStatusUpdate'];
    expect(fixtures.map((fixture) => fixture.name)).toEqual(expect.arrayContaining(names.map((name) => `${name}.json`)));
  });

  for (const { name, wire } of fixtures) {
    it(`WIRE-3: ${name} decodes and re-encodes to the same fields and values`, () => {
      const text = JSON.stringify(wire);
      const bytes = new TextEncoder().encode(text);
      if ('discoveryType' in wire) {
        const result = decodeDatagram(bytes);
        if (!result.ok) throw result.error;
        expect(result.message.discoveryType).toBe(wire.discoveryType);
        expect(JSON.parse(JSON.stringify(toWireDatagram(result.message)))).toEqual(wire);
      } else {
        const result = decodeFrame(bytes);
        if (!result.ok) throw result.error;
        expect(result.message.type).toBe(wire.type);
        expect(JSON.parse(JSON.stringify(toWire(result.message)))).toEqual(wire);
      }
    });
  }

  it('WIRE-2: decodes the seed timestamps to epoch milliseconds (UTC)', () => {
    expect(decodeMessage(seed('AssignTask')).timestamp).toBe(Date.UTC(2025, 6, 2, 11, 50, 0));
    expect(decodeAdvertisement(seed('ServiceAdvertisement')).timestamp).toBe(Date.UTC(2025, 6, 2, 11, 45, 5));
  });
});

describe('codec: liberal decoding (WIRE-4)', () => {
  it('WIRE-4: accepts capabilities keyed by operation with a settings list as the value', () => {
    const advertisement = decodeAdvertisement({ ...seed('ServiceAdvertisement'), capabilities: { op: [{ int: 'w' }] } });
    expect(advertisement.capabilities).toEqual([{ key: 'op', settings: [{ type: 'int', name: 'w' }] }]);
  });

  it('WIRE-4: accepts capabilities keyed by operation with {settings, schema} as the value', () => {
    const schema = { type: 'object', required: ['w'] };
    const advertisement = decodeAdvertisement({
      ...seed('ServiceAdvertisement'),
      capabilities: { op: { settings: [{ int: 'w' }, { path: 'input' }], schema }, bare: {} },
    });
    expect(advertisement.capabilities).toEqual([
      { key: 'op', settings: [{ type: 'int', name: 'w' }, { type: 'path', name: 'input' }], schema },
      { key: 'bare', settings: [] },
    ]);
  });

  it('WIRE-4: accepts settings written as {name, type}', () => {
    const capabilities = [{ key: 'op', settings: [{ name: 'width', type: 'int' }, { string: 'label' }] }];
    const advertisement = decodeAdvertisement({ ...seed('ServiceAdvertisement'), capabilities });
    expect(advertisement.capabilities[0]?.settings).toEqual([
      { type: 'int', name: 'width' },
      { type: 'string', name: 'label' },
    ]);
  });

  it('WIRE-3: encodes object-keyed capabilities in the seed list form', () => {
    const advertisement = decodeAdvertisement({
      ...seed('ServiceAdvertisement'),
      capabilities: { resizeImage: { settings: [{ name: 'width', type: 'int' }] }, applyFilter: [{ float: 'size' }] },
    });
    expect(toWireDatagram(advertisement).capabilities).toEqual([
      { key: 'resizeImage', settings: [{ int: 'width' }] },
      { key: 'applyFilter', settings: [{ float: 'size' }] },
    ]);
  });

  it.each([
    ['127.0.0.1:8080', 'ws://127.0.0.1:8080'],
    ['wss://provider.lan:8443/tasks', 'wss://provider.lan:8443/tasks'],
    ['WS://Host:1', 'ws://Host:1'],
    ['WSS://host:2', 'wss://host:2'],
    ['  ws://host:3  ', 'ws://host:3'],
  ])('WIRE-4: reads endpoint %j as %j', (wire, expected) => {
    const advertisement = decodeAdvertisement({ ...seed('ServiceAdvertisement'), endpoint: wire });
    expect(advertisement.endpoint).toBe(expected);
    expect(toWireDatagram(advertisement).endpoint).toBe(expected);
  });

  it.each([
    ['2025-07-02T11:50:00.123456Z', Date.UTC(2025, 6, 2, 11, 50, 0, 123)],
    ['2025-07-02T11:50:00.987654321Z', Date.UTC(2025, 6, 2, 11, 50, 0, 987)],
    ['2025-07-02T11:50:00', Date.UTC(2025, 6, 2, 11, 50, 0)],
    ['2025-07-02T13:50:00+02:00', Date.UTC(2025, 6, 2, 11, 50, 0)],
    ['2025-07-02T09:20:00-0230', Date.UTC(2025, 6, 2, 11, 50, 0)],
    ['2025-07-02T11:50:00,5Z', Date.UTC(2025, 6, 2, 11, 50, 0, 500)],
    ['2025-07-02 11:50Z', Date.UTC(2025, 6, 2, 11, 50, 0)],
    [Date.UTC(2025, 6, 2, 11, 50, 0, 42), Date.UTC(2025, 6, 2, 11, 50, 0, 42)],
  ])('WIRE-4: reads timestamp %j as epoch ms %d', (wire, expected) => {
    expect(withTimestamp(wire)).toBe(expected);
  });

  it('WIRE-3: encodes timestamps as UTC with Z, with a fraction only when the milliseconds are not zero', () => {
    const whole = decodeMessage({ ...seed('CancelTask'), timestamp: '2025-07-02T13:50:00+02:00' });
    expect(toWire(whole).timestamp).toBe('2025-07-02T11:50:00Z');
    const fractional = decodeMessage({ ...seed('CancelTask'), timestamp: Date.UTC(2025, 6, 2, 11, 50, 0, 5) });
    expect(toWire(fractional).timestamp).toBe('2025-07-02T11:50:00.005Z');
  });

  it.each(['ONLINE', 'busy', 'dRaInInG'])('WIRE-4: reads advertisement status %j in canonical capitalisation', (word) => {
    const status = decodeAdvertisement({ ...seed('ServiceAdvertisement'), status: word }).status;
    expect(status.toLowerCase()).toBe(word.toLowerCase());
    expect(['Online', 'Busy', 'Draining', 'Offline']).toContain(status);
  });

  it('WIRE-4: reads task status words in any capitalisation, in every message that carries one', () => {
    const update = seed('TaskStatusUpdate');
    (update.payload as Record<string, unknown>).status = 'PROCESSING';
    expect((decodeMessage(update) as TaskStatusUpdate).payload.status).toBe('Processing');
    const result = seed('TaskResult');
    (result.payload as Record<string, unknown>).status = 'completed';
    expect(decodeMessage(result).payload).toMatchObject({ status: 'Completed' });
    const failed = seed('TaskFailed');
    (failed.payload as Record<string, unknown>).status = 'cancelled';
    expect(decodeMessage(failed).payload).toMatchObject({ status: 'Cancelled' });
    const ack = { type: 'Ack', messageId: 'a-1', timestamp: 0, payload: { acknowledgmentId: 'm-1', status: 'queued' } };
    expect(decodeMessage(ack).payload).toMatchObject({ status: 'Queued' });
  });

  it('WIRE-4: rejects a bare endpoint that exceeds 2048 characters once ws:// is added, so whatever decodes re-encodes', () => {
    const longest = decodeAdvertisement({ ...seed('ServiceAdvertisement'), endpoint: `ws://${'h'.repeat(2043)}` });
    expect(() => toWireDatagram(longest)).not.toThrow();
    const result = decodeDatagram(JSON.stringify({ ...seed('ServiceAdvertisement'), endpoint: 'h'.repeat(2048) }));
    expect(result.ok ? 'accepted' : result.error.code).toBe('INVALID_MESSAGE');
  });
});

describe('codec: unknown fields (WIRE-5)', () => {
  it('WIRE-5: ignores unknown fields at the top level, in the payload and in capabilities', () => {
    const wire = seed('AssignTask');
    const widened = { ...wire, priority: 'high', payload: { ...(wire.payload as object), retries: 3 } };
    const message = decodeMessage(widened);
    expect(message).not.toHaveProperty('priority');
    expect(message.payload).not.toHaveProperty('retries');
    expect(message).toEqual(decodeMessage(wire));

    const advertisement = decodeAdvertisement({
      ...seed('ServiceAdvertisement'),
      region: 'eu',
      capabilities: [{ key: 'op', settings: [], costPerCall: 2 }],
    });
    expect(advertisement).not.toHaveProperty('region');
    expect(advertisement.capabilities).toEqual([{ key: 'op', settings: [] }]);
  });

  it('WIRE-5: keeps our optional extension fields when present', () => {
    const advertisement = decodeAdvertisement({
      ...seed('ServiceAdvertisement'),
      heartbeatIntervalMs: 30_000,
      protocolVersion: '1',
      features: ['progress'],
    });
    expect(advertisement).toMatchObject({ heartbeatIntervalMs: 30_000, protocolVersion: '1', features: ['progress'] });
    const assign = seed('AssignTask');
    (assign.payload as Record<string, unknown>).deadlineMs = 60_000;
    expect(decodeMessage(assign).payload).toMatchObject({ deadlineMs: 60_000 });
  });

  it('WIRE-4: an AssignTask without taskParameters decodes with an empty object', () => {
    const wire = seed('AssignTask');
    delete (wire.payload as Record<string, unknown>).taskParameters;
    expect(decodeMessage(wire).payload).toMatchObject({ taskParameters: {} });
  });
});
