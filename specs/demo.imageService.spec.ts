/**
 * The demo ImageProcessingService (runtime/demo): real image work with sharp in a temp working
 * directory. Most tests call an operation's `run` with a hand-built OperationContext (real
 * AbortController, recorded progress); the last group runs it the way a provider does, as the
 * `handler` of providerTaskMachine built by createServiceHandler, so schema validation (TASK-6,
 * SEC-5), code mapping (TASK-15) and cancellation (TASK-11) are the runtime's own.
 */
import fc from 'fast-check';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, toPromise, type ActorRef, type Snapshot } from 'xstate';
import type { TaskOutcome } from '../machines/outcome.js';
import { providerTaskMachine, type ProviderTaskToParentEvent } from '../machines/providerTask.js';
import { confine, isInside, openWorkDir } from '../runtime/demo/confine.js';
import { imageProcessingService, type ImageProcessingService, type ImageResult } from '../runtime/demo/imageService.js';
import { samplePixels, writeSampleImage } from '../runtime/demo/sampleImage.js';
import { createServiceHandler } from '../runtime/handler.js';
import { capabilitiesOf, defineService, type OperationContext } from '../runtime/service.js';
import { note } from './support/notes.js';

let workDir: string;
let outsideDir: string;
let service: ImageProcessingService;
/** How long writing the 1600x1200 sample took (logged by the resize test). */
let sampleMs = 0;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'switchboard-img-'));
  outsideDir = await mkdtemp(path.join(tmpdir(), 'switchboard-outside-'));
  const started = performance.now();
  await writeSampleImage(path.join(workDir, 'sample.png'));
  sampleMs = performance.now() - started;
  await writeSampleImage(path.join(workDir, 'small.png'), { width: 200, height: 150 });
  await writeSampleImage(path.join(outsideDir, 'secret.png'), { width: 40, height: 30 });
  await writeFile(path.join(workDir, 'notes.txt'), 'this is not an image\n');
  service = imageProcessingService({ workDir });
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
  await rm(outsideDir, { recursive: true, force: true });
});

interface Progress {
  readonly percent: number;
  readonly message: string | undefined;
}

/** A context like the handler's, recording progress; `onProgress` may abort. */
function contextFor(onProgress?: (report: Progress, controller: AbortController) => void) {
  const controller = new AbortController();
  const progress: Progress[] = [];
  const context: OperationContext = {
    taskId: 'task-1',
    clientId: 'client-1',
    signal: controller.signal,
    log: () => {},
    get files(): never {
      throw new Error('these operations are called with paths: no task files');
    },
    progress(percent, message) {
      const report = { percent, message };
      progress.push(report);
      onProgress?.(report, controller);
    },
  };
  return { context, progress, controller };
}

const inWork = (...parts: string[]) => path.join(workDir, ...parts);
const exists = (file: string) => readFile(file).then(() => true, () => false);
/** Every file under a directory, relative, recursively (temp files included). */
async function filesUnder(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  const files: string[] = [];
  for (const name of names) if ((await lstat(path.join(dir, name))).isFile()) files.push(name);
  return files.sort();
}

describe('writeSampleImage', () => {
  it('writes a 1600x1200 RGB PNG by default', async () => {
    const metadata = await sharp(inWork('sample.png')).metadata();
    expect(metadata).toMatchObject({ format: 'png', width: 1600, height: 1200, channels: 3 });
    expect(sampleMs).toBeLessThan(5_000);
  });

  it('is deterministic: the same size gives the same pixels and the same PNG bytes', async () => {
    expect(samplePixels(64, 48).equals(samplePixels(64, 48))).toBe(true);
    await writeSampleImage(inWork('det', 'a.png'), { width: 64, height: 48 });
    await writeSampleImage(inWork('det', 'b.png'), { width: 64, height: 48 });
    expect((await readFile(inWork('det', 'a.png'))).equals(await readFile(inWork('det', 'b.png')))).toBe(true);
    const { data } = await sharp(inWork('det', 'a.png')).raw().toBuffer({ resolveWithObject: true });
    expect(data.equals(samplePixels(64, 48))).toBe(true);
  });

  it('is colourful: its hue spans red to violet across', async () => {
    const { channels } = await sharp(inWork('small.png')).stats();
    for (const channel of channels) expect(channel.max - channel.min).toBeGreaterThan(150);
  });

  it('refuses a size that is not an integer in 1..8192', async () => {
    await expect(writeSampleImage(inWork('bad.png'), { width: 0 })).rejects.toThrow(RangeError);
    await expect(writeSampleImage(inWork('bad.png'), { height: 1.5 })).rejects.toThrow(RangeError);
  });
});

