/**
 * The package's own package.json (name, version, description), found from this module's place:
 * `runtime/cli/` in the sources, `dist/runtime/cli/` once built, so the same code reads the right
 * file whether it runs from TypeScript or from the compiled JavaScript.
 */
import { readFileSync } from 'node:fs';

export interface PackageInfo {
  readonly name: string;
  readonly version: string;
  readonly description: string;
}

let cached: PackageInfo | undefined;

export function packageInfo(): PackageInfo {
  if (cached !== undefined) return cached;
  for (const relative of ['../../package.json', '../../../package.json']) {
    try {
      const parsed = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as Partial<PackageInfo>;
      if (parsed.name === 'switchboard' && typeof parsed.version === 'string') {
        cached = { name: parsed.name, version: parsed.version, description: parsed.description ?? '' };
        return cached;
      }
    } catch {
      // not at this level: try the next one up
    }
  }
  throw new Error('switchboard: cannot find its package.json');
}
