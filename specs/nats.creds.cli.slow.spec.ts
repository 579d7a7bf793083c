/**
 * The CLI with `--nats-creds`: `switchboard provider` (a real child process, bin/switchboard.js)
 * and `switchboard assign` (in-process), each with its own user `.creds`, complete a task over a
 * real nats-server in operator mode; `assign` with an untrusted user's file finds nothing and says
 * why.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cliInProcess } from './support/cliInProcess.js';
import { makeNatsTrust } from './support/natsCreds.js';
import { natsSuite, uniquePrefix } from './support/natsFixtures.js';
import { NATS_SERVER_MISSING } from './support/natsServer.js';
import { ROOT } from './support/processes.js';

const describeNats = NATS_SERVER_MISSING === undefined ? describe : describe.skip;
if (NATS_SERVER_MISSING !== undefined) console.warn(`nats.creds.cli.slow.spec.ts skipped: ${NATS_SERVER_MISSING}`);

const trust = await makeNatsTrust();
const suite = natsSuite({ config: trust.serverConfig });
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
  trust.dispose();
});

const serviceModule = `
import * as z from '${pathToFileURL(join(ROOT, 'node_modules', 'zod', 'index.js')).href}';
import { defineService } from '${pathToFileURL(join(ROOT, 'runtime', 'service.ts')).href}';
export default defineService({
  name: 'CredsGreeter',
  version: '1.0.0',
  operations: { greet: { params: z.object({ name: z.string() }), run: ({ name }: { name: string }) => ({ greeting: 'Hello, ' + name }) } },
});
`;

/** `switchboard provider` as a child process; resolves once it listens on NATS. */
function startCliProvider(args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'switchboard.js'), 'provider', '--json', ...args], {
    cwd: ROOT,
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SWITCHBOARD_'))), XDG_CONFIG_HOME: trust.dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`switchboard provider did not listen within 15 s:\n${output}`)), 15_000);
    const take = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const listening = /"event":"provider\.listening".*?"endpoint":"(nats:\/\/[^"]+)"/.exec(output);
      if (listening !== null) {
        clearTimeout(timer);
        resolve(listening[1] as string);
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`switchboard provider exited (${code}):\n${output}`));
    });
  });
}

describeNats('CLI: --nats-creds', () => {
  it('NATS-4: `switchboard provider --nats-creds` and `switchboard assign --nats-creds` complete a task; an untrusted user finds nothing and is told why', async () => {
    const prefix = uniquePrefix();
    const url = suite.node().url;
    const modulePath = trust.file('creds-greeter.ts', serviceModule, 0o644);
    const [providerCreds, clientCreds, intruder] = await Promise.all([trust.user('cli-provider'), trust.user('cli-client'), trust.untrustedUser('cli-intruder')]);
    const nats = ['--nats', url, '--no-lan', '--nats-prefix', prefix];

    const endpoint = await startCliProvider([...nats, '--nats-name', 'cli', '--nats-creds', providerCreds, '--service', modulePath]);
    expect(endpoint).toBe(`nats://${prefix}/cli`);

    const assigned = await cliInProcess(['assign', 'CredsGreeter', 'greet', '--param', 'name=creds', ...nats, '--nats-creds', clientCreds, '--json']);
    expect(assigned.code, assigned.stderr).toBe(0);
    expect(JSON.parse(assigned.stdout)).toMatchObject({ status: 'Completed', resultData: { greeting: 'Hello, creds' }, endpoint });

    const refused = await cliInProcess(['assign', 'CredsGreeter', 'greet', '--param', 'name=x', ...nats, '--nats-creds', intruder, '--wait-ms', '600']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^error SERVICE_UNAVAILABLE: /m);
    expect(refused.stderr).toContain(`Authorization Violation: the NATS server refused the user of ${intruder}`);
  });
});
