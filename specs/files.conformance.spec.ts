/**
 * The conformance suite's FILE checks (runtime/conformance/provider/files.ts) against real
 * providers on loopback: switchboard's provider passes them; the broken fixture that keeps bytes
 * under a hash they do not have fails `provider.files.hashMismatch` (the check can fail); a
 * provider that does not announce "files" is sent no file message (every check not applicable).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProviderSuite } from '../runtime/conformance/provider/index.js';
import type { SuiteReport } from '../runtime/conformance/types.js';
import { fileProvider } from './fixtures/brokenFileProvider.js';
import { freeDiscoveryPort } from './support/udpPort.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'files-conformance-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function suiteAgainst(options: { acceptWrongHash?: boolean; files?: boolean }): Promise<SuiteReport> {
  const discoveryPort = await freeDiscoveryPort();
  const provider = fileProvider({ discoveryPort, dir: path.join(dir, `store-${discoveryPort}`), ...options });
  const { endpoint } = await provider.start();
  try {
    return await runProviderSuite({ endpoint, udp: { host: '127.0.0.1', port: discoveryPort }, level: 'full', only: ['provider.files'] });
  } finally {
    await provider.stop();
  }
}

const statuses = (report: SuiteReport) => Object.fromEntries(report.checks.map((check) => [check.name, check.status]));

describe('conformance: task files (FILE-1..FILE-8, level full)', () => {
  it('FILE-2, FILE-3, FILE-4, FILE-6, FILE-8: switchboard\'s provider passes every FILE check', async () => {
    const report = await suiteAgainst({});
    expect(statuses(report), JSON.stringify(report.checks.map((c) => [c.name, c.evidence]))).toEqual({
      'provider.files.roundTrip': 'pass',
      'provider.files.hashMismatch': 'pass',
      'provider.files.foreign': 'pass',
      'provider.files.limits': 'pass',
    });
  });

  it('FILE-2: a provider that keeps bytes under a hash they do not have fails provider.files.hashMismatch', async () => {
    const report = await suiteAgainst({ acceptWrongHash: true });
    const check = report.checks.find((c) => c.name === 'provider.files.hashMismatch');
    expect(check?.status).toBe('fail');
    expect(check?.evidence).toMatch(/expected FileFailed FILE_HASH_MISMATCH, got FileDone/);
  });

  it('FILE-1: a provider that does not announce "files" is never sent a file message: every check not applicable', async () => {
    const report = await suiteAgainst({ files: false });
    expect(new Set(report.checks.map((c) => c.status))).toEqual(new Set(['not-applicable']));
    expect(report.checks[0]?.evidence).toMatch(/announces "files"/);
  });
});