describe('resizeImage', () => {
  it('resizes the 1600x1200 sample to 320 wide, keeping the aspect, as a JPEG by extension', async () => {
    const { context } = contextFor();
    const started = performance.now();
    const result = (await service.operations.resizeImage.run(
      { inputPath: 'sample.png', outputPath: 'out/resized.jpg', width: 320, fit: 'inside' },
      context,
    )) as ImageResult;
    const elapsedMs = performance.now() - started;
    note(`sample 1600x1200 written in ${sampleMs.toFixed(0)} ms; resize to 320 wide in ${elapsedMs.toFixed(0)} ms`);
    const metadata = await sharp(inWork('out', 'resized.jpg')).metadata();
    expect(metadata).toMatchObject({ format: 'jpeg', width: 320, height: 240 });
    expect(result).toEqual({
      outputImagePath: 'out/resized.jpg',
      width: 320,
      height: 240,
      format: 'jpeg',
      sizeBytes: (await readFile(inWork('out', 'resized.jpg'))).length,
      executionDurationMs: expect.any(Number),
    });
    expect(result).not.toHaveProperty('processedByServiceId');
    expect(result.executionDurationMs).toBeGreaterThanOrEqual(0);
  });

  it.each([
    ['fill', 100, 100, 100, 100],
    ['cover', 100, 50, 100, 50],
    ['contain', 100, 100, 100, 100],
    ['inside', 100, 100, 100, 75],
    ['outside', 100, 100, 133, 100],
  ] as const)('fit %s into %ix%i gives %ix%i', async (fit, width, height, expectedWidth, expectedHeight) => {
    const { context } = contextFor();
    const outputPath = `fit/${fit}.png`;
    const result = (await service.operations.resizeImage.run({ inputPath: 'small.png', outputPath, width, height, fit }, context)) as ImageResult;
    expect(await sharp(inWork(outputPath)).metadata()).toMatchObject({ format: 'png', width: expectedWidth, height: expectedHeight });
    expect(result).toMatchObject({ width: expectedWidth, height: expectedHeight, format: 'png' });
  });

  it('creates output directories inside the working directory as needed', async () => {
    const { context } = contextFor();
    await service.operations.resizeImage.run({ inputPath: 'small.png', outputPath: 'a/b/c/deep.webp', width: 50, fit: 'inside' }, context);
    expect((await sharp(inWork('a', 'b', 'c', 'deep.webp')).metadata()).format).toBe('webp');
  });

  it('keeps the input format when the output has no known extension', async () => {
    const { context } = contextFor();
    const result = await service.operations.resizeImage.run({ inputPath: 'small.png', outputPath: 'noext', width: 20, fit: 'inside' }, context);
    expect(result).toMatchObject({ format: 'png' });
    expect((await sharp(inWork('noext')).metadata()).format).toBe('png');
  });

  it('reports processedByServiceId when the service was given one', async () => {
    const named = imageProcessingService({ workDir, serviceId: 'image-proc-service-001' });
    const { context } = contextFor();
    const result = await named.operations.resizeImage.run({ inputPath: 'small.png', outputPath: 'named.png', width: 10, fit: 'inside' }, context);
    expect(result).toMatchObject({ processedByServiceId: 'image-proc-service-001' });
  });

  it('TASK-9: reports progress at each stage, never decreasing, from 5 to 100', async () => {
    const { context, progress } = contextFor();
    await service.operations.resizeImage.run({ inputPath: 'small.png', outputPath: 'progress.png', width: 64, fit: 'inside' }, context);
    const percents = progress.map((report) => report.percent);
    expect(percents).toEqual([5, 20, 30, 80, 90, 100]);
    for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeGreaterThan(percents[i - 1] as number);
    expect(progress.map((report) => report.message)).toEqual([
      'reading input',
      'decoded 200x150 png',
      'resizing to 64xauto (inside)',
      expect.stringMatching(/^encoded png 64x48, \d+ bytes$/),
      'writing progress.png',
      'written progress.png',
    ]);
  });
});

