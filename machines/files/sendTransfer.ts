/**
 * The sending side of one file transfer (FILE-3, FILE-4, FILE-7, FILE-11):
 * `offering -> sending -> awaitingVerdict -> done`, or `failed`, or `done` at once when the
 * receiver holds the file already.
 *
 * - `offering`: FileOffer sent; FileHave ends the transfer with no content byte sent (FILE-3);
 *   FileNeed gives the chunk size and the first credits.
 * - `sending`: chunks are released to the host in index order, never more than the credits
 *   granted (FILE-4): each `transfer.sendChunks` hands over a run of chunks the host reads and
 *   writes to the socket; FileCredit grants more. When every chunk is released the transfer waits
 *   for the receiver's verdict.
 * - `awaitingVerdict`: FileDone (the receiver verified the hash) ends it `done`; FileFailed
 *   `failed` with the receiver's code (FILE_HASH_MISMATCH, ...).
 * - Anywhere before the end: FileFailed from the peer, a cancel, a read failure, or
 *   `idleTimeoutMs` without a message from the peer ends it `failed` (FILE-7); in the last three
 *   cases FileFailed is sent to the peer.
 *
 * No bytes pass through this machine: it counts chunks; the host moves the data.
 */
import { assign, enqueueActions, setup, type ActorRef } from 'xstate';
import { chunkCountOf, chunkLengthOf, type FileRef } from './fileRef.js';
import { endOnFailure, failedDraft, type PeerFileEvent, type TransferEnd, type TransferOutput, type TransferToParentCommon } from './transferTypes.js';

export interface SendTransferInput {
  readonly transferId: string;
  /** The client the transfer is for (the offer carries it, CONN-9). */
  readonly clientId: string;
  readonly serviceName: string;
  readonly file: FileRef;
  /** Largest chunk this side will send; a FileNeed asking for more fails the transfer. */
  readonly chunkBytesMax: number;
  /** @default 30_000 */
  readonly idleTimeoutMs: number;
  readonly parentRef: ActorRef<any, SendTransferToParentEvent>;
}

export type SendTransferEvent =
  | PeerFileEvent
  | { readonly type: 'transfer.cancel' }
  | { readonly type: 'transfer.readFailed'; readonly code: string; readonly message: string };

export type SendTransferToParentEvent =
  | TransferToParentCommon
  /** Read chunks `fromIndex .. fromIndex + count - 1` and send each as a chunk frame. */
  | { readonly type: 'transfer.sendChunks'; readonly transferId: string; readonly fromIndex: number; readonly count: number; readonly chunkBytes: number };

export interface SendTransferContext extends SendTransferInput {
  readonly chunkBytes: number;
  readonly chunkCount: number;
  /** The next chunk to release to the host. */
  readonly nextIndex: number;
  /** Chunks the receiver allows beyond those released. */
  readonly credits: number;
  readonly end: TransferEnd | undefined;
}

type Context = SendTransferContext;
type Event = SendTransferEvent;

const bytesReleased = (context: Context) => Math.min(context.file.size, context.nextIndex * context.chunkBytes);

const fail = (code: string, message: string) =>
  assign<Context, Event, undefined, Event, never>({ end: ({ context }) => ({ status: 'failed', code, message, bytes: bytesReleased(context) }) });

const tellPeer = (code: string, message: string) =>
  enqueueActions<Context, Event, undefined, Event, never, never, never, never, never>(({ context, enqueue }) => {
    enqueue.sendTo(context.parentRef, {
      type: 'transfer.send',
      transferId: context.transferId,
      draft: failedDraft(context.transferId, code, message),
    } satisfies SendTransferToParentEvent);
  });

/** Activity from the peer restarts the idle timer (FILE-7). */
const peerActivity = ['peer.have', 'peer.need', 'peer.credit', 'peer.done', 'peer.offer', 'peer.chunk'] as const;
const watchdogResets = Object.fromEntries(peerActivity.map((type) => [type, { target: 'watching', reenter: true }]));

