/**
 * The real UDP discovery adapter across three hosts: three Linux network namespaces on a bridge,
 * each running the adapter in its own node process (`ip netns exec <ns> node --import tsx`).
 *
 *   sb<id>a 10.77.0.1 (client)  \
 *   sb<id>b 10.77.0.2 (provider) +-- veth --- br0 in a fourth namespace sb<id>s (the "switch")
 *   sb<id>c 10.77.0.3 (provider) /
 *
 * The bridge lives in its own namespace, so nothing is added to the host's network namespace and
 * no datagram can reach the host's interfaces. The client broadcasts a request to the subnet's
 * directed broadcast address 10.77.0.255; each provider must receive it through the bridge and
 * reply unicast to the request's source (the client's ephemeral port, DISC-3), then broadcast a
 * heartbeat: provider B with the DEFAULT broadcast addresses (computed inside its namespace from
 * its interfaces, so 10.77.0.255), provider C with an explicit list.
 *
 * Needs root (CAP_NET_ADMIN) and `ip` (Debian package iproute2); otherwise the file is skipped
 * with a message. Everything created (namespaces, and with them the bridge and veth pairs;
 * processes) is removed in afterAll by the names and pids this file created. Bounded: each child
 * exits by itself, the test waits at most ~15 s.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocatePort } from './support/ports.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADAPTER_URL = pathToFileURL(`${REPO_ROOT}adapters/udp.js`).href;
const SUBNET_PREFIX = '10.77.0.';
/** Drawn like every spec port (inside private namespaces it could not collide, but RULES: never 50001). */
const PORT = await allocatePort();
const CLIENT_DEADLINE_MS = 10_000;
const COMMAND_TIMEOUT_MS = 5_000;

const id = process.pid.toString(36);
const ns = { switch: `sb${id}s`, a: `sb${id}a`, b: `sb${id}b`, c: `sb${id}c` } as const;
const hosts = [
  { key: 'a', ns: ns.a, address: `${SUBNET_PREFIX}1` },
  { key: 'b', ns: ns.b, address: `${SUBNET_PREFIX}2` },
  { key: 'c', ns: ns.c, address: `${SUBNET_PREFIX}3` },
] as const;

function run(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync('ip', args, { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`.trim() };
}

/** Why this file cannot run here, or undefined when it can try. */
function precondition(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'not root (creating network namespaces needs CAP_NET_ADMIN)';
  if (spawnSync('ip', ['-V'], { timeout: COMMAND_TIMEOUT_MS }).status !== 0) {
    return '`ip` is missing (CI needs the Debian package iproute2)';
  }
  const inUse = `${run(['-4', 'addr', 'show']).output}\n${run(['-4', 'route', 'show', 'table', 'all']).output}`;
  if (inUse.includes(SUBNET_PREFIX)) return `${SUBNET_PREFIX}0/24 is already in use on this host`;
  return undefined;
}

const created: string[] = [];
const children: ChildProcess[] = [];
let setupFailure: string | undefined = precondition();

/** Builds the namespaces, bridge and links; returns a failure description, or undefined. */
function buildNetwork(): string | undefined {
  for (const name of [ns.switch, ns.a, ns.b, ns.c]) {
    const added = run(['netns', 'add', name]);
    if (!added.ok) return `ip netns add ${name} failed: ${added.output}`;
    created.push(name);
  }
  const steps: string[][] = [
    ['-n', ns.switch, 'link', 'add', 'br0', 'type', 'bridge'],
    ['-n', ns.switch, 'link', 'set', 'br0', 'up'],
  ];
  for (const host of hosts) {
    steps.push(
      ['-n', ns.switch, 'link', 'add', `v${host.key}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns],
      ['-n', ns.switch, 'link', 'set', `v${host.key}`, 'master', 'br0'],
      ['-n', ns.switch, 'link', 'set', `v${host.key}`, 'up'],
      ['-n', host.ns, 'addr', 'add', `${host.address}/24`, 'brd', '+', 'dev', 'eth0'],
      ['-n', host.ns, 'link', 'set', 'eth0', 'up'],
      ['-n', host.ns, 'link', 'set', 'lo', 'up'],
    );
  }
  for (const step of steps) {
    const result = run(step);
    if (!result.ok) return `ip ${step.join(' ')} failed: ${result.output}`;
  }
  return undefined;
}

// ---- the program each namespace runs ----------------------------------------------------------

/**
 * One participant, printing one JSON line per fact. Roles: `client` broadcasts a request (again
 * every 1 s until both replies are in, at most 5 times) and exits once it has both replies and
 * both heartbeats, or after its deadline; `provider` answers each request unicast to its source,
 * then broadcasts a heartbeat, and exits when its stdin closes (or after its deadline).
 */
