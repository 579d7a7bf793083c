/**
 * `switchboard doctor`: explains why nothing is found or nothing connects (runtime/doctor/).
 * Uses the global discovery options (--discovery-port, --broadcast, --no-broadcast, --peer), so
 * it checks what `discover` and `assign` would do with the same flags.
 *
 * Exit codes: 0 no error found (warnings may remain), 1 at least one error, 2 usage.
 */
import type { Command } from 'commander';
import { runDoctor } from '../doctor/doctor.js';
import { resolveTrust } from '../trustStore.js';
import { hasErrors, renderReport } from '../doctor/findings.js';
import { runAction, type CliContext } from './context.js';
import { envOption, ExitCode, globalOptionsOf, integerIn } from './options.js';
import { line, prettyJson } from './output.js';

interface DoctorFlags {
  timeoutMs: number;
  skewMs: number;
  connectTimeoutMs: number;
  tlsFingerprint?: string;
  firewall: boolean;
}

async function runDoctorCommand(context: CliContext, flags: DoctorFlags, command: Command): Promise<number> {
  const globals = globalOptionsOf(command);
  const { discovery } = globals;
  if (!globals.json) line(context.io.stderr, `checking discovery on UDP ${discovery.port ?? 50_001} (listening ${flags.timeoutMs} ms)...`);
  const report = await runDoctor({
    port: discovery.port ?? 50_001,
    broadcast: discovery.broadcast !== false,
    ...(discovery.broadcastAddresses === undefined ? {} : { broadcastAddresses: discovery.broadcastAddresses }),
    ...(discovery.unicastPeers === undefined ? {} : { unicastPeers: discovery.unicastPeers }),
    listenMs: flags.timeoutMs,
    skewWarnMs: flags.skewMs,
    connectTimeoutMs: flags.connectTimeoutMs,
    ...(flags.tlsFingerprint === undefined ? {} : { tlsFingerprint: flags.tlsFingerprint }),
    firewall: flags.firewall,
    trust: resolveTrust(globals.trust).options,
  });
  line(context.io.stdout, globals.json ? prettyJson(report) : renderReport(report));
  return hasErrors(report) ? ExitCode.failed : ExitCode.ok;
}

export function registerDoctorCommand(program: Command, context: CliContext): Command {
  return program
    .command('doctor')
    .description('explain why nothing is found or nothing connects, with the fix for each problem')
    .addOption(envOption('--timeout-ms <n>', 'how long to listen for answers').argParser(integerIn(100, 60_000)).default(1_500))
    .addOption(envOption('--skew-ms <n>', "warn when a provider's clock is further off than this").argParser(integerIn(1, 3_600_000)).default(1_000))
    .addOption(envOption('--connect-timeout-ms <n>', 'how long one connection attempt to an advertised endpoint may take').argParser(integerIn(100, 60_000)).default(1_000))
    .addOption(envOption('--tls-fingerprint <sha256>', "the certificate fingerprint your client pins: compared with every wss:// provider's"))
    .option('--no-firewall', 'do not read the firewall rules (iptables-save, nft)')
    .addHelpText(
      'after',
      `
Checks, in order: who holds the discovery port and whether it can be shared (/proc/net/udp,
/proc/<pid>/fd), each IPv4 interface and whether a broadcast through it comes back, firewall
rules that drop the port (iptables, nft: as root), who answers a discovery request and from
where, whether each advertised endpoint is reachable from here (loopback or 0.0.0.0 endpoints,
no route, refused, TLS fingerprint), whether a client with the same trust options (--trust-key,
--allow-unsigned, --no-tofu) would act on each advertisement, and the providers' clock skew. It sends one discovery
request per broadcast address or peer (twice) and one connection per advertised endpoint.

Exit codes: 0 no error found, 1 at least one error (each with its fix), 2 usage.

Examples:
  $ switchboard doctor
  $ switchboard doctor --discovery-port 40001 --json
  $ switchboard doctor --broadcast 192.168.1.255 --peer 10.0.5.7`,
    )
    .action((flags: DoctorFlags, command: Command) => runAction(context, () => runDoctorCommand(context, flags, command)));
}
