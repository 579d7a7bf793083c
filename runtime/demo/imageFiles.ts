/**
 * File I/O for the demo image service: reading a confined input without following a swapped-in
 * symlink, writing an output atomically (temp file + rename) so an aborted or failed task never
 * leaves a partial file behind, and an abortable pause for demo pacing.
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cancelled, fileNotFound, ImageServiceError, messageOf } from './imageErrors.js';

const codeOf = (thrown: unknown): unknown => (thrown as { code?: unknown } | undefined)?.code;

/**
 * Reads the input at its confined real path. O_NOFOLLOW refuses a symlink put in place of the
 * checked file after the check; the size is checked on the open handle, before reading.
 */
export async function readInput(realPath: string, requested: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  let handle;
  try {
    handle = await open(realPath, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (thrown) {
    const code = codeOf(thrown);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw fileNotFound(requested, thrown);
    if (code === 'ELOOP') throw new ImageServiceError('FORBIDDEN', 'path outside the working directory', `'${requested}' became a symbolic link.`);
    throw new ImageServiceError('INPUT_UNREADABLE', 'The input file cannot be read.', messageOf(thrown), { cause: thrown });
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new ImageServiceError('FILE_NOT_FOUND', 'Input file not found.', `'${requested}' is not a regular file.`);
    }
    if (stats.size > maxBytes) {
      throw new ImageServiceError('INPUT_TOO_LARGE', 'The input file is too large.', `'${requested}' has ${stats.size} bytes; the limit is ${maxBytes}.`);
    }
    return await handle.readFile({ signal });
  } catch (thrown) {
    if (signal.aborted) throw cancelled();
    if (thrown instanceof ImageServiceError) throw thrown;
    throw new ImageServiceError('INPUT_UNREADABLE', 'The input file cannot be read.', messageOf(thrown), { cause: thrown });
  } finally {
    await handle.close();
  }
}

/**
 * Writes `data` to `realPath` (creating its directories): into a temp file beside it first, then
 * renamed over the target, so readers see the old file or the whole new one. On abort or failure
 * the temp file is removed and the target is untouched.
 */
export async function writeAtomically(realPath: string, data: Uint8Array, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw cancelled();
  const directory = path.dirname(realPath);
  const temp = path.join(directory, `.${path.basename(realPath)}.${randomUUID().slice(0, 8)}.partial`);
  try {
    await mkdir(directory, { recursive: true });
    await writeFile(temp, data, { flag: 'wx', signal });
    if (signal.aborted) throw cancelled();
    await rename(temp, realPath);
  } catch (thrown) {
    await rm(temp, { force: true }).catch(() => undefined);
    if (signal.aborted) throw cancelled();
    if (thrown instanceof ImageServiceError) throw thrown;
    throw new ImageServiceError('OUTPUT_FAILED', 'The output file could not be written.', messageOf(thrown), { cause: thrown });
  }
}

/** Waits `ms` (nothing at 0); rejects with CANCELLED as soon as the signal aborts. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw cancelled();
  if (ms <= 0) return;
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    throw cancelled();
  }
}
