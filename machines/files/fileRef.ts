/**
 * A file as tasks name it (FILE-2): content-addressed by the SHA-256 of its bytes, with its size
 * and, for people, a name and a media type. Two files with the same bytes are the same file,
 * whatever they are called; a name never decides where a file is stored.
 */
import * as z from 'zod';

/** Lower-case hexadecimal SHA-256, 64 characters. */
export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 is 64 lower-case hexadecimal digits');

export const FileRefSchema = z.object({
  sha256: Sha256Schema,
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** A file name for people (no path: separators are not allowed). */
  name: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^/\\\0]+$/, 'a file name has no path separators')
    .optional(),
  mediaType: z
    .string()
    .max(127)
    .regex(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i, 'a media type looks like image/png')
    .optional(),
});

export type FileRef = z.output<typeof FileRefSchema>;

/** SHA-256 of no bytes: the hash of an empty file. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Chunks a file of `size` bytes takes at `chunkBytes` per chunk (the last one may be shorter). */
export function chunkCountOf(size: number, chunkBytes: number): number {
  return size === 0 ? 0 : Math.ceil(size / chunkBytes);
}

/** Bytes of chunk `index` of a file of `size` bytes. */
export function chunkLengthOf(size: number, chunkBytes: number, index: number): number {
  return Math.max(0, Math.min(chunkBytes, size - index * chunkBytes));
}
