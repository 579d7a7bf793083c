/**
 * `npm run bench`: switchboard against the raw `ws` floor and Moleculer 0.15 (TCP transporter),
 * each server and client in its own process on loopback, several rounds, medians with min-max.
 *
 *   npm run bench                       3 rounds: latency, throughput, discovery, in-flight (10k, 100k)
 *   npm run bench -- --quick            1 round, shorter phases, in-flight at 10k only
 *   npm run bench -- --profile          also profile switchboard at 256 in flight (provider and client; --profile-in-flight N)
 *   npm run bench -- --only nats        switchboard over NATS vs Moleculer's NATS transporter (bench/natsPhases.ts)
 *   options: --rounds N, --out FILE (default bench-results.json), --only load,discovery,inflight,profile,heap,
 *            --systems switchboard,ws,moleculer, --sizes 10000,100000
 *
 * LOOPBACK ONLY: servers listen on 127.0.0.1, discovery broadcasts go to 127.255.255.255
 * (Moleculer's too, multicast off). Every process is bounded in time and is stopped by pid.
 * Prints the table and writes every raw figure to the JSON file. See docs/performance.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildForBench } from './build.js';
import { argOf, hasFlag, isSystem, systems, type System } from './common.js';
import { measureFreshClient, measureInFlight, measureLoad, measureRunningClient, profileThroughput, snapshotInFlight, type LoadSettings } from './phases.js';
import { killAll, ROOT } from './procs.js';
import { formatTable, summariseRounds, type Round } from './report.js';
import { runNatsComparison } from './natsPhases.js';

const quick = hasFlag('quick');
const rounds = Number(argOf('rounds', quick ? '1' : '3'));
const out = path.resolve(argOf('out', 'bench-results.json') as string);
/** The in-flight level --profile measures at. */
const profileInFlight = Number(argOf('profile-in-flight', '256'));
const only = new Set((argOf('only') ?? `load,discovery,inflight${hasFlag('profile') ? ',profile' : ''}`).split(','));
const chosen = (argOf('systems') ?? systems.join(',')).split(',').filter(isSystem);
const sizes = (argOf('sizes') ?? (quick ? '10000' : '10000,100000')).split(',').map(Number);
const load: LoadSettings = quick
  ? { warmup: 200, count: 500, tpWarmupMs: 300, tpMs: 1_000, inFlight: [1, 16, 256, 1_024] }
  : { warmup: 500, count: 2_000, tpWarmupMs: 500, tpMs: 2_000, inFlight: [1, 16, 256, 1_024] };

const log = (text: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
const stopEverything = () => {
  void killAll().then(() => process.exit(130));
};
process.on('SIGINT', stopEverything);
process.on('SIGTERM', stopEverything);

function gitState(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'machines', 'runtime', 'adapters'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty === '' ? rev : `${rev} + uncommitted changes in ${dirty.split('\n').length} files of machines/runtime/adapters`;
  } catch {
    return 'unknown';
  }
}

async function attempt<T>(round: Round, what: string, run: () => Promise<T>): Promise<T | undefined> {
  log(`${what} ...`);
  const started = performance.now();
  try {
    const result = await run();
    log(`${what}: ${JSON.stringify(result)} (${((performance.now() - started) / 1e3).toFixed(1)} s)`);
    return result;
  } catch (error) {
    const message = `${what}: ${(error as Error).message}`;
    log(`FAILED ${message}`);
    round.errors.push(message);
    await killAll();
    return undefined;
  }
}

