/**
 * Discovery, measured at a client process (switchboard or Moleculer).
 *
 *   node --import tsx bench/discovery.ts watch <switchboard|moleculer>
 *     A client that is already running when the provider starts: prints `watching` once its
 *     discovery is up, `seen` when the service first appears, `firstCall` when a first call to it
 *     has returned. The orchestrator subtracts the provider's `starting` time (bench/serve.ts).
 *   node --import tsx bench/discovery.ts fresh <switchboard|moleculer>
 *     A client started while the provider runs: `known` and `firstCall`, each with `sinceStartMs`
 *     (from createClient / broker.start) and `sinceProcessMs` (from the process's own start).
 * Both stay until {"cmd":"stop"}.
 */
import { nowMs, onCommand, report, reportCrashes, SERVICE_NAME, sleep, within } from './common.js';
import { moleculerBroker, switchboardClient } from './systems.js';

reportCrashes();
const mode = process.argv[2];
const system = process.argv[3];
if (mode !== 'watch' && mode !== 'fresh') throw new TypeError(`discovery: unknown mode ${mode}`);
if (system !== 'switchboard' && system !== 'moleculer') throw new TypeError(`discovery: no discovery in ${system}`);
setTimeout(() => process.exit(3), 120_000).unref();

let stop: () => Promise<unknown> = async () => undefined;
onCommand((command) => {
  if (command.cmd !== 'stop') return;
  void within(stop(), 5_000, 'stop')
    .catch(() => undefined)
    .then(() => process.exit(0));
});

const found = (event: string, startedAt: number) =>
  report(event, { sinceStartMs: nowMs() - startedAt, sinceProcessMs: nowMs() - performance.timeOrigin });

if (system === 'switchboard') {
  const startedAt = nowMs();
  const client = switchboardClient();
  stop = () => client.stop();
  if (mode === 'watch') {
    // The discovery socket binds within a few milliseconds of createClient.
    await sleep(300);
    report('watching');
  }
  await client.waitFor(SERVICE_NAME, { operation: 'echo', timeoutMs: 60_000 });
  found(mode === 'watch' ? 'seen' : 'known', startedAt);
  await client.assign(SERVICE_NAME, 'echo', {}).result;
  found('firstCall', startedAt);
} else {
  const startedAt = nowMs();
  const broker = moleculerBroker(`bench-${mode}-${process.pid}`);
  stop = () => broker.stop();
  const registry = broker.registry as unknown as { hasService(name: string): boolean };
  let timer: NodeJS.Timeout | undefined;
  const seen = new Promise<void>((resolve) => {
    const check = () => {
      if (!registry.hasService('bench')) return;
      clearInterval(timer);
      resolve();
    };
    broker.localBus.on('$services.changed', check);
    broker.localBus.on('$node.connected', check);
    // Belt and braces: a 1 ms poll, in case the registry changes without a local event.
    timer = setInterval(check, 1);
  });
  await broker.start();
  if (mode === 'watch') report('watching');
  await within(seen, 60_000, 'moleculer: bench service');
  found(mode === 'watch' ? 'seen' : 'known', startedAt);
  await broker.call('bench.echo', {});
  found('firstCall', startedAt);
}
