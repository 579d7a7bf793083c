/**
 * One file link: a WebSocket that carries file transfers (FILE-1..FILE-11) between a client and a
 * provider, for either side. Text messages are the JSON file messages (FileOffer ... FileFailed),
 * binary messages the chunk frames (FILE-5); both go to the link's FileTransfers, which runs a
 * statechart per transfer (machines/files/).
 *
 * Bad input never ends the process or another transfer: a message that is not JSON, not a file
 * message or not well formed, and a binary message that is not a chunk of a transfer this side is
 * receiving, get an Error (INVALID_MESSAGE, MESSAGE_TOO_LARGE, UNSUPPORTED_MESSAGE) and are
 * counted; a peer that keeps sending them is closed with 1008 after `rejectedMax`.
 *
 * A link is bounded like a task session (SEC-13, SEC-16): a peer that does not read its answers
 * stops being read, and is dropped (1008) when they pile up beyond `sendBuffer.bytesMax` or stay
 * unread for `sendBuffer.stallMs`; a peer over `framesPerSecond` is not read until the second
 * ends. Chunks this side sends have their own backpressure (they wait for the socket to drain
 * above `sendHighWaterBytes`), so the marks for answers sit above it.
 */
import { v4 as uuid } from 'uuid';
import * as z from 'zod';
import type { WebSocket } from 'ws';
import { FrameWindow, ReadBudgets } from '../../adapters/ws/budget.js';
import { ReadGate } from '../../adapters/ws/readGate.js';
import { SendWatch, type SendBounds } from '../../adapters/ws/sendWatch.js';
import { decodeChunkFrame } from '../../machines/files/chunkFrame.js';
import { fileMessageSchemas, type FileDraft, type FileMessage } from '../../machines/files/messages.js';
import type { FileTransfers, TransferLink } from './transfers.js';

export interface FileLinkCounters {
  messagesIn: number;
  chunksIn: number;
  /** Rejected input by code. */
  readonly rejected: Record<string, number>;
  /** Times the peer stopped being read: over its frame budget, or not reading its answers. */
  readsPaused: number;
  /** 1 when the link was dropped because its peer did not read (SEC-13). */
  sendOverflows: number;
}

export interface FileLinkOptions {
  /** Largest message taken (the socket's maxPayload should match). @default 1_048_576 */
  readonly frameBytesMax?: number;
  /** Rejected messages after which the link is closed (1008). @default 1_000 */
  readonly rejectedMax?: number;
  /** A check before a message reaches the transfers: a code refuses it (FileFailed with that code). */
  readonly admit?: (message: FileMessage) => { readonly code: string; readonly message: string } | undefined;
  /** Unsent bytes above which a chunk send waits for the socket to drain. @default 8_388_608 */
  readonly sendHighWaterBytes?: number;
  /**
   * SEC-13 for the answers this side sends (not its chunks, see above).
   * @default pauseBytes: sendHighWaterBytes + 2 MiB, bytesMax: sendHighWaterBytes + 16 MiB, stallMs: 10_000
   */
  readonly sendBuffer?: Partial<SendBounds>;
  /** SEC-16: messages and chunks taken per second; above, the peer is not read until the second ends. @default 5_000 */
  readonly framesPerSecond?: number;
  readonly onClose?: () => void;
}

const OPEN = 1;
const SEND_HIGH_WATER_DEFAULT = 8_388_608;

/** The SEC-13 watch of each attached link's socket, which its TransferLink's answers go through. */
const sendWatches = new WeakMap<WebSocket, SendWatch>();

/** Sends a JSON answer under the socket's SEC-13 watch (if attached); false when not sent. */
function sendAnswer(socket: WebSocket, text: string): boolean {
  if (socket.readyState !== OPEN) return false;
  const watch = sendWatches.get(socket);
  if (watch !== undefined && !watch.admit(text.length)) return false;
  socket.send(text);
  watch?.sent();
  return true;
}

/** The TransferLink of a socket: JSON for messages, binary for chunks, with backpressure. */
export function socketTransferLink(socket: WebSocket, highWaterBytes = SEND_HIGH_WATER_DEFAULT): TransferLink {
  return {
    sendMessage(draft: FileDraft) {
      sendAnswer(socket, JSON.stringify({ type: draft.type, messageId: draft.messageId ?? uuid(), timestamp: new Date().toISOString(), payload: draft.payload }));
    },
    sendChunk(frame: Uint8Array, release?: () => void) {
      if (socket.readyState !== OPEN) return;
      // ws calls back once the frame is written (or the socket failed): it holds it no longer.
      const written = release === undefined ? undefined : (error?: Error | null) => error == null && release();
      if (socket.bufferedAmount < highWaterBytes) {
        socket.send(frame, { binary: true }, written);
        return;
      }
      // Above the mark: the next chunk waits until this one is written (the window bounds the rest).
      return new Promise<void>((resolve) =>
        socket.send(frame, { binary: true }, (error) => {
          written?.(error);
          resolve();
        }),
      );
    },
  };
}

