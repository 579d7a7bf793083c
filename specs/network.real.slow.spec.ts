/**
 * Issue acceptance on real sockets: provider and client PROCESSES (specs/fixtures/processes, the
 * library API under tsx) on one host, LOOPBACK ONLY: WebSocket servers listen on 127.0.0.1,
 * discovery broadcasts go to 127.255.255.255 on a UDP port of this file's own.
 *
 * Settings of every process: heartbeat 10 s (so start-up advertisements and goodbyes are told
 * apart from heartbeats), ping 200 ms / pong timeout 300 ms both ways (CONN-3 in well under a
 * second), client backoff base 50 ms, cap 500 ms, 20 attempts unless a test says otherwise.
 *
 * Every wait has a deadline, every child is killed by pid when its block ends (and SIGCONTed
 * first, should a test have stopped it). The measured figures (discovery, SIGKILL and SIGSTOP
 * detection) are printed as `[network.real] ...` lines.
 *
 * Ports: the discovery port is 19000 + (pid % 90) * 10 + slot, slots 0..4 here and 5..9 in
 * network.real.malformed.spec.ts, below adapters.udp.spec.ts's 20000.. blocks and the kernel's
 * ephemeral range, and one per block of tests so no lingering socket of a block reaches another.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assignTask,
  clientView,
  listeningOf,
  servicesIn,
  settledOf,
  startClientProcess,
  startProviderProcess,
  stopTracked,
  type ChildEvent,
  type Listening,
  type NodeChild,
} from './support/processes.js';
import { allocatePort, portSequence } from './support/ports.js';
import { note } from './support/notes.js';

const HEARTBEAT_MS = 10_000;
const PING_MS = 200;
const PONG_MS = 300;
/** Scheduling slack on a loaded 2-core machine, added to protocol bounds. */
const SLACK_MS = 1_000;
const BOOT_MS = 20_000;

const nextDiscoveryPort = await portSequence(5, 'network.real.slow.spec');

const report = note;

const progressOf = (client: NodeChild, taskId: string): number[] =>
  client.of('progress').filter((e) => e.taskId === taskId).map((e) => Number(e.progressPercentage));

const firstProgress = (client: NodeChild, taskId: string, from = 0) =>
  client.waitFor((e) => e.event === 'progress' && e.taskId === taskId && Number(e.progressPercentage) > 0, {
    what: `progress of ${taskId}`,
    timeoutMs: 10_000,
    from,
  });

const connectionEvent = (client: NodeChild, kind: string, endpoint: string, from: number, timeoutMs: number, extra: (e: ChildEvent) => boolean = () => true) =>
  client.waitFor((e) => e.event === 'connection' && e.kind === kind && e.endpoint === endpoint && extra(e), {
    what: `connection ${kind} for ${endpoint}`,
    timeoutMs,
    from,
  });

/** Two distinct free TCP ports (for providers that must come back on the same port). */
const twoPorts = async (): Promise<[number, number]> => [await allocatePort(), await allocatePort()];

afterAll(() => stopTracked());

