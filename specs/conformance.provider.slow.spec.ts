/**
 * The provider conformance suite (runtime/conformance/provider/), run for real on loopback:
 * against switchboard's own provider (createProvider, levels core and full: no failure), against
 * a provider written from the seed alone (level core passes), and against four deliberately broken
 * providers (specs/fixtures/broken/), each of which must fail the check that cites the rule it
 * breaks. The `switchboard conformance provider` command is run as a child process too.
 *
 * Loopback only: WebSocket servers on 127.0.0.1, discovery on ports of this file's own
 * (broadcast 127.255.255.255). Every wait is bounded; the children are killed by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { runProviderSuite, type ProviderSuiteOptions } from '../runtime/conformance/provider/index.js';
import { escapeXml, renderJson, renderJUnit, renderTable } from '../runtime/conformance/report.js';
import { runChecks, selectChecks } from '../runtime/conformance/runner.js';
import { fail, notApplicable, pass, type Check, type SuiteReport } from '../runtime/conformance/types.js';
import { createProvider, defineService, type Provider } from '../runtime/index.js';
import { startCrashesOnMalformed } from './fixtures/broken/crashesOnMalformed.js';
import { startDuplicateExecutor } from './fixtures/broken/duplicateExecutor.js';
import { startNeverAcks } from './fixtures/broken/neverAcks.js';
import { startProgressBackwards } from './fixtures/broken/progressBackwards.js';
import { startSeedProvider, type RunningProvider } from './fixtures/broken/seedProvider.js';
import { allocatePorts } from './support/ports.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'switchboard.js');
const PORT_LIST = await allocatePorts(6);
const portAt = (index: number): number => PORT_LIST[index]!;
const PORTS = { real: portAt(0), seed: portAt(1), duplicate: portAt(2), neverAcks: portAt(3), backwards: portAt(4), crasher: portAt(5) };
const TOKEN = 'conformance-spec-token';
const NETWORK_TEST_MS = 60_000;

/** The quick and the slow operation the suite is pointed at. */
const conformanceService = defineService({
  name: 'ConformanceTest',
  version: '1.0.0',
  operations: {
    quick: {
      params: z.object({ text: z.string().default('hello') }),
      run: async ({ text }, ctx) => {
        ctx.progress(50, 'halfway');
        return { text };
      },
    },
    slow: {
      params: z.object({ ms: z.number().int().min(100).max(10_000).default(1_000) }),
      run: async ({ ms }, ctx) => {
        for (let step = 1; step <= 10; step++) {
          await delay(ms / 10, undefined, { signal: ctx.signal });
          ctx.progress(step * 10);
        }
        return { sleptMs: ms };
      },
    },
  },
});

let real: Provider;
let realEndpoint: string;
const fixtures: Record<'seed' | 'duplicate' | 'neverAcks' | 'backwards' | 'crasher', RunningProvider> = {} as never;
const children = new Set<ChildProcess>();
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'switchboard-conformance-'));
  real = createProvider({
    services: [conformanceService],
    host: '127.0.0.1',
    discovery: { port: PORTS.real, broadcastAddresses: ['127.255.255.255'] },
    heartbeatIntervalMs: 1_000,
    session: { pingIntervalMs: 1_000, pongTimeoutMs: 2_000, rateLimit: { messagesMax: 100, windowMs: 1_000 } },
    auth: { tokens: [TOKEN] },
  });
  realEndpoint = (await real.start()).endpoint;
  fixtures.seed = await startSeedProvider({ discoveryPort: PORTS.seed });
  fixtures.duplicate = await startDuplicateExecutor(PORTS.duplicate);
  fixtures.neverAcks = await startNeverAcks(PORTS.neverAcks);
  fixtures.backwards = await startProgressBackwards(PORTS.backwards);
  fixtures.crasher = await startCrashesOnMalformed(PORTS.crasher);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  await Promise.all([real?.stop(), ...Object.values(fixtures).map((fixture) => fixture.stop())]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const realOptions = (level: 'core' | 'full'): ProviderSuiteOptions => ({
  endpoint: realEndpoint,
  udp: { host: '127.0.0.1', port: PORTS.real },
  service: 'ConformanceTest',
  operation: 'quick',
  slowOperation: 'slow',
  token: TOKEN,
  level,
});

/** Options for a fixture: discovery picks SeedService.echo; sleep is the slow operation. */
const fixtureOptions = (fixture: RunningProvider, extra: Partial<ProviderSuiteOptions> = {}): ProviderSuiteOptions => ({
  endpoint: fixture.endpoint,
  udp: { host: '127.0.0.1', port: fixture.discoveryPort },
  slowOperation: 'sleep',
  slowParams: { ms: 1_000 },
  level: 'core',
  ...extra,
});

const failing = (report: SuiteReport) => report.checks.filter((check) => check.status === 'fail');
const describeFailures = (report: SuiteReport) => failing(report).map((check) => `${check.name}: ${check.evidence}`).join('\n');

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `switchboard ...` as a child process, killed by pid after `timeoutMs`. */
function cli(args: readonly string[], timeoutMs = 45_000): Promise<Exit> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SWITCHBOARD_')));
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
}

