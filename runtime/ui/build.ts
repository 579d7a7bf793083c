/**
 * Builds the web UI into dist/ui (never committed): the app bundled by esbuild (Preact, TSX,
 * CSS), and charts.json, every participant's statechart with its elkjs layout, computed here so
 * the page needs no layout engine and no internet. Run by `npm run build` (`npm run build:ui`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chartOf, participantMachines } from '../inspect/charts.js';
import { bundleDirectory } from './bundle.js';
import { layoutChart } from './layout.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function buildUi(outDirectory = bundleDirectory()): Promise<{ directory: string; bytes: Record<string, number> }> {
  await mkdir(outDirectory, { recursive: true });
  const result = await build({
    entryPoints: { app: path.join(here, 'web', 'main.tsx') },
    bundle: true,
    format: 'esm',
    minify: true,
    sourcemap: false,
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: outDirectory,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  });
  const charts = await Promise.all(
    Object.entries(participantMachines).map(async ([kind, machine]) => {
      const chart = chartOf(machine);
      return { kind, chart, layout: await layoutChart(chart) };
    }),
  );
  await writeFile(path.join(outDirectory, 'charts.json'), JSON.stringify({ charts }));
  const bytes = Object.fromEntries(Object.entries(result.metafile.outputs).map(([file, output]) => [path.basename(file), output.bytes]));
  return { directory: outDirectory, bytes };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { directory, bytes } = await buildUi(process.argv[2] ?? undefined);
  process.stdout.write(`web UI built in ${directory}: ${Object.entries(bytes).map(([file, size]) => `${file} ${(size / 1024).toFixed(1)} kB`).join(', ')}, charts.json\n`);
}
