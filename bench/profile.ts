/**
 * Summarises V8 CPU profiles (.cpuprofile, from `node --cpu-prof`) cut to a measured window:
 * self time per function and per group (zod, XState, ws, JSON, uuid, our machines, adapters,
 * runtime, GC, ...), and per task when the number of tasks in the window is known.
 *
 *   node --import tsx bench/profile.ts <file.cpuprofile> [--start-us S --end-us E] [--tasks N] [--top 25]
 *
 * Sample times are `startTime + sum(timeDeltas)` in microseconds of the monotonic clock, the same
 * clock as `process.hrtime` in any process of the host, so a window reported by the load process
 * (bench/load.ts, `window`) cuts the provider's profile too.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FunctionCost {
  readonly name: string;
  readonly where: string;
  readonly group: string;
  readonly selfUs: number;
}

export interface ProfileSummary {
  readonly windowUs: number;
  readonly sampledUs: number;
  readonly idleUs: number;
  readonly busyUs: number;
  readonly tasks: number | undefined;
  readonly groups: ReadonlyArray<{ readonly group: string; readonly selfUs: number; readonly share: number; readonly perTaskUs: number | undefined }>;
  readonly top: readonly FunctionCost[];
  /** Our own functions (machines/, adapters/, runtime/) by inclusive time: self plus everything they call. */
  readonly ours: readonly FunctionCost[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Which bucket a frame's self time goes to. */
export function groupOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'V8/native (program)';
  if (url.includes('/node_modules/zod/')) return 'zod (decode/encode)';
  if (url.includes('/node_modules/xstate/')) return 'XState (transitions, actors)';
  if (url.includes('/node_modules/ws/')) return 'ws (frames, sockets)';
  if (url.includes('/node_modules/uuid/')) return 'uuid';
  if (url.includes('/node_modules/moleculer/')) return 'moleculer';
  if (url.includes('/node_modules/')) return `other package (${url.split('/node_modules/')[1]?.split('/')[0] ?? '?'})`;
  if (url.includes('/machines/codec.') || url.includes('/machines/messages.') || url.includes('/machines/timestamp.')) {
    return 'our codec (incl. JSON.parse/stringify)';
  }
  if (url.includes('/machines/')) return 'our machines';
  if (url.includes('/adapters/')) return 'our adapters';
  if (url.includes('/runtime/')) return 'our runtime';
  if (url.includes('/bench/')) return 'bench harness';
  if (url === '' && (functionName === 'parse' || functionName === 'stringify')) return 'JSON';
  if (url.startsWith('node:') || url.startsWith('internal/')) return 'Node core (net, streams, timers, promises)';
  if (url === '') return 'V8 builtins';
  return 'other';
}

function whereOf(frame: CallFrame): string {
  const file = frame.url.startsWith('file://') ? path.relative(ROOT, fileURLToPath(frame.url)) : frame.url;
  return `${file.replace(/^node_modules\//, '').replace(/^bench\/\.build\//, '')}:${frame.lineNumber + 1}`;
}

export function summarise(
  profile: CpuProfile,
  options: { startUs?: number; endUs?: number; tasks?: number; top?: number } = {},
): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const startUs = options.startUs ?? profile.startTime;
  const endUs = options.endUs ?? profile.endTime;
  const self = new Map<number, number>();
  let time = profile.startTime;
  let sampledUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0;
    // A sample stands for the interval up to the next one.
    const span = profile.timeDeltas[i + 1] ?? 0;
    if (time < startUs || time >= endUs) continue;
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + span);
    sampledUs += span;
  }
  const functions = new Map<string, { name: string; where: string; group: string; selfUs: number }>();
  const groups = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of self) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    const group = groupOf(frame);
    if (group === 'idle') {
      idleUs += us;
      continue;
    }
    groups.set(group, (groups.get(group) ?? 0) + us);
    const where = whereOf(frame);
    const key = `${frame.functionName}@${where}`;
    const entry = functions.get(key) ?? { name: frame.functionName || '(anonymous)', where, group, selfUs: 0 };
    entry.selfUs += us;
    functions.set(key, entry);
  }
  // Inclusive time of our functions: each sample counts once for every distinct function of ours on its stack.
  const inclusive = new Map<string, { name: string; where: string; group: string; selfUs: number }>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = (byId.get(at) as ProfileNode).callFrame;
      const group = groupOf(frame);
      if (!group.startsWith('our ')) continue;
      const where = whereOf(frame);
      const key = `${frame.functionName}@${where}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = inclusive.get(key) ?? { name: frame.functionName || '(anonymous)', where, group, selfUs: 0 };
      entry.selfUs += us;
      inclusive.set(key, entry);
    }
  }
  const busyUs = sampledUs - idleUs;
  const tasks = options.tasks;
  return {
    windowUs: endUs - startUs,
    sampledUs,
    idleUs,
    busyUs,
    tasks,
    groups: [...groups]
      .sort((a, b) => b[1] - a[1])
      .map(([group, us]) => ({ group, selfUs: us, share: busyUs > 0 ? us / busyUs : 0, perTaskUs: tasks ? us / tasks : undefined })),
    top: [...functions.values()].sort((a, b) => b.selfUs - a.selfUs).slice(0, options.top ?? 25),
    ours: [...inclusive.values()].sort((a, b) => b.selfUs - a.selfUs).slice(0, options.top ?? 25),
  };
}

export function loadProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

export function formatSummary(title: string, summary: ProfileSummary): string {
  const perTask = (us: number) => (summary.tasks ? ` ${(us / summary.tasks).toFixed(1).padStart(7)} us/task` : '');
  const lines = [
    `${title}: window ${(summary.windowUs / 1e3).toFixed(0)} ms, busy ${(summary.busyUs / 1e3).toFixed(0)} ms` +
      `, idle ${(summary.idleUs / 1e3).toFixed(0)} ms${summary.tasks ? `, ${summary.tasks} tasks, ${(summary.busyUs / summary.tasks).toFixed(1)} us busy per task` : ''}`,
    '  by group (self time):',
    ...summary.groups.map(
      (g) => `    ${g.group.padEnd(48)} ${(g.share * 100).toFixed(1).padStart(5)}%${perTask(g.selfUs)}`,
    ),
    '  top functions (self time):',
    ...summary.top.map(
      (f) =>
        `    ${((f.selfUs / Math.max(1, summary.busyUs)) * 100).toFixed(1).padStart(5)}%${perTask(f.selfUs)}  ${f.name} (${f.where}) [${f.group}]`,
    ),
    '  our functions (inclusive time: self and callees):',
    ...summary.ours.map(
      (f) => `    ${((f.selfUs / Math.max(1, summary.busyUs)) * 100).toFixed(1).padStart(5)}%${perTask(f.selfUs)}  ${f.name} (${f.where})`,
    ),
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: bench/profile.ts <file.cpuprofile> [--start-us S --end-us E] [--tasks N]');
  const arg = (name: string) => {
    const index = process.argv.indexOf(`--${name}`);
    return index > 0 ? Number(process.argv[index + 1]) : undefined;
  };
  const summary = summarise(loadProfile(file), { startUs: arg('start-us'), endUs: arg('end-us'), tasks: arg('tasks'), top: arg('top') });
  console.log(formatSummary(path.basename(file), summary));
}
