#!/usr/bin/env node
// Sampled mutation testing over the whole scope (docs/testing.md#mutation-testing). The scope,
// machines/ and runtime/ less the CLI and the demo, holds about 28,000 mutants: at a few seconds
// each on two cores, a full StrykerJS run takes most of a day. This draws a simple random sample of
// those mutants (seeded, the seed printed), has StrykerJS test exactly those (mutate ranges leave
// out the ancestors, specs/tools/mutation-sample-ignorer.mjs the descendants), and reports the
// sample's score with a 95 % Wilson interval, per folder, and every survivor.
//
//   npm run test:mutation:sample -- [--size 300] [--seed 12345] [--summary-only]
//
// Files: reports/mutation/sample.json (the sample), sample-report.json (StrykerJS's report),
// sample-summary.md (the score and the survivors).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Instrumenter } from '@stryker-mutator/instrumenter';
import { nextRandom } from '../../dist/machines/random.js';
import baseConfig from '../../stryker.config.mjs';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '300' },
    seed: { type: 'string' },
    'summary-only': { type: 'boolean', default: false },
  },
});
const reports = 'reports/mutation';
const sampleFile = join(reports, 'sample.json');
const reportFile = join(reports, 'sample-report.json');
const summaryFile = join(reports, 'sample-summary.md');
mkdirSync(reports, { recursive: true });

/** The project's own seeded PRNG (machines/random.ts, built to dist/ by `tsc -b`): one seed, one sample. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    const [value, next] = nextRandom(state);
    state = next;
    return value;
  };
}

const walk = (dir) => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : [join(dir, name)]));

/** The files stryker.config.mjs mutates (its globs are simple: two folders, three exclusions). */
function scopeFiles() {
  const excluded = baseConfig.mutate.filter((pattern) => pattern.startsWith('!')).map((pattern) => pattern.slice(1).replace(/\/\*\*$/, '/'));
  return [...walk('machines'), ...walk('runtime')]
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .filter((file) => !excluded.some((prefix) => (prefix.endsWith('/') ? file.startsWith(prefix) : file === prefix)));
}

const quietLogger = {
  isTraceEnabled: () => false,
  isDebugEnabled: () => false,
  isInfoEnabled: () => false,
  isWarnEnabled: () => true,
  isErrorEnabled: () => true,
  isFatalEnabled: () => true,
  trace() {},
  debug() {},
  info() {},
  warn: (...args) => console.warn(...args),
  error: (...args) => console.error(...args),
  fatal: (...args) => console.error(...args),
};

const keyOf = (m) => `${m.fileName}:${m.location.start.line}:${m.location.start.column}-${m.location.end.line}:${m.location.end.column} ${m.mutatorName} ${m.replacement}`;

async function drawSample(size, seed) {
  const files = scopeFiles();
  const instrumented = await new Instrumenter(quietLogger).instrument(
    files.map((name) => ({ name, content: readFileSync(name, 'utf8'), mutate: true })),
    { plugins: null, excludedMutations: [], ignorers: [] },
  );
  const all = instrumented.mutants.map(({ fileName, location, mutatorName, replacement }) => ({ fileName, location, mutatorName, replacement }));
  // A partial Fisher-Yates shuffle: the first `size` entries are a simple random sample.
  const next = random(seed);
  for (let i = 0; i < Math.min(size, all.length); i++) {
    const j = i + Math.floor(next() * (all.length - i));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return { population: all.length, files: files.length, sample: all.slice(0, size) };
}

function runStryker(sample) {
  // Stryker's ranges: 1-based lines, 0-based columns; the instrumenter's locations are 0-based.
  const ranges = sample.map((m) => `${m.fileName}:${m.location.start.line + 1}:${m.location.start.column}-${m.location.end.line + 1}:${m.location.end.column}`);
  const config = {
    ...baseConfig,
    mutate: [...new Set(ranges)],
    plugins: [...baseConfig.plugins, resolve('specs/tools/mutation-sample-ignorer.mjs')],
    ignorers: ['switchboard-sample'],
    incremental: false,
    reporters: ['progress', 'json'],
    jsonReporter: { fileName: reportFile },
  };
  delete config.incrementalFile;
  delete config.htmlReporter;
  const configFile = resolve(reports, 'stryker.sample.config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const run = spawnSync('nice', ['-n', '19', 'npx', 'stryker', 'run', configFile], {
    stdio: 'inherit',
    env: { ...process.env, SWITCHBOARD_MUTATION_SAMPLE: resolve(sampleFile) },
  });
  if (run.status !== 0) throw new Error(`stryker exited with ${run.status}`);
}

