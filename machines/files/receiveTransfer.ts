/**
 * The receiving side of one file transfer (FILE-2..FILE-8, FILE-11):
 * `requesting` (pull only) `-> checking -> receiving -> verifying -> done`, or `failed`, or `done`
 * at once when the file is held already.
 *
 * - `requesting`: FileRequest sent (a download); the sender answers with FileOffer.
 * - `checking`: the offer is judged: larger than `fileBytesMax` fails FILE_TOO_LARGE before any
 *   byte moves; a download whose offer is not the file asked for fails INVALID_MESSAGE; then the
 *   host says whether its store holds the hash for this identity (FileHave, FILE-3), has reserved
 *   room for it (FileNeed with the first credits) or is full (FILE_STORE_FULL).
 * - `receiving`: chunks must come in index order, each exactly its expected length, never beyond
 *   the credits granted (FILE-4); anything else fails INVALID_MESSAGE. Each accepted chunk goes to
 *   the host to write (and hash as it goes); as the host reports chunks taken in (written, or
 *   copied into its store's bounded write-behind buffer), credits are granted again in batches of
 *   half the window, so the sender never waits for a full round trip and the bytes in flight stay
 *   within `creditsMax` chunks.
 * - `verifying`: every chunk is written; the host compares the SHA-256 of what arrived with the
 *   offered one: equal, FileDone and the file is stored; different, FileFailed
 *   FILE_HASH_MISMATCH and nothing is stored (FILE-2).
 * - Before the end: FileFailed from the peer, a cancel, a write failure or `idleTimeoutMs`
 *   without a message from the sender ends it `failed`; the host then discards what arrived.
 */
import { assign, enqueueActions, setup, type ActorRef } from 'xstate';
import { chunkCountOf, chunkLengthOf, type FileRef } from './fileRef.js';
import type { FileDraft } from './messages.js';
import { endOnFailure, failedDraft, type PeerFileEvent, type TransferEnd, type TransferOutput, type TransferToParentCommon } from './transferTypes.js';

export interface ReceiveTransferLimits {
  /** Largest file accepted. @default 268_435_456 (256 MiB) */
  readonly fileBytesMax: number;
  /** Chunk size asked for in FileNeed. @default 262_144 */
  readonly chunkBytes: number;
  /** Chunks the sender may have in flight (the window). @default 16 */
  readonly creditsMax: number;
  /** @default 30_000 */
  readonly idleTimeoutMs: number;
}

export const defaultReceiveTransferLimits: ReceiveTransferLimits = {
  fileBytesMax: 268_435_456,
  chunkBytes: 262_144,
  creditsMax: 16,
  idleTimeoutMs: 30_000,
};

export type ReceiveTransferInput = {
  readonly transferId: string;
  readonly limits: ReceiveTransferLimits;
  readonly parentRef: ActorRef<any, ReceiveTransferToParentEvent>;
} & (
  | { readonly mode: 'push'; /** The FileOffer received. */ readonly file: FileRef }
  | { readonly mode: 'pull'; /** The file asked for. */ readonly file: FileRef; readonly clientId: string; readonly serviceName: string }
);

export type ReceiveTransferEvent =
  | PeerFileEvent
  /** The host's answers about its store. */
  | { readonly type: 'store.have' }
  | { readonly type: 'store.reserved' }
  | { readonly type: 'store.full' }
  | { readonly type: 'store.written'; readonly index: number }
  | { readonly type: 'store.verified' }
  | { readonly type: 'store.mismatch'; readonly actualSha256: string }
  | { readonly type: 'store.failed'; readonly message: string }
  | { readonly type: 'transfer.cancel' };

export type ReceiveTransferToParentEvent =
  | TransferToParentCommon
  /** Does the store hold this file (for this identity)? Else reserve room for it. */
  | { readonly type: 'transfer.check'; readonly transferId: string; readonly file: FileRef }
  /** Write chunk `index` (and feed it to the running hash). */
  | { readonly type: 'transfer.write'; readonly transferId: string; readonly index: number; readonly data: Uint8Array }
  /** Every chunk is written: finish the hash and compare. */
  | { readonly type: 'transfer.verify'; readonly transferId: string; readonly file: FileRef };

export interface ReceiveTransferContext {
  readonly transferId: string;
  readonly mode: 'push' | 'pull';
  readonly clientId: string | undefined;
  readonly serviceName: string | undefined;
  readonly limits: ReceiveTransferLimits;
  readonly parentRef: ActorRef<any, ReceiveTransferToParentEvent>;
  /** The file as offered (push), or as asked for until the offer arrives (pull). */
  readonly file: FileRef;
  readonly chunkCount: number;
  /** Chunks received (the next expected index). */
  readonly received: number;
  readonly written: number;
  /** Credits granted in total. */
  readonly granted: number;
  readonly end: TransferEnd | undefined;
}

type Context = ReceiveTransferContext;
type Event = ReceiveTransferEvent;

const sendDraft = (context: Context, draft: FileDraft) =>
  ({ type: 'transfer.send', transferId: context.transferId, draft }) satisfies ReceiveTransferToParentEvent;

