/**
 * The content-addressed file store (FILE-2, FILE-6, FILE-8, FILE-10): files named by the SHA-256
 * of their bytes, verified on arrival, bounded in bytes, least recently used evicted first, pinned
 * while a task or a transfer uses them. One store serves both directions of every transfer of a
 * provider or a client; the bytes live on disk (`openDiskFileStore`) or in memory
 * (`openMemoryFileStore`, for the simulated network).
 *
 * ```ts
 * const store = await openDiskFileStore('./switchboard-files', { bytesMax: 2 ** 30 });
 * const ref = await store.add(new TextEncoder().encode('hello'), { name: 'hello.txt' });
 * const unpin = store.pin(ref.sha256);   // not evicted until unpin()
 * ```
 */
import { createHash, type Hash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FileRef } from '../../machines/files/fileRef.js';
import type { StoreBackend, IncomingSink } from './backend.js';
import { diskBackend } from './diskBackend.js';
import { memoryBackend } from './memoryBackend.js';
import { StoreIndex, type StoreStats } from './storeIndex.js';

export interface FileStoreOptions {
  /** Bytes the store holds at most, files arriving included. @default 1_073_741_824 (1 GiB) */
  readonly bytesMax?: number;
  /** Largest single file. @default 268_435_456 (256 MiB) */
  readonly fileBytesMax?: number;
  /** Identities remembered per file (FILE-8). @default 64 */
  readonly accessPerFileMax?: number;
  /** The clock leases are measured on. @default Date.now */
  readonly nowMs?: () => number;
  /** Told when the bytes of an evicted file could not be deleted. */
  readonly onError?: (error: unknown) => void;
  /**
   * A deliberate bug, for proving that the conformance suite finds it (specs/fixtures): never set
   * in production. `acceptWrongHash` keeps arriving bytes under the offered hash whatever they
   * hash to (breaks FILE-2).
   */
  readonly injectBug?: { readonly acceptWrongHash?: boolean };
}

export const defaultFileStoreLimits = { bytesMax: 1_073_741_824, fileBytesMax: 268_435_456 } as const;

export type FileStoreErrorCode = 'FILE_NOT_FOUND' | 'FILE_TOO_LARGE' | 'FILE_STORE_FULL' | 'FILE_HASH_MISMATCH';

