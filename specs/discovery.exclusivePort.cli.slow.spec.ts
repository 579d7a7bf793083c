/**
 * DISC-1 from the CLI: `switchboard provider` (the built CLI, a child process) on a host where
 * another process holds the discovery port exclusively prints NOT DISCOVERABLE, and in --json
 * `discovery.listening: false` with the problem. In the slow tier because it runs the build in
 * dist/; the library side is specs/discovery.exclusivePort.spec.ts.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allocatePort } from './support/ports.js';
import { ROOT } from './support/processes.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A socket holding `port` the way a seed-only peer does: no SO_REUSEADDR, so nobody else binds it. */
async function holdExclusively(port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: '0.0.0.0', exclusive: true }, () => resolve());
  });
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

describe('DISC-1: a discovery port held exclusively by another process (CLI)', () => {
  it('CLI: `switchboard provider` prints NOT DISCOVERABLE, and in --json discovery.listening false with the problem', async () => {
    const port = await allocatePort();
    await holdExclusively(port);
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-exclusive-'));
    cleanups.push(() => rm(workDir, { recursive: true, force: true }));
    for (const json of [false, true]) {
      const args = [path.join(ROOT, 'bin', 'switchboard.js'), ...(json ? ['--json'] : []), '--discovery-port', String(port), '--broadcast', '127.255.255.255', 'provider', '--work-dir', workDir, '--host', '127.0.0.1', '--port', '0'];
      const child = spawn(process.execPath, args, {
        cwd: ROOT,
        env: { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SWITCHBOARD_'))), XDG_CONFIG_HOME: workDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      cleanups.push(() => void (child.exitCode === null && child.pid !== undefined && process.kill(child.pid, 'SIGKILL')));
      const output = await new Promise<string>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => reject(new Error(`no listening line: ${text}`)), 15_000);
        child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
          if (/press Ctrl-C|"event":"provider.listening"/.test(text)) {
            clearTimeout(timer);
            resolve(text);
          }
        });
      });
      if (json) {
        const listening = JSON.parse(output.split('\n').find((line) => line.includes('"provider.listening"'))!) as { discovery: { listening: boolean; problem: string } };
        expect(listening.discovery).toMatchObject({ listening: false, problem: expect.stringContaining('exclusively') });
      } else {
        expect(output).toContain('NOT DISCOVERABLE on this host');
        expect(output).not.toMatch(/^discovery udp/m);
      }
      process.kill(child.pid!, 'SIGTERM');
      await new Promise((resolve) => child.once('close', resolve));
    }
  });
});
