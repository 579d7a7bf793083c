/**
 * How much statechart work one trivial task costs: a provider and a client in ONE process on
 * loopback (real sockets), both actor systems watched with XState's `inspect`, counting per task
 * the events each kind of actor processed, the actors created and the actions executed. A
 * diagnostic for docs/performance.md ("where the time goes"), not a timing.
 *
 *   node --import tsx bench/events.ts [--tasks 200] [--in-flight 1]
 */
import type { InspectionEvent } from 'xstate';
import { LOOPBACK, LOOPBACK_BROADCAST, numberArg, SERVICE_NAME } from './common.js';
import { benchService, createClient, createProvider, throughputLimits } from './systems.js';

const tasks = numberArg('tasks', 200);
const inFlight = numberArg('in-flight', 1);
const port = 50_073;

type Counts = Map<string, number>;
const bump = (counts: Counts, key: string, by = 1) => counts.set(key, (counts.get(key) ?? 0) + by);

/** An actor's kind: its id with the per-instance parts (uuids, numbers, endpoints) taken out. */
function kindOf(id: string): string {
  return id
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/ws:\/\/[^\s]+/g, '<endpoint>')
    .replace(/\d+/g, '<n>');
}

function watcher(side: string, counting: { on: boolean }, transitions: Counts, created: Counts, actions: Counts) {
  return (event: InspectionEvent) => {
    if (!counting.on) return;
    const id = (event.actorRef as { id?: string }).id ?? '?';
    const kind = `${side} ${kindOf(id)}`;
    if (event.type === '@xstate.snapshot') bump(transitions, `${kind} <- ${kindOf((event as { event: { type: string } }).event.type)}`);
    else if (event.type === '@xstate.actor') bump(created, kind);
    else if (event.type === '@xstate.action') bump(actions, kind);
  };
}

const counting = { on: false };
const transitions: Counts = new Map();
const created: Counts = new Map();
const actions: Counts = new Map();
const discovery = { port, broadcastAddresses: [LOOPBACK_BROADCAST] };
const provider = createProvider({
  services: [benchService],
  host: LOOPBACK,
  advertisedHost: LOOPBACK,
  discovery,
  limits: throughputLimits,
  inspect: watcher('provider', counting, transitions, created, actions),
});
await provider.start();
const client = createClient({ discovery, inspect: watcher('client', counting, transitions, created, actions) });
await client.waitFor(SERVICE_NAME, { operation: 'echo' });
// One task first, so the connection and the session exist before counting.
await client.assign(SERVICE_NAME, 'echo', {}).result;

counting.on = true;
let next = 0;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next++ < tasks) await client.assign(SERVICE_NAME, 'echo', {}).result;
  }),
);
counting.on = false;

const print = (title: string, counts: Counts) => {
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  console.log(`\n${title}: ${(total / tasks).toFixed(1)} per task`);
  for (const [key, n] of [...counts].sort((a, b) => b[1] - a[1])) {
    if (n / tasks >= 0.05) console.log(`  ${(n / tasks).toFixed(2).padStart(6)}  ${key}`);
  }
};
console.log(`${tasks} trivial tasks, ${inFlight} in flight, provider and client in one process`);
print('transitions (events processed), by actor kind and event', transitions);
print('actors created', created);
print('actions executed, by actor kind', actions);
await client.stop();
await provider.stop();
process.exit(0);
