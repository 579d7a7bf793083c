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
import type { FileRef } from '../../machines/files/fileRef.js';
import { taskFile } from '../files/taskFile.js';
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
  /** The output path as the task named it (tasks with paths). */
  readonly outputImagePath?: string;
  /** The output file (tasks with a task file `input`: the client fetches it, FILE-12). */
  readonly output?: FileRef;
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

/**
 * Where the image comes from and goes: paths inside the provider's working directory (both sides
 * share a disk), or a task file `input` sent by the client, the result then a task file `output`
 * named `outputName` (its extension picks the format; default: the input's name).
 */
const source = {
  inputPath: filePath.optional(),
  outputPath: filePath.optional(),
  input: taskFile().optional(),
  outputName: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^/\\\0]+$/, 'a file name, no path')
    .optional(),
};

/** Exactly one source: paths (both), or a task file. */
const oneSource = (params: { inputPath?: string | undefined; outputPath?: string | undefined; input?: unknown }) =>
  params.input === undefined ? params.inputPath !== undefined && params.outputPath !== undefined : params.inputPath === undefined && params.outputPath === undefined;
const ONE_SOURCE = { message: 'give inputPath and outputPath, or a task file input (and optionally outputName)' };

export const resizeImageParams = z.strictObject({
  ...source,
  width: dimension,
  height: dimension.optional(),
  fit: z.enum(FIT_MODES).default('inside'),
}).refine(oneSource, ONE_SOURCE);

export const applyFilterParams = z.strictObject({
  ...source,
  name: z.enum(FILTER_NAMES),
  /** Blur: Gaussian sigma; sharpen: amount. Ignored by the other filters. */
  size: z.number().min(0.3).max(100).optional(),
}).refine(oneSource, ONE_SOURCE);

export const convertFormatParams = z.strictObject({
  ...source,
  format: z.enum(OUTPUT_FORMATS),
  quality: z.int().min(1).max(100).optional(),
}).refine(oneSource, ONE_SOURCE);


/** One operation's part: what it says it does, and the pipeline it adds after decoding. */
interface Job {
  readonly inputPath?: string | undefined;
  readonly outputPath?: string | undefined;
  readonly input?: FileRef | undefined;
  readonly outputName?: string | undefined;
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
  const where = await placesOf(settings, job);
  await step(5, 'reading input');
  const bytes = job.input === undefined ? await readInput(where.input!, where.inputName, settings.maxInputBytes, signal) : await readTaskFile(job.input, settings, context);
  const decoded = await decodeHeader(bytes, where.inputName);
  await step(20, `decoded ${decoded.width}x${decoded.height} ${decoded.format ?? 'image'}`);
  const format = job.formatFor(decoded);
  await step(30, job.describe(decoded));
  const rendered = await render(encoded(job.transform(pipelineFrom(bytes)), format, job.quality), signal);
  await step(80, `encoded ${format} ${rendered.width}x${rendered.height}, ${rendered.data.length} bytes`);
  await step(90, `writing ${where.outputName}`);
  const file = where.output === undefined ? await context.files.add(rendered.data, { name: where.outputName, mediaType: `image/${format}` }) : undefined;
  if (where.output !== undefined) await writeAtomically(where.output, rendered.data, signal);
  context.progress(100, `written ${where.outputName}`);

  const executionDurationMs = Math.round(performance.now() - started);
  context.log('info', `${where.outputName}: ${format} ${rendered.width}x${rendered.height} in ${executionDurationMs} ms`);
  return {
    ...(file === undefined ? { outputImagePath: job.outputPath } : { output: file }),
    width: rendered.width,
    height: rendered.height,
    format,
    sizeBytes: rendered.data.length,
    executionDurationMs,
    ...(settings.serviceId === undefined ? {} : { processedByServiceId: settings.serviceId }),
  };
}

/** Paths are confined to the working directory before anything is read or created; a task file needs none. */
async function placesOf(settings: Settings, job: Job): Promise<{ input?: string; output?: string; inputName: string; outputName: string }> {
  if (job.input !== undefined) {
    const inputName = job.input.name ?? 'input';
    return { inputName, outputName: job.outputName ?? inputName };
  }
  const dir = await settings.workDir();
  const inputPath = job.inputPath as string;
  const outputPath = job.outputPath as string;
  return { input: await confine(dir, inputPath), output: await confine(dir, outputPath), inputName: inputPath, outputName: outputPath };
}

/** A task file's bytes, within the same bound as a path's. */
async function readTaskFile(file: FileRef, settings: Settings, context: OperationContext): Promise<Buffer> {
  if (file.size > settings.maxInputBytes) {
    throw Object.assign(new Error(`the input is ${file.size} bytes; at most ${settings.maxInputBytes}`), { code: 'INPUT_TOO_LARGE' });
  }
  const bytes = await context.files.read(file);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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

/** The name the output's format is read from: its path, else its file name, else the input's. */
const outputNameOf = (params: { outputPath?: string | undefined; outputName?: string | undefined; input?: FileRef | undefined }): string =>
  params.outputPath ?? params.outputName ?? params.input?.name ?? '';

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
              formatFor: (decoded) => formatForOutput(outputNameOf(params), decoded.format),
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
              formatFor: (decoded) => formatForOutput(outputNameOf(params), decoded.format),
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
