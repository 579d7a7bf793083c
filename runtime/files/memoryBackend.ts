/** A file store backend in memory: for the simulated network and tests (no disk, no clock). */
import type { IncomingSink, StoreBackend } from './backend.js';

export function memoryBackend(): StoreBackend {
  const files = new Map<string, Uint8Array>();
  const missing = (sha256: string) => Object.assign(new Error(`file ${sha256} is not in the store`), { code: 'FILE_NOT_FOUND' });
  return {
    kind: 'memory',
    list: async () => [],
    createIncoming: async (size: number): Promise<IncomingSink> => {
      let bytes: Uint8Array | undefined = new Uint8Array(size);
      return {
        write: async (offset, data) => {
          if (bytes === undefined) throw new Error('incoming file already committed or discarded');
          bytes.set(data, offset);
        },
        commit: async (sha256) => {
          if (bytes === undefined) throw new Error('incoming file already committed or discarded');
          if (!files.has(sha256)) files.set(sha256, bytes);
          bytes = undefined;
        },
        discard: async () => {
          bytes = undefined;
        },
      };
    },
    writeWhole: async (sha256, bytes) => {
      if (!files.has(sha256)) files.set(sha256, bytes.slice());
    },
    readRange: async (sha256, offset, length, into, intoOffset = 0) => {
      const bytes = files.get(sha256);
      if (bytes === undefined) throw missing(sha256);
      const range = bytes.subarray(offset, offset + length);
      if (into === undefined) return range.slice();
      into.set(range, intoOffset);
      return into;
    },
    readAll: async (sha256) => {
      const bytes = files.get(sha256);
      if (bytes === undefined) throw missing(sha256);
      return bytes.slice();
    },
    remove: async (sha256) => {
      files.delete(sha256);
    },
    pathOf: () => undefined,
    close: async () => {
      files.clear();
    },
  };
}
