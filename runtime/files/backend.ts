/**
 * Where a file store keeps its bytes: on disk (diskBackend.ts, real files) or in memory
 * (memoryBackend.ts, for the simulated network and tests). The store (fileStore.ts) does the
 * bookkeeping, hashing and verification; a backend only moves bytes.
 */

/** A file being received: written in order, then committed under its hash or discarded. */
export interface IncomingSink {
  write(offset: number, data: Uint8Array): Promise<void>;
  commit(sha256: string): Promise<void>;
  discard(): Promise<void>;
}

export interface StoreBackend {
  readonly kind: 'disk' | 'memory';
  /** Files already held at start (disk: what a previous run left), least recently used first. */
  list(): Promise<Array<{ readonly sha256: string; readonly size: number }>>;
  createIncoming(size: number): Promise<IncomingSink>;
  /** Stores a whole file at once under its (already computed) hash. */
  writeWhole(sha256: string, bytes: Uint8Array): Promise<void>;
  /** Reads `length` bytes at `offset`, into `into` at `intoOffset` when given (no extra copy). */
  readRange(sha256: string, offset: number, length: number, into?: Uint8Array, intoOffset?: number): Promise<Uint8Array>;
  readAll(sha256: string): Promise<Uint8Array>;
  remove(sha256: string): Promise<void>;
  /** A path a handler can open (disk only). */
  pathOf(sha256: string): string | undefined;
  close(): Promise<void>;
}
