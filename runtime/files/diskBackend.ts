/**
 * A file store backend on disk: `<dir>/objects/<first two hex digits>/<sha256>` for files held,
 * `<dir>/incoming/<uuid>.part` for files arriving. A file is renamed into `objects/` only after
 * its hash was verified, so `objects/` never holds a file under a wrong name (FILE-2), and a crash
 * leaves at most `.part` files, removed at the next start. Files a previous run left in `objects/`
 * are kept (least recently modified first in the eviction order).
 *
 * No fsync: a store is a cache of content its owners can send again, not a database.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { IncomingSink, StoreBackend } from './backend.js';
import { StagedWriter, type StagedWriterOptions } from './stagedWriter.js';

const SHA256_NAME = /^[0-9a-f]{64}$/;

export async function diskBackend(dir: string, stagingOptions: StagedWriterOptions = {}): Promise<StoreBackend> {
  const root = path.resolve(dir);
  const objects = path.join(root, 'objects');
  const incoming = path.join(root, 'incoming');
  await mkdir(objects, { recursive: true });
  await rm(incoming, { recursive: true, force: true });
  await mkdir(incoming, { recursive: true });

  const pathOf = (sha256: string) => path.join(objects, sha256.slice(0, 2), sha256);
  const missing = (sha256: string) => Object.assign(new Error(`file ${sha256} is not in the store`), { code: 'FILE_NOT_FOUND' });
  const readable = async (sha256: string) => {
    try {
      return await open(pathOf(sha256), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missing(sha256);
      throw error;
    }
  };
  const place = async (sha256: string) => {
    const target = pathOf(sha256);
    await mkdir(path.dirname(target), { recursive: true });
    return target;
  };

  return {
    kind: 'disk',
    async list() {
      const found: Array<{ sha256: string; size: number; mtimeMs: number }> = [];
      for (const prefix of await readdir(objects)) {
        const folder = path.join(objects, prefix);
        for (const name of await readdir(folder).catch(() => [] as string[])) {
          if (!SHA256_NAME.test(name) || name.slice(0, 2) !== prefix) continue;
          const info = await stat(path.join(folder, name)).catch(() => undefined);
          if (info?.isFile()) found.push({ sha256: name, size: info.size, mtimeMs: info.mtimeMs });
        }
      }
      return found.sort((a, b) => a.mtimeMs - b.mtimeMs).map(({ sha256, size }) => ({ sha256, size }));
    },
    async createIncoming(size: number): Promise<IncomingSink> {
      const partPath = path.join(incoming, `${randomUUID()}.part`);
      const handle = await open(partPath, 'wx');
      let open_ = true;
      const closeOnce = async () => {
        if (!open_) return;
        open_ = false;
        await handle.close();
      };
      // Chunks are copied into a few reused blocks and written a block at a time (stagedWriter.ts).
      const staged = new StagedWriter(async (block, length, position) => {
        let written = 0;
        while (written < length) {
          const { bytesWritten } = await handle.write(block, written, length - written, position + written);
          written += bytesWritten;
        }
      }, stagingOptions);
      return {
        write: (offset, data) => staged.write(offset, data, size),
        commit: async (sha256) => {
          try {
            await staged.flush();
          } finally {
            await closeOnce();
          }
          await rename(partPath, await place(sha256));
        },
        discard: async () => {
          await staged.drop();
          await closeOnce();
          await unlink(partPath).catch(() => undefined);
        },
      };
    },
    async writeWhole(sha256, bytes) {
      const partPath = path.join(incoming, `${randomUUID()}.part`);
      await writeFile(partPath, bytes);
      await rename(partPath, await place(sha256));
    },
    async readRange(sha256, offset, length, into, intoOffset = 0) {
      const handle = await readable(sha256);
      try {
        const target = into ?? new Uint8Array(length);
        const start = into === undefined ? 0 : intoOffset;
        let read = 0;
        while (read < length) {
          const { bytesRead } = await handle.read(target, start + read, length - read, offset + read);
          if (bytesRead === 0) throw Object.assign(new Error(`file ${sha256} is shorter than expected`), { code: 'FILE_NOT_FOUND' });
          read += bytesRead;
        }
        return target;
      } finally {
        await handle.close();
      }
    },
    async readAll(sha256) {
      try {
        return new Uint8Array(await readFile(pathOf(sha256)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missing(sha256);
        throw error;
      }
    },
    async remove(sha256) {
      await unlink(pathOf(sha256)).catch(() => undefined);
    },
    pathOf,
    async close() {},
  };
}
