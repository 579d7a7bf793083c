/**
 * A server process of the NATS comparison (bench/natsPhases.ts):
 *
 *   node --import tsx bench/natsServe.ts <switchboard-nats|moleculer-nats> --url nats://127.0.0.1:P
 *
 * Prints `ready`. Commands on stdin: {"cmd":"cpu","tag":T} -> `cpu` { tag, userUs, systemUs }
 * (process.cpuUsage, for CPU per task over a measured window); {"cmd":"stop"} -> stops, exits 0.
 */
import { argOf, numberArg, onCommand, report, reportCrashes } from './common.js';
import { isNatsSystem, startNatsServer } from './natsSystems.js';

reportCrashes();
const system = process.argv[2];
if (!isNatsSystem(system)) throw new TypeError(`natsServe: unknown system ${system}`);
setTimeout(() => process.exit(3), numberArg('lifetime-ms', 10 * 60_000)).unref();

const stop = await startNatsServer(system, argOf('url') ?? 'nats://127.0.0.1:4222');
report('ready', { system });
onCommand((command) => {
  if (command.cmd === 'cpu') {
    const { user, system: kernel } = process.cpuUsage();
    report('cpu', { tag: command.tag, userUs: user, systemUs: kernel });
  } else if (command.cmd === 'stop') {
    void stop().finally(() => process.exit(0));
  }
});
