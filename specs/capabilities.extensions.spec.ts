/**
 * The capability extensions (description, resultSchema, errors): they survive the codec both ways
 * in the seed's list form and in the keyed form, and a malformed one is dropped on its own
 * without costing the advertisement (liberal in, strict out).
 */
import { describe, expect, it } from 'vitest';
import { decodeDatagram, encodeDatagram } from '../machines/codec.js';
import type { ServiceAdvertisement } from '../machines/messages.js';
import { sampleAdvertisement } from './support/discoveryFixtures.js';

const extended = {
  key: 'greet',
  settings: [{ type: 'string', name: 'name' }],
  schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
  description: 'Greets someone by name.',
  resultSchema: { type: 'object', properties: { greeting: { type: 'string' } } },
  errors: { SHY: 'Too shy today.' },
};

const decodedCapabilities = (wire: unknown) => {
  const advertisement = JSON.parse(encodeDatagram(sampleAdvertisement())) as Record<string, unknown>;
  const decoded = decodeDatagram(JSON.stringify({ ...advertisement, capabilities: wire }));
  if (!decoded.ok) throw new Error(`refused: ${decoded.error.code} ${decoded.error.details}`);
  return (decoded.message as ServiceAdvertisement).capabilities;
};

describe('capability extensions on the wire', () => {
  it('round-trip through encode and decode', () => {
    const ad = sampleAdvertisement({ capabilities: [extended] });
    const wire = JSON.parse(encodeDatagram(ad)) as { capabilities: unknown[] };
    expect(wire.capabilities).toEqual([{ ...extended, settings: [{ string: 'name' }] }]);
    expect(decodedCapabilities(wire.capabilities)).toEqual([extended]);
  });

  it('are read from the keyed form too', () => {
    const { key: _key, settings: _settings, ...rest } = extended;
    expect(decodedCapabilities({ greet: { settings: [{ string: 'name' }], ...rest } })).toEqual([extended]);
  });

  it('a malformed extension is dropped; the capability and the advertisement stay', () => {
    const capabilities = decodedCapabilities([
      { key: 'greet', settings: [{ string: 'name' }], description: 42, resultSchema: 'nope', errors: { 'lower-case': 'x' } },
      { key: 'other', settings: [], description: 'x'.repeat(5_000), errors: { OK_CODE: 'fine' } },
    ]);
    expect(capabilities).toEqual([
      { key: 'greet', settings: [{ type: 'string', name: 'name' }] },
      { key: 'other', settings: [], errors: { OK_CODE: 'fine' } },
    ]);
  });

  it('absent extensions stay absent (no undefined keys)', () => {
    const [capability] = decodedCapabilities([{ key: 'greet', settings: [] }]);
    expect(Object.keys(capability!)).toEqual(['key', 'settings']);
  });
});
