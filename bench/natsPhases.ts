/**
 * The NATS comparison (`npm run bench -- --only nats`): switchboard over its NATS adapter against
 * Moleculer 0.15 with its NATS transporter, both through the same nats-server (Debian's binary,
 * started here on a free loopback port), in the same run, several rounds, order rotated.
 *
 * Per system and round: p50/p99 of sequential calls, tasks/s with 256 in flight (closed loop),
 * and CPU time per task over that window for the server process, the client process and the
 * nats-server (read from /proc), so throughput is not bought with hidden CPU.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { spread, type Spread } from './common.js';
import { natsSystems, type NatsSystem } from './natsCommon.js';
import { BenchProcess } from './procs.js';

export interface NatsFigures {
  p50Us: number;
  p99Us: number;
  tp256: number;
  /** CPU microseconds per task in the tp256 window. */
  serverCpuUsPerTask: number;
  clientCpuUsPerTask: number;
  natsServerCpuUsPerTask: number;
}

export interface NatsComparison {
  readonly rounds: Partial<Record<NatsSystem, NatsFigures>>[];
  readonly summary: Partial<Record<NatsSystem, Record<keyof NatsFigures, Spread>>>;
  readonly text: string;
  readonly natsServer: string;
}

function binary(): string | undefined {
  for (const candidate of ['/usr/sbin/nats-server', '/usr/bin/nats-server', 'nats-server']) {
    if (spawnSync(candidate, ['--version']).status === 0) return candidate;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const CLOCK_TICK_US = 1e6 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** utime + stime of a process, in microseconds (Linux /proc). */
function processCpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_US;
}

async function measure(system: NatsSystem, url: string, natsPid: number, quick: boolean): Promise<NatsFigures> {
  const server = new BenchProcess(`${system} server`, 'natsServe.ts', [system, '--url', url]);
  try {
    await server.event('ready', 30_000);
    const load = new BenchProcess(`${system} load`, 'load.ts', [
      system, '--url', url, '--phases', 'latency,tp256',
      '--warmup', quick ? '200' : '500', '--count', quick ? '500' : '2000',
      '--tp-warmup-ms', quick ? '300' : '500', '--tp-ms', quick ? '1000' : '2000',
    ]);
    const cpuAt = async (edge: 'start' | 'end') => {
      await load.waitFor((e) => e.event === 'mark' && e.edge === edge, `mark ${edge}`, 120_000);
      const nats = processCpuUs(natsPid);
      const from = server.events.length;
      server.send({ cmd: 'cpu', tag: edge });
      const answer = await server.waitFor((e) => e.event === 'cpu' && e.tag === edge, 'cpu', 10_000, from);
      return { server: Number(answer.userUs) + Number(answer.systemUs), nats };
    };
    const start = await cpuAt('start');
    const end = await cpuAt('end');
    await load.event('done', 120_000);
    const latency = load.events.find((e) => e.event === 'result' && e.phase === 'latency');
    const tp = load.events.find((e) => e.event === 'result' && e.phase === 'tp256');
    if (latency === undefined || tp === undefined) throw new Error(`${system}: missing results`);
    const completed = Number(tp.completed);
    if (Number(tp.failed) > 0) throw new Error(`${system}: ${String(tp.failed)} calls failed at 256 in flight`);
    await load.exited;
    return {
      p50Us: Number(latency.p50Us),
      p99Us: Number(latency.p99Us),
      tp256: Number(tp.perSecond),
      serverCpuUsPerTask: (end.server - start.server) / completed,
      clientCpuUsPerTask: Number(tp.clientCpuUs) / completed,
      natsServerCpuUsPerTask: (end.nats - start.nats) / completed,
    };
  } finally {
    await server.stop();
  }
}

export async function runNatsComparison(rounds: number, quick: boolean, log: (text: string) => void): Promise<NatsComparison> {
  const bin = binary();
  if (bin === undefined) throw new Error('no nats-server binary (Debian: apt-get install nats-server)');
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const port = await freePort();
  const natsServer: ChildProcess = spawn(bin, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const url = `nats://127.0.0.1:${port}`;
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (natsServer.exitCode !== null || natsServer.pid === undefined) throw new Error('nats-server did not start');
    const all: Partial<Record<NatsSystem, NatsFigures>>[] = [];
    for (let r = 0; r < rounds; r++) {
      const round: Partial<Record<NatsSystem, NatsFigures>> = {};
      all.push(round);
      const order = natsSystems.map((_, i) => natsSystems[(i + r) % natsSystems.length] as NatsSystem);
      for (const system of order) {
        log(`nats round ${r + 1}: ${system} ...`);
        round[system] = await measure(system, url, natsServer.pid, quick);
        log(`nats round ${r + 1}: ${system}: ${JSON.stringify(round[system])}`);
      }
    }
    const summary: NatsComparison['summary'] = {};
    for (const system of natsSystems) {
      const figures = all.map((round) => round[system]).filter((f): f is NatsFigures => f !== undefined);
      if (figures.length === 0) continue;
      const keys = Object.keys(figures[0] as NatsFigures) as (keyof NatsFigures)[];
      summary[system] = Object.fromEntries(keys.map((key) => [key, spread(figures.map((f) => f[key]))])) as Record<keyof NatsFigures, Spread>;
    }
    return { rounds: all, summary, natsServer: version, text: formatNats(summary, rounds, version) };
  } finally {
    natsServer.kill('SIGTERM');
  }
}

function formatNats(summary: NatsComparison['summary'], rounds: number, version: string): string {
  const cell = (s: Spread | undefined, digits = 0) => (s === undefined ? '-' : `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`);
  const lines = [
    `NATS comparison, one ${version} on loopback, ${rounds} round(s), median (min-max)`,
    '| system | tasks/s at 256 in flight | p50 us | p99 us | server CPU us/task | client CPU us/task | nats-server CPU us/task |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const system of natsSystems) {
    const s = summary[system];
    lines.push(`| ${system} | ${cell(s?.tp256)} | ${cell(s?.p50Us)} | ${cell(s?.p99Us)} | ${cell(s?.serverCpuUsPerTask, 1)} | ${cell(s?.clientCpuUsPerTask, 1)} | ${cell(s?.natsServerCpuUsPerTask, 1)} |`);
  }
  const sb = summary['switchboard-nats']?.tp256.median;
  const mol = summary['moleculer-nats']?.tp256.median;
  if (sb !== undefined && mol !== undefined) lines.push(`switchboard / Moleculer at 256 in flight: ${(sb / mol).toFixed(2)}x`);
  return lines.join('\n');
}
