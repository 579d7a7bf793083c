/**
 * The file transfers of one link (a provider's session, or a client's connection to a provider):
 * runs a send or receive statechart per transfer (machines/files/) and carries out what they ask:
 * reading chunks from the store and writing them to the link, writing arriving chunks into the
 * store, verifying. Transfers are few per link (`transfersMax`), so each is an actor of its own,
 * on the clock it is given (a SimulatedClock in specs and simulations).
 *
 * Who starts what: the client starts every transfer (upload = push, download = pull); the
 * provider answers. A FileOffer with an unknown transferId starts a receive, a FileRequest a send;
 * both are first authorised (`authorize`, the ACL's `file:put` / `file:get` for the service,
 * FILE-9), and a request for a file this identity may not know is FILE_NOT_FOUND, the same answer
 * as for a file that is not here (FILE-8).
 */
import { createActor, type AnyActorRef } from 'xstate';
import type { Clock } from '../provider.js';
import { CHUNK_HEADER_BYTES, chunkIdBytes, writeChunkHeader, type ChunkFrame } from '../../machines/files/chunkFrame.js';
import { chunkLengthOf, type FileRef } from '../../machines/files/fileRef.js';
import type { FileDraft, FileMessage } from '../../machines/files/messages.js';
import {
  defaultReceiveTransferLimits,
  receiveTransferMachine,
  type ReceiveTransferEvent,
  type ReceiveTransferLimits,
  type ReceiveTransferToParentEvent,
} from '../../machines/files/receiveTransfer.js';
import { sendTransferMachine, type SendTransferEvent, type SendTransferToParentEvent } from '../../machines/files/sendTransfer.js';
import { failedDraft, type PeerFileEvent, type TransferEnd } from '../../machines/files/transferTypes.js';
import type { FileStore, IncomingFile } from './fileStore.js';
import { interpreterFromEnv, runnable, type InterpreterChoice } from '../interpreter.js';

/** What a link must do for its transfers. */
export interface TransferLink {
  /** Sends a file message (JSON envelope). */
  sendMessage(draft: FileDraft): void;
  /**
   * Sends one chunk frame (binary WebSocket message); resolves when the link has taken it. A link
   * that calls `release` promises it holds the frame no longer (written, or copied): the sender
   * then reuses it for a later chunk. A link that never calls it gets a new frame every time.
   */
  sendChunk(frame: Uint8Array, release?: () => void): void | Promise<void>;
}

export interface FileTransferLimits extends ReceiveTransferLimits {
  /** Transfers at once on this link. @default 8 */
  readonly transfersMax: number;
  /** Largest chunk this side sends. @default 1_048_000 (a chunk frame stays within a 1 MiB message) */
  readonly chunkBytesMax: number;
  /** How long a received file is kept for a task that will use it (FILE-10). @default 60_000 */
  readonly leaseMs: number;
}

export const defaultFileTransferLimits: FileTransferLimits = {
  ...defaultReceiveTransferLimits,
  transfersMax: 8,
  chunkBytesMax: 1_048_000,
  leaseMs: 60_000,
};

export interface FileTransfersOptions {
  readonly store: FileStore;
  readonly link: TransferLink;
  /** Whose files these are, for the store's access lists (FILE-8): the client's owner on a provider. */
  readonly identity: string;
  /** The client the transfers are for (carried in FileOffer and FileRequest). */
  readonly clientId: string;
  readonly limits?: Partial<FileTransferLimits>;
  readonly clock?: Clock;
  /** FILE-9: may the peer put (upload) or get (download) files for this service? @default allow */
  readonly authorize?: (serviceName: string, action: 'file:put' | 'file:get') => boolean;
  /** Bytes moved so far by a transfer (sent, or received and written). */
  readonly onProgress?: (transferId: string, bytes: number, size: number) => void;
  /** New transferIds for transfers this side starts. */
  readonly newId: () => string;
  /** What runs the transfer statecharts: the compiled engine, or XState's interpreter. @default SWITCHBOARD_INTERPRETER, else the engine */
  readonly interpreter?: InterpreterChoice;
}

