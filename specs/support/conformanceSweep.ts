/**
 * Measures the conformance suite like a test suite: every broken provider (fixtures/brokenProviders.ts)
 * and broken client (fixtures/brokenClients.ts) is run under the suite at level full, and each is
 * "detected" at a level when a check of that level fails citing one of the requirements it breaks.
 * The core verdict is read from the same run (a core run executes exactly the core checks of a
 * full run). Used by specs/conformance.sweep.slow.spec.ts, which writes the table of
 * docs/conformance.md, "How good is the suite".
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runClientSuite, type ClientSuiteTimings } from '../../runtime/conformance/client/index.js';
import { runProviderSuite, type ProviderSuiteOptions } from '../../runtime/conformance/provider/index.js';
import type { CheckReport, SuiteReport } from '../../runtime/conformance/types.js';
import type { BrokenClient } from '../fixtures/brokenClients.js';
import { TOKEN, type BrokenProvider } from '../fixtures/brokenProviders.js';
import { startReferenceProvider, type RunningProvider } from '../fixtures/peers/referenceProvider.js';
import { allocatePort } from './ports.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Verdict {
  readonly name: string;
  readonly defect: string;
  readonly breaks: readonly string[];
  readonly level: 'core' | 'full';
  readonly detectedCore: boolean;
  readonly detectedFull: boolean;
  /** The failing checks (name, level, requirements, evidence). */
  readonly failing: readonly CheckReport[];
}

export function verdictOf(entry: { name: string; defect: string; breaks: readonly string[]; level: 'core' | 'full' }, report: SuiteReport): Verdict {
  const failing = report.checks.filter((check) => check.status === 'fail');
  const cites = (check: CheckReport) => check.requirements.some((id) => entry.breaks.includes(id));
  return {
    name: entry.name,
    defect: entry.defect,
    breaks: entry.breaks,
    level: entry.level,
    detectedCore: failing.some((check) => check.level === 'core' && cites(check)),
    detectedFull: failing.some(cites),
    failing,
  };
}

/** The suite options every provider fixture is run with: echo is quick, sleep 1.5 s is slow. */
export function providerFixtureOptions(provider: RunningProvider, extra: Partial<ProviderSuiteOptions> = {}): ProviderSuiteOptions {
  return {
    endpoint: provider.endpoint,
    udp: { host: '127.0.0.1', port: provider.discoveryPort },
    service: 'ReferenceService',
    operation: 'echo',
    params: { text: 'conformance' },
    slowOperation: 'sleep',
    slowParams: { ms: 1_500 },
    level: 'full',
    ...extra,
  };
}

/** Runs the suite (level full, or only the checks `only` names) against one broken provider. */
export async function judgeBrokenProvider(entry: BrokenProvider, only?: readonly string[]): Promise<Verdict> {
  const provider = await startReferenceProvider({ discoveryPort: await allocatePort(), ...entry.setup, faults: entry.faults });
  try {
    const told = entry.told ?? {};
    const report = await runProviderSuite(
      providerFixtureOptions(provider, {
        ...(entry.setup?.tokens === undefined ? {} : { token: TOKEN }),
        ...told,
        ...(only === undefined ? {} : { only }),
      }),
    );
    return verdictOf(entry, report);
  } finally {
    await provider.stop();
  }
}

/** The reference client's settings, told to the client suite. */
export const REFERENCE_CLIENT_TIMINGS: Partial<ClientSuiteTimings> = {
  ackTimeoutMs: 400,
  withholdMs: 3_000,
  pingIntervalMs: 500,
  pongTimeoutMs: 500,
  backoffBaseMs: 50,
  backoffCapMs: 1_000,
  backoffToleranceMs: 500,
  reconnectsPerSecondMax: 15,
  cancelAfterMs: 300,
  quietMs: 800,
};

export const brokenClientCommand = (name: string): string[] => ['node', '--import', 'tsx', path.join(ROOT, 'specs/fixtures/brokenClients/run.ts'), name];

export async function judgeBrokenClient(entry: BrokenClient): Promise<Verdict> {
  const report = await runClientSuite({
    command: brokenClientCommand(entry.name),
    level: 'full',
    discoveryPort: await allocatePort(),
    cwd: ROOT,
    timings: REFERENCE_CLIENT_TIMINGS,
  });
  return verdictOf(entry, report);
}

/**
 * Peers judged at once by the sweep: each suite run mostly waits on its peer's timers (about 1 s
 * of CPU in 20 s), so eight providers (in-process) and four clients (child processes) at a time
 * take the sweep from about 7 minutes to about 3.5 for little load.
 */
export const PROVIDERS_AT_ONCE = 8;
export const CLIENTS_AT_ONCE = 4;

/** Runs `judge` over `entries`, `concurrency` at a time, in order of completion. */
export async function sweep<E, V>(entries: readonly E[], judge: (entry: E) => Promise<V>, concurrency: number): Promise<V[]> {
  const results: V[] = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const index = next++;
      results[index] = await judge(entries[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, entries.length) }, worker));
  return results;
}

/** `detected at core: 30 of 41 core-level defects (73%); at full: 55 of 60 (92%)`. */
export function rates(verdicts: readonly Verdict[]): { core: number; coreOf: number; coreAll: number; full: number; fullOf: number } {
  const coreLevel = verdicts.filter((verdict) => verdict.level === 'core');
  return {
    core: coreLevel.filter((verdict) => verdict.detectedCore).length,
    coreOf: coreLevel.length,
    coreAll: verdicts.filter((verdict) => verdict.detectedCore).length,
    full: verdicts.filter((verdict) => verdict.detectedFull).length,
    fullOf: verdicts.length,
  };
}
