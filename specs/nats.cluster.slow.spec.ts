/**
 * Beyond one LAN, for real: a 3-node NATS cluster, each node in its own network namespace, joined
 * by a cluster network; a provider in one more namespace attached only to node 1, a client in
 * another attached only to node 2. The two have no route to each other (new namespaces do not
 * forward): every byte between them crosses the cluster.
 *
 * - The client uses the provider (discovery and tasks through the cluster).
 * - A partition between cluster nodes (node 1's cluster link down) during tasks loses no task
 *   silently: every task completes or fails with a code, healed or not.
 *
 * Slow tier (real processes, seconds of partition). Root only: skipped with the reason otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NATS_SERVER_MISSING, startNatsNode, type NatsNode } from './support/natsServer.js';
import { NodeChild, ROOT, sleep, type ChildEvent } from './support/processes.js';

const id = process.pid.toString(36);
const NET = '10.231';
const ns = { n1: `sb${id}n1`, n2: `sb${id}n2`, n3: `sb${id}n3`, p: `sb${id}p`, c: `sb${id}c` } as const;
const bridge = `sb${id}br`;
const PREFIX = 'clustertest';

function ip(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync('ip', args, { encoding: 'utf8', timeout: 5_000 });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

function precondition(): string | undefined {
  if (NATS_SERVER_MISSING !== undefined) return NATS_SERVER_MISSING;
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'not root (creating network namespaces needs CAP_NET_ADMIN)';
  if (spawnSync('ip', ['-V']).status !== 0) return '`ip` is missing (Debian: iproute2)';
  if (ip(['-4', 'addr', 'show']).output.includes(`${NET}.`)) return `${NET}.0.0/16 is already in use on this host`;
  return undefined;
}

let skipReason = precondition();
const created: string[] = [];
const nodes: NatsNode[] = [];
const children: NodeChild[] = [];

function must(args: string[]): void {
  const result = ip(args);
  if (!result.ok) throw new Error(`ip ${args.join(' ')}: ${result.output}`);
}

/** Three cluster namespaces on a bridge; provider and client namespaces each behind one node. */
function buildTopology(): void {
  for (const name of Object.values(ns)) {
    must(['netns', 'add', name]);
    created.push(name);
    must(['-n', name, 'link', 'set', 'lo', 'up']);
  }
  must(['link', 'add', bridge, 'type', 'bridge']);
  must(['link', 'set', bridge, 'up']);
  [ns.n1, ns.n2, ns.n3].forEach((name, index) => {
    const outside = `sb${id}k${index + 1}`;
    must(['link', 'add', outside, 'type', 'veth', 'peer', 'name', 'cluster', 'netns', name]);
    must(['link', 'set', outside, 'master', bridge, 'up']);
    must(['-n', name, 'addr', 'add', `${NET}.100.${index + 1}/24`, 'dev', 'cluster']);
    must(['-n', name, 'link', 'set', 'cluster', 'up']);
  });
  // provider <-> node 1 and client <-> node 2, point to point, nothing else.
  for (const [edge, node, third] of [[ns.p, ns.n1, 11], [ns.c, ns.n2, 12]] as const) {
    must(['-n', node, 'link', 'add', 'edge', 'type', 'veth', 'peer', 'name', 'uplink', 'netns', edge]);
    must(['-n', node, 'addr', 'add', `${NET}.${third}.1/24`, 'dev', 'edge']);
    must(['-n', node, 'link', 'set', 'edge', 'up']);
    must(['-n', edge, 'addr', 'add', `${NET}.${third}.2/24`, 'dev', 'uplink']);
    must(['-n', edge, 'link', 'set', 'uplink', 'up']);
  }
}

function startInNamespace(label: string, namespace: string, script: string, args: string[]): NodeChild {
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST'))),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const node = new NodeChild(label, child);
  children.push(node);
  return node;
}

const fixture = (name: string) => path.join(ROOT, 'specs', 'fixtures', 'nats', name);
const tasksOf = (client: NodeChild): ChildEvent[] => client.events.filter((event) => event.event === 'task');

beforeAll(async () => {
  if (skipReason !== undefined) {
    console.warn(`nats.cluster.slow.spec: skipped: ${skipReason}`);
    return;
  }
  try {
    buildTopology();
    const routes = [1, 2, 3].map((n) => `nats-route://${NET}.100.${n}:6222`);
    for (const [index, name] of [ns.n1, ns.n2, ns.n3].entries()) {
      nodes.push(
        await startNatsNode({
          netns: name,
          host: '0.0.0.0',
          port: 4222,
          cluster: { name: 'sb', port: 6222, routes: routes.filter((_, i) => i !== index) },
          // Notice a dead route within seconds, not the default two minutes.
          config: 'ping_interval: "1s"\nping_max: 2',
        }),
      );
    }
  } catch (error) {
    skipReason = `could not build the namespaces: ${error instanceof Error ? error.message : String(error)}`;
    console.warn(`nats.cluster.slow.spec: skipped: ${skipReason}`);
  }
}, 60_000);

