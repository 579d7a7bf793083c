/**
 * What an in-flight task is made of: the difference between two V8 heap snapshots (before and
 * after N tasks were admitted), by constructor, divided by N.
 *
 *   node --import tsx bench/heap.ts <before.heapsnapshot> <after.heapsnapshot> <tasks> [--top 30]
 */
import { readFileSync } from 'node:fs';
import { numberArg } from './common.js';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count by `type:name` (objects by constructor name; strings, closures, arrays by type). */
function census(file: string): Map<string, { count: number; bytes: number }> {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const result = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += stride) {
    const type = types[snapshot.nodes[i + typeAt] as number] as string;
    const rawName = snapshot.strings[snapshot.nodes[i + nameAt] as number] ?? '';
    const name = type === 'object' || type === 'closure' || type === 'native' ? rawName.slice(0, 60) : '';
    const key = `${type}${name ? `:${name}` : ''}`;
    const entry = result.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snapshot.nodes[i + sizeAt] as number;
    result.set(key, entry);
  }
  return result;
}

const [beforeFile, afterFile, tasksText] = process.argv.slice(2);
if (!beforeFile || !afterFile || !tasksText) throw new Error('usage: bench/heap.ts <before> <after> <tasks>');
const tasks = Number(tasksText);
const before = census(beforeFile);
const after = census(afterFile);
const rows = [...after]
  .map(([key, { count, bytes }]) => {
    const was = before.get(key) ?? { count: 0, bytes: 0 };
    return { key, count: (count - was.count) / tasks, bytes: (bytes - was.bytes) / tasks };
  })
  .sort((a, b) => b.bytes - a.bytes);
const total = rows.reduce((sum, row) => sum + row.bytes, 0);
console.log(`heap growth per task: ${total.toFixed(0)} bytes (${tasks} tasks)`);
for (const row of rows.slice(0, numberArg('top', 30))) {
  console.log(`${row.bytes.toFixed(0).padStart(7)} B  ${row.count.toFixed(2).padStart(6)} objects/task  ${row.key}`);
}