/** The 95 % Wilson score interval of k successes in n. */
function wilson(k, n) {
  if (n === 0) return [0, 1];
  const z = 1.96;
  const p = k / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

const percent = (x) => `${(100 * x).toFixed(1)} %`;
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

function summarise(drawn) {
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  const results = new Map();
  for (const [fileName, file] of Object.entries(report.files)) {
    for (const mutant of file.mutants) {
      // The report's locations are 1-based in lines and columns.
      const location = {
        start: { line: mutant.location.start.line - 1, column: mutant.location.start.column - 1 },
        end: { line: mutant.location.end.line - 1, column: mutant.location.end.column - 1 },
      };
      results.set(keyOf({ fileName, location, mutatorName: mutant.mutatorName, replacement: mutant.replacement }), { ...mutant, fileName });
    }
  }
  const counts = {};
  const byFolder = new Map();
  const survivors = [];
  let unmatched = 0;
  for (const m of drawn.sample) {
    const result = results.get(keyOf(m));
    if (!result) {
      unmatched++;
      continue;
    }
    counts[result.status] = (counts[result.status] ?? 0) + 1;
    const folder = m.fileName.split('/').slice(0, 2).join('/').replace(/\.ts$/, '');
    const entry = byFolder.get(folder) ?? { detected: 0, valid: 0 };
    if (DETECTED.has(result.status) || UNDETECTED.has(result.status)) entry.valid++;
    if (DETECTED.has(result.status)) entry.detected++;
    byFolder.set(folder, entry);
    if (UNDETECTED.has(result.status)) survivors.push({ ...m, status: result.status });
  }
  const detected = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
  const valid = detected + (counts.Survived ?? 0) + (counts.NoCoverage ?? 0);
  const covered = valid - (counts.NoCoverage ?? 0);
  const [low, high] = wilson(detected, valid);
  const lines = [
    `# Sampled mutation score`,
    '',
    `Seed ${drawn.seed}: ${drawn.sample.length} mutants drawn from ${drawn.population} in ${drawn.files} files.`,
    `Statuses: ${Object.entries(counts).map(([status, n]) => `${status} ${n}`).join(', ')}${unmatched ? `; not found in the report: ${unmatched}` : ''}.`,
    '',
    `**Score ${percent(detected / valid)}** (${detected} of ${valid}; 95 % interval ${percent(low)} to ${percent(high)}); covered score ${percent(detected / covered)}.`,
    '',
    '| folder | detected | valid | score |',
    '| --- | --- | --- | --- |',
    ...[...byFolder].sort(([a], [b]) => a.localeCompare(b)).map(([folder, e]) => `| \`${folder}\` | ${e.detected} | ${e.valid} | ${e.valid ? percent(e.detected / e.valid) : '-'} |`),
    '',
    '## Survivors',
    '',
    ...survivors
      .sort((a, b) => a.fileName.localeCompare(b.fileName) || a.location.start.line - b.location.start.line)
      .map((m) => `- \`${m.fileName}:${m.location.start.line + 1}\` ${m.mutatorName} -> \`${m.replacement.replace(/\s+/g, ' ').slice(0, 80)}\` (${m.status})`),
  ];
  writeFileSync(summaryFile, lines.join('\n') + '\n');
  console.log(lines.join('\n'));
}

const size = Number(values.size);
if (values['summary-only']) {
  const meta = JSON.parse(readFileSync(sampleFile.replace('.json', '.meta.json'), 'utf8'));
  summarise({ ...meta, sample: JSON.parse(readFileSync(sampleFile, 'utf8')) });
} else {
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  console.log(`mutation sample: seed ${seed} (repeat with --seed ${seed}), size ${size}`);
  const drawn = { seed, ...(await drawSample(size, seed)) };
  writeFileSync(sampleFile, JSON.stringify(drawn.sample));
  writeFileSync(sampleFile.replace('.json', '.meta.json'), JSON.stringify({ seed, population: drawn.population, files: drawn.files }));
  console.log(`${drawn.sample.length} of ${drawn.population} mutants in ${drawn.files} files`);
  runStryker(drawn.sample);
  summarise(drawn);
}
