/**
 * The provider suite: black-box checks over a provider's real UDP discovery and WebSocket
 * endpoints, each citing the requirement ids of docs/protocol.md it verifies.
 *
 * ```ts
 * const report = await runProviderSuite({ endpoint: 'ws://127.0.0.1:8080', udp: { host: '127.0.0.1', port: 50001 }, level: 'core' });
 * console.log(renderTable(report));
 * ```
 *
 * Order matters only for robustness: those checks run last, so a provider that crashes on bad
 * input has been judged on everything else first.
 */
import { runChecks } from '../runner.js';
import type { Check, CheckReport, SuiteReport } from '../types.js';
import { cancelChecks } from './cancel.js';
import { discoveryChecks } from './discovery.js';
import { eventChecks } from './events.js';
import { extensionChecks } from './extensions.js';
import { fileChecks } from './files.js';
import { formChecks } from './forms.js';
import { hookChecks } from './hooks.js';
import { wireChecks } from './frames.js';
import { limitChecks } from './limits.js';
import { livenessChecks } from './liveness.js';
import type { ProviderSuiteOptions } from './options.js';
import { ownershipChecks } from './ownership.js';
import { ProviderProbe } from './probe.js';
import { queryChecks } from './query.js';
import { refusalChecks } from './refusals.js';
import { robustnessChecks } from './robustness.js';
import { securityChecks } from './security.js';
import { signedDiscoveryChecks } from './signedDiscovery.js';
import { taskChecks } from './tasks.js';

export { ProviderProbe } from './probe.js';
export type { ProviderSuiteOptions, ProviderTiming, TaskChoice, UdpAddress } from './options.js';
export type { SecurityExpectations } from './security.js';
export type { VetoExpectation } from './hooks.js';
export type { Selection } from './selection.js';

/** Every provider check, in the order they run. */
export const providerChecks: readonly Check<ProviderProbe>[] = [
  ...discoveryChecks,
  ...signedDiscoveryChecks,
  ...taskChecks,
  ...refusalChecks,
  ...formChecks,
  ...wireChecks,
  ...queryChecks,
  ...cancelChecks,
  ...ownershipChecks,
  ...livenessChecks,
  ...extensionChecks,
  ...eventChecks,
  ...fileChecks,
  ...securityChecks,
  ...limitChecks,
  ...hookChecks,
  ...robustnessChecks,
];

export interface ProviderSuiteHooks {
  /** Told each check's report as soon as it is known. */
  readonly onReport?: (report: CheckReport) => void;
}

/** Runs the provider suite; resolves with the report (never rejects for a failing provider). */
export async function runProviderSuite(options: ProviderSuiteOptions, hooks: ProviderSuiteHooks = {}): Promise<SuiteReport> {
  const probe = new ProviderProbe(options);
  await probe.start();
  try {
    return await runChecks(providerChecks, probe, {
      suite: 'provider',
      target: options.endpoint,
      level: options.level ?? 'core',
      ...(options.only === undefined ? {} : { only: options.only }),
      afterEach: () => probe.closeConnections(),
      ...(hooks.onReport === undefined ? {} : { onReport: hooks.onReport }),
    });
  } finally {
    probe.close();
  }
}
