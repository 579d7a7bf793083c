import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkHeader, decodeChunkFrame, encodeChunkFrame } from '../machines/files/chunkFrame.js';

describe('chunk frames (FILE-5)', () => {
  it('round-trips transferId, index and data; the data is a view, not a copy', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.uint8Array({ maxLength: 2048 }),
        (transferId, index, data) => {
          const bytes = encodeChunkFrame({ transferId, index, data });
          const decoded = decodeChunkFrame(bytes, 1 << 20);
          expect(decoded.ok).toBe(true);
          if (!decoded.ok) return;
          expect(decoded.frame.transferId).toBe(transferId);
          expect(decoded.frame.index).toBe(index);
          expect(decoded.frame.data).toEqual(data);
          expect(decoded.frame.data.buffer).toBe(bytes.buffer);
        },
      ),
    );
  });

  it('lays out kind 0x01, the id length, the id, a big-endian index, then the data', () => {
    expect([...encodeChunkFrame({ transferId: 'ab', index: 258, data: new Uint8Array([9]) })]).toEqual([1, 2, 97, 98, 0, 0, 1, 2, 9]);
  });

  it('WIRE-9: rejects anything else with a code and never throws', () => {
    expect(decodeChunkFrame(new Uint8Array([2, 1, 97, 0, 0, 0, 0]), 100)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    expect(decodeChunkFrame(new Uint8Array([1, 0, 0, 0, 0, 0, 0]), 100)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    expect(decodeChunkFrame(new Uint8Array([1, 9, 97, 0, 0, 0, 0]), 100)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    expect(decodeChunkFrame(new Uint8Array([1, 1, 0xff, 0, 0, 0, 0]), 100)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    expect(decodeChunkFrame(new Uint8Array(101), 100)).toMatchObject({ ok: false, error: { code: 'MESSAGE_TOO_LARGE' } });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const decoded = decodeChunkFrame(bytes, 256);
        if (decoded.ok) expect(decoded.frame.transferId.length).toBeGreaterThan(0);
      }),
    );
  });

  it('refuses to build a header it could not decode', () => {
    expect(() => chunkHeader('', 0)).toThrow(RangeError);
    expect(() => chunkHeader('x'.repeat(256), 0)).toThrow(RangeError);
    expect(() => chunkHeader('x', -1)).toThrow(RangeError);
    expect(() => chunkHeader('x', 2 ** 32)).toThrow(RangeError);
  });
});
