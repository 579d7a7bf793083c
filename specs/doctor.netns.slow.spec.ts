/**
 * `switchboard doctor` against each fault it explains, made on purpose, on two hosts: two Linux
 * network namespaces joined by a veth pair (A 10.78.0.1/24 runs the doctor, B 10.78.0.2/24 the
 * providers). Everything the doctor sends stays inside them; nothing touches the host's network.
 * Each test builds a fresh pair (so a firewall rule or a held port does not leak into the next)
 * and removes it, with every process it started (killed by pid).
 *
 * Faults: nothing running; the port held exclusively; an iptables and an nft rule dropping the
 * port (and the fix the doctor prints, applied, clears it); an endpoint on loopback, on 0.0.0.0,
 * with no route, refusing; an unsigned provider the default trust ignores; a provider clock 10
 * minutes ahead; a TLS certificate that is not the
 * advertised or pinned one; an interface that is down. And the healthy case, with no error.
 *
 * Needs root and `ip` (iproute2); the firewall cases need iptables / nft, the TLS case openssl:
 * each skips with the reason otherwise. Slow tier: real processes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DoctorReport, Finding } from '../runtime/doctor/findings.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'switchboard.js');
const ADVERTISER = path.join(ROOT, 'specs', 'fixtures', 'doctor', 'fakeAdvertiser.mjs');
/** Inside the namespaces only: the host's port space is not involved. */
const PORT = 41_234;
const A_ADDRESS = '10.78.0.1';
const B_ADDRESS = '10.78.0.2';
const BROADCAST = '10.78.0.255';

