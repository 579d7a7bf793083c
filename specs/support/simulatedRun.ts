/**
 * Driving the simulated network from async specs whose handlers are async functions: promise
 * callbacks get to run between clock steps.
 */
import type { SimulatedNetwork } from '../../adapters/simulated/index.js';

/** Lets promise callbacks run (handlers are async functions) between simulated clock steps. */
export const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Advances the network `ms` in steps of `stepMs`, flushing promise callbacks after each. */
export async function runFor(net: SimulatedNetwork, ms: number, stepMs = 10): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += stepMs) {
    net.run(stepMs);
    await flush();
  }
}
