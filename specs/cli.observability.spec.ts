/**
 * The CLI's observability flags, run in-process through `main` with captured output:
 * `machines` (--json for Stately Studio), `--log-format json` (one correlation id per task in the
 * client's and the provider's lines), and `--inspect` (the Stately inspector page it prints).
 */
import { describe, expect, it } from 'vitest';
import { main } from '../runtime/cli.js';
import type { Io } from '../runtime/cli/output.js';
import { freeDiscoveryPort } from '../runtime/ui/demoWorld.js';
import { freePort } from './support/processes.js';

function capture(): { io: Io; stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (chunk: string) => out.push(chunk) > 0 }, stderr: { write: (chunk: string) => err.push(chunk) > 0 } },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

const run = async (args: string[]) => {
  const output = capture();
  const code = await main(['node', 'switchboard', ...args], output.io);
  return { code, stdout: output.stdout(), stderr: output.stderr() };
};

describe('switchboard machines', () => {
  it('--json exports every participant statechart as XState config and as chart data', async () => {
    const { code, stdout } = await run(['machines', '--json']);
    expect(code).toBe(0);
    const { machines } = JSON.parse(stdout) as { machines: Array<{ kind: string; config: { id: string; states: Record<string, unknown> }; chart: { states: string[] } }> };
    expect(machines.map((machine) => machine.kind)).toEqual(['provider', 'session', 'providerTask', 'client', 'repository', 'repositoryEntry', 'connection', 'clientTask']);
    for (const machine of machines) expect(machine.config.id).toBe(machine.kind);
    expect(Object.keys(machines.find((machine) => machine.kind === 'repositoryEntry')?.config.states ?? {})).toEqual(['alive', 'suspect', 'expired', 'gone']);
  });

  it('with a name and --json prints that machine config alone; a table without --json; exit 2 for an unknown name', async () => {
    const one = await run(['machines', 'connection', '--json']);
    expect((JSON.parse(one.stdout) as { id: string; initial: string }).id).toBe('connection');
    const table = await run(['machines']);
    expect(table.stdout).toMatch(/^MACHINE\s+STATES\s+TRANSITIONS/);
    expect(table.stdout).toContain('repositoryEntry');
    const unknown = await run(['machines', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no machine "nope"');
  });
});

describe('--log-format json and --inspect', () => {
  it('the demo logs JSON lines with timestamps; both sides name the task by the same correlation id; --inspect prints the page', async () => {
    const discoveryPort = await freeDiscoveryPort();
    const inspectPort = await freePort();
    const { code, stderr } = await run([
      'demo',
      '--step-delay-ms',
      '0',
      '--width',
      '16',
      '--discovery-port',
      String(discoveryPort),
      '--log-level',
      'debug',
      '--log-format',
      'json',
      '--inspect',
      '--inspect-port',
      String(inspectPort),
    ]);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(`Stately inspector: open http://127.0.0.1:${inspectPort}/`);
    const lines = stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { time: string; level: string; message: string; correlationId?: string; taskId?: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((line) => !Number.isNaN(Date.parse(line.time)) && typeof line.level === 'string')).toBe(true);
    const settled = lines.filter((line) => line.message === 'task settled');
    expect(settled).toHaveLength(2); // the client's line and the provider's line
    expect(settled[0]?.correlationId).toBeDefined();
    expect(settled[0]?.correlationId).toBe(settled[1]?.correlationId);
    expect(settled[0]?.correlationId).toMatch(new RegExp(`/${settled[0]?.taskId}$`));
  });
});
