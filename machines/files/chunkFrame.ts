/**
 * The binary WebSocket message that carries one chunk of a file (FILE-5):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 1 | kind: `0x01` (file chunk, this revision) |
 * | 1 | 1 | `L`: bytes of the transferId, 1 to 255 |
 * | 2 | L | transferId, UTF-8 |
 * | 2 + L | 4 | chunk index, unsigned big-endian |
 * | 6 + L | rest | the chunk's bytes |
 *
 * Binary, not base64 in JSON: a chunk is copied once into the frame and its bytes are not
 * inflated by a third, which is what lets a transfer run near a raw socket's speed. Decoding
 * never throws and never copies the data (it is a view into the received message).
 */
import { ProtocolError } from '../errors.js';

export const CHUNK_FRAME_KIND = 0x01;
/** Header bytes besides the transferId. */
export const CHUNK_HEADER_BYTES = 6;

export interface ChunkFrame {
  readonly transferId: string;
  readonly index: number;
  readonly data: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A transferId as chunk frames carry it (UTF-8, 1 to 255 bytes): encoded once per transfer. */
export function chunkIdBytes(transferId: string): Uint8Array {
  const id = encoder.encode(transferId);
  if (id.byteLength < 1 || id.byteLength > 255) throw new RangeError('chunkHeader: a transferId is 1 to 255 bytes of UTF-8');
  return id;
}

/** Writes a chunk frame's header at the start of `target` (the data goes after it); returns the header's length. */
export function writeChunkHeader(target: Uint8Array, idBytes: Uint8Array, index: number): number {
  if (!Number.isInteger(index) || index < 0 || index > 0xffff_ffff) throw new RangeError('chunkHeader: index out of range');
  target[0] = CHUNK_FRAME_KIND;
  target[1] = idBytes.byteLength;
  target.set(idBytes, 2);
  const at = 2 + idBytes.byteLength;
  target[at] = index >>> 24;
  target[at + 1] = (index >>> 16) & 0xff;
  target[at + 2] = (index >>> 8) & 0xff;
  target[at + 3] = index & 0xff;
  return at + 4;
}

/** The header of a chunk frame alone; the data follows it. */
export function chunkHeader(transferId: string, index: number): Uint8Array {
  const id = chunkIdBytes(transferId);
  const header = new Uint8Array(CHUNK_HEADER_BYTES + id.byteLength);
  writeChunkHeader(header, id, index);
  return header;
}

/** One frame: header and data in a single new array (for tests and small chunks). */
export function encodeChunkFrame(frame: ChunkFrame): Uint8Array {
  const header = chunkHeader(frame.transferId, frame.index);
  const bytes = new Uint8Array(header.byteLength + frame.data.byteLength);
  bytes.set(header, 0);
  bytes.set(frame.data, header.byteLength);
  return bytes;
}

export type ChunkDecodeResult = { readonly ok: true; readonly frame: ChunkFrame } | { readonly ok: false; readonly error: ProtocolError };

const invalid = (message: string): ChunkDecodeResult => ({ ok: false, error: new ProtocolError('INVALID_MESSAGE', message) });

/** Decodes a binary message; anything but a well-formed chunk frame is INVALID_MESSAGE. */
export function decodeChunkFrame(bytes: Uint8Array, frameBytesMax: number): ChunkDecodeResult {
  if (bytes.byteLength > frameBytesMax) return { ok: false, error: new ProtocolError('MESSAGE_TOO_LARGE', `larger than ${frameBytesMax} bytes`) };
  if (bytes.byteLength < CHUNK_HEADER_BYTES + 1) return invalid('a binary message is a file chunk frame (too short)');
  if (bytes[0] !== CHUNK_FRAME_KIND) return invalid(`unknown binary frame kind ${bytes[0]}`);
  const idBytes = bytes[1] as number;
  if (idBytes === 0 || bytes.byteLength < CHUNK_HEADER_BYTES + idBytes) return invalid('chunk frame: bad transferId length');
  let transferId: string;
  try {
    transferId = decoder.decode(bytes.subarray(2, 2 + idBytes));
  } catch {
    return invalid('chunk frame: transferId is not UTF-8');
  }
  const index = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(2 + idBytes, false);
  return { ok: true, frame: { transferId, index, data: bytes.subarray(CHUNK_HEADER_BYTES + idBytes) } };
}
