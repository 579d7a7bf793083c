/**
 * Global setup of the slow tier: draws the run's fast-check seed (or takes PROPERTY_SEED) and
 * prints it once, so a property that fails in one run can be replayed with the same networks,
 * workloads and faults.
 */
import { randomInt } from 'node:crypto';
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): void {
  const fromEnv = process.env.PROPERTY_SEED;
  const seed = fromEnv === undefined || fromEnv === '' ? randomInt(1, 2 ** 31 - 1) : Number(fromEnv);
  if (!Number.isSafeInteger(seed)) throw new Error(`PROPERTY_SEED must be an integer, got "${fromEnv}"`);
  process.stdout.write(`slow tier: fast-check seed ${seed} (replay: PROPERTY_SEED=${seed} npm run test:slow)\n`);
  project.provide('propertySeed', seed);
}