afterAll(async () => {
  for (const child of children) if (child.alive) child.child.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
  for (const node of nodes) await node.stop();
  ip(['link', 'del', bridge]);
  for (const name of created) ip(['netns', 'del', name]);
}, 30_000);

const provider = { url: `nats://${NET}.11.1:4222` };
const client = { url: `nats://${NET}.12.1:4222` };

describe('NATS cluster across network namespaces', () => {
  it('the client and provider namespaces have no route to each other', (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const probe = spawnSync('ip', ['netns', 'exec', ns.c, 'bash', '-c', `exec 3<>/dev/tcp/${NET}.11.2/9 2>&1`], { encoding: 'utf8', timeout: 5_000 });
    expect(probe.status).not.toBe(0);
    expect(`${probe.stdout}${probe.stderr}`).toMatch(/unreachable|No route/i);
  });

  it('a client in one namespace uses a provider in another, through the cluster only', async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const p = startInNamespace('provider', ns.p, fixture('provider.ts'), [provider.url, PREFIX, 'far-provider']);
    await p.waitFor((event) => event.event === 'listening', { what: 'provider listening', timeoutMs: 20_000 });
    const c = startInNamespace('client', ns.c, fixture('client.ts'), [client.url, PREFIX, '20', '10']);
    await c.waitFor((event) => event.event === 'done' || event.event === 'error', { what: 'client done', timeoutMs: 40_000 });
    expect(c.events.find((event) => event.event === 'found')).toMatchObject({ endpoint: `nats://${PREFIX}/far-provider` });
    expect(tasksOf(c)).toHaveLength(20);
    expect(tasksOf(c).every((event) => event.ok === true)).toBe(true);
  }, 60_000);

  it('a partition between cluster nodes during tasks loses no task silently', async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const p = children.find((child) => child.label === 'provider' && child.alive);
    if (p === undefined) throw new Error('the provider of the previous test is gone');
    const count = 40;
    const c = startInNamespace('client-partition', ns.c, fixture('client.ts'), [client.url, PREFIX, String(count), '1500']);
    await c.waitFor((event) => event.event === 'found', { what: 'client found the provider', timeoutMs: 20_000 });
    await sleep(400);
    must(['-n', ns.n1, 'link', 'set', 'cluster', 'down']); // node 1 (the provider's) cut from the cluster
    await sleep(3_000);
    must(['-n', ns.n1, 'link', 'set', 'cluster', 'up']);
    await c.waitFor((event) => event.event === 'done' || event.event === 'error', { what: 'every task settled', timeoutMs: 90_000 });
    const outcomes = tasksOf(c);
    expect(outcomes).toHaveLength(count);
    expect(new Set(outcomes.map((event) => event.taskId)).size).toBe(count);
    for (const outcome of outcomes) {
      // Completed, or failed with a code: never silent, never code-less.
      if (outcome.ok !== true) expect(outcome.code).toMatch(/^[A-Z_]+$/);
    }
    // The partition did bite: the connection went down and came back (CONN-4, then CONN-6 GetResult).
    const downs = c.events.filter((event) => event.event === 'down');
    expect(downs.length).toBeGreaterThanOrEqual(1);
    const completed = outcomes.filter((event) => event.ok === true).length;
    const failed = outcomes.filter((event) => event.ok !== true).map((event) => event.code);
    console.info(`partition: ${completed}/${count} completed, failed: ${JSON.stringify(failed)}; connection down ${downs.length}x: ${String(downs[0]?.reason)}`);
  }, 120_000);

  it('a partition that does not heal in time: every task fails with a code (CONNECTION_LOST), none hangs', async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const count = 20;
    const c = startInNamespace('client-cut', ns.c, fixture('client.ts'), [client.url, PREFIX, String(count), '1500', '3']);
    await c.waitFor((event) => event.event === 'found', { what: 'client found the provider', timeoutMs: 20_000 });
    await sleep(300);
    must(['-n', ns.n1, 'link', 'set', 'cluster', 'down']);
    try {
      await c.waitFor((event) => event.event === 'done' || event.event === 'error', { what: 'every task settled', timeoutMs: 90_000 });
    } finally {
      must(['-n', ns.n1, 'link', 'set', 'cluster', 'up']);
    }
    const outcomes = tasksOf(c);
    expect(outcomes).toHaveLength(count);
    const codes = new Set(outcomes.map((event) => (event.ok === true ? 'completed' : String(event.code))));
    console.info(`unhealed partition: outcomes ${JSON.stringify([...codes])}`);
    for (const outcome of outcomes) if (outcome.ok !== true) expect(outcome.code).toMatch(/^[A-Z_]+$/);
    expect(outcomes.some((event) => event.ok !== true)).toBe(true);
  }, 120_000);
});