const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;

describe('runner', () => {
  const check = (name: string, level: 'core' | 'full', run: Check<null>['run'], extra: Partial<Check<null>> = {}): Check<null> => ({
    name,
    requirements: ['TASK-1'],
    level,
    title: name,
    run,
    ...extra,
  });

  it('turns a throw into a fail with the error as evidence, and a hung check into a timed-out fail; the run goes on', async () => {
    const cleaned: string[] = [];
    const report = await runChecks(
      [
        check('a.throws', 'core', async () => {
          throw new Error('boom');
        }),
        check('a.hangs', 'core', () => new Promise(() => {}), { timeoutMs: 50 }),
        check('a.garbage', 'core', async () => 'not a result' as never),
        check('a.passes', 'core', async () => pass('fine')),
      ],
      null,
      { suite: 'provider', target: 'nowhere', level: 'core', afterEach: (done) => void cleaned.push(done.name) },
    );
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['a.throws', 'fail'],
      ['a.hangs', 'fail'],
      ['a.garbage', 'fail'],
      ['a.passes', 'pass'],
    ]);
    expect(report.checks[0]!.evidence).toContain('boom');
    expect(report.checks[1]!.evidence).toContain('timed out');
    expect(cleaned).toEqual(['a.throws', 'a.hangs', 'a.garbage', 'a.passes']);
    expect([report.passed, report.failed, report.notApplicable]).toEqual([1, 3, 0]);
  });

  it('runs core checks at level core, all at level full, and filters by name prefix or requirement id', () => {
    const checks = [
      check('x.one', 'core', async () => pass('')),
      check('x.two', 'full', async () => notApplicable(''), { requirements: ['SEC-7'] }),
      check('y.three', 'core', async () => fail('')),
    ];
    expect(selectChecks(checks, 'core').map((c) => c.name)).toEqual(['x.one', 'y.three']);
    expect(selectChecks(checks, 'full').map((c) => c.name)).toEqual(['x.one', 'x.two', 'y.three']);
    expect(selectChecks(checks, 'full', ['x.']).map((c) => c.name)).toEqual(['x.one', 'x.two']);
    expect(selectChecks(checks, 'full', ['sec-7']).map((c) => c.name)).toEqual(['x.two']);
    expect(() => selectChecks([...checks, checks[0]!], 'core')).toThrow(TypeError);
  });
});

