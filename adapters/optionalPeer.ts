/**
 * Optional peer dependencies: packages that only one feature needs (NATS, Prometheus metrics, the
 * Stately inspector bridge, OpenTelemetry spans, the demo's images), so that a library user
 * installs them only with that feature (docs: README "Install"). Each is loaded when its feature
 * is first used, never when `switchboard` is imported; when it is missing, the error names the
 * package to install, instead of a module-resolution error from deep inside.
 */
import { createRequire } from 'node:module';

/** A feature was used whose optional package is not installed. */
export class MissingPeerError extends Error {
  override readonly name = 'MissingPeerError';
  readonly code = 'MISSING_PEER_DEPENDENCY';

  constructor(
    /** The package to install, e.g. `@nats-io/transport-node`. */
    readonly packageName: string,
    /** What needs it, e.g. `NATS`. */
    readonly feature: string,
  ) {
    super(`${feature} needs ${packageName}, which is not installed: run \`npm install ${packageName}\``);
  }
}

const require = createRequire(import.meta.url);

/**
 * Whether `error` says that `packageName` itself cannot be found (not one of its own
 * dependencies, which would be a broken installation, reported as it is).
 */
export function isMissingPackage(error: unknown, packageName: string): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  const message = String((error as Error).message);
  return message.includes(`'${packageName}'`) || message.includes(`"${packageName}"`);
}

/** Throws MissingPeerError at once when `packageName` cannot be resolved (nothing is loaded). */
export function assertPeerInstalled(packageName: string, feature: string): void {
  try {
    require.resolve(packageName);
  } catch (error) {
    if (isMissingPackage(error, packageName)) throw new MissingPeerError(packageName, feature);
    throw error;
  }
}

/** `load()` (a dynamic `import(packageName)`), with MissingPeerError when the package is missing. */
export async function importPeer<T>(packageName: string, feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isMissingPackage(error, packageName)) throw new MissingPeerError(packageName, feature);
    throw error;
  }
}

/**
 * A CommonJS peer loaded synchronously (for APIs that must stay synchronous, such as
 * createMetrics()), with MissingPeerError when it is missing.
 */
export function requirePeer<T>(packageName: string, feature: string): T {
  try {
    return require(packageName) as T;
  } catch (error) {
    if (isMissingPackage(error, packageName)) throw new MissingPeerError(packageName, feature);
    throw error;
  }
}