export const sendTransferMachine = setup({
  types: {
    input: {} as SendTransferInput,
    context: {} as Context,
    events: {} as Event,
    output: {} as TransferOutput,
  },
  delays: {
    idleTimeoutMs: ({ context }) => context.idleTimeoutMs,
  },
  guards: {
    needIsValid: ({ context, event }) => event.type === 'peer.need' && event.chunkBytes <= context.chunkBytesMax,
    allReleased: ({ context }) => context.nextIndex >= context.chunkCount,
  },
  actions: {
    sendOffer: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo(context.parentRef, {
        type: 'transfer.send',
        transferId: context.transferId,
        draft: {
          type: 'FileOffer',
          payload: { transferId: context.transferId, clientId: context.clientId, serviceName: context.serviceName, file: context.file },
        },
      } satisfies SendTransferToParentEvent);
    }),
    takeNeed: assign(({ context, event }) =>
      event.type === 'peer.need'
        ? { chunkBytes: event.chunkBytes, credits: event.credits, chunkCount: chunkCountOf(context.file.size, event.chunkBytes) }
        : {},
    ),
    addCredits: assign({ credits: ({ context, event }) => (event.type === 'peer.credit' ? context.credits + event.credits : context.credits) }),
    /** Hands the host as many chunks as the credits allow (FILE-4). */
    release: enqueueActions(({ context, enqueue }) => {
      const count = Math.min(context.credits, context.chunkCount - context.nextIndex);
      if (count <= 0) return;
      enqueue.assign({ nextIndex: context.nextIndex + count, credits: context.credits - count });
      enqueue.sendTo(context.parentRef, {
        type: 'transfer.sendChunks',
        transferId: context.transferId,
        fromIndex: context.nextIndex,
        count,
        chunkBytes: context.chunkBytes,
      } satisfies SendTransferToParentEvent);
    }),
    endHave: assign({ end: () => ({ status: 'done', have: true, bytes: 0 }) as TransferEnd }),
    endDone: assign({ end: ({ context }) => ({ status: 'done', have: false, bytes: context.file.size }) as TransferEnd }),
    endPeerFailed: assign({ end: ({ context, event }) => endOnFailure(event, bytesReleased(context)) }),
    endReadFailed: assign({ end: ({ context, event }) => endOnFailure(event, bytesReleased(context)) }),
    tellPeerReadFailed: enqueueActions(({ context, event, enqueue }) => {
      const code = event.type === 'transfer.readFailed' ? event.code : 'INTERNAL_ERROR';
      enqueue.sendTo(context.parentRef, {
        type: 'transfer.send',
        transferId: context.transferId,
        draft: failedDraft(context.transferId, code, 'the sender could not read the file'),
      } satisfies SendTransferToParentEvent);
    }),
    endCancelled: fail('CANCELLED', 'the transfer was cancelled'),
    tellPeerCancelled: tellPeer('CANCELLED', 'the transfer was cancelled'),
    endTimedOut: fail('TIMEOUT', 'no message from the receiver in time'),
    tellPeerTimedOut: tellPeer('TIMEOUT', 'no message from the receiver in time'),
    endBadNeed: fail('INVALID_MESSAGE', 'FileNeed asked for chunks larger than this side sends'),
    tellPeerBadNeed: tellPeer('INVALID_MESSAGE', 'FileNeed asked for chunks larger than this side sends'),
    reportEnded: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo(context.parentRef, {
        type: 'transfer.ended',
        transferId: context.transferId,
        sha256: context.file.sha256,
        end: context.end as TransferEnd,
      } satisfies SendTransferToParentEvent);
    }),
  },
}).createMachine({
  id: 'sendTransfer',
  context: ({ input }) => ({ ...input, chunkBytes: 0, chunkCount: 0, nextIndex: 0, credits: 0, end: undefined }),
  initial: 'active',
  states: {
    active: {
      type: 'parallel',
      on: {
        'peer.failed': { target: 'failed', actions: 'endPeerFailed' },
        'transfer.cancel': { target: 'failed', actions: ['endCancelled', 'tellPeerCancelled'] },
        'transfer.readFailed': { target: 'failed', actions: ['endReadFailed', 'tellPeerReadFailed'] },
      },
      states: {
        progress: {
          initial: 'offering',
          states: {
            offering: {
              entry: 'sendOffer',
              on: {
                'peer.have': { target: '#sendTransfer.done', actions: 'endHave' },
                'peer.need': [
                  { guard: 'needIsValid', target: 'sending', actions: 'takeNeed' },
                  { target: '#sendTransfer.failed', actions: ['endBadNeed', 'tellPeerBadNeed'] },
                ],
              },
            },
            sending: {
              entry: 'release',
              always: { guard: 'allReleased', target: 'awaitingVerdict' },
              on: { 'peer.credit': { actions: ['addCredits', 'release'] } },
            },
            awaitingVerdict: {
              on: {
                'peer.done': { target: '#sendTransfer.done', actions: 'endDone' },
                // Credits after the last chunk mean nothing any more.
                'peer.credit': {},
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
              after: { idleTimeoutMs: { target: '#sendTransfer.failed', actions: ['endTimedOut', 'tellPeerTimedOut'] } },
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

/** Bytes of chunk `index` of this transfer (for the host that reads it). */
export function sendChunkLength(context: Pick<SendTransferContext, 'file' | 'chunkBytes'>, index: number): number {
  return chunkLengthOf(context.file.size, context.chunkBytes, index);
}