export class FileStoreError extends Error {
  override readonly name = 'FileStoreError';
  constructor(
    readonly code: FileStoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type Verdict = { readonly ok: true; readonly file: FileRef } | { readonly ok: false; readonly actualSha256: string };

/** A file arriving: its bytes written in order, hashed as they come, then verified (FILE-2). */
export class IncomingFile {
  readonly #hash: Hash = createHash('sha256');
  readonly #sink: Promise<IncomingSink>;
  #pending: Promise<void> = Promise.resolve();
  #received = 0;
  #settled = false;

  constructor(
    readonly file: FileRef,
    private readonly store: FileStore,
    sink: Promise<IncomingSink>,
  ) {
    this.#sink = sink;
    // A sink that failed to open fails the first write; no unhandled rejection meanwhile.
    sink.catch(() => undefined);
  }

  get bytesReceived(): number {
    return this.#received;
  }

  /**
   * Appends the next bytes; resolves once the store has taken them: written, or (a disk store)
   * copied into its bounded write-behind buffer, so the caller's buffer is free. A write that
   * fails later fails a following `write` or `finish`.
   */
  write(data: Uint8Array): Promise<void> {
    if (this.#settled) return Promise.reject(new Error('incoming file already finished'));
    if (this.#received + data.byteLength > this.file.size) {
      return Promise.reject(new FileStoreError('FILE_TOO_LARGE', `more than the ${this.file.size} bytes announced`));
    }
    const offset = this.#received;
    this.#received += data.byteLength;
    this.#hash.update(data);
    const written = this.#pending.then(async () => (await this.#sink).write(offset, data));
    this.#pending = written.catch(() => undefined);
    return written;
  }

  /** Compares the hash of what arrived with the announced one; equal, the file is stored. */
  async finish(): Promise<Verdict> {
    if (this.#settled) throw new Error('incoming file already finished');
    this.#settled = true;
    await this.#pending;
    const sink = await this.#sink;
    const actual = this.store.acceptsWrongHash ? this.file.sha256 : this.#hash.digest('hex');
    if (actual !== this.file.sha256 || this.#received !== this.file.size) {
      await sink.discard();
      this.store.releaseReservation(this.file.size);
      return { ok: false, actualSha256: actual };
    }
    if (this.store.has(actual)) {
      await sink.discard();
      this.store.releaseReservation(this.file.size);
    } else {
      await this.store.removed(actual);
      try {
        // Written behind (stagedWriter.ts): a write that failed is known only now.
        await sink.commit(actual);
      } catch (error) {
        this.store.releaseReservation(this.file.size);
        await sink.discard().catch(() => undefined);
        throw error;
      }
      this.store.commitReserved(actual, this.file.size);
    }
    return { ok: true, file: this.file };
  }

  /** Drops what arrived (a failed or cancelled transfer). */
  async abort(): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    await this.#pending;
    this.store.releaseReservation(this.file.size);
    await (await this.#sink.catch(() => undefined))?.discard();
  }
}

export class FileStore {
  readonly #backend: StoreBackend;
  readonly #index: StoreIndex;
  readonly #fileBytesMax: number;
  readonly #onError: (error: unknown) => void;
  readonly #removals = new Map<string, Promise<void>>();
  /** @internal FileStoreOptions.injectBug.acceptWrongHash */
  readonly acceptsWrongHash: boolean;

  constructor(backend: StoreBackend, options: FileStoreOptions = {}) {
    this.#backend = backend;
    this.acceptsWrongHash = options.injectBug?.acceptWrongHash === true;
    this.#fileBytesMax = options.fileBytesMax ?? defaultFileStoreLimits.fileBytesMax;
    this.#onError = options.onError ?? (() => undefined);
    this.#index = new StoreIndex({
      bytesMax: options.bytesMax ?? defaultFileStoreLimits.bytesMax,
      nowMs: options.nowMs ?? Date.now,
      ...(options.accessPerFileMax === undefined ? {} : { accessPerFileMax: options.accessPerFileMax }),
    });
  }

  get kind(): 'disk' | 'memory' {
    return this.#backend.kind;
  }

  get fileBytesMax(): number {
    return this.#fileBytesMax;
  }

  /** Takes in what the backend already holds (a disk store's previous run), as far as the bound allows. */
  async load(): Promise<void> {
    for (const { sha256, size } of await this.#backend.list()) {
      const victims = size <= this.#fileBytesMax ? this.#index.add(sha256, size) : undefined;
      if (victims === undefined) await this.#backend.remove(sha256);
      else this.#evict(victims);
    }
  }

  has(sha256: string): boolean {
    return this.#index.has(sha256);
  }

  sizeOf(sha256: string): number | undefined {
    return this.#index.sizeOf(sha256);
  }

  /** FILE-8: may this identity learn that the file is here (it sent it, or a task made it for it)? */
  mayAccess(sha256: string, identity: string): boolean {
    return this.#index.mayAccess(sha256, identity);
  }

  grantAccess(sha256: string, identity: string): void {
    this.#index.grantAccess(sha256, identity);
  }

  /** Keeps the file until the returned function is called; undefined when it is not held. */
  pin(sha256: string): (() => void) | undefined {
    return this.#index.pin(sha256);
  }

  /** Keeps the file at least `ms` from now (FILE-10). */
  lease(sha256: string, ms: number): void {
    this.#index.lease(sha256, ms);
  }

  /**
   * Starts receiving a file: checks its size and reserves room (evicting least recently used
   * files if needed). FILE_TOO_LARGE and FILE_STORE_FULL are refusals before any byte moves.
   */
  begin(file: FileRef): { readonly ok: true; readonly incoming: IncomingFile } | { readonly ok: false; readonly code: FileStoreErrorCode } {
    if (file.size > this.#fileBytesMax) return { ok: false, code: 'FILE_TOO_LARGE' };
    const victims = this.#index.reserve(file.size);
    if (victims === undefined) return { ok: false, code: 'FILE_STORE_FULL' };
    this.#evict(victims);
    return { ok: true, incoming: new IncomingFile(file, this, this.#backend.createIncoming(file.size)) };
  }

  /** Adds bytes this side made (a task's result, a client's input); returns their FileRef. */
  async add(bytes: Uint8Array, meta: Pick<FileRef, 'name' | 'mediaType'> = {}): Promise<FileRef> {
    const file: FileRef = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.byteLength, ...meta };
    if (file.size > this.#fileBytesMax) throw new FileStoreError('FILE_TOO_LARGE', `${file.size} bytes; at most ${this.#fileBytesMax}`);
    if (this.#index.has(file.sha256)) {
      this.#index.touch(file.sha256);
      return file;
    }
    const victims = this.#index.reserve(file.size);
    if (victims === undefined) throw new FileStoreError('FILE_STORE_FULL', `no room for ${file.size} bytes`);
    this.#evict(victims);
    try {
      await this.removed(file.sha256);
      await this.#backend.writeWhole(file.sha256, bytes);
    } catch (error) {
      this.releaseReservation(file.size);
      throw error;
    }
    this.commitReserved(file.sha256, file.size);
    return file;
  }

  /** Adds a file from a path (read whole; files are bounded by `fileBytesMax`). */
  async addFile(filePath: string, meta: Pick<FileRef, 'name' | 'mediaType'> = {}): Promise<FileRef> {
    return this.add(new Uint8Array(await readFile(filePath)), { name: path.basename(filePath), ...meta });
  }

  /** Reads part of a held file (a chunk to send), into `into` at `intoOffset` when given. */
  async readRange(sha256: string, offset: number, length: number, into?: Uint8Array, intoOffset?: number): Promise<Uint8Array> {
    if (!this.#index.has(sha256)) throw new FileStoreError('FILE_NOT_FOUND', `file ${sha256} is not in the store`);
    return this.#backend.readRange(sha256, offset, length, into, intoOffset);
  }

  async read(sha256: string): Promise<Uint8Array> {
    if (!this.#index.has(sha256)) throw new FileStoreError('FILE_NOT_FOUND', `file ${sha256} is not in the store`);
    this.#index.touch(sha256);
    return this.#backend.readAll(sha256);
  }

  /** A path to the file's bytes on disk (disk stores only); do not write to it. */
  pathOf(sha256: string): string | undefined {
    return this.#index.has(sha256) ? this.#backend.pathOf(sha256) : undefined;
  }

  stats(): StoreStats & { readonly bytesMax: number } {
    return { ...this.#index.stats(), bytesMax: this.#index.bytesMax };
  }

  async close(): Promise<void> {
    await this.#backend.close();
  }

  /** @internal for IncomingFile */
  releaseReservation(size: number): void {
    this.#index.release(size);
  }

  /** @internal for IncomingFile */
  commitReserved(sha256: string, size: number): void {
    this.#evict(this.#index.add(sha256, size, { reserved: true }) ?? []);
  }

  /**
   * @internal Resolves once an eviction of this hash has deleted its bytes: a file evicted and
   * received again at once must not be deleted by the late removal of its old copy.
   */
  async removed(sha256: string): Promise<void> {
    await this.#removals.get(sha256);
  }

  #evict(victims: readonly string[]): void {
    for (const sha256 of victims) {
      const removal = this.#backend
        .remove(sha256)
        .catch(this.#onError)
        .finally(() => {
          if (this.#removals.get(sha256) === removal) this.#removals.delete(sha256);
        });
      this.#removals.set(sha256, removal);
    }
  }
}

export async function openDiskFileStore(dir: string, options: FileStoreOptions = {}): Promise<FileStore> {
  const store = new FileStore(await diskBackend(dir), options);
  await store.load();
  return store;
}

export function openMemoryFileStore(options: FileStoreOptions = {}): FileStore {
  return new FileStore(memoryBackend(), options);
}