const bytesReceived = (context: Context) => Math.min(context.file.size, context.received * context.limits.chunkBytes);

/** Ends failed with a code, telling the sender (FileFailed). */
const failWith = (code: string, message: (context: Context, event: Event) => string) =>
  enqueueActions<Context, Event, undefined, Event, never, never, never, never, never>(({ context, event, enqueue }) => {
    const text = message(context, event);
    enqueue.assign({ end: { status: 'failed', code, message: text, bytes: bytesReceived(context) } });
    enqueue.sendTo(context.parentRef, sendDraft(context, failedDraft(context.transferId, code, text)));
  });

/**
 * Credits to grant now: a batch once half the window is free again, so grants are few. The window
 * counts chunks granted and not yet taken in by the store (in flight, or received and waiting for
 * room in its write-behind buffer), so a slow disk slows the sender instead of filling memory.
 */
function creditsDue(context: Context): number {
  const outstanding = context.granted - context.written;
  const wanted = Math.min(context.limits.creditsMax, context.chunkCount - context.written) - outstanding;
  const batch = Math.max(1, Math.floor(context.limits.creditsMax / 2));
  const remaining = context.chunkCount - context.granted;
  return wanted >= Math.min(batch, remaining) && remaining > 0 ? Math.min(wanted, remaining) : 0;
}

const peerActivity = ['peer.offer', 'peer.chunk', 'peer.have', 'peer.need', 'peer.credit', 'peer.done'] as const;
const watchdogResets = Object.fromEntries(peerActivity.map((type) => [type, { target: 'watching', reenter: true }]));