describe('applyFilter', () => {
  it('grayscale writes a single-channel (b-w) image', async () => {
    const { context } = contextFor();
    await service.operations.applyFilter.run({ inputPath: 'small.png', outputPath: 'filters/gray.png', name: 'grayscale' }, context);
    const metadata = await sharp(inWork('filters', 'gray.png')).metadata();
    expect(metadata).toMatchObject({ width: 200, height: 150, channels: 1, space: 'b-w' });
  });

  it('sepia tones the image: mean red > green > blue', async () => {
    const { context } = contextFor();
    await service.operations.applyFilter.run({ inputPath: 'small.png', outputPath: 'filters/sepia.png', name: 'sepia' }, context);
    const [red, green, blue] = (await sharp(inWork('filters', 'sepia.png')).stats()).channels;
    expect(red!.mean).toBeGreaterThan(green!.mean);
    expect(green!.mean).toBeGreaterThan(blue!.mean);
  });

  it('negate inverts every pixel', async () => {
    const { context } = contextFor();
    await service.operations.applyFilter.run({ inputPath: 'small.png', outputPath: 'filters/negate.png', name: 'negate' }, context);
    const original = await sharp(inWork('small.png')).raw().toBuffer();
    const negated = await sharp(inWork('filters', 'negate.png')).raw().toBuffer();
    expect(negated.length).toBe(original.length);
    expect(negated.every((value, index) => value === 255 - (original[index] as number))).toBe(true);
  });

  it.each([
    ['blur', 4],
    ['sharpen', 3],
    ['normalize', undefined],
  ] as const)('%s changes the pixels and keeps the size', async (name, size) => {
    const { context } = contextFor();
    const outputPath = `filters/${name}.png`;
    await service.operations.applyFilter.run({ inputPath: 'small.png', outputPath, name, size }, context);
    const original = await sharp(inWork('small.png')).raw().toBuffer();
    const { data, info } = await sharp(inWork(outputPath)).raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 200, height: 150 });
    expect(data.equals(original)).toBe(false);
  });

  it('blur with a larger sigma smooths more (lower standard deviation)', async () => {
    const sharpness = async (size: number) => {
      const { context } = contextFor();
      await service.operations.applyFilter.run({ inputPath: 'small.png', outputPath: `filters/blur-${size}.png`, name: 'blur', size }, context);
      return (await sharp(inWork('filters', `blur-${size}.png`)).stats()).sharpness;
    };
    expect(await sharpness(10)).toBeLessThan(await sharpness(1));
  });
});

describe('convertFormat', () => {
  it.each([
    ['webp', 'webp', 80],
    ['jpeg', 'jpeg', 30],
    ['png', 'png', undefined],
    ['tiff', 'tiff', undefined],
    ['avif', 'heif', 50],
  ] as const)('writes %s (sharp reads it back as %s)', async (format, readAs, quality) => {
    const { context } = contextFor();
    const outputPath = `converted/small.${format}`;
    const result = await service.operations.convertFormat.run({ inputPath: 'small.png', outputPath, format, quality }, context);
    expect(result).toMatchObject({ format, width: 200, height: 150, outputImagePath: outputPath });
    expect(await sharp(inWork(outputPath)).metadata()).toMatchObject({ format: readAs, width: 200, height: 150 });
  });

  it('a lower JPEG quality gives a smaller file', async () => {
    const sizeAt = async (quality: number) => {
      const { context } = contextFor();
      const result = await service.operations.convertFormat.run(
        { inputPath: 'sample.png', outputPath: `converted/q${quality}.jpg`, format: 'jpeg', quality },
        context,
      );
      return (result as ImageResult).sizeBytes;
    };
    expect(await sizeAt(20)).toBeLessThan(await sizeAt(95));
  });
});

