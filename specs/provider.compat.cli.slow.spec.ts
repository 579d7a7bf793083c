/**
 * The provider's `compat` profile from the CLI: `switchboard provider --compat field` (the built
 * CLI, a child process) says which deviations it speaks; an unknown profile is a usage error. In
 * the slow tier because it runs the build in dist/ (the slow tier builds first). The library side
 * is specs/provider.compat.spec.ts.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allocatePort } from './support/ports.js';
import { ROOT } from './support/processes.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('compat profile: the CLI', () => {
  const run = (args: string[], until: RegExp | undefined) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'switchboard.js'), ...args], {
        cwd: ROOT,
        env: { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SWITCHBOARD_'))), SWITCHBOARD_BROADCAST: '127.255.255.255' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output = { stdout: '', stderr: '' };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`timed out: ${JSON.stringify(output)}`));
      }, 15_000);
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        output.stdout += chunk;
        if (until?.test(output.stdout)) child.kill('SIGTERM');
      });
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, ...output });
      });
    });

  it('`provider --compat field` says which deviations it speaks; an unknown one is a usage error (exit 2)', async () => {
    const port = String(await allocatePort());
    const keyFile = path.join(os.tmpdir(), `switchboard-compat-key-${process.pid}.json`);
    cleanups.push(() => import('node:fs/promises').then(({ rm }) => Promise.all([rm(keyFile, { force: true }), rm(`${keyFile}.epoch`, { force: true })])));
    const field = await run(['--discovery-port', port, 'provider', '--host', '127.0.0.1', '--compat', 'field', '--key-file', keyFile], /press Ctrl-C/);
    expect(field.stdout).toContain('compat field (keyed-capabilities, flat-status)');
    const bad = await run(['--discovery-port', port, 'provider', '--compat', 'flat'], undefined);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown: flat');
  });
});
