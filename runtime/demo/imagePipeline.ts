/**
 * The sharp side of the demo image service: output formats, filters, and the one call that runs
 * a pipeline (decode, process, encode) into memory so nothing touches the output path until the
 * task is known not to be cancelled.
 */
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { cancelled, ImageServiceError, messageOf } from './imageErrors.js';

export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp', 'avif', 'tiff'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const FILTER_NAMES = ['grayscale', 'blur', 'sharpen', 'negate', 'normalize', 'sepia'] as const;
export type FilterName = (typeof FILTER_NAMES)[number];

export const FIT_MODES = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;
export type FitMode = (typeof FIT_MODES)[number];

const FORMAT_BY_EXTENSION: Readonly<Record<string, OutputFormat>> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.webp': 'webp',
  '.avif': 'avif',
  '.tif': 'tiff',
  '.tiff': 'tiff',
};

const isOutputFormat = (value: unknown): value is OutputFormat => (OUTPUT_FORMATS as readonly unknown[]).includes(value);

/**
 * The format an output path asks for by its extension (`resized.jpg` is a JPEG, as in the seed's
 * AssignTask); without a known extension, the input's format if we can write it, else PNG.
 */
export function formatForOutput(outputPath: string, inputFormat: string | undefined): OutputFormat {
  const byExtension = FORMAT_BY_EXTENSION[path.extname(outputPath).toLowerCase()];
  if (byExtension !== undefined) return byExtension;
  const normalised = inputFormat === 'jpg' ? 'jpeg' : inputFormat;
  return isOutputFormat(normalised) ? normalised : 'png';
}

/** The classic sepia tone matrix (Microsoft's), applied to the RGB bands. */
const SEPIA: [[number, number, number], [number, number, number], [number, number, number]] = [
  [0.393, 0.769, 0.189],
  [0.349, 0.686, 0.168],
  [0.272, 0.534, 0.131],
];

/** Default blur sigma when `size` is absent. */
const BLUR_SIGMA_DEFAULT = 3;

/**
 * Adds one filter to a pipeline. `size` is the blur's Gaussian sigma, or the sharpen amount
 * (sharp's `m2`, the sharpening applied to jagged areas; sigma 1); the other filters ignore it.
 */
export function withFilter(image: Sharp, name: FilterName, size: number | undefined): Sharp {
  switch (name) {
    case 'grayscale':
      // grayscale() alone still encodes three equal bands; b-w writes one (plus alpha, if any).
      return image.grayscale().toColourspace('b-w');
    case 'blur':
      return image.blur(size ?? BLUR_SIGMA_DEFAULT);
    case 'sharpen':
      return size === undefined ? image.sharpen() : image.sharpen({ sigma: 1, m2: size });
    case 'negate':
      return image.negate({ alpha: false });
    case 'normalize':
      return image.normalise();
    case 'sepia':
      // Grey inputs have one band; the 3x3 matrix needs RGB.
      return image.toColourspace('srgb').recomb(SEPIA);
  }
}

export function encoded(image: Sharp, format: OutputFormat, quality: number | undefined): Sharp {
  return image.toFormat(format, quality === undefined ? {} : { quality });
}

export interface Decoded {
  readonly width: number;
  readonly height: number;
  readonly format: string | undefined;
}

/** Reads the header: UNSUPPORTED_IMAGE (with sharp's message) when this is not an image. */
export async function decodeHeader(input: Buffer, inputPath: string): Promise<Decoded> {
  try {
    const metadata = await sharp(input).metadata();
    // Orientation 5..8 swaps width and height once auto-oriented, as every pipeline here is.
    const swapped = (metadata.orientation ?? 1) >= 5;
    return {
      width: swapped ? metadata.height : metadata.width,
      height: swapped ? metadata.width : metadata.height,
      format: metadata.format,
    };
  } catch (thrown) {
    throw new ImageServiceError('UNSUPPORTED_IMAGE', `'${inputPath}' is not a supported image.`, messageOf(thrown), { cause: thrown });
  }
}

/** A pipeline starting from the input bytes, auto-oriented by its EXIF orientation. */
export const pipelineFrom = (input: Buffer): Sharp => sharp(input).rotate();

export interface Rendered {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

/**
 * Runs the pipeline to an in-memory file. libvips cannot be interrupted, so an abort rejects at
 * once with CANCELLED and the still-running work's result is dropped when it arrives.
 */
export function render(image: Sharp, signal: AbortSignal): Promise<Rendered> {
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    image.toBuffer({ resolveWithObject: true }).then(
      ({ data, info }) => {
        signal.removeEventListener('abort', onAbort);
        resolve({ data, width: info.width, height: info.height });
      },
      (thrown: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(new ImageServiceError('PROCESSING_FAILED', 'The image could not be processed.', messageOf(thrown), { cause: thrown }));
      },
    );
  });
}
