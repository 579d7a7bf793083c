/**
 * Writes a file arriving in order through a few fixed staging blocks: each chunk is copied into
 * the current block at once (so the caller's buffer is free the moment `write` resolves), and a
 * full block is written to the disk while the next one fills, one write at a time, in order.
 * `write` waits only when every block is full and waiting for its write: the bytes held in
 * memory for one file never exceed `blocks × blockBytes` (FILE-4's bound on what a receiver
 * keeps awaiting the disk).
 *
 * Why: a chunk handed to an asynchronous write stays alive until the write completes, long enough
 * to be promoted out of V8's young generation, and a file of many such chunks made the receiver
 * spend more time collecting garbage than writing (bench/fileTransfer.ts). One copy into a reused
 * block costs far less than that, and the sender's credits no longer wait for the disk while a
 * block is free.
 */

/** Writes `length` bytes of `block` at `position` of the file; resolves once all are written. */
export type WriteAt = (block: Uint8Array, length: number, position: number) => Promise<void>;

export interface StagedWriterOptions {
  /**
   * Bytes per block, so per write. @default 262_144 (on the Linux 6.18 / ext4 machine of
   * docs/performance.md, 1 MiB writes of files that stay cached reached several times the kernel
   * CPU of 256 KiB writes sooner, as the page cache filled)
   */
  readonly blockBytes?: number;
  /** Blocks: one filling while the others wait for their write. @default 4 */
  readonly blocks?: number;
}

export class StagedWriter {
  readonly #writeAt: WriteAt;
  readonly #blockBytes: number;
  readonly #blocksMax: number;
  /** Blocks allocated so far (lazily: a small file needs one, sized to it). */
  #allocated = 0;
  readonly #free: Uint8Array[] = [];
  readonly #waiting: Array<() => void> = [];
  readonly #flushes = new Set<Promise<void>>();
  /** The last block write started: the next one waits for it. */
  #lastWrite: Promise<void> = Promise.resolve();
  #block: Uint8Array | undefined;
  #fill = 0;
  /** File offset of the current block's first byte. */
  #blockAt = 0;
  #error: unknown;
  #failed = false;

  constructor(writeAt: WriteAt, options: StagedWriterOptions = {}) {
    this.#writeAt = writeAt;
    this.#blockBytes = options.blockBytes ?? 262_144;
    this.#blocksMax = Math.max(2, options.blocks ?? 4);
  }

  /** Bytes taken so far (the next offset expected). */
  get position(): number {
    return this.#blockAt + this.#fill;
  }

  /** Takes the next bytes of the file (`offset` must be `position`); resolves once they are copied. */
  async write(offset: number, data: Uint8Array, sizeHint = Number.POSITIVE_INFINITY): Promise<void> {
    this.#throwIfFailed();
    if (offset !== this.position) throw new RangeError(`staged writes are sequential: expected offset ${this.position}, got ${offset}`);
    let from = 0;
    while (from < data.byteLength) {
      this.#block ??= await this.#freeBlock(sizeHint - this.position);
      this.#throwIfFailed();
      const block = this.#block;
      const count = Math.min(data.byteLength - from, block.byteLength - this.#fill);
      block.set(from === 0 && count === data.byteLength ? data : data.subarray(from, from + count), this.#fill);
      this.#fill += count;
      from += count;
      if (this.#fill === block.byteLength) this.#flushBlock();
    }
  }

  /** Writes what is staged and waits for every write; rejects with the first write's failure. */
  async flush(): Promise<void> {
    if (this.#fill > 0) this.#flushBlock();
    while (this.#flushes.size > 0) await Promise.all(this.#flushes);
    this.#throwIfFailed();
  }

  /** Waits for the writes in progress, dropping what is staged and any failure (a discarded file). */
  async drop(): Promise<void> {
    this.#block = undefined;
    this.#fill = 0;
    while (this.#flushes.size > 0) await Promise.all(this.#flushes);
  }

  #throwIfFailed(): void {
    if (this.#failed) throw this.#error;
  }

  async #freeBlock(remaining: number): Promise<Uint8Array> {
    for (;;) {
      const free = this.#free.pop();
      if (free !== undefined) return free;
      if (this.#allocated < this.#blocksMax) {
        this.#allocated++;
        // Not zero-filled: only the bytes copied in are ever written.
        return Buffer.allocUnsafeSlow(Math.max(1, Math.min(this.#blockBytes, remaining)));
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
  }

  #flushBlock(): void {
    const block = this.#block as Uint8Array;
    const length = this.#fill;
    const at = this.#blockAt;
    this.#block = undefined;
    this.#fill = 0;
    this.#blockAt = at + length;
    // One write at a time, in order: the file grows front to back, and after a failed write no
    // later block is written (the failure is reported by the next write or the flush).
    const flush: Promise<void> = this.#lastWrite.then(() => (this.#failed ? undefined : this.#writeAt(block, length, at))).then(
      () => undefined,
      (error: unknown) => {
        if (!this.#failed) [this.#failed, this.#error] = [true, error];
      },
    );
    this.#lastWrite = flush;
    this.#flushes.add(flush);
    void flush.finally(() => {
      this.#flushes.delete(flush);
      // A block sized to a small file's tail is not worth keeping.
      if (block.byteLength === this.#blockBytes) this.#free.push(block);
      else this.#allocated--;
      this.#waiting.shift()?.();
    });
  }
}