/** Reads a socket into `transfers`; returns its counters. */
export function attachFileLink(socket: WebSocket, transfers: FileTransfers, options: FileLinkOptions = {}): FileLinkCounters {
  const counters: FileLinkCounters = { messagesIn: 0, chunksIn: 0, rejected: {}, readsPaused: 0, sendOverflows: 0 };
  const frameBytesMax = options.frameBytesMax ?? 1_048_576;
  const rejectedMax = options.rejectedMax ?? 1_000;
  const highWater = options.sendHighWaterBytes ?? SEND_HIGH_WATER_DEFAULT;
  const gate = new ReadGate(socket, () => counters.readsPaused++);
  const bounds: SendBounds = { pauseBytes: highWater + 2_097_152, bytesMax: highWater + 16_777_216, stallMs: 10_000, ...options.sendBuffer };
  const watch = new SendWatch(socket, bounds, gate, () => {
    // Its close frame would wait behind what it does not read: free the memory at once.
    counters.sendOverflows++;
    if (socket.readyState === OPEN) socket.close(1008, 'the peer does not read');
    socket.terminate();
  });
  sendWatches.set(socket, watch);
  const budgets = new ReadBudgets([new FrameWindow(options.framesPerSecond ?? 5_000)], gate);
  let rejectedCount = 0;
  const reject = (code: string, message: string, extra: Record<string, unknown> = {}) => {
    counters.rejected[code] = (counters.rejected[code] ?? 0) + 1;
    if (++rejectedCount > rejectedMax) {
      if (socket.readyState === OPEN) socket.close(1008, 'too many malformed file messages');
      return;
    }
    sendAnswer(socket, JSON.stringify({ type: 'Error', messageId: uuid(), timestamp: new Date().toISOString(), payload: { code, message, ...extra } }));
  };
  socket.on('error', () => undefined);
  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    budgets.spend();
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (isBinary) {
      counters.chunksIn++;
      const decoded = decodeChunkFrame(bytes, frameBytesMax);
      if (!decoded.ok) return reject(decoded.error.code, decoded.error.message);
      // FILE-1: only chunks of a transfer this side asked for (FileNeed sent, not yet complete).
      if (!transfers.expectsChunks(decoded.frame.transferId)) return reject('INVALID_MESSAGE', 'a chunk of no transfer this side is receiving', { transferId: decoded.frame.transferId });
      transfers.receiveChunk(decoded.frame);
      return;
    }
    counters.messagesIn++;
    if (bytes.byteLength > frameBytesMax) return reject('MESSAGE_TOO_LARGE', `larger than ${frameBytesMax} bytes`);
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      return reject('INVALID_MESSAGE', 'not JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject('INVALID_MESSAGE', 'a message is a JSON object');
    const { type, messageId, payload } = value as { type?: unknown; messageId?: unknown; payload?: unknown };
    const relatesTo = typeof messageId === 'string' && messageId.length >= 1 && messageId.length <= 256 ? { relatesTo: messageId } : {};
    if (type === 'Error') {
      // An Error about a transfer ends it as a FileFailed would; any other is counted only.
      const parsed = z.object({ code: z.string().min(1).max(128), message: z.string().max(65_536).default(''), transferId: z.string().min(1).max(256) }).safeParse(payload);
      if (parsed.success) transfers.receive({ type: 'FileFailed', messageId: 'error', timestamp: 0, payload: parsed.data });
      else counters.rejected.ERROR_RECEIVED = (counters.rejected.ERROR_RECEIVED ?? 0) + 1;
      return;
    }
    if (typeof type !== 'string' || !Object.hasOwn(fileMessageSchemas, type)) {
      return reject('UNSUPPORTED_MESSAGE', `a file link carries file messages only (got ${JSON.stringify(String(type).slice(0, 64))})`, relatesTo);
    }
    const decoded = z.safeDecode(fileMessageSchemas[type as keyof typeof fileMessageSchemas] as z.ZodType<FileMessage>, value as never);
    if (!decoded.success) return reject('INVALID_MESSAGE', z.prettifyError(decoded.error).slice(0, 4096), relatesTo);
    const refusal = options.admit?.(decoded.data);
    if (refusal !== undefined) {
      sendAnswer(socket, JSON.stringify({ type: 'FileFailed', messageId: uuid(), timestamp: new Date().toISOString(), payload: { transferId: decoded.data.payload.transferId, ...refusal } }));
      return;
    }
    transfers.receive(decoded.data);
  });
  socket.on('close', () => {
    watch.stop();
    budgets.stop();
    transfers.close();
    options.onClose?.();
  });
  return counters;
}
