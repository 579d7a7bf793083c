/**
 * The demo service of the seed: ImageProcessingService 1.2.0 with resizeImage, applyFilter and
 * convertFormat, doing real image work with sharp.
 *
 * Every task runs the same stages, reporting progress at each boundary (libvips gives no finer
 * progress) and checking its AbortSignal between them:
 *
 *   confine paths -> 5 reading input -> 20 decoded WxH -> 30 processing -> 80 encoded
 *   -> 90 writing -> 100 written
 *
 * Paths are confined to `workDir` before anything is read (FORBIDDEN otherwise); the output is
 * written atomically, so a cancelled or failed task leaves no file behind. Errors are thrown with
 * a `code` the handler keeps (TASK-15): FILE_NOT_FOUND with the seed's message, UNSUPPORTED_IMAGE,
 * and the others of imageErrors.ts.
 *
 * ```ts
 * const service = imageProcessingService({ workDir: '/srv/images', stepDelayMs: 300 });
 * const provider = createProvider({ services: [service] });
 * ```
 */
import { performance } from 'node:perf_hooks';
import type { Sharp } from 'sharp';
import * as z from 'zod';
import { defineService, type OperationContext } from '../service.js';
import { confine, openWorkDir, type WorkDir } from './confine.js';
import { cancelled, messageOf } from './imageErrors.js';
import { pause, readInput, writeAtomically } from './imageFiles.js';
import {
  decodeHeader,
  encoded,
  FILTER_NAMES,
  FIT_MODES,
  formatForOutput,
  OUTPUT_FORMATS,
  pipelineFrom,
  render,
  withFilter,
  type Decoded,
  type OutputFormat,
} from './imagePipeline.js';

export interface ImageServiceOptions {
  /** Every input and output path is resolved inside this directory; anything outside is refused. */
  workDir: string;
  /** Artificial pacing so progress is visible in a demo: ms between progress steps. @default 0 */
  stepDelayMs?: number;
  /** Reported as `resultData.processedByServiceId` (the seed's field); omitted when absent. */
  serviceId?: string;
  /** Largest input file read, in bytes; larger inputs fail with INPUT_TOO_LARGE. @default 67108864 (64 MiB) */
  maxInputBytes?: number;
}

/** What every operation returns: the seed's TaskResult.resultData, with the image's facts. */
export interface ImageResult {
  /** The output path as the task named it. */
  readonly outputImagePath: string;
  readonly width: number;
  readonly height: number;
  readonly format: OutputFormat;
  readonly sizeBytes: number;
  readonly executionDurationMs: number;
  readonly processedByServiceId?: string;
}

const MAX_INPUT_BYTES_DEFAULT = 64 * 1024 * 1024;
const PATH_CHARS_MAX = 4096;

const filePath = z
  .string()
  .min(1)
  .max(PATH_CHARS_MAX)
  .refine((value) => !value.includes('\0'), 'must not contain NUL characters');
const dimension = z.int().min(1).max(16_384);

export const resizeImageParams = z.strictObject({
  inputPath: filePath,
  outputPath: filePath,
  width: dimension,
  height: dimension.optional(),
  fit: z.enum(FIT_MODES).default('inside'),
});

export const applyFilterParams = z.strictObject({
  inputPath: filePath,
  outputPath: filePath,
  name: z.enum(FILTER_NAMES),
  /** Blur: Gaussian sigma; sharpen: amount. Ignored by the other filters. */
  size: z.number().min(0.3).max(100).optional(),
});

export const convertFormatParams = z.strictObject({
  inputPath: filePath,
  outputPath: filePath,
  format: z.enum(OUTPUT_FORMATS),
  quality: z.int().min(1).max(100).optional(),
});

/** One operation's part: what it says it does, and the pipeline it adds after decoding. */
interface Job {
  readonly inputPath: string;
  readonly outputPath: string;
  /** Encoder quality where the format has one. */
  readonly quality?: number | undefined;
  describe(decoded: Decoded): string;
  formatFor(decoded: Decoded): OutputFormat;
  transform(image: Sharp): Sharp;
}

interface Settings {
  readonly stepDelayMs: number;
  readonly maxInputBytes: number;
  readonly serviceId: string | undefined;
  workDir(): Promise<WorkDir>;
}

