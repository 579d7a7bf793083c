/**
 * The broken providers in `npm test`: the whole sweep (every broken peer under the whole suite,
 * specs/conformance.sweep.slow.spec.ts) takes minutes and lives in the slow tier; here a sample of
 * broken providers whose defect a quick check can see runs under just the checks that must catch
 * it, and the reference provider passes those same checks. A change that blinds one of these
 * checks, or makes it accuse a correct provider, turns `npm test` red.
 */
import { describe, expect, it } from 'vitest';
import { runProviderSuite } from '../runtime/conformance/provider/index.js';
import { brokenProviders } from './fixtures/brokenProviders.js';
import { startReferenceProvider } from './fixtures/peers/referenceProvider.js';
import { judgeBrokenProvider, providerFixtureOptions } from './support/conformanceSweep.js';
import { allocatePort } from './support/ports.js';

/** Broken provider -> the checks (by name prefix) that must catch it; each runs in well under a second. */
const SAMPLE: Readonly<Record<string, readonly string[]>> = {
  respondsToFirstClient: ['provider.discovery.reply'],
  endpointUnspecified: ['provider.discovery.endpoint'],
  duplicatePerConnection: ['provider.duplicate.otherConnection'],
  queriesAnyClient: ['provider.ownership.otherClient'],
  messageIdReused: ['provider.wire.frames'],
  rejectsUnknownFields: ['provider.wire.seedForms'],
  strictTimestamps: ['provider.wire.seedForms'],
  crashesOnMalformed: ['provider.robustness.malformedJson'],
  clientIdNotOwned: ['provider.security.takeover'],
};

const sampled = brokenProviders.filter((entry) => SAMPLE[entry.name] !== undefined);

describe('the conformance suite on a sample of broken providers (the full sweep is in the slow tier)', () => {
  it('the sample is the one named here', () => {
    expect(sampled.map((entry) => entry.name).sort()).toEqual(Object.keys(SAMPLE).sort());
  });

  it.concurrent.for(sampled.map((entry) => [entry.name, entry] as const))('catches %s, citing a rule it breaks, at its level', async ([, entry], { expect }) => {
    const verdict = await judgeBrokenProvider(entry, SAMPLE[entry.name]);
    const evidence = verdict.failing.map((check) => `${check.name} (${check.requirements.join(', ')}): ${check.evidence}`).join('\n');
    expect(verdict.detectedFull, `${entry.name}: ${entry.defect}\n${evidence}`).toBe(true);
    if (entry.level === 'core') expect(verdict.detectedCore, evidence).toBe(true);
  });

  it.concurrent('passes the reference provider on those checks (no false alarm)', async ({ expect }) => {
    const provider = await startReferenceProvider({ discoveryPort: await allocatePort() });
    try {
      const report = await runProviderSuite(providerFixtureOptions(provider, { only: [...new Set(Object.values(SAMPLE).flat())] }));
      const failing = report.checks.filter((check) => check.status !== 'pass');
      expect(failing.map((check) => `${check.name} ${check.status}: ${check.evidence}`)).toEqual([]);
      expect(report.checks.length).toBeGreaterThanOrEqual(new Set(Object.values(SAMPLE).flat()).size);
    } finally {
      await provider.stop();
    }
  });
});