describe.sequential('two providers and a client on one host', () => {
  let client: NodeChild;
  let a: NodeChild;
  let b: NodeChild;
  let la: Listening;
  let lb: Listening;
  const knownAt: Record<string, number> = {};

  beforeAll(async () => {
    const port = nextDiscoveryPort();
    client = startClientProcess('client', port, ['--heartbeat-ms', String(HEARTBEAT_MS)]);
    // Ready = both discovery sockets bound; its one discovery request is gone, unanswered. From
    // here on only the providers' start-up advertisements (or a heartbeat 10 s later) can tell it.
    await client.waitFor((e) => e.event === 'ready', { what: 'client ready', timeoutMs: BOOT_MS });
    a = startProviderProcess({ name: 'A', discoveryPort: port });
    b = startProviderProcess({ name: 'B', discoveryPort: port });
    [la, lb] = await Promise.all([listeningOf(a), listeningOf(b)]);
    // Beyond the 10 s heartbeat, so a missing start-up advertisement shows up as a figure, not a hang.
    for (const l of [la, lb]) {
      const seen = await clientView(client, (s) => s.some((v) => v.serviceId === l.serviceIds.Work), `Work of ${l.name}`, HEARTBEAT_MS + 5_000);
      knownAt[l.name] = seen.at;
    }
  }, 60_000);

  afterAll(() => stopTracked());

  it('DISC-4: the client knows BOTH providers from their start-up advertisements, well before the first heartbeat', () => {
    for (const l of [la, lb]) {
      const fromListening = (knownAt[l.name] as number) - l.at;
      const provider = l.name === 'A' ? a : b;
      report(`discovery: provider ${l.name} listening -> client knows it: ${fromListening} ms (process spawn -> known: ${(knownAt[l.name] as number) - provider.spawnedAt} ms)`);
      // The advertisement may even beat the provider's own `listening` line by a few ms (it is
      // sent as the provider enters online, the line printed after start() resolves).
      expect(knownAt[l.name]).toBeGreaterThan(provider.spawnedAt);
      expect(fromListening).toBeLessThanOrEqual(2_000);
    }
    const view = servicesIn(client.of('services').at(-1) as ChildEvent);
    expect(view.filter((v) => v.serviceName === 'Work').map((v) => v.endpoint).sort()).toEqual([la.endpoint, lb.endpoint].sort());
    expect(view.every((v) => v.status === 'Online' && v.health === 'alive')).toBe(true);
  });

  it('TASK-9, TASK-10: a task runs with non-decreasing progress to its result', async () => {
    assignTask(client, 'progress-1', 'Work', 'work', { steps: 8, stepMs: 40, tag: 'p1' });
    const settled = await settledOf(client, 'progress-1', 15_000);
    expect(settled.ok).toBe(true);
    const result = settled.result as { steps: number; tag: string; taskId: string; provider: string; pid: number };
    expect(result).toMatchObject({ steps: 8, tag: 'p1', taskId: 'progress-1' });
    const ran = result.provider === 'A' ? { l: la, p: a } : { l: lb, p: b };
    expect(result.pid).toBe(ran.l.pid);
    const progress = progressOf(client, 'progress-1');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.some((p) => p > 0)).toBe(true);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1] as number);
    expect(Math.max(...progress)).toBeLessThanOrEqual(100);
    const submitted = client.of('submitted').find((e) => e.taskId === 'progress-1');
    expect(submitted?.endpoint).toBe(ran.l.endpoint);
    await ran.p.waitFor((e) => e.event === 'taskSettled' && e.taskId === 'progress-1' && e.status === 'Completed', { what: 'provider settled', timeoutMs: 2_000 });
    // A completed operation's AbortSignal never fires (regression: it used to, after the result).
    expect(ran.p.of('taskAborted').filter((e) => e.taskId === 'progress-1')).toEqual([]);
  }, 20_000);

  it('TASK-11, TASK-18: cancel ends the task Cancelled at the client (CANCELLED) and the provider reports it cancelled', async () => {
    assignTask(client, 'cancel-1', 'Work', 'work', { steps: 200, stepMs: 50 });
    await firstProgress(client, 'cancel-1');
    const cancelledAt = Date.now();
    client.send({ cmd: 'cancel', taskId: 'cancel-1' });
    const settled = await settledOf(client, 'cancel-1', 5_000);
    expect(settled).toMatchObject({ ok: false, code: 'CANCELLED' });
    report(`cancel: CancelTask -> client settled Cancelled: ${settled.at - cancelledAt} ms`);
    expect(client.of('attemptSettled').filter((e) => e.taskId === 'cancel-1').map((e) => e.status)).toEqual(['Cancelled']);
    const endpoint = client.of('submitted').find((e) => e.taskId === 'cancel-1')?.endpoint;
    const ran = endpoint === la.endpoint ? a : b;
    await ran.waitFor((e) => e.event === 'taskSettled' && e.taskId === 'cancel-1', { what: 'provider settled cancel-1', timeoutMs: 3_000 });
    expect(ran.of('taskSettled').filter((e) => e.taskId === 'cancel-1').map((e) => e.status)).toEqual(['Cancelled']);
    expect(ran.of('taskAborted').some((e) => e.taskId === 'cancel-1')).toBe(true); // ctx.signal fired
  }, 20_000);

  it('DISC-7: a provider stopped gracefully (SIGTERM) leaves the client view at once, long before 3 x heartbeat', async () => {
    const from = client.events.length;
    const stoppedAt = Date.now();
    b.signal('SIGTERM');
    const gone = await clientView(client, (s) => !s.some((v) => v.endpoint === lb.endpoint), 'B gone', 3 * HEARTBEAT_MS, from);
    const elapsed = gone.at - stoppedAt;
    report(`goodbye: SIGTERM -> client forgot the provider: ${elapsed} ms (3 x heartbeat = ${3 * HEARTBEAT_MS} ms)`);
    expect(elapsed).toBeLessThan(2_000);
    expect(servicesIn(gone).some((v) => v.endpoint === la.endpoint)).toBe(true);
    expect(await b.exited).toEqual({ code: 0, signal: null });
    expect(b.of('stopped')).toHaveLength(1);
  }, 40_000);
});