export const receiveTransferMachine = setup({
  types: {
    input: {} as ReceiveTransferInput,
    context: {} as Context,
    events: {} as Event,
    output: {} as TransferOutput,
  },
  delays: {
    idleTimeoutMs: ({ context }) => context.limits.idleTimeoutMs,
  },
  guards: {
    pulling: ({ context }) => context.mode === 'pull',
    tooLarge: ({ context }) => context.file.size > context.limits.fileBytesMax,
    offerIsNotTheFileAsked: ({ context, event }) =>
      event.type === 'peer.offer' && (event.file.sha256 !== context.file.sha256 || event.file.size !== context.file.size),
    chunkIsValid: ({ context, event }) =>
      event.type === 'peer.chunk' &&
      event.index === context.received &&
      context.received < context.granted &&
      event.data.byteLength === chunkLengthOf(context.file.size, context.limits.chunkBytes, event.index),
    allWritten: ({ context }) => context.written >= context.chunkCount,
  },
  actions: {
    sendRequest: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo(
        context.parentRef,
        sendDraft(context, {
          type: 'FileRequest',
          payload: {
            transferId: context.transferId,
            clientId: context.clientId as string,
            serviceName: context.serviceName as string,
            sha256: context.file.sha256,
          },
        }),
      );
    }),
    takeOffer: assign({ file: ({ context, event }) => (event.type === 'peer.offer' ? { ...context.file, ...event.file } : context.file) }),
    askStore: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo(context.parentRef, { type: 'transfer.check', transferId: context.transferId, file: context.file } satisfies ReceiveTransferToParentEvent);
    }),
    sendHave: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ end: { status: 'done', have: true, bytes: 0 } });
      enqueue.sendTo(context.parentRef, sendDraft(context, { type: 'FileHave', payload: { transferId: context.transferId } }));
    }),
    sendNeed: enqueueActions(({ context, enqueue }) => {
      const chunkCount = chunkCountOf(context.file.size, context.limits.chunkBytes);
      const credits = Math.max(1, Math.min(context.limits.creditsMax, chunkCount));
      enqueue.assign({ chunkCount, granted: Math.min(credits, chunkCount) });
      enqueue.sendTo(
        context.parentRef,
        sendDraft(context, { type: 'FileNeed', payload: { transferId: context.transferId, chunkBytes: context.limits.chunkBytes, credits } }),
      );
    }),
    write: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'peer.chunk') return;
      enqueue.assign({ received: context.received + 1 });
      enqueue.sendTo(context.parentRef, {
        type: 'transfer.write',
        transferId: context.transferId,
        index: event.index,
        data: event.data,
      } satisfies ReceiveTransferToParentEvent);
    }),
    countWritten: assign({ written: ({ context }) => context.written + 1 }),
    grantCredits: enqueueActions(({ context, enqueue }) => {
      const credits = creditsDue(context);
      if (credits <= 0) return;
      enqueue.assign({ granted: context.granted + credits });
      enqueue.sendTo(context.parentRef, sendDraft(context, { type: 'FileCredit', payload: { transferId: context.transferId, credits } }));
    }),
    verify: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo(context.parentRef, { type: 'transfer.verify', transferId: context.transferId, file: context.file } satisfies ReceiveTransferToParentEvent);
    }),
    sendDone: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ end: { status: 'done', have: false, bytes: context.file.size } });
      enqueue.sendTo(context.parentRef, sendDraft(context, { type: 'FileDone', payload: { transferId: context.transferId, sha256: context.file.sha256 } }));
    }),
    failTooLarge: enqueueActions(({ context, enqueue }) => {
      const message = `the file has ${context.file.size} bytes; at most ${context.limits.fileBytesMax} are accepted`;
      enqueue.assign({ end: { status: 'failed', code: 'FILE_TOO_LARGE', message, bytes: 0 } });
      // A download not asked for yet has nobody to tell.
      if (context.mode === 'push') enqueue.sendTo(context.parentRef, sendDraft(context, failedDraft(context.transferId, 'FILE_TOO_LARGE', message)));
    }),
    failNotAsked: failWith('INVALID_MESSAGE', () => 'the offer is not the file asked for'),
    failFull: failWith('FILE_STORE_FULL', () => 'the file store has no room for this file now'),
    failBadChunk: failWith('INVALID_MESSAGE', (context, event) =>
      event.type === 'peer.chunk'
        ? context.received >= context.granted
          ? `chunk ${event.index} sent without a credit`
          : `chunk ${event.index} is not chunk ${context.received} of ${chunkLengthOf(context.file.size, context.limits.chunkBytes, context.received)} bytes`
        : 'unexpected chunk',
    ),
    failMismatch: failWith('FILE_HASH_MISMATCH', (context) => `the bytes received do not have the SHA-256 ${context.file.sha256}`),
    failWrite: failWith('INTERNAL_ERROR', () => 'the receiver could not store the file'),
    failCancelled: failWith('CANCELLED', () => 'the transfer was cancelled'),
    failTimedOut: failWith('TIMEOUT', () => 'no message from the sender in time'),
    endPeerFailed: assign({ end: ({ context, event }) => endOnFailure(event, bytesReceived(context)) }),
    reportEnded: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo(context.parentRef, {
        type: 'transfer.ended',
        transferId: context.transferId,
        sha256: context.file.sha256,
        end: context.end as TransferEnd,
      } satisfies ReceiveTransferToParentEvent);
    }),
  },
}).createMachine({
  id: 'receiveTransfer',
  context: ({ input }) => ({
    transferId: input.transferId,
    mode: input.mode,
    clientId: input.mode === 'pull' ? input.clientId : undefined,
    serviceName: input.mode === 'pull' ? input.serviceName : undefined,
    limits: input.limits,
    parentRef: input.parentRef,
    file: input.file,
    chunkCount: 0,
    received: 0,
    written: 0,
    granted: 0,
    end: undefined,
  }),
  initial: 'active',
  states: {
    active: {
      type: 'parallel',
      on: {
        'peer.failed': { target: 'failed', actions: 'endPeerFailed' },
        'transfer.cancel': { target: 'failed', actions: 'failCancelled' },
        'store.failed': { target: 'failed', actions: 'failWrite' },
      },
      states: {
        progress: {
          initial: 'starting',
          states: {
            starting: {
              always: [
                // FILE-6: refused before any byte moves (a download's size is known from its FileRef).
                { guard: 'tooLarge', target: '#receiveTransfer.failed', actions: 'failTooLarge' },
                { guard: 'pulling', target: 'requesting' },
                { target: 'checking' },
              ],
            },
            requesting: {
              entry: 'sendRequest',
              on: {
                'peer.offer': [
                  { guard: 'offerIsNotTheFileAsked', target: '#receiveTransfer.failed', actions: 'failNotAsked' },
                  { target: 'checking', actions: 'takeOffer' },
                ],
              },
            },
            checking: {
              entry: 'askStore',
              on: {
                'store.have': { target: '#receiveTransfer.done', actions: 'sendHave' },
                'store.reserved': { target: 'receiving', actions: 'sendNeed' },
                'store.full': { target: '#receiveTransfer.failed', actions: 'failFull' },
              },
            },
            receiving: {
              always: { guard: 'allWritten', target: 'verifying' },
              on: {
                'peer.chunk': [{ guard: 'chunkIsValid', actions: 'write' }, { target: '#receiveTransfer.failed', actions: 'failBadChunk' }],
                'store.written': { actions: ['countWritten', 'grantCredits'] },
              },
            },
            verifying: {
              entry: 'verify',
              on: {
                'store.verified': { target: '#receiveTransfer.done', actions: 'sendDone' },
                'store.mismatch': { target: '#receiveTransfer.failed', actions: 'failMismatch' },
                'peer.chunk': { target: '#receiveTransfer.failed', actions: 'failBadChunk' },
              },
            },
          },
        },
        watchdog: {
          initial: 'watching',
          states: {
            // On the leaf, not the region: a re-entering transition of the region would exit and
            // re-enter its parallel sibling too.
            watching: {
              on: watchdogResets,
              after: { idleTimeoutMs: { target: '#receiveTransfer.failed', actions: 'failTimedOut' } },
            },
          },
        },
      },
    },
    done: { type: 'final', entry: 'reportEnded' },
    failed: { type: 'final', entry: 'reportEnded' },
  },
  output: ({ context }) => ({ transferId: context.transferId, sha256: context.file.sha256, end: context.end as TransferEnd }),
});
