/**
 * What a command's action gets besides its options: where to write, and where its exit code goes.
 * `runAction` turns whatever an action throws into the right message and exit code.
 */
import { MissingPeerError } from '../../adapters/optionalPeer.js';
import { ExitCode, UsageError } from './options.js';
import { exitCodeFor, printError, type Io } from './output.js';

export interface CliContext {
  readonly io: Io;
  /** The code `main` resolves to once the action is done. */
  exitCode: number;
}

/** A failure with an error code (TaskError, ProtocolError, a service's own error). */
export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code) ? code : undefined;
}

/** Runs an action; its resolved number (or the code of what it threw) becomes the exit code. */
export async function runAction(context: CliContext, action: () => Promise<number>): Promise<void> {
  try {
    context.exitCode = await action();
  } catch (error) {
    // A feature's optional package not installed is fixed before anything is sent, like a bad flag.
    if (error instanceof UsageError || error instanceof MissingPeerError) {
      printError(context.io, undefined, error.message);
      context.exitCode = ExitCode.usage;
      return;
    }
    const code = codeOf(error);
    printError(context.io, code, error instanceof Error ? error.message : String(error));
    context.exitCode = exitCodeFor(code);
  }
}

/** The promise's value, or `timedOut` once `ms` have passed (the timer does not hold the process). */
export function within<T, U = undefined>(promise: Promise<T>, ms: number, timedOut?: U): Promise<T | U> {
  return Promise.race([promise, new Promise<U>((resolve) => setTimeout(resolve, ms, timedOut as U).unref())]);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