describe.sequential('a provider that dies or freezes mid-task', () => {
  afterEach(() => stopTracked());

  interface Setup {
    readonly client: NodeChild;
    readonly providers: Record<'A' | 'B', { child: NodeChild; l: Listening }>;
    readonly spare: NodeChild;
  }

  /** Providers A and B on fixed ports, a warm spare (to restart the victim in ms), and a client knowing both. */
  async function setUp(clientArgs: readonly string[]): Promise<Setup> {
    const port = nextDiscoveryPort();
    const [portA, portB] = await twoPorts();
    const a = startProviderProcess({ name: 'A', discoveryPort: port, wsPort: portA });
    const b = startProviderProcess({ name: 'B', discoveryPort: port, wsPort: portB });
    const spare = startProviderProcess({ name: 'spare', discoveryPort: port, waitStart: true });
    const client = startClientProcess('client', port, ['--heartbeat-ms', String(HEARTBEAT_MS), ...clientArgs]);
    const [la, lb] = await Promise.all([listeningOf(a), listeningOf(b)]);
    expect([la.wsPort, lb.wsPort]).toEqual([portA, portB]);
    await spare.waitFor((e) => e.event === 'booted', { what: 'spare booted', timeoutMs: BOOT_MS });
    await clientView(client, (s) => [la, lb].every((l) => s.some((v) => v.serviceId === l.serviceIds.Work)), 'both providers', BOOT_MS);
    return { client, spare, providers: { A: { child: a, l: la }, B: { child: b, l: lb } } };
  }

  /** Assigns a long task, waits until it runs, and says which provider has it. */
  async function runningTask(setup: Setup, taskId: string, steps: number) {
    assignTask(setup.client, taskId, 'Work', 'work', { steps, stepMs: 50 });
    const submitted = await setup.client.waitFor((e) => e.event === 'submitted' && e.taskId === taskId, { what: `${taskId} submitted`, timeoutMs: 5_000 });
    await firstProgress(setup.client, taskId);
    const victimName = submitted.endpoint === setup.providers.A.l.endpoint ? 'A' : 'B';
    const otherName = victimName === 'A' ? 'B' : 'A';
    return { victim: setup.providers[victimName], other: setup.providers[otherName] };
  }

  it('CONN-4, CONN-6, TASK-17: a provider SIGKILLed mid-task and restarted on its port: the client reconnects, its GetResult gets TASK_NOT_FOUND, the task fails with TASK_NOT_FOUND; a new task reaches the restarted provider', async () => {
    // Riding out a restart is opted into: by default three refused attempts end the connection (CONN-4).
    const setup = await setUp(['--refusals-max', '1000']);
    const { client, spare } = setup;
    const { victim } = await runningTask(setup, 'kill-1', 100);
    const from = client.events.length;
    const killedAt = Date.now();
    victim.child.signal('SIGKILL');
    // On loopback the kernel closes the dead process's sockets: the client sees the close itself,
    // before any ping could go unanswered.
    const down = await connectionEvent(client, 'down', victim.l.endpoint, from, PING_MS + PONG_MS + SLACK_MS);
    report(`SIGKILL: kill -> client connection down: ${down.at - killedAt} ms (reason: ${String(down.reason)})`);
    expect(down.at - killedAt).toBeLessThanOrEqual(PING_MS + PONG_MS + SLACK_MS);
    expect(await victim.child.exited).toEqual({ code: null, signal: 'SIGKILL' });

    spare.send({ cmd: 'start', name: victim.l.name, wsPort: victim.l.wsPort });
    const restarted = await listeningOf(spare, 5_000);
    expect(restarted.endpoint).toBe(victim.l.endpoint);
    const reopened = await connectionEvent(client, 'opened', victim.l.endpoint, from, 10_000, (e) => e.reconnected === true);
    report(`SIGKILL: kill -> reconnected to the restarted provider: ${reopened.at - killedAt} ms`);
    const settled = await settledOf(client, 'kill-1', 10_000);
    expect(settled).toMatchObject({ ok: false, code: 'TASK_NOT_FOUND' });
    expect(client.of('attemptSettled').filter((e) => e.taskId === 'kill-1').map((e) => e.code)).toEqual(['TASK_NOT_FOUND']);
    // Reconnected, not given up: the same connection carries the next task to the new process.
    expect(client.of('connection', from).some((e) => e.kind === 'closed' && e.endpoint === victim.l.endpoint)).toBe(false);
    assignTask(client, 'after-restart', `Pin-${victim.l.name}`, 'echo', { text: 'again' });
    const again = await settledOf(client, 'after-restart', 10_000);
    expect(again).toMatchObject({ ok: true, result: { text: 'again', provider: victim.l.name, pid: spare.pid } });
  }, 45_000);

  it('CONN-4 with ClientOptions.retry: a task whose provider was SIGKILLed fails CONNECTION_LOST when the connection gives up (3 attempts), is retried on the other provider and completes there; the provider restarted on its port is reached again', async () => {
    const setup = await setUp(['--attempts-max', '3', '--retry-codes', 'CONNECTION_LOST,TASK_NOT_FOUND', '--retry-attempts', '1']);
    const { client, spare } = setup;
    const { victim, other } = await runningTask(setup, 'kill-2', 40);
    const from = client.events.length;
    const killedAt = Date.now();
    victim.child.signal('SIGKILL');
    const down = await connectionEvent(client, 'down', victim.l.endpoint, from, PING_MS + PONG_MS + SLACK_MS);
    report(`SIGKILL (retry client): kill -> client connection down: ${down.at - killedAt} ms`);
    const settled = await settledOf(client, 'kill-2', 15_000);
    expect(settled).toMatchObject({ ok: true, result: { taskId: 'kill-2', steps: 40, provider: other.l.name, pid: other.l.pid } });
    expect(client.of('attemptSettled').filter((e) => e.taskId === 'kill-2').map((e) => `${e.status}:${e.code ?? ''}`)).toEqual([
      'Failed:CONNECTION_LOST',
      'Completed:',
    ]);
    expect(client.of('submitted').filter((e) => e.taskId === 'kill-2').map((e) => e.endpoint)).toEqual([victim.l.endpoint, other.l.endpoint]);
    const gaveUp = await connectionEvent(client, 'closed', victim.l.endpoint, from, 1_000);
    expect(gaveUp.gaveUp).toBe(true);
    report(`SIGKILL (retry client): kill -> retried task completed on provider ${other.l.name}: ${settled.at - killedAt} ms`);

    spare.send({ cmd: 'start', name: victim.l.name, wsPort: victim.l.wsPort });
    const restarted = await listeningOf(spare, 5_000);
    await clientView(client, (s) => s.some((v) => v.serviceId === restarted.serviceIds[`Pin-${victim.l.name}`]), 'the restarted provider', 5_000);
    assignTask(client, 'after-restart', `Pin-${victim.l.name}`, 'echo', { text: 'back' });
    const again = await settledOf(client, 'after-restart', 10_000);
    expect(again).toMatchObject({ ok: true, result: { text: 'back', pid: spare.pid } });
  }, 45_000);

  it('CONN-3: a SIGSTOPped provider (socket open, no pongs) is detected by pong timeout within ping + pong timeout; the task fails CONNECTION_LOST and is retried on the other provider; resumed, the provider still finishes it (TASK-13)', async () => {
    const setup = await setUp(['--attempts-max', '2', '--connect-timeout-ms', '400', '--retry-codes', 'CONNECTION_LOST,TASK_NOT_FOUND', '--retry-attempts', '1']);
    const { client } = setup;
    const { victim, other } = await runningTask(setup, 'freeze-1', 40);
    const from = client.events.length;
    const stoppedAt = Date.now();
    victim.child.signal('SIGSTOP');
    try {
      const down = await connectionEvent(client, 'down', victim.l.endpoint, from, 5_000);
      const detectedMs = down.at - stoppedAt;
      report(`SIGSTOP: stop -> client detected by pong timeout: ${detectedMs} ms (ping ${PING_MS} + pong ${PONG_MS} ms)`);
      expect(down.reason).toBe('no pong within pongTimeoutMs');
      expect(detectedMs).toBeGreaterThanOrEqual(PONG_MS - 50);
      expect(detectedMs).toBeLessThanOrEqual(PING_MS + PONG_MS + SLACK_MS);
      const settled = await settledOf(client, 'freeze-1', 15_000);
      expect(settled).toMatchObject({ ok: true, result: { taskId: 'freeze-1', provider: other.l.name, pid: other.l.pid } });
      expect(client.of('attemptSettled').filter((e) => e.taskId === 'freeze-1').map((e) => `${e.status}:${e.code ?? ''}`)).toEqual([
        'Failed:CONNECTION_LOST',
        'Completed:',
      ]);
      report(`SIGSTOP: stop -> retried task completed on provider ${other.l.name}: ${settled.at - stoppedAt} ms`);
    } finally {
      victim.child.signal('SIGCONT');
    }
    // Resumed, the frozen provider finds its client gone, and the task it was running is not
    // cancelled by that (TASK-13): it completes there too (its outcome kept in its ledger).
    await victim.child.waitFor((e) => e.event === 'taskSettled' && e.taskId === 'freeze-1', { what: 'freeze-1 settled at the resumed provider', timeoutMs: 10_000 });
    expect(victim.child.of('taskSettled').filter((e) => e.taskId === 'freeze-1').map((e) => e.status)).toEqual(['Completed']);
    expect(victim.child.of('taskAborted')).toEqual([]);
  }, 45_000);
});
