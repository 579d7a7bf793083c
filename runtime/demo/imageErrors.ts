/**
 * The image service's own failure codes (TASK-15: the handler keeps a thrown error's string
 * `code`). FORBIDDEN and CANCELLED reuse switchboard's codes with their meaning; the others are
 * the service's, like the seed's FILE_NOT_FOUND.
 */
export type ImageErrorCode =
  /** A path resolves (lexically or through a symlink) outside the working directory. */
  | 'FORBIDDEN'
  /** The input does not exist or is not a regular file (the seed's TaskFailed example). */
  | 'FILE_NOT_FOUND'
  /** The input is larger than `maxInputBytes`. */
  | 'INPUT_TOO_LARGE'
  /** The input is not an image sharp can decode. */
  | 'UNSUPPORTED_IMAGE'
  /** The image decoded, but processing or encoding it failed (a truncated file, say). */
  | 'PROCESSING_FAILED'
  /** The input exists but cannot be read (permissions, I/O error). */
  | 'INPUT_UNREADABLE'
  /** The output could not be written. */
  | 'OUTPUT_FAILED'
  /** The task's signal was aborted (cancel or deadline); nothing was written. */
  | 'CANCELLED';

export class ImageServiceError extends Error {
  override readonly name = 'ImageServiceError';
  readonly code: ImageErrorCode;
  readonly details: string | undefined;

  constructor(code: ImageErrorCode, message: string, details?: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = details;
  }
}

export const forbidden = (details?: string): ImageServiceError =>
  new ImageServiceError('FORBIDDEN', 'path outside the working directory', details);

export const fileNotFound = (inputPath: string, cause?: unknown): ImageServiceError =>
  new ImageServiceError('FILE_NOT_FOUND', 'Input file not found.', `Could not locate '${inputPath}'.`, { cause });

export const cancelled = (): ImageServiceError => new ImageServiceError('CANCELLED', 'The task was cancelled.');

/** The message of anything thrown (sharp throws plain Errors). */
export const messageOf = (thrown: unknown): string => (thrown instanceof Error ? thrown.message : String(thrown));
