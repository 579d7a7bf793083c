/**
 * CONN-12 on real processes, with the library's DEFAULT connection settings: a provider process
 * SIGKILLed (by its pid) mid-task; its client process reports CONNECTION_LOST for every task in
 * flight within 2 s of the kill. Both processes are the fixtures of specs/fixtures/processes
 * (library API under tsx), on loopback; the client logs at debug, so the reconnect attempts and
 * the summary are checked too.
 *
 * Timing: the kill is stamped with Date.now() here just before process.kill; each outcome with
 * the client's Date.now() when it printed it (same host, same clock). Several providers are
 * killed one after the other (one client), and the median and maximum are noted (vitest
 * annotations: `--reporter=verbose` shows them).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { note } from './support/notes.js';
import { allocatePort } from './support/ports.js';
import {
  assignTask,
  clientView,
  listeningOf,
  startClientProcess,
  startProviderProcess,
  stopTracked,
  type ChildEvent,
  type Listening,
} from './support/processes.js';

const RUNS = 5;
const TASKS_PER_RUN = 3;
/** The bound for the default settings. */
const BOUND_MS = 2_000;
const BOOT_MS = 30_000;

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

describe.sequential('CONN-12: a provider SIGKILLed mid-task, with the default connection settings', () => {
  afterAll(() => stopTracked());

  it(`every task in flight fails CONNECTION_LOST within ${BOUND_MS} ms of the kill (${RUNS} providers killed in turn); the attempts logged at debug, the give-up at info`, async () => {
    const discoveryPort = await allocatePort();
    const names = Array.from({ length: RUNS }, (_, run) => `K${run + 1}`);
    // The client keeps the library's connection settings (no ping/backoff flags); it logs from debug.
    const client = startClientProcess('client', discoveryPort, ['--connection-defaults', '--log-level', 'debug']);
    const providers = names.map((name) => startProviderProcess({ name, discoveryPort }));
    const listening = await Promise.all(providers.map((provider) => listeningOf(provider, BOOT_MS)));
    await clientView(
      client,
      (services) => listening.every((l) => services.some((v) => v.serviceId === l.serviceIds[`Pin-${l.name}`])),
      'every provider',
      BOOT_MS,
    );

    const lostMs: number[] = [];
    for (const [run, provider] of providers.entries()) {
      const l = listening[run] as Listening;
      const taskIds = Array.from({ length: TASKS_PER_RUN }, (_, i) => `${l.name}-t${i + 1}`);
      const from = client.events.length;
      for (const taskId of taskIds) assignTask(client, taskId, `Pin-${l.name}`, 'work', { steps: 1_000, stepMs: 50 });
      // In flight: each has reported progress from the provider.
      for (const taskId of taskIds) {
        await client.waitFor((e) => e.event === 'progress' && e.taskId === taskId && Number(e.progressPercentage) > 0, {
          what: `progress of ${taskId}`,
          timeoutMs: 10_000,
          from,
        });
      }
      const killedAt = Date.now();
      provider.signal('SIGKILL');
      const outcomes = await Promise.all(
        taskIds.map((taskId) =>
          client.waitFor((e) => e.event === 'attemptSettled' && e.taskId === taskId, { what: `${taskId} settled`, timeoutMs: 20_000, from }),
        ),
      );
      expect(await provider.exited).toEqual({ code: null, signal: 'SIGKILL' });
      expect(outcomes.map((e) => `${e.status}:${e.code}`)).toEqual(taskIds.map(() => 'Failed:CONNECTION_LOST'));
      const elapsed = Math.max(...outcomes.map((e) => e.at - killedAt));
      lostMs.push(elapsed);
      expect(elapsed).toBeLessThan(BOUND_MS);

      // What the client said about it: the loss and each attempt at debug, one summary at info
      // (once the tasks have settled: the connection ends after them).
      await client.waitFor((e) => e.event === 'log' && String(e.message).startsWith(`gave up on ${l.endpoint}`), {
        what: `the give-up summary for ${l.endpoint}`,
        timeoutMs: 5_000,
        from,
      });
      const lines = client
        .of('log', from)
        .filter((e) => String(e.message).includes(l.endpoint))
        .map((e: ChildEvent) => `${String(e.level)} ${String(e.message)}`);
      expect(lines[0]).toMatch(/^debug connection to \S+ lost: transport closed \(1006/);
      expect(lines.filter((line) => line.startsWith(`debug reconnecting to ${l.endpoint}: attempt `))).toHaveLength(3);
      expect(lines.at(-1)).toMatch(/^info gave up on \S+ after 3 attempts, \d+ ms after .*connection refused\)\); its unfinished tasks fail with CONNECTION_LOST$/);
    }
    note(`SIGKILL -> CONNECTION_LOST of all ${TASKS_PER_RUN} tasks in flight, default settings: median ${median(lostMs)} ms, max ${Math.max(...lostMs)} ms over ${RUNS} kills (${lostMs.join(', ')} ms)`);
    expect(median(lostMs)).toBeLessThan(BOUND_MS);
    client.signal('SIGTERM');
    await client.exited;
  }, 120_000);
});

