/**
 * The demo image service, its sample image and the UI's Previews service, loaded when `provider`
 * (without --service), `demo` or `ui --demo` runs. They need sharp, an optional peer dependency
 * (about 17 MB of native code that a library user does not otherwise need): without it the user
 * is told how to get it, instead of seeing a module-resolution error.
 */
import { isMissingPackage } from '../../adapters/optionalPeer.js';
import { UsageError } from './options.js';

type ImageService = typeof import('../demo/imageService.js');
type SampleImage = typeof import('../demo/sampleImage.js');
type PreviewService = typeof import('../ui/previewService.js');

async function loadNeedingSharp<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (!isMissingPackage(error, 'sharp')) throw error;
    throw new UsageError(
      'the demo ImageProcessingService needs sharp, which is not installed: run `npm install sharp`, or host your own service with --service',
    );
  }
}

export const loadImageService = (): Promise<ImageService> => loadNeedingSharp(() => import('../demo/imageService.js'));

export const loadSampleImage = (): Promise<SampleImage> => loadNeedingSharp(() => import('../demo/sampleImage.js'));

export const loadPreviewService = (): Promise<PreviewService> => loadNeedingSharp(() => import('../ui/previewService.js'));
