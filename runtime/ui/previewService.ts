/**
 * `Previews`: a small service whose results are images, for `switchboard ui --demo`, the UI's
 * browser specs and its screenshots. `render` draws the demo's sample picture at the asked size
 * (runtime/demo/sampleImage.ts), reporting progress and an ETA step by step and honouring
 * cancellation, and returns it as a PNG data URL, which the web UI shows as an image.
 */
import * as z from 'zod';
import { defineService, type ServiceDefinition } from '../service.js';

export interface PreviewServiceOptions {
  /** Pause between the progress steps, so progress can be watched. @default 150 */
  readonly stepDelayMs?: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', abort, { once: true });
  });

export function previewService(options: PreviewServiceOptions = {}): ServiceDefinition {
  const stepDelayMs = options.stepDelayMs ?? 150;
  return defineService({
    name: 'Previews',
    version: '1.0.0',
    description: 'Renders sample pictures and returns them as PNG data URLs.',
    operations: {
      render: {
        description: 'Render the sample picture at a size, in a number of steps.',
        params: z.object({
          width: z.number().int().min(16).max(1024).describe('width in pixels'),
          height: z.number().int().min(16).max(1024).describe('height in pixels'),
          steps: z.number().int().min(1).max(100).default(8).describe('progress steps (each waits the step delay)'),
          title: z.string().max(80).optional().describe('a caption echoed in the result'),
        }),
        run: async ({ width, height, steps, title }, context) => {
          for (let step = 1; step <= steps; step++) {
            await sleep(stepDelayMs, context.signal);
            const left = ((steps - step) * stepDelayMs) / 1000;
            context.progress(Math.round((step / steps) * 90), `step ${step} of ${steps}`, left);
          }
          // sharp is an optional peer (the sample image module needs it too): loaded when a
          // preview is encoded, so the CLI loads without it.
          const [{ default: sharp }, { samplePixels }] = await Promise.all([import('sharp'), import('../demo/sampleImage.js')]);
          const png = await sharp(samplePixels(width, height), { raw: { width, height, channels: 3 } }).png().toBuffer();
          context.progress(100, 'encoded');
          return { title: title ?? null, width, height, image: `data:image/png;base64,${png.toString('base64')}` };
        },
      },
    },
  }) as unknown as ServiceDefinition;
}
