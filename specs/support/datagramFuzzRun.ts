/**
 * The datagram fuzz run (SEC-9, WIRE-9, SEC-8, DISC-14): a provider PROCESS and a client PROCESS
 * (specs/fixtures/processes) on a discovery port of their own, LOOPBACK ONLY; fuzzed datagrams
 * (specs/support/datagramFuzz.ts) broadcast from an attacker's socket at 127.0.0.66, so every
 * one reaches both processes; meanwhile the client assigns tasks to the provider's `Pin-F`
 * service (its key pinned), which must all complete with the right result. Afterwards both
 * processes must be alive and answer, and their counters must show the datagrams were judged.
 */
import { padRequest, REQUEST_BYTES_MIN } from '../../machines/discovery/answers.js';
import { datagramFuzzer } from './datagramFuzz.js';
import { closeAll, discoveryPort, LOOPBACK_BROADCAST, rawSocket, sleep, until as untilHere } from './discoveryNet.js';
import {
  assignTask,
  clientView,
  listeningOf,
  settledOf,
  startClientProcess,
  startProviderProcess,
  statsOf,
  stopTracked,
  type ChildEvent,
  type NodeChild,
} from './processes.js';

/** Datagrams sent ahead of what the slower of the two processes has read. */
const WINDOW = 16;

/** DATAGRAM_FUZZ_SEED, or a fixed seed so CI is deterministic. */
export const fuzzSeed = (): number => Number(process.env.DATAGRAM_FUZZ_SEED ?? 20_261_203);

export interface FuzzRunOptions {
  readonly datagrams: number;
  readonly tasks: number;
  readonly seed: number;
}

export interface FuzzRunReport {
  readonly seed: number;
  readonly sent: number;
  readonly durationMs: number;
  readonly completed: number;
  readonly provider: Record<string, any>;
  readonly client: Record<string, any>;
  readonly exits: readonly unknown[];
}

export async function runDatagramFuzz(options: FuzzRunOptions): Promise<FuzzRunReport> {
  const port = await discoveryPort();
  try {
    const listener = await rawSocket('0.0.0.0', { port, reuseAddr: true });
    const provider = startProviderProcess({ name: 'F', discoveryPort: port, args: ['--heartbeat-ms', '1000'] });
    const listening = await listeningOf(provider);
    const client = startClientProcess('client', port, ['--heartbeat-ms', '1000', '--trust-key', `Pin-F=${listening.publicKey}`]);
    await clientView(client, (services) => services.some((service) => service.serviceName === 'Pin-F'), 'the provider at the client', 20_000);
    const captured = await untilHere(() => listener.received.find((datagram) => datagram.text.includes(`"serviceName":"Pin-F"`)), 'a signed advertisement to mutate');
    const advertisement = JSON.parse(captured.text) as Record<string, unknown>;
    const request = JSON.parse(
      padRequest(JSON.stringify({ discoveryType: 'ClientServiceDiscoveryRequest', clientId: 'fuzz-client', timestamp: new Date().toISOString() }), REQUEST_BYTES_MIN),
    ) as Record<string, unknown>;

    const next = datagramFuzzer({ advertisement, request }, options.seed, 65_507);
    const attacker = await rawSocket('127.0.0.66');
    const every = Math.max(1, Math.floor(options.datagrams / options.tasks));
    const taskIds: string[] = [];
    const settling = new Map<string, Promise<ChildEvent>>();
    const startedMs = Date.now();
    /** Datagrams each process has read and judged (received, or rejected by the codec). */
    const judged = async (child: NodeChild): Promise<number> => {
      const { udp } = await statsOf(child, 20_000);
      return (udp.received as number) + (udp.rejected as number);
    };
    let window = { provider: 0, client: 0 };
    for (let i = 0; i < options.datagrams; i++) {
      await attacker.send(next(), port, LOOPBACK_BROADCAST);
      if (i % every === 0 && taskIds.length < options.tasks) {
        const taskId = `fuzz-task-${taskIds.length}`;
        taskIds.push(taskId);
        settling.set(taskId, settledOf(client, taskId, 120_000));
        assignTask(client, taskId, 'Pin-F', 'echo', { text: taskId });
      }
      // Flow control: no more than WINDOW datagrams ahead of what both processes have read, so
      // they are judged, not dropped by a full socket buffer (a burst still may lose a few).
      // A datagram the kernel dropped never counts: stop waiting once neither count moves.
      if ((i + 1) % WINDOW === 0) {
        const target = i + 1 - WINDOW;
        for (;;) {
          const seen = { provider: await judged(provider), client: await judged(client) };
          const caughtUp = seen.provider >= target && seen.client >= target;
          const stalled = seen.provider === window.provider && seen.client === window.client;
          window = seen;
          if (caughtUp || stalled) break;
          await sleep(2);
        }
      }
    }
    const settled = await Promise.all(taskIds.map((taskId) => settling.get(taskId) as Promise<ChildEvent>));
    const completed = settled.filter((event, index) => event.ok === true && (event.result as { text?: string } | undefined)?.text === taskIds[index]).length;
    const durationMs = Date.now() - startedMs;
    const [providerStats, clientStats] = await Promise.all([statsOf(provider, 20_000), statsOf(client, 20_000)]);
    return { seed: options.seed, sent: options.datagrams, durationMs, completed, provider: providerStats, client: clientStats, exits: [provider.exit, client.exit] };
  } finally {
    await stopTracked();
    await closeAll();
  }
}
