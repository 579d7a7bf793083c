/**
 * The conformance suite's hook checks (HOOK-1, HOOK-5), in `npm test`: each broken provider of
 * specs/fixtures/brokenProviders.ts's "hooks" section is caught by the check that must catch it;
 * the reference provider and switchboard's own provider, each with a connect hook vetoing one
 * loopback alias and a token required, pass both; without being told how to make the provider
 * close a session the checks are not applicable, and say what to pass.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { runProviderSuite, type ProviderSuiteOptions } from '../runtime/conformance/provider/index.js';
import { unreadableReason } from '../runtime/conformance/provider/hooks.js';
import { hostOfRemote, refuseFrom } from '../runtime/hooks/refuseFrom.js';
import { createProvider } from '../runtime/provider.js';
import { defineService } from '../runtime/service.js';
import { brokenProviders, TOKEN, VETOED_ADDRESS } from './fixtures/brokenProviders.js';
import { startReferenceProvider } from './fixtures/peers/referenceProvider.js';
import { judgeBrokenProvider, providerFixtureOptions } from './support/conformanceSweep.js';
import { allocatePort } from './support/ports.js';

const HOOK_CHECKS = ['provider.hooks'];
const hooked = brokenProviders.filter((entry) => entry.breaks.some((id) => id.startsWith('HOOK-')));

const statusOf = (report: Awaited<ReturnType<typeof runProviderSuite>>) =>
  Object.fromEntries(report.checks.map((check) => [check.name, `${check.status}: ${check.evidence}`]));

describe('the hook checks (HOOK-1, HOOK-5)', () => {
  it('there are broken providers for both checks', () => {
    expect(hooked.map((entry) => entry.name).sort()).toEqual(['closeWithoutReason', 'vetoIgnored', 'vetoLate', 'vetoWithoutError']);
  });

  it.concurrent.for(hooked.map((entry) => [entry.name, entry] as const))('catch %s, citing the rule it breaks', async ([, entry], { expect }) => {
    const verdict = await judgeBrokenProvider(entry, HOOK_CHECKS);
    const evidence = verdict.failing.map((check) => `${check.name} (${check.requirements.join(', ')}): ${check.evidence}`).join('\n');
    expect(verdict.detectedFull, `${entry.name}: ${entry.defect}\n${evidence}`).toBe(true);
    // No other hook check accuses it of something it does not break.
    expect(verdict.failing.filter((check) => !check.requirements.some((id) => entry.breaks.includes(id)))).toEqual([]);
  });

  it.concurrent('pass the reference provider with a veto and a token; not applicable when told nothing', async ({ expect }) => {
    const provider = await startReferenceProvider({ discoveryPort: await allocatePort(), vetoAddress: VETOED_ADDRESS, tokens: [TOKEN] });
    try {
      const told = await runProviderSuite(
        providerFixtureOptions(provider, { only: HOOK_CHECKS, token: TOKEN, authRequired: true, veto: { fromAddress: VETOED_ADDRESS } }),
      );
      expect(told.checks.map((check) => check.status), JSON.stringify(statusOf(told))).toEqual(['pass', 'pass']);
      expect(statusOf(told)['provider.hooks.closeReason']).toContain('rejected: FORBIDDEN');
      const untold = await runProviderSuite(providerFixtureOptions(provider, { only: HOOK_CHECKS, token: TOKEN }));
      // The token it holds is accepted, and the provider says so: only the veto needs telling.
      expect(statusOf(untold)['provider.hooks.veto']).toMatch(/^not-applicable: pass --expect-veto-from/);
    } finally {
      await provider.stop();
    }
  });

  describe("switchboard's own provider", () => {
    const stops: (() => Promise<void>)[] = [];
    afterAll(async () => {
      await Promise.all(stops.map((stop) => stop()));
    });

    async function hookedProvider(): Promise<ProviderSuiteOptions> {
      const port = await allocatePort();
      const service = defineService({
        name: 'Hooked',
        version: '1.0.0',
        operations: { echo: { params: z.object({ text: z.string() }), run: ({ text }) => ({ text }) } },
        // HOOK-1: this host is not welcome (what `switchboard provider --refuse-from` installs).
        hooks: { connect: refuseFrom([VETOED_ADDRESS]) },
      });
      const provider = createProvider({
        services: [service],
        host: '127.0.0.1',
        discovery: { port, broadcastAddresses: ['127.255.255.255'] },
        auth: { tokens: [TOKEN] },
        log: () => {},
      });
      const { endpoint } = await provider.start();
      stops.push(() => provider.stop());
      return { endpoint, udp: { host: '127.0.0.1', port }, level: 'full', only: HOOK_CHECKS, token: TOKEN, authRequired: true, veto: { fromAddress: VETOED_ADDRESS, code: 'FORBIDDEN' } };
    }

    it('passes both: the veto is Error FORBIDDEN then 1008, and every close says why', async () => {
      const report = await runProviderSuite(await hookedProvider());
      expect(report.checks.map((check) => check.status), JSON.stringify(statusOf(report))).toEqual(['pass', 'pass']);
      expect(statusOf(report)['provider.hooks.veto']).toContain('connections from this address are refused');
    });
  });

  it('--refuse-from: the host of a remoteAddress, IPv4-mapped IPv6 as IPv4; only the listed hosts are vetoed', () => {
    expect(hostOfRemote('127.0.0.9:41000')).toBe('127.0.0.9');
    expect(hostOfRemote('[::1]:41000')).toBe('::1');
    expect(hostOfRemote('[::ffff:127.0.0.9]:41000')).toBe('127.0.0.9');
    const connect = refuseFrom(['127.0.0.9', '[::1]']);
    const info = (remoteAddress: string) => ({ connectionId: 'c', remoteAddress, authenticated: false });
    expect(connect(info('127.0.0.9:5'))).toEqual({ accept: false, code: 'FORBIDDEN', reason: 'connections from this address are refused' });
    expect(connect(info('[::ffff:127.0.0.9]:5'))).toMatchObject({ accept: false });
    expect(connect(info('[::1]:5'))).toMatchObject({ accept: false });
    expect(connect(info('127.0.0.90:5'))).toBe(true);
    expect(connect(info('127.0.0.1:5'))).toBe(true);
  });

  it('a readable close reason: words, UTF-8, at most 123 bytes, no control characters', () => {
    expect(unreadableReason('rejected: FORBIDDEN')).toBeUndefined();
    expect(unreadableReason('fermé par le fournisseur')).toBeUndefined();
    expect(unreadableReason('')).toBe('no reason');
    expect(unreadableReason('   ')).toBe('no reason');
    expect(unreadableReason('1008')).toMatch(/without a word/);
    expect(unreadableReason('bad\u0000reason')).toMatch(/control/);
    expect(unreadableReason('é'.repeat(62))).toMatch(/124 bytes/);
  });
});
