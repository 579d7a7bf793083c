/**
 * Signals while a command runs: the first SIGINT/SIGTERM asks the command to wind down
 * gracefully (cancel the task, say goodbye); a second one exits at once, for the impatient.
 */
import { ExitCode } from './options.js';

export type StopSignal = 'SIGINT' | 'SIGTERM';

/**
 * Calls `onSignal` on the first of `signals`; exits the process with 130 on the next one.
 * Returns the function that removes the handlers (call it when the command is done).
 */
export function onStopSignal(onSignal: (signal: StopSignal) => void, signals: readonly StopSignal[] = ['SIGINT', 'SIGTERM']): () => void {
  let received = false;
  const handler = (signal: StopSignal) => {
    if (received) {
      process.stderr.write(`\n${signal} again: exiting without waiting\n`);
      process.exit(ExitCode.interrupted);
    }
    received = true;
    onSignal(signal);
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}

/** Resolves on the first stop signal. */
export function nextStopSignal(): { signal: Promise<StopSignal>; dispose: () => void } {
  let dispose = () => {};
  const signal = new Promise<StopSignal>((resolve) => {
    dispose = onStopSignal(resolve);
  });
  return { signal, dispose: () => dispose() };
}
