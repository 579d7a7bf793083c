/**
 * Broadcast of one event to `--count` subscribers (default 1,000) on one publisher (issue 15
 * target), each subscriber on a connection of its own, publisher and subscribers in separate
 * processes on loopback: time from publish to the last delivery, and the publisher's CPU time per
 * delivery, median of `--rounds` broadcasts (default 20) after 3 warm-up ones, for every system in
 * `--systems` (default switchboard,socketio), in the same run.
 *
 *   node --import tsx bench/broadcast.ts [--count 1000] [--rounds 20] [--systems socketio]
 */
import { argOf, numberArg, sleep, spread } from './common.js';
import { BenchProcess, killAll } from './procs.js';

const count = numberArg('count', 1000);
const rounds = numberArg('rounds', 20);
const systems = (argOf('systems', 'switchboard,socketio') as string).split(',');

interface Figures {
  readonly system: string;
  readonly lastMs: ReturnType<typeof spread>;
  readonly cpuUsPerDelivery: ReturnType<typeof spread>;
}

async function measure(system: string): Promise<Figures> {
  const server = new BenchProcess(`${system} publisher`, 'broadcastServer.ts', ['--system', system, '--count', String(count)]);
  try {
    const { port } = (await server.event('listening', 30_000)) as unknown as { port: number };
    const clients = new BenchProcess(`${system} subscribers`, 'broadcastClients.ts', ['--system', system, '--count', String(count), '--port', String(port)]);
    try {
      await clients.event('ready', 120_000);
      const lastMs: number[] = [];
      const cpu: number[] = [];
      for (let k = 1; k <= rounds + 3; k++) {
        const fromServer = server.events.length;
        const fromClients = clients.events.length;
        server.send({ cmd: 'broadcast', k });
        const sent = await server.waitFor((e) => e.event === 'sent' && e.k === k, 'sent', 30_000, fromServer);
        const received = await clients.waitFor((e) => e.event === 'received' && e.k === k, `received ${k}`, 30_000, fromClients);
        server.send({ cmd: 'cpu' });
        const after = await server.waitFor((e) => e.event === 'cpu', 'cpu', 30_000, fromServer);
        const before = sent.cpuBefore as NodeJS.CpuUsage;
        const now = after.cpu as NodeJS.CpuUsage;
        if (k > 3) {
          lastMs.push((received.lastAt as number) - (sent.sentAt as number));
          cpu.push((now.user - before.user + now.system - before.system) / count);
        }
        await sleep(50);
      }
      return { system, lastMs: spread(lastMs), cpuUsPerDelivery: spread(cpu) };
    } finally {
      await clients.stop();
    }
  } finally {
    await server.stop();
  }
}

try {
  const results: Figures[] = [];
  for (const system of systems) results.push(await measure(system));
  console.log(`broadcast of one event to ${count} subscribers (one connection each), ${rounds} broadcasts, median [min..max]`);
  console.log('system        time to last delivery (ms)    publisher CPU per delivery (us)');
  for (const r of results) {
    const f = (s: ReturnType<typeof spread>, d: number) => `${s.median.toFixed(d)} [${s.min.toFixed(d)}..${s.max.toFixed(d)}]`;
    console.log(`${r.system.padEnd(13)} ${f(r.lastMs, 1).padEnd(29)} ${f(r.cpuUsPerDelivery, 1)}`);
  }
} finally {
  await killAll();
}
