/**
 * Two FileTransfers (a client's and a provider's) joined by an in-memory link that carries every
 * message in its wire form: drafts are stamped, JSON-encoded and decoded by the file message
 * schemas, chunks are encoded into binary frames and decoded again. Delivery is asynchronous (one
 * macrotask per message), as on a socket. `tamper` lets an attack spec change what travels.
 */
import * as z from 'zod';
import { decodeChunkFrame } from '../../machines/files/chunkFrame.js';
import { fileMessageSchemas, type FileDraft, type FileMessage } from '../../machines/files/messages.js';
import { formatTimestamp } from '../../machines/timestamp.js';
import type { FileStore } from '../../runtime/files/fileStore.js';
import { FileTransfers, type FileTransferLimits, type TransferLink } from '../../runtime/files/transfers.js';

export interface Wire {
  readonly messages: Array<{ from: 'client' | 'provider'; message: FileMessage }>;
  chunkBytes: number;
  chunks: number;
  /** Change or drop (return undefined) a chunk frame on its way. */
  tamperChunk?: (frame: Uint8Array, from: 'client' | 'provider') => Uint8Array | undefined;
  /** Drop every message and chunk from now on (a peer that went silent). */
  silent: boolean;
  /** Make the link slow to take a chunk (as a socket whose buffer is full): ms per chunk. */
  chunkDelayMs?: () => number;
  /**
   * Read a frame only when it is delivered, and release it only then (as a socket that writes
   * behind without copying): a sender that reused a frame before its release corrupts the file.
   */
  holdFrames?: boolean;
  /** Distinct frame objects the client sent (released frames are reused). */
  readonly frames: Set<Uint8Array>;
}

export function linkedTransfers(options: {
  clientStore: FileStore;
  providerStore: FileStore;
  identity?: string;
  limits?: Partial<FileTransferLimits>;
  clock?: ConstructorParameters<typeof FileTransfers>[0]['clock'];
  authorize?: (serviceName: string, action: 'file:put' | 'file:get') => boolean;
}) {
  const wire: Wire = { messages: [], chunkBytes: 0, chunks: 0, silent: false, frames: new Set() };
  let ids = 0;
  let messageIds = 0;
  const sides: Partial<Record<'client' | 'provider', FileTransfers>> = {};
  const later = (fn: () => void) => setImmediate(fn);
  const linkFrom = (from: 'client' | 'provider'): TransferLink => {
    const to = from === 'client' ? 'provider' : 'client';
    return {
      sendMessage(draft: FileDraft) {
        const text = JSON.stringify({ ...draft, messageId: draft.messageId ?? `m${++messageIds}`, timestamp: formatTimestamp(0) });
        later(() => {
          if (wire.silent) return;
          const parsed = JSON.parse(text) as { type: keyof typeof fileMessageSchemas };
          const message = z.decode(fileMessageSchemas[parsed.type] as z.ZodType<FileMessage>, parsed as never);
          wire.messages.push({ from, message });
          sides[to]?.receive(message);
        });
      },
      sendChunk(frame: Uint8Array, release?: () => void) {
        if (from === 'client') wire.frames.add(frame);
        const held = wire.holdFrames === true;
        // A copy (a Buffer's slice() would be a view of a frame the sender reuses once released).
        const copyOf = () => new Uint8Array(frame);
        let copy = held ? frame : copyOf();
        if (!held) release?.();
        wire.chunks++;
        const delayMs = wire.chunkDelayMs?.();
        const taken = delayMs === undefined ? undefined : new Promise<void>((resolve) => setTimeout(resolve, delayMs));
        later(() => {
          if (held) {
            copy = copyOf();
            release?.();
          }
          if (wire.silent) return;
          const tampered = wire.tamperChunk ? wire.tamperChunk(copy, from) : copy;
          if (tampered === undefined) return;
          const decoded = decodeChunkFrame(tampered, 16_777_216 + 512);
          if (!decoded.ok) throw decoded.error;
          wire.chunkBytes += decoded.frame.data.byteLength;
          sides[to]?.receiveChunk(decoded.frame);
        });
        return taken;
      },
    };
  };
  const common = { limits: options.limits ?? {}, ...(options.clock ? { clock: options.clock } : {}), newId: () => `t${++ids}` };
  sides.client = new FileTransfers({ ...common, store: options.clientStore, link: linkFrom('client'), identity: 'provider', clientId: 'c1' });
  sides.provider = new FileTransfers({
    ...common,
    store: options.providerStore,
    link: linkFrom('provider'),
    identity: options.identity ?? 'key:alice',
    clientId: 'c1',
    ...(options.authorize ? { authorize: options.authorize } : {}),
  });
  return { client: sides.client, provider: sides.provider, wire };
}