const began = performance.now();
const loadBefore = os.loadavg();
if (process.env.SWITCHBOARD_SOURCE === 'ts') log('measuring the TypeScript sources under tsx (SWITCHBOARD_SOURCE=ts)');
else {
  log('building machines/, runtime/, adapters/ with tsc into bench/.build ...');
  buildForBench(log);
}
const all: Round[] = [];
for (let r = 0; r < rounds; r++) {
  const round: Round = { load: {}, running: {}, fresh: {}, inFlight: {}, errors: [] };
  all.push(round);
  log(`round ${r + 1} of ${rounds}`);
  // Rotate the order each round so no system always runs first (or right after another).
  const order = chosen.map((_, i) => chosen[(i + r) % chosen.length] as System);
  if (only.has('load')) {
    for (const system of order) {
      const figures = await attempt(round, `${system} latency+throughput`, () => measureLoad(system, load));
      if (figures) round.load[system] = figures;
    }
  }
  if (only.has('discovery')) {
    for (const system of order) {
      if (system === 'ws') continue;
      const running = await attempt(round, `${system} discovery (running client)`, () => measureRunningClient(system));
      if (running) round.running[system] = running;
      const fresh = await attempt(round, `${system} discovery (fresh client)`, () => measureFreshClient(system));
      if (fresh) round.fresh[system] = fresh;
    }
  }
  if (only.has('inflight') && chosen.includes('switchboard')) {
    for (const size of sizes) {
      const figures = await attempt(round, `switchboard ${size} in flight`, () => measureInFlight(size));
      if (figures) round.inFlight[String(size)] = figures;
    }
  }
}

let profile: Awaited<ReturnType<typeof profileThroughput>> | undefined;
if (only.has('profile')) {
  const dir = path.join(ROOT, 'bench', 'profiles', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  const holder: Round = { load: {}, running: {}, fresh: {}, inFlight: {}, errors: [] };
  profile = await attempt(holder, `switchboard profile at ${profileInFlight} in flight`, () => profileThroughput(dir, profileInFlight, quick ? 3_000 : 5_000));
  if (profile) {
    writeFileSync(path.join(dir, 'summary.txt'), `${profile.text}\n`);
    log(`profiles and summary in ${path.relative(ROOT, dir)}`);
  }
  all.at(-1)?.errors.push(...holder.errors);
}

if (only.has('heap')) {
  // Heap snapshots before/after 10,000 tasks in flight; read them with bench/heap.ts.
  const dir = path.join(ROOT, 'bench', 'profiles', `heap-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const holder: Round = { load: {}, running: {}, fresh: {}, inFlight: {}, errors: [] };
  const files = await attempt(holder, 'switchboard heap snapshots at 10,000 in flight', () => snapshotInFlight(10_000, dir));
  if (files) log(`compare with: node --import tsx bench/heap.ts ${path.relative(ROOT, files.before)} ${path.relative(ROOT, files.after)} 10000`);
  all.at(-1)?.errors.push(...holder.errors);
}

let nats: Awaited<ReturnType<typeof runNatsComparison>> | undefined;
if (only.has('nats')) {
  const holder: Round = { load: {}, running: {}, fresh: {}, inFlight: {}, errors: [] };
  nats = await attempt(holder, 'NATS comparison', () => runNatsComparison(rounds, quick, log));
  all.at(-1)?.errors.push(...holder.errors);
}

const rows = summariseRounds(all, load.inFlight, sizes);
const table = formatTable(rows, rounds);
const meta = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  tree: gitState(),
  mode: quick ? 'quick' : 'full',
  measured: process.env.SWITCHBOARD_SOURCE === 'ts' ? 'TypeScript sources under tsx' : 'tsc output (bench/.build)',
  rounds,
  load,
  sizes,
  elapsedS: Math.round((performance.now() - began) / 1e3),
  /** The 1-minute load average before and after: other work on the machine shows here. */
  loadAverage: { before: Number(loadBefore[0]?.toFixed(2)), after: Number(os.loadavg()[0]?.toFixed(2)) },
};
writeFileSync(out, `${JSON.stringify({ meta, rows, rounds: all, profile, nats }, null, 2)}\n`);
console.log(`\nswitchboard benchmarks: ${meta.node}, ${meta.cpus}, ${meta.tree}, ${meta.mode}, ${rounds} round(s), load average ${meta.loadAverage.before} -> ${meta.loadAverage.after}; median (min-max)\n`);
console.log(table);
if (profile) console.log(`\n${profile.text}`);
if (nats) console.log(`\n${nats.text}`);
const errors = all.flatMap((round) => round.errors);
if (errors.length > 0) console.log(`\n${errors.length} measurement(s) failed:\n${errors.map((e) => `- ${e}`).join('\n')}`);
console.log(`\nraw figures: ${path.relative(process.cwd(), out) || out} (${meta.elapsedS} s)`);
await killAll();
process.exit(errors.length > 0 ? 1 : 0);