const PROGRAM = String.raw`
const { udpDiscovery, createUdpMetrics } = await import(process.env.SB_ADAPTER_URL);
const { createActor, sendTo, setup } = await import('xstate');
const role = process.env.SB_ROLE;
const name = process.env.SB_NAME;
const deadlineMs = Number(process.env.SB_DEADLINE_MS);
const out = (record) => process.stdout.write(JSON.stringify({ name, ...record }) + '\n');
const metrics = createUdpMetrics();
const options = {
  port: Number(process.env.SB_PORT),
  metrics,
  log: (level, message, detail) => {
    if (message === 'udp discovery: bound') out({ kind: 'bound', ephemeralPort: detail.ephemeralPort });
    else if (message === 'udp discovery: listening') out({ kind: 'listening' });
    else if (message === 'udp discovery: closed') out({ kind: 'closed' });
    else if (level !== 'debug') out({ kind: 'log', level, message, code: detail && detail.code });
  },
};
if (process.env.SB_BROADCAST) options.broadcastAddresses = JSON.parse(process.env.SB_BROADCAST);
const advertisement = (respondsToClientId) => ({
  discoveryType: 'ServiceAdvertisement', serviceId: 'svc-' + name, serviceName: 'EchoService', serviceVersion: '1.0.0',
  endpoint: 'ws://' + process.env.SB_ADDRESS + ':8080', capabilities: [{ key: 'echo', settings: [{ type: 'string', name: 'text' }] }],
  status: 'Online', load: 0, heartbeatIntervalMs: 30000, ...(respondsToClientId ? { respondsToClientId } : {}),
});
const replies = new Set();
const heartbeats = new Set();
let actor;
const send = (draft, to) => actor.send({ type: 'send', command: { type: 'datagram.send', draft, to } });
function received(message, from) {
  out({ kind: 'received', discoveryType: message.discoveryType, clientId: message.clientId, serviceId: message.serviceId, respondsToClientId: message.respondsToClientId, from });
  if (role === 'provider' && message.discoveryType === 'ClientServiceDiscoveryRequest') {
    send(advertisement(message.clientId), from);
    send(advertisement(undefined), 'broadcast');
  }
  if (role === 'client' && message.discoveryType === 'ServiceAdvertisement') {
    (message.respondsToClientId === 'netns-client' ? replies : heartbeats).add(message.serviceId);
    if (replies.size === 2 && heartbeats.size === 2) finish();
  }
}
const machine = setup({ actors: { discovery: udpDiscovery(options) } }).createMachine({
  invoke: { id: 'discovery', src: 'discovery' },
  on: {
    send: { actions: sendTo('discovery', ({ event }) => event.command) },
    'datagram.received': { actions: ({ event }) => received(event.message, event.from) },
    'datagram.rejected': { actions: ({ event }) => out({ kind: 'rejected', code: event.error.code }) },
  },
});
let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  out({ kind: 'metrics', metrics });
  actor.stop();
  setTimeout(() => process.exit(0), 500).unref();
}
actor = createActor(machine).start();
setTimeout(finish, deadlineMs).unref();
process.stdin.on('end', finish).resume();
if (role === 'client') {
  let attempts = 0;
  const ask = () => {
    if (finished || replies.size === 2 || attempts++ >= 5) return;
    send({ discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'netns-client' }, 'broadcast');
    setTimeout(ask, 1000).unref();
  };
  ask();
}
`;

interface Line {
  readonly name: string;
  readonly kind: string;
  readonly [field: string]: unknown;
}

interface Participant {
  readonly child: ChildProcess;
  readonly lines: Line[];
  readonly stderr: string[];
  readonly exited: Promise<number | null>;
}

