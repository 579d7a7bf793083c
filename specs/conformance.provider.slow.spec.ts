/**
 * The provider conformance suite (runtime/conformance/provider/), run for real on loopback:
 * against switchboard's own provider (createProvider, level core in process and level full through
 * the CLI: no failure), and against a selection of the broken providers (specs/fixtures/brokenProviders.ts),
 * one per class of defect the suite used to miss, each of which must fail the check citing the
 * rule it breaks and name what broke. The independent reference provider (no failure), the whole
 * sweep of broken providers, the seed-only peers and the demo with only an endpoint are in the slow
 * tier (conformance.*.slow.spec.ts). The
 * `switchboard conformance provider` command is run as a child process too.
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
import { rateLimitOption } from '../runtime/cli/conformance.js';
import { runProviderSuite, type ProviderSuiteOptions } from '../runtime/conformance/provider/index.js';
import { escapeXml, renderJson, renderJUnit, renderTable } from '../runtime/conformance/report.js';
import { runChecks, selectChecks } from '../runtime/conformance/runner.js';
import { Blocked, fail, notApplicable, pass, type Check, type SuiteReport } from '../runtime/conformance/types.js';
import { createProvider, defineService, type Provider } from '../runtime/index.js';
import { brokenProviders } from './fixtures/brokenProviders.js';
import { startReferenceProvider } from './fixtures/peers/referenceProvider.js';
import { judgeBrokenProvider } from './support/conformanceSweep.js';
import { allocatePort } from './support/ports.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'switchboard.js');
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
let realPort: number;
const children = new Set<ChildProcess>();
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'switchboard-conformance-'));
  realPort = await allocatePort();
  real = createProvider({
    services: [conformanceService],
    host: '127.0.0.1',
    discovery: { port: realPort, broadcastAddresses: ['127.255.255.255'] },
    heartbeatIntervalMs: 1_000,
    session: { pingIntervalMs: 1_000, pongTimeoutMs: 2_000, rateLimit: { messagesMax: 100, windowMs: 1_000 } },
    auth: { tokens: [TOKEN] },
  });
  realEndpoint = (await real.start()).endpoint;
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  await real?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const realOptions = (level: 'core' | 'full'): ProviderSuiteOptions => ({
  endpoint: realEndpoint,
  udp: { host: '127.0.0.1', port: realPort },
  service: 'ConformanceTest',
  operation: 'quick',
  slowOperation: 'slow',
  slowParams: { ms: 1_500 },
  token: TOKEN,
  authRequired: true,
  rateLimit: { messagesMax: 100, windowMs: 1_000 },
  level,
});


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

describe('root causes and the seed\'s words', () => {
  const check = (name: string, run: Check<null>['run'], extra: Partial<Check<null>> = {}): Check<null> => ({ name, requirements: ['TASK-10'], level: 'core', title: name, run, ...extra });

  it('a check that throws Blocked is reported with its root cause, and a Blocked not-applicable stays not applicable', async () => {
    const report = await runChecks(
      [
        check('x.root', async () => fail('the test task never ends')),
        check('x.knockOn', async () => {
          throw new Blocked('x.root', 'needs the test task');
        }),
        check('x.skipped', async () => {
          throw new Blocked('x.root', 'needs a slow operation', 'not-applicable');
        }),
      ],
      null,
      { suite: 'provider', target: 'nowhere', level: 'core' },
    );
    expect(report.checks.map((c) => [c.name, c.status, c.rootCause])).toEqual([
      ['x.root', 'fail', undefined],
      ['x.knockOn', 'fail', 'x.root'],
      ['x.skipped', 'not-applicable', 'x.root'],
    ]);
    expect(report.checks[1]!.evidence).toBe('needs the test task (see x.root)');
  });

  it('the table lists root failures with the seed sentence they depart from, knock-ons apart', async () => {
    const report = await runChecks(
      [
        check('x.root', async () => fail('no envelope'), { seed: 'All JSON messages exchanged over WebSockets should include: type' }),
        check('x.knockOn', async () => {
          throw new Blocked('x.root', 'cannot judge');
        }),
      ],
      null,
      { suite: 'provider', target: 'nowhere', level: 'core' },
    );
    const table = renderTable(report);
    expect(table).toContain('x.root (TASK-10): no envelope\n    the seed: "All JSON messages exchanged over WebSockets should include: type"');
    expect(table).toContain('Knock-on failures');
    expect(table).toContain('x.knockOn (TASK-10) follows from x.root: cannot judge (see x.root)');
    expect(renderJUnit(report)).toContain('<property name="rootCause" value="x.root"/>');
  });

  it('--rate-limit reads <messages>/<ms>', () => {
    expect(rateLimitOption('100/1000')).toEqual({ messagesMax: 100, windowMs: 1_000 });
    expect(rateLimitOption(' 5 / 250ms ')).toEqual({ messagesMax: 5, windowMs: 250 });
    expect(() => rateLimitOption('100')).toThrow(/messages/);
    expect(() => rateLimitOption('0/1000')).toThrow();
  });
});

const failing = (report: SuiteReport) => report.checks.filter((check) => check.status === 'fail');
const describeFailures = (report: SuiteReport) => failing(report).map((check) => `${check.name}${check.rootCause ? ` (from ${check.rootCause})` : ''}: ${check.evidence}`).join('\n');

/** One broken provider per class of defect the suite used to miss, run through only the checks of that class. */
const CLASSES: readonly { readonly name: string; readonly only: readonly string[]; readonly root: string; readonly evidence: RegExp }[] = [
  { name: 'duplicatePerConnection', only: ['provider.duplicate'], root: 'provider.duplicate.otherConnection', evidence: /second connection.*executed again/ },
  { name: 'ledgerByTaskIdOnly', only: ['provider.ownership.sameTaskId'], root: 'provider.ownership.sameTaskId', evidence: /B got A's final message/ },
  { name: 'queriesAnyClient', only: ['provider.ownership.otherClient'], root: 'provider.ownership.otherClient', evidence: /client A's task/ },
  { name: 'statusSilentWhileRunning', only: ['provider.query.whileRunning'], root: 'provider.query.whileRunning', evidence: /expected 8 answers/ },
  { name: 'statusClaimsCompleted', only: ['provider.query.whileRunning'], root: 'provider.query.whileRunning', evidence: /still running/ },
  { name: 'resultAfterCancel', only: ['provider.cancel'], root: 'provider.cancel.nothingAfter', evidence: /TaskResult.*after the Cancelled/ },
  { name: 'cancelAnsweredAtEnd', only: ['provider.cancel.running'], root: 'provider.cancel.running', evidence: /was not stopped/ },
  { name: 'endpointUnspecified', only: ['provider.discovery.endpoint'], root: 'provider.discovery.endpoint', evidence: /unspecified address 0\.0\.0\.0/ },
  { name: 'rejectsUnknownFields', only: ['provider.wire.seedForms'], root: 'provider.wire.seedForms', evidence: /acknowledgmentId.*INVALID_MESSAGE/ },
  { name: 'requiresTaskParameters', only: ['provider.wire.liberalInput'], root: 'provider.wire.liberalInput', evidence: /without taskParameters/ },
  { name: 'rateLimitNotEnforced', only: ['provider.session.rateLimit'], root: 'provider.session.rateLimit', evidence: /configured limit, says --rate-limit/ },
  { name: 'authNotEnforced', only: ['provider.auth.required'], root: 'provider.auth.required', evidence: /authentication is configured/ },
];

describe.concurrent('provider suite on loopback', () => {
  it('passes level core against switchboard\'s own provider with no failure', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const report = await runProviderSuite(realOptions('core'));
    expect(report.failed, describeFailures(report)).toBe(0);
    expect(report.checks.every((check) => check.level === 'core')).toBe(true);
    expect(report.checks.length).toBeGreaterThanOrEqual(30);
  });

  for (const { name, only, root, evidence } of CLASSES) {
    const entry = brokenProviders.find((candidate) => candidate.name === name)!;
    it(`${entry.breaks.join(', ')}: catches ${name} (${entry.defect}) with ${root}`, { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
      const verdict = await judgeBrokenProvider(entry, only);
      expect(verdict.failing.filter((check) => check.rootCause === undefined).map((check) => check.name), verdict.failing.map((check) => `${check.name}: ${check.evidence}`).join('\n')).toEqual([root]);
      expect(verdict.failing[0]!.evidence).toMatch(evidence);
      expect(verdict.failing[0]!.requirements.some((id) => entry.breaks.includes(id))).toBe(true);
    });
  }

  it('WIRE-9, SEC-9: names the input that stopped a provider, and marks every later robustness failure as a knock-on', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const entry = brokenProviders.find((candidate) => candidate.name === 'crashesOnMalformed')!;
    const verdict = await judgeBrokenProvider(entry, ['provider.robustness']);
    const [root, ...rest] = verdict.failing;
    expect(root?.name, verdict.failing.map((check) => `${check.name}: ${check.evidence}`).join('\n')).toBe('provider.robustness.malformedJson');
    expect(root!.evidence).toMatch(/stopped answering after the input "\{\\"type\\": \\"AssignTask\\", \\"messageId\\": "/);
    expect(rest.length).toBeGreaterThan(0);
    expect(rest.every((check) => check.rootCause === 'provider.robustness.malformedJson')).toBe(true);
  });

  it('CLI: exits 0 with a JUnit report at level full against switchboard\'s provider', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const output = path.join(tmp, 'provider.xml');
    const args = ['conformance', 'provider', realEndpoint, '--udp', `127.0.0.1:${realPort}`, '--service', 'ConformanceTest', '--operation', 'quick'];
    const told = ['--auth-required', '--rate-limit', '100/1000'];
    const result = await cli([...args, '--slow-operation', 'slow', '--slow-params-json', '{"ms":1500}', '--token', TOKEN, ...told, '--level', 'full', '--format', 'junit', '--output', output]);
    const xml = await readFile(output, 'utf8');
    expect(result.code, `${result.stdout}\n${result.stderr}\n${xml}`).toBe(0);
    expect(result.stdout).toMatch(/\d+ checks: \d+ passed, 0 failed/);
    const testcases = count(xml, /<testcase /g);
    expect(testcases).toBeGreaterThanOrEqual(55);
    expect(count(xml, /<failure /g)).toBe(0);
    expect(xml).toContain(`tests="${testcases}" failures="0" errors="0" skipped="${count(xml, /<skipped /g)}"`);
  });

  it('CLI: exits 1 with a JSON report naming TASK-4 against a provider that runs duplicates again', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const provider = await startReferenceProvider({ discoveryPort: await allocatePort(), faults: { dedupe: 'none' } });
    try {
      const result = await cli(['conformance', 'provider', provider.endpoint, '--udp', `127.0.0.1:${provider.discoveryPort}`, '--operation', 'echo', '--check', 'TASK-4', '--format', 'json']);
      expect(result.code, result.stderr).toBe(1);
      const report = JSON.parse(result.stdout) as SuiteReport;
      expect(report.suite).toBe('provider');
      expect(report.checks.every((check) => check.requirements.includes('TASK-4'))).toBe(true);
      expect(report.checks.find((check) => check.name === 'provider.duplicate.atMostOnce')?.status).toBe('fail');
    } finally {
      await provider.stop();
    }
  });

  it('CLI: exits 2 on usage errors, before anything is sent', { timeout: NETWORK_TEST_MS }, async ({ expect }) => {
    const [scheme, level, params, rate] = await Promise.all([
      cli(['conformance', 'provider', 'http://127.0.0.1:1']),
      cli(['conformance', 'provider', 'ws://127.0.0.1:1', '--level', 'extreme']),
      cli(['conformance', 'provider', 'ws://127.0.0.1:1', '--params-json', '{not json']),
      cli(['conformance', 'provider', 'ws://127.0.0.1:1', '--rate-limit', 'lots']),
    ]);
    expect([scheme.code, level.code, params.code, rate.code]).toEqual([2, 2, 2, 2]);
    expect(scheme.stderr).toContain('ws:// or wss://');
    expect(params.stderr).toContain('--params-json');
    expect(rate.stderr).toContain('<messages>/<milliseconds>');
  });
});
