/**
 * The security checks of the provider suite (runtime/conformance/provider/security.ts), run for
 * real on loopback: switchboard's provider, configured with an ACL and known limits, passes all of
 * them; the provider written from the seed alone (no identity, no deadlines) fails the takeover
 * check and the limit checks it is told to expect; without expectations those checks are not
 * applicable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { runProviderSuite, type ProviderSuiteOptions } from '../runtime/conformance/provider/index.js';
import { createProvider, defineService, parseAcl, type Provider } from '../runtime/index.js';
import { startSeedOnlyProvider, type RunningSeedProvider } from './fixtures/peers/seedOnlyProvider.js';
import { allocatePort } from './support/ports.js';

const service = defineService({
  name: 'Guarded',
  version: '1.0.0',
  operations: {
    quick: { params: z.object({ text: z.string().default('hi') }), run: ({ text }) => ({ text }) },
    secret: { params: z.object({}), run: () => ({ secret: 42 }) },
  },
});

const LIMITS = { firstMessageTimeoutMs: 800, upgradeTimeoutMs: 600, connectionsPerAddressMax: 4 };

let provider: Provider;
let endpoint: string;
let discoveryPort: number;
let seed: RunningSeedProvider;

beforeAll(async () => {
  discoveryPort = await allocatePort();
  provider = createProvider({
    services: [service],
    host: '127.0.0.1',
    discovery: { port: discoveryPort, broadcastAddresses: ['127.255.255.255'] },
    heartbeatIntervalMs: 1_000,
    acl: parseAcl({ default: 'allow', rules: [{ effect: 'deny', who: ['anonymous'], operations: ['secret'] }] }),
    session: { firstMessageTimeoutMs: LIMITS.firstMessageTimeoutMs },
    server: { upgradeTimeoutMs: LIMITS.upgradeTimeoutMs, connectionsPerAddressMax: LIMITS.connectionsPerAddressMax },
  });
  ({ endpoint } = await provider.start());
  seed = await startSeedOnlyProvider({ discoveryPort: await allocatePort(), dialect: 'seed' });
});

afterAll(async () => {
  await Promise.all([provider?.stop(), seed?.stop()]);
});

const byName = (report: Awaited<ReturnType<typeof runProviderSuite>>) => Object.fromEntries(report.checks.map((check) => [check.name, check]));

describe('the provider suite: security checks (SEC-4, SEC-10, SEC-14, SEC-15)', () => {
  it("switchboard's provider passes each one it is told to expect", async () => {
    const options: ProviderSuiteOptions = {
      endpoint,
      udp: { host: '127.0.0.1', port: discoveryPort },
      service: 'Guarded',
      operation: 'quick',
      level: 'full',
      only: ['provider.security'],
      security: { forbiddenOperation: 'secret', ...LIMITS },
    };
    const report = await runProviderSuite(options);
    const checks = byName(report);
    for (const name of ['takeover', 'aclRefusal', 'firstMessageDeadline', 'upgradeDeadline', 'connectionsPerAddress']) {
      expect(checks[`provider.security.${name}`], name).toMatchObject({ status: 'pass' });
    }
    expect(report.failed).toBe(0);
  }, 60_000);

  it('without expectations the ACL and limit checks are not applicable', async () => {
    const report = await runProviderSuite({ endpoint, udp: { host: '127.0.0.1', port: discoveryPort }, service: 'Guarded', operation: 'quick', level: 'full', only: ['provider.security'] });
    const checks = byName(report);
    for (const name of ['aclRefusal', 'firstMessageDeadline', 'upgradeDeadline', 'connectionsPerAddress']) {
      expect(checks[`provider.security.${name}`]?.status, name).toBe('not-applicable');
    }
  }, 60_000);

  it('a provider written from the seed alone fails the takeover check, and the limits it lacks', async () => {
    const report = await runProviderSuite({
      endpoint: seed.endpoint,
      udp: { host: '127.0.0.1', port: seed.discoveryPort },
      level: 'full',
      only: ['provider.security'],
      timing: { answerMs: 500 },
      security: { firstMessageTimeoutMs: 500, connectionsPerAddressMax: 3 },
    });
    const checks = byName(report);
    expect(checks['provider.security.takeover']?.status).toBe('fail');
    expect(checks['provider.security.firstMessageDeadline']?.status).toBe('fail');
    expect(checks['provider.security.connectionsPerAddress']?.status).toBe('fail');
  }, 60_000);
});