describe('path confinement: refused with FORBIDDEN before anything is read', () => {
  const refuses = async (inputPath: string, outputPath = 'refused.png') => {
    const { context, progress } = contextFor();
    const attempt = service.operations.convertFormat.run({ inputPath, outputPath, format: 'png' }, context);
    await expect(attempt).rejects.toMatchObject({ code: 'FORBIDDEN', message: 'path outside the working directory' });
    // 'reading input' is the first report: none at all means the input was never opened.
    expect(progress).toEqual([]);
  };

  beforeAll(async () => {
    await symlink(path.join(outsideDir, 'does-not-exist.png'), inWork('dangling-out.png'));
    await symlink(path.join(outsideDir, 'secret.png'), inWork('secret-link.png'));
    await symlink(outsideDir, inWork('outside-dir'));
    await symlink('sample.png', inWork('inner-link.png'));
    await symlink('../../etc/passwd-missing', inWork('relative-escape.png'));
  });

  it("'../etc/passwd' (it resolves to a path that does not exist: FORBIDDEN, not FILE_NOT_FOUND)", async () => {
    expect(await exists(path.resolve(workDir, '../etc/passwd'))).toBe(false);
    await refuses('../etc/passwd');
  });

  it("'/etc/passwd', an absolute path elsewhere", () => refuses('/etc/passwd'));

  it('a path that climbs out and back in through another directory name', () => refuses(`../${path.basename(outsideDir)}/secret.png`));

  it('a symlink inside pointing outside at nothing (FORBIDDEN, not FILE_NOT_FOUND: the target is never read)', () =>
    refuses('dangling-out.png'));

  it('a symlink inside pointing at a real image outside', () => refuses('secret-link.png'));

  it('a relative symlink that climbs out', () => refuses('relative-escape.png'));

  it('a file reached through a symlinked directory that leads outside', () => refuses('outside-dir/secret.png'));

  it('an output outside, by .. or through a symlinked directory (input is fine); nothing is written there', async () => {
    await refuses('small.png', '../escaped.png');
    await refuses('small.png', 'outside-dir/escaped.png');
    await refuses('small.png', 'outside-dir/new/dir/escaped.png');
    await refuses('small.png', '/tmp/escaped.png');
    await refuses('small.png', 'dangling-out.png');
    expect(await filesUnder(outsideDir)).toEqual(['secret.png']);
    expect(await exists(path.resolve(workDir, '../escaped.png'))).toBe(false);
  });

  it('the working directory itself is not a file path', async () => {
    await refuses('.');
    await refuses('small.png', 'sub/..');
  });

  it('allows names that merely start with .., and symlinks that stay inside', async () => {
    await writeFile(inWork('..dotted.png'), await readFile(inWork('small.png')));
    const { context } = contextFor();
    await expect(
      service.operations.resizeImage.run({ inputPath: '..dotted.png', outputPath: 'ok/..dotted-out.png', width: 10, fit: 'inside' }, context),
    ).resolves.toMatchObject({ width: 10 });
    await expect(
      service.operations.resizeImage.run({ inputPath: 'inner-link.png', outputPath: 'ok/via-link.png', width: 10, fit: 'inside' }, context),
    ).resolves.toMatchObject({ width: 10 });
  });

  it('property: a path of plain names stays inside; one that climbs above the root is refused', async () => {
    const dir = await openWorkDir(workDir);
    const segment = fc.stringMatching(/^[a-z0-9._-]{1,8}$/).filter((name) => name !== '.' && name !== '..');
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 3 }), async (names, climbs) => {
        const inside = names.join('/');
        expect(isInside(dir.real, await confine(dir, inside))).toBe(true);
        // `climbs` levels above the last name's directory, beyond the root when it exceeds the depth.
        const escaping = `${inside}/${'../'.repeat(names.length + climbs)}x.png`;
        await expect(confine(dir, escaping)).rejects.toMatchObject({ code: 'FORBIDDEN' });
      }),
      { numRuns: 200 },
    );
  });
});