function launch(host: (typeof hosts)[number], role: 'client' | 'provider', broadcastAddresses?: string[]): Participant {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SB_ADAPTER_URL: ADAPTER_URL,
    SB_ROLE: role,
    SB_NAME: host.key,
    SB_ADDRESS: host.address,
    SB_PORT: String(PORT),
    SB_DEADLINE_MS: String(CLIENT_DEADLINE_MS + (role === 'provider' ? 3_000 : 0)),
    ...(broadcastAddresses === undefined ? {} : { SB_BROADCAST: JSON.stringify(broadcastAddresses) }),
  };
  const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, '--import', 'tsx', '--input-type=module', '-e', PROGRAM], {
    cwd: REPO_ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: Line[] = [];
  const stderr: string[] = [];
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const text of complete) {
      try {
        lines.push(JSON.parse(text) as Line);
      } catch {
        stderr.push(`(stdout) ${text}`);
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => void stderr.push(chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, stderr, exited };
}

async function until(check: () => boolean, what: string, participants: Participant[], deadlineMs: number): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  while (!check()) {
    if (performance.now() > deadline) {
      const report = participants.map((p) => `--- ${p.child.pid}\n${JSON.stringify(p.lines)}\n${p.stderr.join('')}`).join('\n');
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}\n${report}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const of = (participant: Participant, kind: string) => participant.lines.filter((line) => line.kind === kind);

// ---- the test ---------------------------------------------------------------------------------

if (setupFailure !== undefined) {
  console.warn(`adapters.udp.netns.spec: skipped: ${setupFailure}`);
}

describe.skipIf(setupFailure !== undefined)('udp discovery across network namespaces on a bridge', () => {
  beforeAll(() => {
    setupFailure = buildNetwork();
    if (setupFailure !== undefined) console.warn(`adapters.udp.netns.spec: skipped: ${setupFailure}`);
  });

  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await Promise.all(
      children.map((child) =>
        child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined,
      ),
    );
    for (const name of created.splice(0).reverse()) run(['netns', 'delete', name]);
  });

  it('DISC-2, DISC-3, DISC-4: a subnet broadcast reaches the providers in other namespaces, and their unicast replies reach the client', async (context) => {
    if (setupFailure !== undefined) return context.skip();
    const [a, b, c] = hosts;
    const providerB = launch(b, 'provider'); // default broadcast addresses, computed inside its namespace
    const providerC = launch(c, 'provider', [`${SUBNET_PREFIX}255`]);
    const all = [providerB, providerC];
    await until(() => all.every((p) => of(p, 'bound').length === 1 && of(p, 'listening').length === 1), 'the providers to bind', all, 8_000);
    // 198.51.100.255 has no route inside the namespace: ENETUNREACH, counted, never thrown.
    const startedAtMs = performance.now();
    const client = launch(a, 'client', [`${SUBNET_PREFIX}255`, '198.51.100.255']);
    all.push(client);
    const code = await Promise.race([client.exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), CLIENT_DEADLINE_MS + 3_000))]);
    for (const provider of [providerB, providerC]) provider.child.stdin?.end();
    await Promise.all([providerB.exited, providerC.exited]);
    const report = all.map((p) => `${JSON.stringify(p.lines)}\n${p.stderr.join('')}`).join('\n');
    expect(code, report).toBe(0);

    const clientPort = of(client, 'bound')[0]?.ephemeralPort;
    expect(clientPort, report).toEqual(expect.any(Number));
    for (const provider of [providerB, providerC]) {
      const requests = of(provider, 'received').filter((line) => line.discoveryType === 'ClientServiceDiscoveryRequest');
      expect(requests.length, report).toBeGreaterThanOrEqual(1);
      expect(requests[0]?.from, report).toEqual({ host: a.address, port: clientPort });
    }
    const ads = of(client, 'received').filter((line) => line.discoveryType === 'ServiceAdvertisement');
    const repliesFrom = (serviceId: string) => ads.filter((line) => line.serviceId === serviceId && line.respondsToClientId === 'netns-client');
    const heartbeatsFrom = (serviceId: string) => ads.filter((line) => line.serviceId === serviceId && line.respondsToClientId === undefined);
    for (const [provider, host] of [[providerB, b], [providerC, c]] as const) {
      const providerPort = of(provider, 'bound')[0]?.ephemeralPort;
      expect(repliesFrom(`svc-${host.key}`)[0]?.from, report).toEqual({ host: host.address, port: providerPort });
      expect(heartbeatsFrom(`svc-${host.key}`).length, report).toBeGreaterThanOrEqual(1);
    }
    const metrics = of(client, 'metrics')[0]?.metrics as { sendErrors: number; sent: number; rejected: number };
    const ownRequests = of(client, 'received').filter((line) => line.discoveryType === 'ClientServiceDiscoveryRequest').length;
    await context.annotate(
      `udp netns: client process done in ${(performance.now() - startedAtMs).toFixed(0)} ms (node + tsx start included); ` +
        `requests broadcast ${ownRequests} (heard back via its own shared socket), client metrics ${JSON.stringify(metrics)}`,
    );
    expect(metrics.sendErrors, report).toBeGreaterThanOrEqual(1);
    expect(metrics.rejected, report).toBe(0);
    expect(of(client, 'log').some((line) => line.code === 'ENETUNREACH'), report).toBe(true);
    expect(of(client, 'closed'), report).toHaveLength(1);
  }, 20_000);
});
