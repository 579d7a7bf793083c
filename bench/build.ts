/**
 * Compiles machines/, runtime/ and adapters/ with tsc into bench/.build (what an installed package
 * runs), so the benchmarks do not measure tsx's transform of the sources. Type errors in a tree
 * that is being edited do not stop the emit; they are reported and the build is used anyway.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './procs.js';

export const BUILD_DIR = path.join(ROOT, 'bench', '.build');

export function buildForBench(log: (text: string) => void): void {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  // Not composite, not incremental: the package build's own incremental state must not be touched.
  const args = [tsc, '-p', 'tsconfig.build.json', '--outDir', BUILD_DIR, '--declaration', 'false', '--sourceMap', 'false', '--composite', 'false', '--incremental', 'false'];
  try {
    execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const output = String((error as { stdout?: string }).stdout ?? '').trim().split('\n').slice(0, 5).join('\n');
    log(`tsc reported errors (the emitted JavaScript is used anyway):\n${output}`);
  }
}
