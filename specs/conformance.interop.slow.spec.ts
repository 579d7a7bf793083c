/**
 * The suite against peers it must not accuse (slow tier, about a minute and a half):
 *
 * - the seed-only provider (specs/fixtures/peers/seedOnlyProvider.ts): in the seed's exact forms it
 *   passes level core with no failure; in the field dialect (flat Status replies, pull only, keyed
 *   capabilities, `localhost:<port>` endpoint, no pings) it fails at core only where it departs
 *   from the seed, each failure quoting the seed's sentence;
 * - the seed-only client (specs/fixtures/peers/seedOnlyClientMain.ts, a new connection per poll,
 *   no acknowledgments, no pings, a constant retry) fails at core only on pings and backoff;
 * - `switchboard provider`, the demo a new user has, run with nothing but its endpoint: no failure
 *   at either level (the suite picks a test operation from the advertised schema); started with
 *   `--refuse-from 127.0.0.9`, it also passes the hook checks told that address (HOOK-1, HOOK-5).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'vitest';
import { runClientSuite } from '../runtime/conformance/client/index.js';
import { runProviderSuite } from '../runtime/conformance/provider/index.js';
import type { SuiteReport } from '../runtime/conformance/types.js';
import { startSeedOnlyProvider } from './fixtures/peers/seedOnlyProvider.js';
import { ROOT } from './support/conformanceSweep.js';
import { allocatePort } from './support/ports.js';

const explain = (report: SuiteReport) => report.checks.filter((check) => check.status !== 'pass').map((check) => `${check.status} ${check.name}: ${check.evidence}`).join('\n');
const roots = (report: SuiteReport) => report.checks.filter((check) => check.status === 'fail' && check.rootCause === undefined);

async function seedProviderReport(dialect: 'field' | 'seed', level: 'core' | 'full'): Promise<SuiteReport> {
  const provider = await startSeedOnlyProvider({ discoveryPort: await allocatePort(), dialect, heartbeatIntervalMs: 1_000, pingIntervalMs: 1_000 });
  try {
    return await runProviderSuite({
      endpoint: provider.endpoint,
      udp: { host: '127.0.0.1', port: provider.discoveryPort },
      service: 'SeedService',
      operation: 'echo',
      params: { text: 'interop' },
      slowOperation: 'sleep',
      slowParams: { ms: 1_500 },
      level,
    });
  } finally {
    await provider.stop();
  }
}

describe.concurrent('the suite against seed-only peers and the demo', () => {
  it("passes the seed-only provider in the seed's exact forms at level core", { timeout: 120_000 }, async ({ expect }) => {
    const report = await seedProviderReport('seed', 'core');
    expect(report.failed, explain(report)).toBe(0);
  });

  it('fails the field-dialect seed-only provider at core only where it departs from the seed, in the seed\'s words', { timeout: 120_000 }, async ({ expect }) => {
    const report = await seedProviderReport('field', 'core');
    expect(roots(report).map((check) => check.name).sort(), explain(report)).toEqual(['provider.discovery.advertisement', 'provider.liveness.providerPings', 'provider.wire.frames']);
    expect(report.checks.filter((check) => check.status === 'fail' && check.rootCause !== undefined)).toEqual([]);
    for (const check of roots(report)) expect(check.seed, check.name).toBeDefined();
    const evidence = Object.fromEntries(roots(report).map((check) => [check.name, check.evidence]));
    expect(evidence['provider.discovery.advertisement']).toContain('capabilities is an object keyed by operation');
    expect(evidence['provider.discovery.advertisement']).toContain('"localhost:');
    expect(evidence['provider.wire.frames']).toContain('no envelope');
    // The pull flow, flat Status replies and replies without respondsToClientId are understood, not accused.
    const passed = new Set(report.checks.filter((check) => check.status === 'pass').map((check) => check.name));
    for (const name of ['provider.discovery.reply', 'provider.task.completes', 'provider.query.whileRunning', 'provider.cancel.running', 'provider.robustness.malformedJson']) expect(passed, name).toContain(name);
  });

  it('fails the seed-only client at core only on pings and backoff, and finds its acknowledgment optional', { timeout: 150_000 }, async ({ expect }) => {
    const report = await runClientSuite({
      command: ['node', '--import', 'tsx', path.join(ROOT, 'specs/fixtures/peers/seedOnlyClientMain.ts')],
      level: 'core',
      discoveryPort: await allocatePort(),
      cwd: ROOT,
      serviceName: 'SeedService',
      operation: 'echo',
      timings: { cancelAfterMs: 300 },
    });
    expect(roots(report).map((check) => check.name).sort(), explain(report)).toEqual(['client.ping.sent', 'client.reconnect.noHammering']);
    expect(report.checks.find((check) => check.name === 'client.assign.resendSameTask')?.status).toBe('not-applicable');
    expect(report.checks.find((check) => check.name === 'client.cancel.message')?.status).toBe('pass');
  });

  it('passes `switchboard provider` run with only its endpoint, at both levels', { timeout: 150_000 }, async ({ expect }) => {
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-demo-'));
    const port = await allocatePort();
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'switchboard.js'), '--discovery-port', String(port), '--broadcast', '127.255.255.255', 'provider', '--work-dir', workDir, '--host', '127.0.0.1', '--port', '0', '--refuse-from', '127.0.0.9'], {
      cwd: ROOT,
      env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SWITCHBOARD_'))),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const endpoint = await new Promise<string>((resolve, reject) => {
        let output = '';
        const timer = setTimeout(() => reject(new Error(`the demo provider did not start: ${output}`)), 20_000);
        child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
          output += chunk;
          const found = /provider listening on (ws:\/\/\S+)/.exec(output)?.[1];
          if (found !== undefined) {
            clearTimeout(timer);
            resolve(found);
          }
        });
      });
      for (const level of ['core', 'full'] as const) {
        const report = await runProviderSuite({ endpoint, udp: { host: '127.0.0.1', port }, level });
        expect(report.failed, explain(report)).toBe(0);
        expect(report.checks.find((check) => check.name === 'provider.task.completes')?.evidence).toMatch(/chosen|no operation succeeded/);
      }
      // The demo's deny list is a connect hook: the suite, told the address, sees the veto and its close reason.
      const hooks = await runProviderSuite({ endpoint, udp: { host: '127.0.0.1', port }, level: 'full', only: ['provider.hooks'], veto: { fromAddress: '127.0.0.9', code: 'FORBIDDEN' } });
      expect(hooks.checks.map((check) => `${check.name} ${check.status}`), explain(hooks)).toEqual(['provider.hooks.veto pass', 'provider.hooks.closeReason pass']);
    } finally {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