describe('report', () => {
  const report: SuiteReport = {
    suite: 'provider',
    target: 'ws://127.0.0.1:1 <&>',
    level: 'full',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1_234,
    checks: [
      { name: 'provider.a.one', requirements: ['DISC-3'], level: 'core', title: 'one', status: 'pass', evidence: 'ok', durationMs: 5 },
      { name: 'provider.a.two', requirements: ['TASK-4', 'TASK-10'], level: 'core', title: 'two "quoted"', status: 'fail', evidence: `bad <tag> & 'x' \u0001 ${'e'.repeat(200)}`, durationMs: 7 },
      { name: 'provider.b.three', requirements: ['DISC-7'], level: 'full', title: 'three', status: 'not-applicable', evidence: 'not here', durationMs: 0 },
    ],
    passed: 1,
    failed: 1,
    notApplicable: 1,
  };

  it('renders JUnit XML: one testcase per check, failure for fail, skipped for not applicable, escaped', () => {
    const xml = renderJUnit(report);
    expect(count(xml, /<testcase /g)).toBe(3);
    expect(count(xml, /<failure /g)).toBe(1);
    expect(count(xml, /<skipped /g)).toBe(1);
    expect(xml).toContain('<testsuite name="switchboard.conformance.provider.full" tests="3" failures="1" errors="0" skipped="1"');
    expect(xml).toContain('bad &lt;tag&gt; &amp; &apos;x&apos; \uFFFD');
    expect(xml).not.toMatch(/[\u0000-\u0008]/);
    expect(escapeXml('a<b>&"\'')).toBe('a&lt;b&gt;&amp;&quot;&apos;');
  });

  it('renders a table with status, ids, title and truncated evidence, then the failures in full; JSON round-trips', () => {
    const table = renderTable(report);
    expect(table).toContain('FAIL    TASK-4,TASK-10');
    expect(table).toContain('n/a');
    expect(table).toContain('…');
    expect(table).toContain('1 passed, 1 failed, 1 not applicable');
    expect(table).toContain(`provider.a.two (TASK-4, TASK-10): bad <tag>`);
    expect(JSON.parse(renderJson(report))).toEqual(report);
  });
});

