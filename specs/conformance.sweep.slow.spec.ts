/**
 * The conformance suite measured like a test suite (slow tier, about 3.5 minutes): the independent
 * reference provider and client pass level full with no failure; then every broken provider and
 * broken client of specs/fixtures runs under the suite at level full. It must catch at least 95%
 * at level full, and every defect of a core rule at level core; and a check that fails on its own
 * (not as a knock-on of another) must cite a requirement the defect breaks: the suite accuses no
 * one wrongly. The figures of docs/conformance.md ("How good is the suite") come from this sweep
 * (`node --import tsx specs/tools/conformance-sweep.ts` prints them as a table).
 */
import { describe, expect, it } from 'vitest';
import { runClientSuite } from '../runtime/conformance/client/index.js';
import { runProviderSuite } from '../runtime/conformance/provider/index.js';
import type { SuiteReport } from '../runtime/conformance/types.js';
import { brokenClients } from './fixtures/brokenClients.js';
import { brokenProviders } from './fixtures/brokenProviders.js';
import { startReferenceProvider } from './fixtures/peers/referenceProvider.js';
import {
  brokenClientCommand,
  CLIENTS_AT_ONCE,
  judgeBrokenClient,
  judgeBrokenProvider,
  providerFixtureOptions,
  PROVIDERS_AT_ONCE,
  rates,
  REFERENCE_CLIENT_TIMINGS,
  ROOT,
  sweep,
  type Verdict,
} from './support/conformanceSweep.js';
import { allocatePort } from './support/ports.js';

const explain = (report: SuiteReport) => report.checks.filter((check) => check.status === 'fail').map((check) => `${check.name}: ${check.evidence}`).join('\n');
const table = (verdicts: readonly Verdict[]) =>
  verdicts.map((verdict) => `${verdict.detectedCore ? 'C' : '-'}${verdict.detectedFull ? 'F' : '-'} ${verdict.level} ${verdict.name} [${verdict.breaks.join(',')}]: ${verdict.failing.map((check) => check.name).join(', ')}`).join('\n');

/** Root failures (not knock-ons) that cite none of the requirements the defect breaks. */
const wrongAccusations = (verdicts: readonly Verdict[]) =>
  verdicts.flatMap((verdict) =>
    verdict.failing
      .filter((check) => check.rootCause === undefined && !check.requirements.some((id) => verdict.breaks.includes(id)))
      .map((check) => `${verdict.name} (${verdict.breaks.join(', ')}) accused by ${check.name} (${check.requirements.join(', ')}): ${check.evidence}`),
  );

function judge(verdicts: readonly Verdict[]): void {
  const figures = rates(verdicts);
  expect(figures.full / figures.fullOf, table(verdicts)).toBeGreaterThanOrEqual(0.95);
  expect(figures.core, table(verdicts)).toBe(figures.coreOf);
  expect(wrongAccusations(verdicts)).toEqual([]);
}

describe.concurrent('the suite measured on independent peers', () => {
  it('passes the reference provider at level full with no failure', { timeout: 120_000 }, async ({ expect }) => {
    const provider = await startReferenceProvider({ discoveryPort: await allocatePort() });
    try {
      const report = await runProviderSuite(providerFixtureOptions(provider));
      expect(report.failed, explain(report)).toBe(0);
    } finally {
      await provider.stop();
    }
  });

  it('passes the reference client at level full with no failure', { timeout: 120_000 }, async ({ expect }) => {
    const report = await runClientSuite({ command: brokenClientCommand('reference'), level: 'full', discoveryPort: await allocatePort(), cwd: ROOT, timings: REFERENCE_CLIENT_TIMINGS });
    expect(report.failed, explain(report)).toBe(0);
    expect(report.notApplicable, explain(report)).toBe(0);
  });

  it(`catches the ${brokenProviders.length} broken providers, and accuses none wrongly`, { timeout: 900_000 }, async () => {
    judge(await sweep(brokenProviders, (entry) => judgeBrokenProvider(entry), PROVIDERS_AT_ONCE));
  });

  it(`catches the ${brokenClients.length} broken clients, and accuses none wrongly`, { timeout: 900_000 }, async () => {
    judge(await sweep(brokenClients, judgeBrokenClient, CLIENTS_AT_ONCE));
  });
});
