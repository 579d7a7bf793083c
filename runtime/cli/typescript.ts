/**
 * TypeScript modules at run time (`provider --service my-service.ts`, `switchboard.config.ts`):
 * the compiled CLI runs plain JavaScript, so tsx's loader is registered only when a .ts module
 * is about to be imported. tsx is an optional peer dependency: without it, the user is told how
 * to get it (or to compile the module) instead of seeing a loader error.
 */
import { UsageError } from './options.js';

const TYPESCRIPT_EXTENSIONS = /\.(?:[cm]?ts|tsx)$/i;

export const isTypeScriptPath = (file: string): boolean => TYPESCRIPT_EXTENSIONS.test(file);

let registered: Promise<void> | undefined;

/** Registers tsx's ES module and CommonJS hooks once (a .ts file may be either, by its package). */
export function registerTypeScript(forFile: string): Promise<void> {
  registered ??= (async () => {
    try {
      const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
      esm.register();
      cjs.register();
    } catch (error) {
      registered = undefined;
      if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
      throw new UsageError(`${forFile} is TypeScript, and loading TypeScript needs tsx: run \`npm install tsx\`, or compile ${forFile} to JavaScript`);
    }
  })();
  return registered;
}

/** import() for a module given by absolute path, registering tsx first when it is TypeScript. */
export async function importModule(absolutePath: string, url: string): Promise<Record<string, unknown>> {
  if (isTypeScriptPath(absolutePath)) await registerTypeScript(absolutePath);
  return (await import(url)) as Record<string, unknown>;
}
