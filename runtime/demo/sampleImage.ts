/**
 * A generated sample picture for the demo, so the repository needs no binary image: a hue
 * gradient across, light to dark down, with a soft checkerboard and concentric rings on top.
 * Deterministic: the same size always gives the same pixels (and, with the same sharp, the same
 * PNG bytes).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

export interface SampleImageOptions {
  /** @default 1600 */
  width?: number;
  /** @default 1200 */
  height?: number;
}

const SIDE_MAX = 8192;
const CHANNELS = 3;

/** HSV (h in [0, 1), s and v in [0, 1]) to 8-bit RGB. */
function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const sector = Math.floor(h * 6);
  const f = h * 6 - sector;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const [r, g, b] = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ][sector % 6] as [number, number, number];
  return [Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)];
}

/** The raw RGB pixels of the sample (row-major, 3 bytes a pixel). */
export function samplePixels(width: number, height: number): Buffer {
  const pixels = Buffer.alloc(width * height * CHANNELS);
  const cell = Math.max(8, Math.round(Math.min(width, height) / 12));
  const [cx, cy] = [width / 2, height / 2];
  const ringSpacing = Math.max(4, Math.min(width, height) / 16);
  for (let y = 0; y < height; y++) {
    const value = 1 - 0.55 * (y / Math.max(1, height - 1));
    for (let x = 0; x < width; x++) {
      const checker = (Math.floor(x / cell) + Math.floor(y / cell)) % 2 === 0 ? 1 : 0.82;
      const ring = 0.85 + 0.15 * Math.cos((Math.hypot(x - cx, y - cy) / ringSpacing) * Math.PI);
      const [r, g, b] = hsvToRgb(x / width, 0.85, value * checker * ring);
      const offset = (y * width + x) * CHANNELS;
      pixels[offset] = r;
      pixels[offset + 1] = g;
      pixels[offset + 2] = b;
    }
  }
  return pixels;
}

/** Writes the sample as an RGB PNG (creating its directory). */
export async function writeSampleImage(file: string, options: SampleImageOptions = {}): Promise<void> {
  const width = options.width ?? 1600;
  const height = options.height ?? 1200;
  for (const [name, side] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(side) || side < 1 || side > SIDE_MAX) {
      throw new RangeError(`writeSampleImage: ${name} must be an integer in 1..${SIDE_MAX}, got ${side}`);
    }
  }
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await sharp(samplePixels(width, height), { raw: { width, height, channels: CHANNELS } })
    .png()
    .toFile(file);
}
