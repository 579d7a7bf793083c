/**
 * `switchboard gateway`: bridges this LAN to NATS until SIGINT/SIGTERM (runtime/gateway): LAN
 * providers become reachable over NATS, NATS providers over the LAN, for peers that speak only
 * the seed protocol. Needs `--nats <url>`; discovery options are the global ones.
 */
import type { Command } from 'commander';
import { createGateway, type Gateway } from '../gateway/gateway.js';
import { defaultKeyFile, SigningKeyError } from '../keys.js';
import { runAction, within, type CliContext } from './context.js';
import { describeDiscovery, envOption, ExitCode, globalOptionsOf, UsageError } from './options.js';
import { networkChoiceOf } from './natsOptions.js';
import { jsonLine, line, stderrLogger } from './output.js';
import { nextStopSignal } from './signals.js';

interface GatewayFlags {
  host: string;
  advertisedHost?: string;
  keyFile?: string;
}

async function runGateway(context: CliContext, flags: GatewayFlags, command: Command): Promise<number> {
  const { io } = context;
  const globals = globalOptionsOf(command);
  const { nats } = networkChoiceOf(command);
  if (nats === undefined) throw new UsageError('gateway needs --nats <url>: the NATS side of the bridge');
  const log = stderrLogger(io, globals.logLevel, globals.logFormat);
  let gateway: Gateway;
  try {
    gateway = createGateway({
      nats,
      lan: { discovery: globals.discovery, host: flags.host, ...(flags.advertisedHost === undefined ? {} : { advertisedHost: flags.advertisedHost }) },
      // A key kept in a file: clients that trusted it (on first use, or pinned) still do after a restart.
      signing: flags.keyFile === undefined ? { keyFile: defaultKeyFile(process.env, 'gateway'), nextFreeSlot: true } : { keyFile: flags.keyFile },
      log,
    });
  } catch (error) {
    if (error instanceof SigningKeyError) throw new UsageError(`--key-file: ${error.message}`);
    throw error;
  }
  const stop = nextStopSignal();
  try {
    await gateway.start();
    const subjects = nats.subjectPrefix ?? 'switchboard';
    if (globals.json) {
      jsonLine(io.stdout, { event: 'gateway.started', time: new Date().toISOString(), servers: nats.servers, subjectPrefix: subjects, publicKey: gateway.publicKey, keyFile: gateway.keyFile });
    } else {
      line(io.stdout, `gateway: LAN (discovery ${describeDiscovery(globals.discovery)}) <-> NATS ${[nats.servers].flat().join(', ')} (subjects ${subjects}.*)`);
      line(io.stdout, `signing key ${gateway.publicKey} (${gateway.keyFile}): relayed providers are signed with it; clients pin it (--trust-key)`);
      line(io.stdout, 'press Ctrl-C to stop');
    }
    const signal = await stop.signal;
    await within(gateway.stop(), 5_000);
    if (globals.json) jsonLine(io.stdout, { event: 'gateway.stopped', time: new Date().toISOString(), signal, ...gateway.stats });
    else line(io.stdout, `${signal}: stopped (relayed ${gateway.stats.lanToNats} LAN and ${gateway.stats.natsToLan} NATS endpoints, ${gateway.stats.connectionsRelayed} connections)`);
    return ExitCode.ok;
  } finally {
    stop.dispose();
  }
}

export function registerGatewayCommand(program: Command, context: CliContext): Command {
  return program
    .command('gateway')
    .description('bridge this LAN to NATS both ways, for peers that speak only the seed protocol (needs --nats)')
    .addOption(envOption('--host <addr>', 'address the relayed WebSocket servers listen on').default('0.0.0.0'))
    .addOption(envOption('--advertised-host <host>', "host put in relayed endpoints (default: --host, or this machine's first LAN address)"))
    .addOption(
      envOption(
        '--key-file <path>',
        `the gateway's signing key: it signs every advertisement it relays, so clients pin its public key (default: ${defaultKeyFile(process.env, 'gateway')}, or the next free -2, -3, ...)`,
      ),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ switchboard gateway --nats nats://10.0.0.5:4222
  $ switchboard gateway --nats nats://hub:4222 --nats-prefix acme.prod --nats-creds ./gw.creds`,
    )
    .action((flags: GatewayFlags, command: Command) => runAction(context, () => runGateway(context, flags, command)));
}
