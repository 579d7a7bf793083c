/**
 * Where the built web app lives: `<package>/dist/ui/` (app.js, app.css, charts.json), written by
 * `npm run build` (runtime/ui/build.ts) and never committed. Found from this file whether it runs
 * from source (runtime/ui/) or from the build (dist/runtime/ui/).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUNDLE_FILES = ['app.js', 'app.css', 'charts.json'] as const;

export function packageRoot(): string {
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const manifest = path.join(directory, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'switchboard') return directory;
    directory = path.dirname(directory);
  }
  throw new Error('switchboard: package root not found');
}

export const bundleDirectory = (): string => path.join(packageRoot(), 'dist', 'ui');

/** The missing files, if any (the server then explains how to build them). */
export function missingBundleFiles(directory = bundleDirectory()): string[] {
  return BUNDLE_FILES.filter((file) => !existsSync(path.join(directory, file)));
}