describe.concurrent('provider suite on loopback', () => {
  it('TASK-2, TASK-3: fails the first-answer check of a provider that never acknowledges', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const report = await runProviderSuite(fixtureOptions(fixtures.neverAcks));
    expect(failing(report).map((check) => check.name), describeFailures(report)).toEqual(['provider.assign.firstAnswer']);
    expect(failing(report)[0]!.requirements).toEqual(['TASK-2', 'TASK-3']);
  });

  it('CLI: exits 0 with a JUnit report at level full against switchboard\'s provider', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const output = path.join(tmp, 'provider.xml');
    const args = ['conformance', 'provider', realEndpoint, '--udp', `127.0.0.1:${PORTS.real}`, '--service', 'ConformanceTest', '--operation', 'quick'];
    const result = await cli([...args, '--slow-operation', 'slow', '--slow-params-json', '{"ms":1000}', '--token', TOKEN, '--level', 'full', '--format', 'junit', '--output', output]);
    const xml = await readFile(output, 'utf8');
    expect(result.code, `${result.stdout}\n${result.stderr}\n${xml}`).toBe(0);
    expect(result.stdout).toMatch(/\d+ checks: \d+ passed, 0 failed/);
    const testcases = count(xml, /<testcase /g);
    expect(testcases).toBeGreaterThanOrEqual(40);
    expect(count(xml, /<failure /g)).toBe(0);
    expect(xml).toContain(`tests="${testcases}" failures="0" errors="0" skipped="${count(xml, /<skipped /g)}"`);
  });

  it('passes level full against switchboard\'s own provider with no failure', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const report = await runProviderSuite(realOptions('full'));
    expect(report.failed, describeFailures(report)).toBe(0);
    expect(report.checks.length).toBeGreaterThanOrEqual(40);
    expect(report.passed).toBeGreaterThanOrEqual(38);
    expect(report.checks.every((check) => check.requirements.length > 0)).toBe(true);
  });

  it('passes level core against switchboard\'s own provider with no failure', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const report = await runProviderSuite(realOptions('core'));
    expect(report.failed, describeFailures(report)).toBe(0);
    expect(report.checks.every((check) => check.level === 'core')).toBe(true);
    expect(report.checks.length).toBeGreaterThanOrEqual(20);
  });

  it('passes level core against a provider written from the seed alone (core asks only what the seed asks)', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const report = await runProviderSuite(fixtureOptions(fixtures.seed));
    expect(report.failed, describeFailures(report)).toBe(0);
    expect(report.passed).toBeGreaterThanOrEqual(20);
  });

  it('fails the seed-only provider on full checks for extensions it lacks, and skips optional ones', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const only = ['provider.assign.ack', 'provider.discovery.heartbeatInterval', 'provider.assign.unknownOperationCode', 'provider.auth.authenticate', 'provider.discovery.goodbye'];
    const report = await runProviderSuite(fixtureOptions(fixtures.seed, { level: 'full', only }));
    const status = Object.fromEntries(report.checks.map((check) => [check.name, check.status]));
    expect(status).toEqual({
      'provider.discovery.heartbeatInterval': 'fail',
      'provider.discovery.goodbye': 'not-applicable',
      'provider.assign.ack': 'fail',
      'provider.assign.unknownOperationCode': 'fail',
      'provider.auth.authenticate': 'not-applicable',
    });
  });

  it('TASK-4: fails the at-most-once check of a provider that executes a duplicate AssignTask again', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const report = await runProviderSuite(fixtureOptions(fixtures.duplicate));
    expect(failing(report).map((check) => check.name), describeFailures(report)).toEqual(['provider.duplicate.atMostOnce']);
    expect(failing(report)[0]!.requirements).toContain('TASK-4');
    expect(failing(report)[0]!.evidence).toContain('executed again');
    expect(Math.max(...fixtures.duplicate.executions.values())).toBeGreaterThan(1);
  });

  it('TASK-9: fails the progress check of a provider whose progress goes backwards', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const report = await runProviderSuite(fixtureOptions(fixtures.backwards));
    expect(failing(report).map((check) => check.name), describeFailures(report)).toEqual(['provider.assign.progress']);
    expect(failing(report)[0]!.requirements).toEqual(['TASK-9']);
    expect(failing(report)[0]!.evidence).toContain('from 60 to 30');
  });

  it('WIRE-8, SEC-9: fails the malformed-input check of a provider that crashes on it', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const report = await runProviderSuite(fixtureOptions(fixtures.crasher));
    const failed = failing(report);
    expect(failed[0]?.name, describeFailures(report)).toBe('provider.robustness.malformedJson');
    expect(failed[0]!.requirements).toEqual(expect.arrayContaining(['WIRE-8', 'SEC-9']));
    // Every check before the crash passed; what fails after it fails because the provider is gone.
    expect(failed.every((check) => check.name.startsWith('provider.robustness.'))).toBe(true);
  });

  it('CLI: exits 1 with a JSON report naming TASK-4 against the duplicate executor', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const fixture = fixtures.duplicate;
    const result = await cli(['conformance', 'provider', fixture.endpoint, '--udp', `127.0.0.1:${fixture.discoveryPort}`, '--check', 'TASK-4', '--format', 'json']);
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as SuiteReport;
    expect(report.suite).toBe('provider');
    expect(report.checks.every((check) => check.requirements.includes('TASK-4'))).toBe(true);
    expect(report.checks.find((check) => check.name === 'provider.duplicate.atMostOnce')?.status).toBe('fail');
  });

  it('CLI: exits 2 on usage errors, before anything is sent', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const [scheme, level, params] = await Promise.all([
      cli(['conformance', 'provider', 'http://127.0.0.1:1']),
      cli(['conformance', 'provider', 'ws://127.0.0.1:1', '--level', 'extreme']),
      cli(['conformance', 'provider', 'ws://127.0.0.1:1', '--params-json', '{not json']),
    ]);
    expect([scheme.code, level.code, params.code]).toEqual([2, 2, 2]);
    expect(scheme.stderr).toContain('ws:// or wss://');
    expect(params.stderr).toContain('--params-json');
  });
});
