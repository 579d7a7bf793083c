/**
 * Every way the boundary codec refuses input, by code (WIRE-6, WIRE-7, WIRE-8's messageId),
 * never by message text.
 */
import { describe, expect, it } from 'vitest';
import { decodeDatagram, decodeFrame, type DecodeResult } from '../machines/codec.js';
import type { ErrorCode } from '../machines/errors.js';
import { ProtocolError } from '../machines/errors.js';

const cancel = {
  type: 'CancelTask',
  messageId: 'msg-1',
  timestamp: '2025-07-02T11:55:00Z',
  payload: { taskId: 'task-1', originalClientId: 'client-1' },
};
const request = { discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'client-1', timestamp: '2025-07-02T11:45:00Z' };

function refusal(result: DecodeResult<unknown>): { code: ErrorCode; details: string | undefined; messageId: string | undefined } {
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.message)}`);
  expect(result.error).toBeInstanceOf(ProtocolError);
  return { code: result.error.code, details: result.error.details, messageId: result.messageId };
}

const bothDecoders = [
  ['decodeFrame', (input: string | Uint8Array) => decodeFrame(input)],
  ['decodeDatagram', (input: string | Uint8Array) => decodeDatagram(input)],
] as const;

describe('codec: input that is not a JSON object (WIRE-7)', () => {
  for (const [name, decode] of bothDecoders) {
    it.each(['', 'not json', '{"type":', "{'type':'CancelTask'}", '{"a":1}}'])(
      `WIRE-7: ${name} refuses non-JSON text %j with INVALID_MESSAGE`,
      (input) => {
        expect(refusal(decode(input)).code).toBe('INVALID_MESSAGE');
      },
    );

    it.each([
      ['a lone continuation byte', [0x7b, 0x80, 0x7d]],
      ['a truncated sequence', [0x22, 0xe2, 0x82, 0x22]],
      ['an overlong encoding', [0x22, 0xc0, 0xaf, 0x22]],
      ['an encoded surrogate', [0x22, 0xed, 0xa0, 0x80, 0x22]],
      ['0xff', [0xff]],
    ])(`WIRE-7: ${name} refuses bytes that are not UTF-8 (%s) with INVALID_MESSAGE`, (_, bytes) => {
      expect(refusal(decode(Uint8Array.from(bytes))).code).toBe('INVALID_MESSAGE');
    });

    it.each(['[]', '[{"type":"CancelTask"}]', '42', '"CancelTask"', 'null', 'true'])(
      `WIRE-7: ${name} refuses JSON %s that is not an object with INVALID_MESSAGE`,
      (input) => {
        expect(refusal(decode(input)).code).toBe('INVALID_MESSAGE');
      },
    );
  }
});

describe('codec: envelope and schema errors (WIRE-7)', () => {
  it('WIRE-7: refuses a frame without a string type with INVALID_MESSAGE', () => {
    const { type: _, ...untyped } = cancel;
    expect(refusal(decodeFrame(JSON.stringify(untyped))).code).toBe('INVALID_MESSAGE');
    expect(refusal(decodeFrame(JSON.stringify({ ...cancel, type: 7 }))).code).toBe('INVALID_MESSAGE');
  });

  it.each(['Hello', 'canceltask', '__proto__', 'constructor', 'toString', 'ServiceAdvertisement'])(
    'WIRE-7: refuses a frame of unknown type %j with UNSUPPORTED_MESSAGE',
    (type) => {
      expect(refusal(decodeFrame(JSON.stringify({ ...cancel, type }))).code).toBe('UNSUPPORTED_MESSAGE');
    },
  );

  it('WIRE-7: refuses a datagram without a discoveryType with INVALID_MESSAGE', () => {
    expect(refusal(decodeDatagram(JSON.stringify({ clientId: 'c' }))).code).toBe('INVALID_MESSAGE');
  });

  it.each(['Hello', 'AssignTask', '__proto__', 'hasOwnProperty'])(
    'WIRE-7: refuses a datagram of unknown discoveryType %j with UNSUPPORTED_MESSAGE',
    (discoveryType) => {
      expect(refusal(decodeDatagram(JSON.stringify({ ...request, discoveryType }))).code).toBe('UNSUPPORTED_MESSAGE');
    },
  );

  it.each([
    ['payload.taskId', { ...cancel, payload: { ...cancel.payload, taskId: 42 } }],
    ['payload.originalClientId', { ...cancel, payload: { taskId: 'task-1' } }],
    ['payload', { ...cancel, payload: 'task-1' }],
    ['timestamp', { ...cancel, timestamp: 'yesterday' }],
    ['timestamp', { ...cancel, timestamp: '2025-02-30T00:00:00Z' }],
    ['timestamp', { ...cancel, timestamp: 1.5 }],
    ['messageId', { ...cancel, messageId: '' }],
  ])('WIRE-7: names the offending path %s in details', (path, wire) => {
    const { code, details } = refusal(decodeFrame(JSON.stringify(wire)));
    expect(code).toBe('INVALID_MESSAGE');
    expect(details).toMatch(new RegExp(`^${path.replace('.', '\\.')}:|; ${path.replace('.', '\\.')}:`));
  });

  it.each([
    ['endpoint', { endpoint: 'http://host:1' }],
    ['status', { status: 'Asleep' }],
    ['load', { load: -1 }],
    ['capabilities', { capabilities: [{ key: 'op', settings: [{ int: 'a', float: 'b' }] }] }],
    ['capabilities', { capabilities: 'resizeImage' }],
  ])('WIRE-7: names the offending advertisement field %s in details', (path, change) => {
    const advertisement = {
      discoveryType: 'ServiceAdvertisement', serviceId: 's', serviceName: 'S', serviceVersion: '1', endpoint: 'ws://h:1',
      capabilities: [], status: 'Online', load: 0, timestamp: 0, ...change,
    };
    const { code, details } = refusal(decodeDatagram(JSON.stringify(advertisement)));
    expect(code).toBe('INVALID_MESSAGE');
    expect(details).toContain(path);
  });
});

describe('codec: size limits (WIRE-6)', () => {
  it('WIRE-6: rejects a frame over frameBytesMax without parsing, counting UTF-8 bytes of a string', () => {
    const text = JSON.stringify(cancel);
    const bytes = new TextEncoder().encode(text).byteLength;
    expect(decodeFrame(text, { frameBytesMax: bytes }).ok).toBe(true);
    expect(refusal(decodeFrame(text, { frameBytesMax: bytes - 1 })).code).toBe('MESSAGE_TOO_LARGE');
    // Not JSON at all, but too large is decided first.
    expect(refusal(decodeFrame('x'.repeat(11), { frameBytesMax: 10 })).code).toBe('MESSAGE_TOO_LARGE');
    // Three 3-byte characters are 9 bytes though only 3 UTF-16 units.
    expect(refusal(decodeFrame('"€€€"', { frameBytesMax: 10 })).code).toBe('MESSAGE_TOO_LARGE');
    expect(refusal(decodeFrame('"😀😀"', { frameBytesMax: 9 })).code).toBe('MESSAGE_TOO_LARGE');
    expect(refusal(decodeFrame('"😀😀"', { frameBytesMax: 10 })).code).toBe('INVALID_MESSAGE');
  });

  it('WIRE-6: rejects a frame of bytes over frameBytesMax with MESSAGE_TOO_LARGE and no messageId', () => {
    const bytes = new TextEncoder().encode(JSON.stringify(cancel));
    expect(decodeFrame(bytes, { frameBytesMax: bytes.byteLength }).ok).toBe(true);
    const result = refusal(decodeFrame(bytes, { frameBytesMax: bytes.byteLength - 1 }));
    expect(result).toMatchObject({ code: 'MESSAGE_TOO_LARGE', messageId: undefined });
  });

  it('WIRE-6: rejects a datagram over datagramBytesMax, as string or bytes', () => {
    const text = JSON.stringify(request);
    const bytes = new TextEncoder().encode(text);
    expect(decodeDatagram(bytes, { datagramBytesMax: bytes.byteLength }).ok).toBe(true);
    expect(refusal(decodeDatagram(bytes, { datagramBytesMax: bytes.byteLength - 1 })).code).toBe('MESSAGE_TOO_LARGE');
    expect(refusal(decodeDatagram(text, { datagramBytesMax: text.length - 1 })).code).toBe('MESSAGE_TOO_LARGE');
  });

  it('WIRE-6: applies the defaults of 65507 bytes per datagram and 1 MiB per frame', () => {
    const padded = (size: number) => JSON.stringify({ ...request, pad: '' }).replace('"pad":""', `"pad":"${'x'.repeat(size)}"`);
    const base = padded(0).length;
    expect(decodeDatagram(padded(65_507 - base)).ok).toBe(true);
    expect(refusal(decodeDatagram(padded(65_508 - base))).code).toBe('MESSAGE_TOO_LARGE');
    expect(refusal(decodeFrame('x'.repeat(1_048_577))).code).toBe('MESSAGE_TOO_LARGE');
  });
});

describe('codec: messageId for error replies (WIRE-8)', () => {
  it('WIRE-8: returns the messageId of a refused frame when it is readable', () => {
    expect(refusal(decodeFrame(JSON.stringify({ ...cancel, payload: {} }))).messageId).toBe('msg-1');
    expect(refusal(decodeFrame(JSON.stringify({ ...cancel, type: 'Hello' }))).messageId).toBe('msg-1');
    expect(refusal(decodeFrame(JSON.stringify({ messageId: 'msg-2' }))).messageId).toBe('msg-2');
  });

  it('WIRE-8: returns no messageId when it is missing, not a string, too long, or the input is not JSON', () => {
    expect(refusal(decodeFrame(JSON.stringify({ ...cancel, messageId: 5, payload: {} }))).messageId).toBeUndefined();
    expect(refusal(decodeFrame(JSON.stringify({ ...cancel, messageId: 'm'.repeat(257) }))).messageId).toBeUndefined();
    expect(refusal(decodeFrame('{"messageId":"msg-1",')).messageId).toBeUndefined();
  });
});

describe('codec: prototype pollution (SEC-9)', () => {
  it('SEC-9: __proto__ keys in taskParameters neither pollute Object.prototype nor replace the prototype', () => {
    const text =
      '{"type":"AssignTask","messageId":"m","timestamp":0,"payload":{"taskId":"t","serviceName":"S","operation":"op",' +
      '"callbackClientId":"c","taskParameters":{"__proto__":{"polluted":true},"width":1,"nested":{"__proto__":{"polluted":true}}}}}';
    const result = decodeFrame(text);
    if (!result.ok) throw result.error;
    const parameters = (result.message.payload as { taskParameters: Record<string, unknown> }).taskParameters;
    expect(Object.getPrototypeOf(parameters)).toBe(Object.prototype);
    expect(parameters.width).toBe(1);
    expect('polluted' in parameters).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(parameters.nested)).toBe(Object.prototype);
  });

  it('SEC-9: a __proto__ key at the top level or in capabilities is ignored without pollution', () => {
    const frame = decodeFrame(`{"__proto__":{"polluted":true},${JSON.stringify(cancel).slice(1)}`);
    expect(frame.ok).toBe(true);
    const datagram = decodeDatagram(
      '{"discoveryType":"ServiceAdvertisement","serviceId":"s","serviceName":"S","serviceVersion":"1","endpoint":"h:1",' +
        '"capabilities":{"__proto__":[{"int":"x"}],"op":[]},"status":"Online","load":0,"timestamp":0}',
    );
    if (!datagram.ok) throw datagram.error;
    expect(datagram.message).toMatchObject({ capabilities: [{ key: 'op', settings: [] }] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