describe('failures carry their own codes', () => {
  it("a missing input is FILE_NOT_FOUND with the seed's message and details", async () => {
    const { context } = contextFor();
    await expect(
      service.operations.resizeImage.run({ inputPath: 'raw/image.png', outputPath: 'x.png', width: 10, fit: 'inside' }, context),
    ).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: 'Input file not found.', details: "Could not locate 'raw/image.png'." });
  });

  it('a directory as input is FILE_NOT_FOUND (not a regular file)', async () => {
    await mkdir(inWork('a-directory'), { recursive: true });
    const { context } = contextFor();
    await expect(
      service.operations.resizeImage.run({ inputPath: 'a-directory', outputPath: 'x.png', width: 10, fit: 'inside' }, context),
    ).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it("a file that is not an image is UNSUPPORTED_IMAGE, with sharp's message in details", async () => {
    const { context } = contextFor();
    const attempt = service.operations.applyFilter.run({ inputPath: 'notes.txt', outputPath: 'x.png', name: 'blur' }, context);
    await expect(attempt).rejects.toMatchObject({ code: 'UNSUPPORTED_IMAGE', details: expect.stringMatching(/unsupported image format/i) });
    expect(await exists(inWork('x.png'))).toBe(false);
  });

  it('a truncated image decodes its header but fails processing: PROCESSING_FAILED, nothing written', async () => {
    const whole = await readFile(inWork('small.png'));
    await writeFile(inWork('truncated.png'), whole.subarray(0, Math.floor(whole.length / 2)));
    const { context } = contextFor();
    const attempt = service.operations.convertFormat.run({ inputPath: 'truncated.png', outputPath: 'trunc.webp', format: 'webp' }, context);
    await expect(attempt).rejects.toMatchObject({ code: 'PROCESSING_FAILED', details: expect.any(String) });
    expect(await exists(inWork('trunc.webp'))).toBe(false);
  });

  it('an input larger than maxInputBytes is INPUT_TOO_LARGE, refused before it is read', async () => {
    const limited = imageProcessingService({ workDir, maxInputBytes: 1_000 });
    const { context } = contextFor();
    await expect(
      limited.operations.resizeImage.run({ inputPath: 'sample.png', outputPath: 'x.png', width: 10, fit: 'inside' }, context),
    ).rejects.toMatchObject({ code: 'INPUT_TOO_LARGE' });
  });

  it('refuses bad options at once (programmer errors)', () => {
    expect(() => imageProcessingService({ workDir: '' })).toThrow(TypeError);
    expect(() => imageProcessingService({ workDir, stepDelayMs: -1 })).toThrow(RangeError);
    expect(() => imageProcessingService({ workDir, maxInputBytes: 0 })).toThrow(RangeError);
  });
});

describe('TASK-11: cancellation leaves no output behind', () => {
  it('stepDelayMs 50, aborted just after the first progress report: CANCELLED at once, no file', async () => {
    const paced = imageProcessingService({ workDir, stepDelayMs: 50 });
    const { context, progress } = contextFor((report, controller) => {
      if (report.percent === 5) setTimeout(() => controller.abort(), 10);
    });
    const started = performance.now();
    const attempt = paced.operations.resizeImage.run({ inputPath: 'sample.png', outputPath: 'cancel/paced.png', width: 320, fit: 'inside' }, context);
    await expect(attempt).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(performance.now() - started).toBeLessThan(50 * 6);
    expect(progress.map((report) => report.percent)).toEqual([5]);
    expect(await filesUnder(inWork('cancel'))).toEqual([]);
  });

  it.each([5, 20, 30, 80, 90])('aborted right after the %i percent report: CANCELLED, no file (no partial either)', async (abortAt) => {
    const { context, progress } = contextFor((report, controller) => {
      if (report.percent === abortAt) controller.abort();
    });
    const outputPath = `cancel/at-${abortAt}.png`;
    const attempt = service.operations.applyFilter.run({ inputPath: 'sample.png', outputPath, name: 'sepia' }, context);
    await expect(attempt).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(progress.at(-1)?.percent).toBe(abortAt);
    expect(await filesUnder(inWork('cancel'))).toEqual([]);
  });

  it('aborted while libvips renders: CANCELLED, the late result is dropped', async () => {
    const { context } = contextFor((report, controller) => {
      if (report.percent === 30) setImmediate(() => controller.abort());
    });
    const attempt = service.operations.convertFormat.run({ inputPath: 'sample.png', outputPath: 'cancel/render.png', format: 'png' }, context);
    await expect(attempt).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await filesUnder(inWork('cancel'))).toEqual([]);
  });
});

