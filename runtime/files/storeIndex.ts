/**
 * The bookkeeping of a file store (FILE-6, FILE-8, FILE-10), apart from where the bytes live:
 * which hashes it holds and their sizes, least recently used first; pins (a task or a transfer is
 * using the file) and leases (kept until a time: just uploaded, or a result waiting to be fetched);
 * bytes reserved for files still arriving; and which identities may know each file is here.
 *
 * The bound: held bytes + reserved bytes <= `bytesMax`, always. Room is made by evicting the
 * least recently used files that are neither pinned nor leased; when that is not enough the
 * reservation is refused (FILE_STORE_FULL) and nothing is evicted. Leases expire lazily (checked
 * when room is needed), so the index needs no timer.
 */

export interface StoreIndexOptions {
  /** Bytes the store may hold, arriving files included. */
  readonly bytesMax: number;
  /** Identities remembered per file (FILE-8); the oldest is forgotten beyond it. @default 64 */
  readonly accessPerFileMax?: number;
  /** The clock leases are measured on. */
  readonly nowMs: () => number;
}

interface Entry {
  readonly size: number;
  pins: number;
  leaseUntilMs: number;
  /** Identities that may learn the file is here, oldest first. */
  readonly access: Set<string>;
}

export interface StoreStats {
  readonly files: number;
  readonly bytes: number;
  readonly reservedBytes: number;
  readonly pinnedFiles: number;
  readonly evictions: number;
  readonly evictedBytes: number;
}

export class StoreIndex {
  readonly #entries = new Map<string, Entry>();
  readonly #options: Required<StoreIndexOptions>;
  #bytes = 0;
  #reserved = 0;
  #evictions = 0;
  #evictedBytes = 0;

  constructor(options: StoreIndexOptions) {
    if (!(options.bytesMax > 0)) throw new RangeError('file store: bytesMax must be positive');
    this.#options = { accessPerFileMax: 64, ...options };
  }

  get bytesMax(): number {
    return this.#options.bytesMax;
  }

  has(sha256: string): boolean {
    return this.#entries.has(sha256);
  }

  sizeOf(sha256: string): number | undefined {
    return this.#entries.get(sha256)?.size;
  }

  /** Marks a file as just used (least recently used files are evicted first). */
  touch(sha256: string): void {
    const entry = this.#entries.get(sha256);
    if (entry === undefined) return;
    this.#entries.delete(sha256);
    this.#entries.set(sha256, entry);
  }

  /**
   * Records a file now held: its bytes were reserved before (`reserved`), or room is made now.
   * Returns the files evicted to make room (the caller deletes their bytes), or undefined when it
   * does not fit. A hash already held is only touched.
   */
  add(sha256: string, size: number, options: { reserved?: boolean } = {}): string[] | undefined {
    if (options.reserved) this.release(size);
    if (this.#entries.has(sha256)) {
      this.touch(sha256);
      return [];
    }
    const victims: string[] = [];
    if (!options.reserved && !this.#makeRoom(size, victims)) return undefined;
    this.#entries.set(sha256, { size, pins: 0, leaseUntilMs: 0, access: new Set() });
    this.#bytes += size;
    return victims;
  }

  /** Reserves room for a file about to arrive; the victims evicted to make it (the caller deletes their bytes), or undefined when full. */
  reserve(size: number): string[] | undefined {
    const victims: string[] = [];
    if (!this.#makeRoom(size, victims)) return undefined;
    this.#reserved += size;
    return victims;
  }

  /** Gives back a reservation whose file did not arrive. */
  release(size: number): void {
    this.#reserved = Math.max(0, this.#reserved - size);
  }

  /** Pins a file until the returned function is called (at most once matters); undefined if not held. */
  pin(sha256: string): (() => void) | undefined {
    const entry = this.#entries.get(sha256);
    if (entry === undefined) return undefined;
    entry.pins++;
    this.touch(sha256);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.pins--;
    };
  }

  /** Keeps a file at least `ms` from now. */
  lease(sha256: string, ms: number): void {
    const entry = this.#entries.get(sha256);
    if (entry === undefined) return;
    entry.leaseUntilMs = Math.max(entry.leaseUntilMs, this.#options.nowMs() + ms);
    this.touch(sha256);
  }

  grantAccess(sha256: string, identity: string): void {
    const access = this.#entries.get(sha256)?.access;
    if (access === undefined) return;
    access.delete(identity);
    access.add(identity);
    while (access.size > this.#options.accessPerFileMax) access.delete(access.values().next().value as string);
  }

  mayAccess(sha256: string, identity: string): boolean {
    return this.#entries.get(sha256)?.access.has(identity) ?? false;
  }

  /** Forgets a file (its bytes are the caller's to delete); false when pinned. */
  remove(sha256: string): boolean {
    const entry = this.#entries.get(sha256);
    if (entry === undefined) return true;
    if (entry.pins > 0) return false;
    this.#entries.delete(sha256);
    this.#bytes -= entry.size;
    return true;
  }

  stats(): StoreStats {
    let pinnedFiles = 0;
    for (const entry of this.#entries.values()) if (entry.pins > 0) pinnedFiles++;
    return {
      files: this.#entries.size,
      bytes: this.#bytes,
      reservedBytes: this.#reserved,
      pinnedFiles,
      evictions: this.#evictions,
      evictedBytes: this.#evictedBytes,
    };
  }

  /** Evicts unpinned, unleased files, least recently used first, until `size` more bytes fit. */
  #makeRoom(size: number, victims: string[] = []): boolean {
    const { bytesMax } = this.#options;
    if (size > bytesMax) return false;
    if (this.#bytes + this.#reserved + size <= bytesMax) return true;
    const now = this.#options.nowMs();
    // Decide first, evict after: a reservation that cannot be met evicts nothing.
    let freed = 0;
    const chosen: string[] = [];
    for (const [sha256, entry] of this.#entries) {
      if (entry.pins > 0 || entry.leaseUntilMs > now) continue;
      chosen.push(sha256);
      freed += entry.size;
      if (this.#bytes - freed + this.#reserved + size <= bytesMax) break;
    }
    if (this.#bytes - freed + this.#reserved + size > bytesMax) return false;
    for (const sha256 of chosen) {
      const entry = this.#entries.get(sha256) as Entry;
      this.#entries.delete(sha256);
      this.#bytes -= entry.size;
      this.#evictions++;
      this.#evictedBytes += entry.size;
      victims.push(sha256);
    }
    return true;
  }
}