export interface TransferResult {
  readonly transferId: string;
  readonly file: FileRef;
  readonly end: TransferEnd;
}

interface Running {
  readonly actor: AnyActorRef;
  readonly file: FileRef;
  readonly direction: 'send' | 'receive';
  incoming?: IncomingFile;
  unpin?: () => void;
  bytes: number;
  /** Runs of chunks to send, one after the other: a grant may arrive while a run is still being sent. */
  sending: Promise<void>;
  /** A sender's frames the link released, for its next chunks (at most FRAMES_KEPT). */
  readonly frames: Uint8Array[];
  readonly settle: (result: TransferResult) => void;
  readonly done: Promise<TransferResult>;
}

export interface TransferCounters {
  started: number;
  done: number;
  failed: number;
  /** Content bytes sent and received. */
  bytesSent: number;
  bytesReceived: number;
  /** Messages for transfers this link does not know (late, or invented): ignored. */
  unknown: number;
}

/**
 * Released frames a sender keeps for its next chunks: a run of chunks is written before the
 * socket reports the first one done, so the pool must hold a run (half the window) to be reused
 * at all. A new frame costs its page faults, more than the copy into it.
 */
const FRAMES_KEPT = 16;

export class FileTransfers {
  readonly #options: FileTransfersOptions;
  readonly #limits: FileTransferLimits;
  readonly #sendLogic: typeof sendTransferMachine;
  readonly #receiveLogic: typeof receiveTransferMachine;
  readonly #running = new Map<string, Running>();
  readonly counters: TransferCounters = { started: 0, done: 0, failed: 0, bytesSent: 0, bytesReceived: 0, unknown: 0 };
  #closed = false;