describe('through createServiceHandler in providerTaskMachine', () => {
  type Event = ProviderTaskToParentEvent;

  /**
   * Runs one task the provider's way. The service is wrapped so the test can await the
   * operation's own promise after a cancel (the handler drops it once its signal aborts).
   */
  async function runTask(operation: string, params: Record<string, unknown>, options: { cancelAt?: number; stepDelayMs?: number } = {}) {
    const real = imageProcessingService({ workDir, stepDelayMs: options.stepDelayMs ?? 0 });
    const runs: Promise<unknown>[] = [];
    const watched = defineService({
      ...real,
      operations: Object.fromEntries(
        Object.entries(real.operations).map(([key, definition]) => [
          key,
          {
            params: definition.params,
            run: (input: never, context: OperationContext) => {
              const run = Promise.resolve(definition.run(input, context));
              runs.push(run);
              return run;
            },
          },
        ]),
      ),
    });
    const events: Event[] = [];
    // A recording parentRef (see support/recorder.ts) that can also react: cancel at a progress.
    let cancel = () => {};
    const record = (event: Event) => {
      events.push(event);
      if (event.type === 'task.progressed' && event.progressPercentage === options.cancelAt) cancel();
    };
    const parentRef = { id: 'parent', send: record, _send: record } as unknown as ActorRef<Snapshot<unknown>, Event>;
    const logic = providerTaskMachine.provide({ actors: { handler: createServiceHandler([watched]) } });
    const actor = createActor(logic, {
      input: { clientId: 'client-1', taskId: 'task-1', serviceName: 'ImageProcessingService', operation, params, parentRef },
    });
    cancel = () => actor.send({ type: 'task.cancel' });
    actor.start();
    actor.send({ type: 'task.start' });
    const outcome: TaskOutcome = await toPromise(actor);
    return { outcome, events, runs, progress: events.flatMap((event) => (event.type === 'task.progressed' ? [event.progressPercentage] : [])) };
  }

  it('completes with the resultData and progress events that never decrease and end at 100 (TASK-9)', async () => {
    const { outcome, progress } = await runTask('resizeImage', { inputPath: 'sample.png', outputPath: 'handler/out.png', width: 320 });
    expect(outcome).toEqual({
      status: 'Completed',
      resultData: expect.objectContaining({ outputImagePath: 'handler/out.png', width: 320, height: 240, format: 'png' }),
    });
    expect(progress).toEqual([5, 20, 30, 80, 90, 100]);
    expect(await sharp(inWork('handler', 'out.png')).metadata()).toMatchObject({ width: 320, height: 240 });
  });

  it.each([
    ['width 0', 'resizeImage', { inputPath: 'small.png', outputPath: 'h/bad.png', width: 0 }],
    ['a fractional width', 'resizeImage', { inputPath: 'small.png', outputPath: 'h/bad.png', width: 1.5 }],
    ['a width above 16384', 'resizeImage', { inputPath: 'small.png', outputPath: 'h/bad.png', width: 16_385 }],
    ['an unknown fit', 'resizeImage', { inputPath: 'small.png', outputPath: 'h/bad.png', width: 10, fit: 'stretch' }],
    ['the seed capability name "output" instead of outputPath', 'resizeImage', { inputPath: 'small.png', output: 'h/bad.png', width: 10 }],
    ['an unknown filter', 'applyFilter', { inputPath: 'small.png', outputPath: 'h/bad.png', name: 'vignette' }],
    ['a blur size below 0.3', 'applyFilter', { inputPath: 'small.png', outputPath: 'h/bad.png', name: 'blur', size: 0.1 }],
    ['an unknown format', 'convertFormat', { inputPath: 'small.png', outputPath: 'h/bad.gif', format: 'gif' }],
    ['quality 0', 'convertFormat', { inputPath: 'small.png', outputPath: 'h/bad.png', format: 'png', quality: 0 }],
    ['an empty inputPath', 'convertFormat', { inputPath: '', outputPath: 'h/bad.png', format: 'png' }],
    ['a NUL in a path', 'convertFormat', { inputPath: 'small.png\0.txt', outputPath: 'h/bad.png', format: 'png' }],
  ])('TASK-6, SEC-5: %s is INVALID_PARAMETERS and the operation never runs', async (_label, operation, params) => {
    const { outcome, runs, progress } = await runTask(operation, params);
    expect(outcome).toMatchObject({ status: 'Failed', error: { code: 'INVALID_PARAMETERS' } });
    expect(runs).toEqual([]);
    expect(progress).toEqual([]);
    expect(await filesUnder(inWork('h'))).toEqual([]);
  });

  it("TASK-15: FILE_NOT_FOUND keeps its code, the seed's message and details", async () => {
    const { outcome } = await runTask('convertFormat', { inputPath: 'Raw/image.png', outputPath: 'h/x.png', format: 'png' });
    expect(outcome).toEqual({
      status: 'Failed',
      error: { code: 'FILE_NOT_FOUND', message: 'Input file not found.', details: "Could not locate 'Raw/image.png'." },
    });
  });

  it('TASK-15: FORBIDDEN and UNSUPPORTED_IMAGE keep their codes', async () => {
    const forbidden = await runTask('convertFormat', { inputPath: '../etc/passwd', outputPath: 'h/x.png', format: 'png' });
    expect(forbidden.outcome).toMatchObject({ status: 'Failed', error: { code: 'FORBIDDEN', message: 'path outside the working directory' } });
    const unsupported = await runTask('convertFormat', { inputPath: 'notes.txt', outputPath: 'h/x.png', format: 'png' });
    expect(unsupported.outcome).toMatchObject({ status: 'Failed', error: { code: 'UNSUPPORTED_IMAGE', details: expect.any(String) } });
  });

  it('TASK-11: task.cancel after the first progress aborts the operation; no output is left', async () => {
    const { outcome, runs, progress } = await runTask(
      'applyFilter',
      { inputPath: 'sample.png', outputPath: 'h/cancelled.png', name: 'blur', size: 2 },
      { cancelAt: 5, stepDelayMs: 50 },
    );
    expect(outcome).toEqual({ status: 'Cancelled' });
    expect(progress).toEqual([5]);
    expect(runs).toHaveLength(1);
    await expect(runs[0]).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await filesUnder(inWork('h'))).toEqual([]);
  });
});

