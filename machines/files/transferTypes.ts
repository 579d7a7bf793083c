/**
 * What the two sides of a file transfer (sendTransfer.ts, receiveTransfer.ts) share: the peer's
 * messages as events, how a transfer ends, and the effects they ask of their host.
 */
import type { FileRef } from './fileRef.js';
import type { FileDraft } from './messages.js';

/** A peer's file message for this transfer, as an event (the host routes by transferId). */
export type PeerFileEvent =
  | { readonly type: 'peer.offer'; readonly file: FileRef }
  | { readonly type: 'peer.have' }
  | { readonly type: 'peer.need'; readonly chunkBytes: number; readonly credits: number }
  | { readonly type: 'peer.credit'; readonly credits: number }
  | { readonly type: 'peer.chunk'; readonly index: number; readonly data: Uint8Array }
  | { readonly type: 'peer.done'; readonly sha256: string }
  | { readonly type: 'peer.failed'; readonly code: string; readonly message: string };

export type TransferEnd =
  | {
      readonly status: 'done';
      /** True when the receiver held the file already and no content byte moved (FILE-3). */
      readonly have: boolean;
      /** Content bytes moved by this transfer. */
      readonly bytes: number;
    }
  | { readonly status: 'failed'; readonly code: string; readonly message: string; readonly bytes: number };

export interface TransferOutput {
  readonly transferId: string;
  readonly sha256: string;
  readonly end: TransferEnd;
}

/** Effects both sides ask of their host. */
export type TransferToParentCommon =
  | { readonly type: 'transfer.send'; readonly transferId: string; readonly draft: FileDraft }
  | { readonly type: 'transfer.ended'; readonly transferId: string; readonly sha256: string; readonly end: TransferEnd };

/** FileFailed, from a code. */
export function failedDraft(transferId: string, code: string, message: string): FileDraft {
  return { type: 'FileFailed', payload: { transferId, code, message } };
}

/** How a transfer ends on a failure event that carries a code (FileFailed from the peer, a read failure). */
export function endOnFailure(event: { readonly type: string }, bytes: number): TransferEnd {
  const { code, message } = event as { code?: unknown; message?: unknown };
  return {
    status: 'failed',
    code: typeof code === 'string' ? code : 'INTERNAL_ERROR',
    message: typeof message === 'string' ? message : '',
    bytes,
  };
}