  constructor(options: FileTransfersOptions) {
    this.#options = options;
    this.#limits = { ...defaultFileTransferLimits, ...options.limits };
    if (this.#limits.chunkBytes > this.#limits.chunkBytesMax) throw new RangeError('file transfers: chunkBytes must not exceed chunkBytesMax');
    // On the engine a chunk costs a fraction of what XState's interpreter takes (bench/fileTransfer.ts).
    const interpreter = options.interpreter ?? interpreterFromEnv();
    this.#sendLogic = runnable(sendTransferMachine, interpreter, undefined);
    this.#receiveLogic = runnable(receiveTransferMachine, interpreter, undefined);
  }

  get active(): number {
    return this.#running.size;
  }

  /** Client: sends a file the store holds to the provider, unless the provider has it (FILE-3). */
  upload(file: FileRef, serviceName: string): Promise<TransferResult> {
    const transferId = this.#options.newId();
    const refused = this.#refusal(transferId, file);
    if (refused) return refused;
    return this.#startSend(transferId, file, serviceName);
  }

  /** Client: fetches a file from the provider into the store (nothing moves if it is here already). */
  download(file: FileRef, serviceName: string): Promise<TransferResult> {
    const transferId = this.#options.newId();
    if (this.#options.store.has(file.sha256)) {
      return Promise.resolve({ transferId, file, end: { status: 'done', have: true, bytes: 0 } });
    }
    const refused = this.#refusal(transferId, file, false);
    if (refused) return refused;
    return this.#startReceive(transferId, file, { mode: 'pull', clientId: this.#options.clientId, serviceName });
  }

  /** A file message from the peer. */
  receive(message: FileMessage): void {
    if (this.#closed) return;
    const { transferId } = message.payload;
    const running = this.#running.get(transferId);
    if (running === undefined) {
      if (message.type === 'FileOffer') return this.#answerOffer(transferId, message.payload.file, message.payload.serviceName);
      if (message.type === 'FileRequest') return this.#answerRequest(transferId, message.payload.sha256, message.payload.serviceName);
      this.counters.unknown++;
      return;
    }
    const event = peerEventOf(message);
    if (event === undefined) this.counters.unknown++;
    else running.actor.send(event);
  }

  /** Whether a chunk of this transfer is welcome: this side is receiving it (FILE-1). */
  expectsChunks(transferId: string): boolean {
    return this.#running.get(transferId)?.direction === 'receive';
  }

  /** A chunk frame from the peer. */
  receiveChunk(frame: ChunkFrame): void {
    const running = this.#running.get(frame.transferId);
    if (running === undefined || running.direction !== 'receive') {
      this.counters.unknown++;
      return;
    }
    running.actor.send({ type: 'peer.chunk', index: frame.index, data: frame.data } satisfies PeerFileEvent);
  }

  /** Cancels one transfer (FileFailed CANCELLED to the peer). */
  cancel(transferId: string): void {
    this.#running.get(transferId)?.actor.send({ type: 'transfer.cancel' });
  }

  /** The link is gone: every transfer fails, nothing more is sent. */
  close(): void {
    this.#closed = true;
    for (const running of [...this.#running.values()]) running.actor.send({ type: 'peer.failed', code: 'CONNECTION_LOST', message: 'the link closed' });
  }

  #refusal(transferId: string, file: FileRef, send = true): Promise<TransferResult> | undefined {
    const fail = (code: string, message: string) => Promise.resolve({ transferId, file, end: { status: 'failed' as const, code, message, bytes: 0 } });
    if (this.#closed) return fail('CONNECTION_LOST', 'the link is closed');
    if (this.#running.size >= this.#limits.transfersMax) return fail('OVERLOADED', `at most ${this.#limits.transfersMax} transfers at once`);
    if (send && !this.#options.store.has(file.sha256)) return fail('FILE_NOT_FOUND', `file ${file.sha256} is not in the store`);
    return undefined;
  }

  /** Provider: a client offers a file (push). */
  #answerOffer(transferId: string, file: FileRef, serviceName: string): void {
    const refuse = (code: string, message: string) => this.#options.link.sendMessage(failedDraft(transferId, code, message));
    if (!(this.#options.authorize?.(serviceName, 'file:put') ?? true)) return refuse('FORBIDDEN', 'no permission to send files to this service');
    if (this.#running.size >= this.#limits.transfersMax) return refuse('OVERLOADED', `at most ${this.#limits.transfersMax} transfers at once`);
    void this.#startReceive(transferId, file, { mode: 'push' });
  }

  /** Provider: a client asks for a file (pull). */
  #answerRequest(transferId: string, sha256: string, serviceName: string): void {
    const refuse = (code: string, message: string) => this.#options.link.sendMessage(failedDraft(transferId, code, message));
    if (!(this.#options.authorize?.(serviceName, 'file:get') ?? true)) return refuse('FORBIDDEN', 'no permission to fetch files from this service');
    const { store, identity } = this.#options;
    const size = store.sizeOf(sha256);
    // FILE-8: a file this identity may not know about is "not found", exactly as a missing one.
    if (size === undefined || !store.mayAccess(sha256, identity)) return refuse('FILE_NOT_FOUND', `no file ${sha256} for this client`);
    if (this.#running.size >= this.#limits.transfersMax) return refuse('OVERLOADED', `at most ${this.#limits.transfersMax} transfers at once`);
    void this.#startSend(transferId, { sha256, size }, serviceName);
  }

  #track(transferId: string, file: FileRef, direction: 'send' | 'receive', actor: AnyActorRef): Running {
    let settle!: (result: TransferResult) => void;
    const done = new Promise<TransferResult>((resolve) => (settle = resolve));
    const running: Running = { actor, file, direction, bytes: 0, sending: Promise.resolve(), frames: [], settle, done };
    this.#running.set(transferId, running);
    this.counters.started++;
    return running;
  }

  #startSend(transferId: string, file: FileRef, serviceName: string): Promise<TransferResult> {
    const host = hostRef<SendTransferToParentEvent>((event) => this.#onSendEffect(transferId, event));
    const actor = createActor(this.#sendLogic, {
      ...(this.#options.clock ? { clock: this.#options.clock } : {}),
      input: {
        transferId,
        clientId: this.#options.clientId,
        serviceName,
        file,
        chunkBytesMax: this.#limits.chunkBytesMax,
        idleTimeoutMs: this.#limits.idleTimeoutMs,
        parentRef: host,
      },
    });
    const running = this.#track(transferId, file, 'send', actor);
    // Pinned while it is read (FILE-10); a file missing now fails the transfer at its first read.
    running.unpin = this.#options.store.pin(file.sha256);
    actor.start();
    return running.done;
  }

  #startReceive(
    transferId: string,
    file: FileRef,
    mode: { mode: 'push' } | { mode: 'pull'; clientId: string; serviceName: string },
  ): Promise<TransferResult> {
    const host = hostRef<ReceiveTransferToParentEvent>((event) => this.#onReceiveEffect(transferId, event));
    const limits: ReceiveTransferLimits = {
      fileBytesMax: Math.min(this.#limits.fileBytesMax, this.#options.store.fileBytesMax),
      chunkBytes: this.#limits.chunkBytes,
      creditsMax: this.#limits.creditsMax,
      idleTimeoutMs: this.#limits.idleTimeoutMs,
    };
    const actor = createActor(this.#receiveLogic, {
      ...(this.#options.clock ? { clock: this.#options.clock } : {}),
      input: { transferId, limits, parentRef: host, file, ...mode },
    });
    const running = this.#track(transferId, file, 'receive', actor);
    actor.start();
    return running.done;
  }

  #onSendEffect(transferId: string, event: SendTransferToParentEvent): void {
    const running = this.#running.get(transferId);
    switch (event.type) {
      case 'transfer.send':
        if (!this.#closed) this.#options.link.sendMessage(event.draft);
        return;
      case 'transfer.sendChunks':
        if (running) {
          const { fromIndex, count, chunkBytes } = event;
          running.sending = running.sending.then(() => this.#sendChunks(transferId, running, fromIndex, count, chunkBytes));
        }
        return;
      case 'transfer.ended':
        this.#end(transferId, event.end);
        return;
    }
  }

  async #sendChunks(transferId: string, running: Running, fromIndex: number, count: number, chunkBytes: number): Promise<void> {
    const { store, link, onProgress } = this.#options;
    const idBytes = chunkIdBytes(transferId);
    const headerBytes = CHUNK_HEADER_BYTES + idBytes.byteLength;
    for (let index = fromIndex; index < fromIndex + count; index++) {
      if (this.#running.get(transferId) !== running || this.#closed) return;
      const length = chunkLengthOf(running.file.size, chunkBytes, index);
      const frameBytes = headerBytes + length;
      // A frame the link released (same size: every chunk but the last), else a new one; not
      // zero-filled: every byte is written just below (header, then the chunk read into it).
      const frame = running.frames.at(-1)?.byteLength === frameBytes ? (running.frames.pop() as Uint8Array) : Buffer.allocUnsafeSlow(frameBytes);
      writeChunkHeader(frame, idBytes, index);
      try {
        await store.readRange(running.file.sha256, index * chunkBytes, length, frame, headerBytes);
      } catch (error) {
        const code = (error as { code?: unknown }).code === 'FILE_NOT_FOUND' ? 'FILE_NOT_FOUND' : 'INTERNAL_ERROR';
        running.actor.send({ type: 'transfer.readFailed', code, message: 'the file could not be read' } satisfies SendTransferEvent);
        return;
      }
      if (this.#running.get(transferId) !== running || this.#closed) return;
      await link.sendChunk(frame, () => {
        if (running.frames.length < FRAMES_KEPT) running.frames.push(frame);
      });
      running.bytes += length;
      this.counters.bytesSent += length;
      onProgress?.(transferId, running.bytes, running.file.size);
    }
  }

  #onReceiveEffect(transferId: string, event: ReceiveTransferToParentEvent): void {
    const running = this.#running.get(transferId);
    // A write or verdict that lands after the transfer ended (cancelled, failed) is dropped.
    const tell = (next: ReceiveTransferEvent) => {
      if (running !== undefined && this.#running.get(transferId) === running) running.actor.send(next);
    };
    const { store, identity } = this.#options;
    switch (event.type) {
      case 'transfer.send':
        if (!this.#closed) this.#options.link.sendMessage(event.draft);
        return;
      case 'transfer.check': {
        if (running === undefined) return;
        if (store.has(event.file.sha256) && store.mayAccess(event.file.sha256, identity)) {
          store.lease(event.file.sha256, this.#limits.leaseMs);
          tell({ type: 'store.have' });
          return;
        }
        const begun = store.begin(event.file);
        if (!begun.ok) {
          tell({ type: 'store.full' });
          return;
        }
        running.incoming = begun.incoming;
        tell({ type: 'store.reserved' });
        return;
      }
      case 'transfer.write': {
        const incoming = running?.incoming;
        if (running === undefined || incoming === undefined) return;
        incoming.write(event.data).then(
          () => {
            running.bytes += event.data.byteLength;
            this.counters.bytesReceived += event.data.byteLength;
            this.#options.onProgress?.(transferId, running.bytes, running.file.size);
            tell({ type: 'store.written', index: event.index });
          },
          (error: unknown) => tell({ type: 'store.failed', message: (error as Error).message }),
        );
        return;
      }
      case 'transfer.verify': {
        const incoming = running?.incoming;
        if (running === undefined || incoming === undefined) return;
        incoming.finish().then(
          (verdict) => {
            if (!verdict.ok) {
              tell({ type: 'store.mismatch', actualSha256: verdict.actualSha256 });
              return;
            }
            running.incoming = undefined;
            store.grantAccess(event.file.sha256, identity);
            store.lease(event.file.sha256, this.#limits.leaseMs);
            tell({ type: 'store.verified' });
          },
          (error: unknown) => tell({ type: 'store.failed', message: (error as Error).message }),
        );
        return;
      }
      case 'transfer.ended':
        this.#end(transferId, event.end);
        return;
    }
  }

  #end(transferId: string, end: TransferEnd): void {
    const running = this.#running.get(transferId);
    if (running === undefined) return;
    this.#running.delete(transferId);
    running.unpin?.();
    if (running.incoming) void running.incoming.abort();
    if (end.status === 'done') {
      this.counters.done++;
      // FILE-8: the peer sent or holds this content; it may learn it is here from now on.
      if (running.direction === 'receive' && end.have) this.#options.store.grantAccess(running.file.sha256, this.#options.identity);
    } else this.counters.failed++;
    running.settle({ transferId, file: running.file, end });
  }
}

/** A parentRef for a transfer actor: effects arrive as calls (see specs/support/recorder.ts for why this works). */
function hostRef<TEvent>(handle: (event: TEvent) => void): AnyActorRef {
  return { id: 'fileTransfers', send: handle, _send: handle } as unknown as AnyActorRef;
}

function peerEventOf(message: FileMessage): PeerFileEvent | undefined {
  switch (message.type) {
    case 'FileOffer':
      return { type: 'peer.offer', file: message.payload.file };
    case 'FileHave':
      return { type: 'peer.have' };
    case 'FileNeed':
      return { type: 'peer.need', chunkBytes: message.payload.chunkBytes, credits: message.payload.credits };
    case 'FileCredit':
      return { type: 'peer.credit', credits: message.payload.credits };
    case 'FileDone':
      return { type: 'peer.done', sha256: message.payload.sha256 };
    case 'FileFailed':
      return { type: 'peer.failed', code: message.payload.code, message: message.payload.message };
    default:
      return undefined;
  }
}
