/**
 * The demo image service and its sample image, loaded when `provider` (without --service) or
 * `demo` runs. They need sharp, an optional peer dependency (about 17 MB of native code that a
 * library user does not otherwise need): without it the user is told how to get it, instead of
 * seeing a module-resolution error.
 */
import { UsageError } from './options.js';

type ImageService = typeof import('../demo/imageService.js');
type SampleImage = typeof import('../demo/sampleImage.js');

const isMissingSharp = (error: unknown): boolean =>
  (error as NodeJS.ErrnoException | undefined)?.code === 'ERR_MODULE_NOT_FOUND' && /['"]sharp['"]/.test((error as Error).message);

async function loadNeedingSharp<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (!isMissingSharp(error)) throw error;
    throw new UsageError(
      'the demo ImageProcessingService needs sharp, which is not installed: run `npm install sharp`, or host your own service with --service',
    );
  }
}

export const loadImageService = (): Promise<ImageService> => loadNeedingSharp(() => import('../demo/imageService.js'));

export const loadSampleImage = (): Promise<SampleImage> => loadNeedingSharp(() => import('../demo/sampleImage.js'));