async function runJob(settings: Settings, job: Job, context: OperationContext): Promise<ImageResult> {
  const started = performance.now();
  const { signal } = context;
  const step = async (percent: number, message: string) => {
    if (signal.aborted) throw cancelled();
    context.progress(percent, message);
    await pause(settings.stepDelayMs, signal);
  };
  const dir = await settings.workDir();
  // Both paths are checked before anything is read or any directory is created.
  const input = await confine(dir, job.inputPath);
  const output = await confine(dir, job.outputPath);

  await step(5, 'reading input');
  const bytes = await readInput(input, job.inputPath, settings.maxInputBytes, signal);
  const decoded = await decodeHeader(bytes, job.inputPath);
  await step(20, `decoded ${decoded.width}x${decoded.height} ${decoded.format ?? 'image'}`);
  const format = job.formatFor(decoded);
  await step(30, job.describe(decoded));
  const rendered = await render(encoded(job.transform(pipelineFrom(bytes)), format, job.quality), signal);
  await step(80, `encoded ${format} ${rendered.width}x${rendered.height}, ${rendered.data.length} bytes`);
  await step(90, `writing ${job.outputPath}`);
  await writeAtomically(output, rendered.data, signal);
  context.progress(100, `written ${job.outputPath}`);

  const executionDurationMs = Math.round(performance.now() - started);
  context.log('info', `${job.outputPath}: ${format} ${rendered.width}x${rendered.height} in ${executionDurationMs} ms`);
  return {
    outputImagePath: job.outputPath,
    width: rendered.width,
    height: rendered.height,
    format,
    sizeBytes: rendered.data.length,
    executionDurationMs,
    ...(settings.serviceId === undefined ? {} : { processedByServiceId: settings.serviceId }),
  };
}

function settingsOf(options: ImageServiceOptions): Settings {
  if (typeof options.workDir !== 'string' || options.workDir.length === 0) {
    throw new TypeError('imageProcessingService: workDir is required');
  }
  const stepDelayMs = options.stepDelayMs ?? 0;
  if (!Number.isFinite(stepDelayMs) || stepDelayMs < 0) throw new RangeError('imageProcessingService: stepDelayMs must be >= 0');
  const maxInputBytes = options.maxInputBytes ?? MAX_INPUT_BYTES_DEFAULT;
  if (!Number.isSafeInteger(maxInputBytes) || maxInputBytes < 1) {
    throw new RangeError('imageProcessingService: maxInputBytes must be a positive integer');
  }
  const { workDir } = options;
  return {
    stepDelayMs,
    maxInputBytes,
    serviceId: options.serviceId,
    // Resolved per task: the directory may be created (or moved) after the service is defined.
    workDir: () =>
      openWorkDir(workDir).catch((thrown: unknown) => {
        // No `code`: a provider misconfiguration is INTERNAL_ERROR, not a task's fault.
        throw new Error(`the working directory '${workDir}' is not accessible: ${messageOf(thrown)}`);
      }),
  };
}

export function imageProcessingService(options: ImageServiceOptions) {
  const settings = settingsOf(options);
  return defineService({
    name: 'ImageProcessingService',
    version: '1.2.0',
    description: 'Resizes, filters and converts images inside a working directory (sharp/libvips).',
    operations: {
      resizeImage: {
        params: resizeImageParams,
        description: 'Resizes an image to width (and height) with a fit mode; the output format follows outputPath.',
        run: (params, context) =>
          runJob(
            settings,
            {
              ...params,
              describe: () => `resizing to ${params.width}x${params.height ?? 'auto'} (${params.fit})`,
              formatFor: (decoded) => formatForOutput(params.outputPath, decoded.format),
              transform: (image) => image.resize({ width: params.width, height: params.height, fit: params.fit }),
            },
            context,
          ),
      },
      applyFilter: {
        params: applyFilterParams,
        description: 'Applies one filter (grayscale, blur, sharpen, negate, normalize, sepia).',
        run: (params, context) =>
          runJob(
            settings,
            {
              ...params,
              describe: () => `applying ${params.name}${params.size === undefined ? '' : ` (${params.size})`}`,
              formatFor: (decoded) => formatForOutput(params.outputPath, decoded.format),
              transform: (image) => withFilter(image, params.name, params.size),
            },
            context,
          ),
      },
      convertFormat: {
        params: convertFormatParams,
        description: 'Re-encodes an image as png, jpeg, webp, avif or tiff (quality 1..100 where it applies).',
        run: (params, context) =>
          runJob(
            settings,
            {
              ...params,
              describe: (decoded) => `converting ${decoded.format ?? 'image'} to ${params.format}`,
              formatFor: () => params.format,
              transform: (image) => image,
            },
            context,
          ),
      },
    },
  });
}

export type ImageProcessingService = ReturnType<typeof imageProcessingService>;