describe('capabilities (seed-style settings and a JSON schema)', () => {
  it('ImageProcessingService 1.2.0 advertises resizeImage, applyFilter and convertFormat', () => {
    expect(service.name).toBe('ImageProcessingService');
    expect(service.version).toBe('1.2.0');
    const capabilities = capabilitiesOf(service);
    expect(capabilities.map((capability) => capability.key)).toEqual(['resizeImage', 'applyFilter', 'convertFormat']);
    const settingsOf = (key: string) => capabilities.find((capability) => capability.key === key)?.settings;
    expect(settingsOf('resizeImage')).toEqual([
      { type: 'string', name: 'inputPath' },
      { type: 'string', name: 'outputPath' },
      { type: 'object', name: 'input' },
      { type: 'string', name: 'outputName' },
      { type: 'int', name: 'width' },
      { type: 'int', name: 'height' },
      { type: 'string', name: 'fit' },
    ]);
    expect(settingsOf('applyFilter')).toEqual([
      { type: 'string', name: 'inputPath' },
      { type: 'string', name: 'outputPath' },
      { type: 'object', name: 'input' },
      { type: 'string', name: 'outputName' },
      { type: 'string', name: 'name' },
      { type: 'float', name: 'size' },
    ]);
    expect(settingsOf('convertFormat')).toEqual([
      { type: 'string', name: 'inputPath' },
      { type: 'string', name: 'outputPath' },
      { type: 'object', name: 'input' },
      { type: 'string', name: 'outputName' },
      { type: 'string', name: 'format' },
      { type: 'int', name: 'quality' },
    ]);
  });

  it('each capability carries the JSON schema the parameters are validated with', () => {
    const resize = capabilitiesOf(service).find((capability) => capability.key === 'resizeImage')?.schema as Record<string, any>;
    expect(resize).toMatchObject({
      type: 'object',
      // Paths, or a task file `input` (FILE-10): which one is checked when the task arrives.
      required: ['width'],
      additionalProperties: false,
      properties: {
        input: { type: 'object', format: 'switchboard-file' },
        width: { type: 'integer', minimum: 1, maximum: 16_384 },
        fit: { type: 'string', enum: ['cover', 'contain', 'fill', 'inside', 'outside'], default: 'inside' },
      },
    });
    const convert = capabilitiesOf(service).find((capability) => capability.key === 'convertFormat')?.schema as Record<string, any>;
    expect(convert.properties.format.enum).toEqual(['png', 'jpeg', 'webp', 'avif', 'tiff']);
  });
});