const sync = (command: string, args: readonly string[]) => {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`.trim() };
};
const has = (binary: string, ...args: string[]) => spawnSync(binary, args.length > 0 ? args : ['--version'], { timeout: 5_000 }).status === 0;

function precondition(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'not root: network namespaces need CAP_NET_ADMIN';
  if (!has('ip', '-V')) return '`ip` is missing (Debian package iproute2)';
  return undefined;
}
const problem = precondition();

const WORK = mkdtempSync(path.join(os.tmpdir(), 'sb-doctor-'));
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

let pairNumber = 0;
let ns = { a: '', b: '' };
const children = new Set<ChildProcess>();

function buildPair(): void {
  pairNumber++;
  const id = `${process.pid.toString(36)}${pairNumber}`;
  ns = { a: `sbdr${id}a`, b: `sbdr${id}b` };
  const steps: string[][] = [
    ['netns', 'add', ns.a],
    ['netns', 'add', ns.b],
    ['-n', ns.a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.b],
    ['-n', ns.a, 'addr', 'add', `${A_ADDRESS}/24`, 'brd', '+', 'dev', 'eth0'],
    ['-n', ns.b, 'addr', 'add', `${B_ADDRESS}/24`, 'brd', '+', 'dev', 'eth0'],
  ];
  for (const name of [ns.a, ns.b]) steps.push(['-n', name, 'link', 'set', 'eth0', 'up'], ['-n', name, 'link', 'set', 'lo', 'up']);
  for (const step of steps) {
    const result = sync('ip', step);
    if (!result.ok) throw new Error(`ip ${step.join(' ')}: ${result.output}`);
  }
}

beforeEach(() => {
  if (problem === undefined) buildPair();
});

afterEach(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all([...children].map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('close', resolve)) : undefined)));
  children.clear();
  if (problem === undefined) for (const name of [ns.a, ns.b]) sync('ip', ['netns', 'delete', name]);
});

interface Started {
  readonly child: ChildProcess;
  readonly output: { stdout: string; stderr: string };
  readonly exited: Promise<number | null>;
}

/** A process inside a namespace, killed after the test if still running. */
function startIn(namespace: string, command: readonly string[]): Started {
  const child = spawn('ip', ['netns', 'exec', namespace, ...command], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output, exited };
}

async function until(started: Started, pattern: RegExp, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(started.output.stdout)) {
    if (started.child.exitCode !== null) throw new Error(`exited before ${pattern}: ${started.output.stdout}${started.output.stderr}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms: ${started.output.stdout}${started.output.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The demo provider in B (its default broadcast addresses, computed in B: 10.78.0.255). */
async function provider(...extra: string[]): Promise<Started> {
  const workDir = mkdtempSync(path.join(WORK, 'work-'));
  const started = startIn(ns.b, [process.execPath, BIN, 'provider', '--work-dir', workDir, '--discovery-port', String(PORT), '--heartbeat-ms', '400', ...extra]);
  await until(started, /provider listening on/);
  return started;
}

async function fakeAdvertiser(options: Record<string, unknown>): Promise<Started> {
  const started = startIn(ns.b, [process.execPath, ADVERTISER, JSON.stringify({ port: PORT, broadcast: BROADCAST, lifetimeMs: 30_000, ...options })]);
  await until(started, /^ready$/m);
  return started;
}

/** Runs the doctor in A with its defaults (every interface of A), as JSON. */
async function doctor(...extra: string[]): Promise<{ code: number | null; report: DoctorReport; byId: (id: string) => Finding[] }> {
  const run = startIn(ns.a, [process.execPath, BIN, 'doctor', '--json', '--discovery-port', String(PORT), '--timeout-ms', '1200', ...extra]);
  const code = await run.exited;
  let report: DoctorReport;
  try {
    report = JSON.parse(run.output.stdout) as DoctorReport;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${code}): ${run.output.stdout}${run.output.stderr}`);
  }
  return { code, report, byId: (id) => report.findings.filter((finding) => finding.id === id) };
}

const errorsOf = (report: DoctorReport) => report.findings.filter((finding) => finding.severity === 'error').map((finding) => finding.id);

describe.skipIf(problem !== undefined)(`switchboard doctor on two hosts${problem === undefined ? '' : ` (skipped: ${problem})`}`, () => {
  it('healthy: the provider answers from B, its endpoint is reachable, clocks agree, no error', async () => {
    await provider('--advertised-host', B_ADDRESS);
    const { code, report, byId } = await doctor();
    expect(errorsOf(report)).toEqual([]);
    expect(code).toBe(0);
    expect(byId('broadcast.echo').map((finding) => finding.title)).toContain(`datagrams sent to ${BROADCAST} (eth0) come back to UDP ${PORT} on this host`);
    expect(byId('answers')[0]?.detail?.join('\n')).toMatch(new RegExp(`ImageProcessingService .* at ws://${B_ADDRESS.replace(/\./g, '\\.')}:\\d+ \\(Online\\), from ${B_ADDRESS.replace(/\./g, '\\.')}:\\d+, reply to the request sent to ${BROADCAST.replace(/\./g, '\\.')} \\(eth0\\)`));
    expect(byId('endpoint.reachable')).toHaveLength(1);
    expect(byId('clock')).toHaveLength(1);
    expect(byId('port.free')).toHaveLength(1);
  }, 60_000);

  it('nothing runs: no answer is an error, with what to check', async () => {
    const { code, report, byId } = await doctor();
    expect(code).toBe(1);
    expect(errorsOf(report)).toEqual(['answers.none']);
    expect(byId('answers.none')[0]?.fix).toMatch(/switchboard provider --discovery-port 41234/);
  }, 60_000);

  it('the port held exclusively by another process: named, with its pid', async () => {
    const holder = startIn(ns.a, [process.execPath, '-e', `require('node:dgram').createSocket('udp4').bind(${PORT}, () => console.log('bound')); setTimeout(() => {}, 30000);`]);
    await until(holder, /bound/);
    await provider('--advertised-host', B_ADDRESS);
    const { code, byId } = await doctor();
    expect(code).toBe(1);
    const [exclusive] = byId('port.exclusive');
    expect(exclusive?.severity).toBe('error');
    expect(exclusive?.detail?.join('\n')).toContain(`pid ${holder.child.pid}`);
    expect(exclusive?.fix).toMatch(/SO_REUSEADDR/);
    // Replies still reach the doctor's own socket: the provider is found all the same.
    expect(byId('answers')).toHaveLength(1);
  }, 60_000);

  it.skipIf(!has('iptables', '--version'))('an iptables rule dropping the port: found, and its printed fix clears it', async () => {
    expect(sync('ip', ['netns', 'exec', ns.a, 'iptables', '-A', 'INPUT', '-p', 'udp', '--dport', String(PORT), '-j', 'DROP']).ok).toBe(true);
    await provider('--advertised-host', B_ADDRESS);
    const before = await doctor();
    const [drop] = before.byId('firewall.drop');
    expect(drop).toMatchObject({ severity: 'error', data: { tool: 'iptables', chain: 'INPUT', direction: 'in' } });
    expect(before.byId('broadcast.lost').map((finding) => finding.fix)).toContain('the firewall drops the port on input (see the firewall finding)');
    const remove = (drop?.data as { remove: string }).remove.split(' ');
    expect(sync('ip', ['netns', 'exec', ns.a, ...remove]).ok).toBe(true);
    const after = await doctor();
    expect(after.byId('firewall.drop')).toEqual([]);
    expect(after.byId('firewall')).toHaveLength(1);
    expect(errorsOf(after.report)).toEqual([]);
  }, 90_000);

  it.skipIf(!has('nft', '--version'))('an nft rule dropping the port: found with its handle, and its printed fix clears it', async () => {
    for (const command of [
      ['add', 'table', 'inet', 'sbdoctor'],
      ['add', 'chain', 'inet', 'sbdoctor', 'in', '{ type filter hook input priority 0; policy accept; }'],
      ['add', 'rule', 'inet', 'sbdoctor', 'in', 'udp', 'dport', `{ 53, ${PORT} }`, 'drop'],
    ]) {
      const result = sync('ip', ['netns', 'exec', ns.a, 'nft', ...command]);
      expect(result.ok, result.output).toBe(true);
    }
    const before = await doctor();
    const [drop] = before.byId('firewall.drop');
    expect(drop).toMatchObject({ severity: 'error', data: { tool: 'nft', chain: 'inet sbdoctor in', direction: 'in' } });
    const remove = (drop?.data as { remove: string }).remove;
    expect(remove).toMatch(/^nft delete rule inet sbdoctor in handle \d+$/);
    expect(sync('ip', ['netns', 'exec', ns.a, ...remove.split(' ')]).ok).toBe(true);
    expect((await doctor()).byId('firewall.drop')).toEqual([]);
  }, 90_000);

  it('a provider advertising its loopback address to the network', async () => {
    await provider('--advertised-host', '127.0.0.1');
    const { byId } = await doctor();
    const [loopback] = byId('endpoint.loopback');
    expect(loopback?.severity).toBe('error');
    expect(loopback?.title).toMatch(new RegExp(`advertises the loopback endpoint ws://127\\.0\\.0\\.1:\\d+ from ${B_ADDRESS.replace(/\./g, '\\.')}`));
    expect(loopback?.fix).toMatch(/--advertised-host/);
  }, 60_000);

  it('a provider advertising 0.0.0.0', async () => {
    await provider('--advertised-host', '0.0.0.0');
    const { byId } = await doctor();
    expect(byId('endpoint.unspecified')[0]?.severity).toBe('error');
  }, 60_000);

  it('an endpoint with no route from here, and one that refuses', async () => {
    await fakeAdvertiser({ serviceName: 'Elsewhere', endpoint: 'ws://10.99.0.5:8080' });
    await fakeAdvertiser({ serviceName: 'Refusing', endpoint: `ws://${B_ADDRESS}:9` });
    const { byId } = await doctor();
    const unreachable = byId('endpoint.unreachable');
    expect(unreachable.map((finding) => (finding.data as { code: string }).code).sort()).toEqual(['ECONNREFUSED', 'ENETUNREACH']);
    expect(unreachable.every((finding) => finding.severity === 'error' && finding.fix !== undefined)).toBe(true);
  }, 60_000);

  it('an unsigned provider: a client with the default trust ignores it, one allowing unsigned ones does not', async () => {
    await fakeAdvertiser({ serviceName: 'SeedOnly', endpoint: `ws://${B_ADDRESS}:9` });
    const strict = await doctor();
    expect(strict.byId('trust.ignored')).toMatchObject([{ severity: 'error', data: { serviceName: 'SeedOnly', reason: 'unsigned' } }]);
    expect(strict.byId('trust.ignored')[0]?.fix).toMatch(/--allow-unsigned/);
    expect((await doctor('--allow-unsigned')).byId('trust.ignored')).toEqual([]);
  }, 60_000);

  it("a provider whose clock is 10 minutes ahead", async () => {
    await fakeAdvertiser({ serviceName: 'Skewed', endpoint: `ws://${B_ADDRESS}:9`, skewMs: 600_000 });
    const { byId } = await doctor();
    const [skew] = byId('clock.skew');
    expect(skew?.severity).toBe('warning');
    expect(skew?.title).toMatch(/the clock of 10\.78\.0\.2 is 600\.\d s ahead of this host/);
    expect(Math.abs((skew?.data as { skewMs: number }).skewMs - 600_000)).toBeLessThan(5_000);
  }, 60_000);

  /** A self-signed certificate made for the test, and its SHA-256 fingerprint. */
  function certificate(name: string): { key: string; cert: string; fingerprint: string } {
    const key = path.join(WORK, `${name}.key.pem`);
    const cert = path.join(WORK, `${name}.cert.pem`);
    const made = sync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=switchboard-doctor-spec']);
    if (!made.ok) throw new Error(made.output);
    return { key, cert, fingerprint: sync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256']).output.split('=')[1]!.trim() };
  }

  it.skipIf(!has('openssl', 'version'))('a TLS certificate that is not the advertised one', async () => {
    const { key, cert } = certificate('impostor');
    const advertised = 'AB'.repeat(32);
    await fakeAdvertiser({ serviceName: 'Impostor', endpoint: `wss://${B_ADDRESS}:8443`, tlsPort: 8443, key, cert, tlsFingerprint256: advertised });
    const { byId } = await doctor();
    expect(byId('endpoint.tls')[0]).toMatchObject({ severity: 'error', data: { source: 'advertised', expected: advertised } });
  }, 90_000);

  it.skipIf(!has('openssl', 'version'))('the certificate matches what is advertised, but not the client\'s pin', async () => {
    const { key, cert, fingerprint } = certificate('renewed');
    await fakeAdvertiser({ serviceName: 'Renewed', endpoint: `wss://${B_ADDRESS}:8443`, tlsPort: 8443, key, cert, tlsFingerprint256: fingerprint });
    const matching = await doctor();
    expect(matching.byId('endpoint.tls')).toEqual([]);
    expect(matching.byId('endpoint.reachable')[0]?.title).toContain(fingerprint.replace(/:/g, ''));
    const pinned = await doctor('--tls-fingerprint', 'CD'.repeat(32));
    expect(pinned.byId('endpoint.tls')[0]).toMatchObject({ severity: 'error', data: { source: 'pinned' } });
  }, 90_000);

  it('an interface that is down', async () => {
    for (const step of [
      // A veth pair left down (the dummy driver may not be loaded).
      ['-n', ns.a, 'link', 'add', 'down0', 'type', 'veth', 'peer', 'name', 'down1'],
      ['-n', ns.a, 'addr', 'add', '10.79.0.1/24', 'dev', 'down0'],
    ]) {
      const result = sync('ip', step);
      expect(result.ok, result.output).toBe(true);
    }
    const { byId } = await doctor();
    // down1, its peer, is down too but has no address: listed, not a warning.
    expect(byId('interface.down').map((finding) => finding.title)).toEqual(['down0 (10.79.0.1/24) is down: nothing is sent or heard through it']);
    expect(byId('interfaces')[0]?.detail).toContain('down1 down');
    expect(byId('interface.down')[0]?.fix).toBe('ip link set down0 up');
  }, 60_000);
});
