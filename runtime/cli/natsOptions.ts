/**
 * The NATS options every networked command takes (docs/nats.md): `--nats <url>` adds NATS to the
 * LAN (UDP + WebSocket), `--no-lan` leaves NATS alone. Declared once, on the program, as global
 * options; each command reads them with `networkChoiceOf(command)`.
 */
import { Option, type Command } from 'commander';
import type { NatsHostOptions } from '../../adapters/nats.js';
import { credentialsProblem } from '../../adapters/nats/credentials.js';
import type { NetworkChoice } from '../network.js';
import type { UdpDiscoveryOptions } from '../../adapters/udp.js';
import { describeDiscovery, envOption, listOf, UsageError } from './options.js';

interface RawNatsFlags {
  nats?: string[];
  natsPrefix?: string;
  natsName?: string;
  natsCreds?: string;
  natsToken?: string;
  natsCa?: string;
  natsCert?: string;
  natsKey?: string;
  natsDurableOutcomes?: boolean;
  lan?: boolean;
}

export function addNatsOptions(program: Command): Command {
  return program
    .addOption(envOption('--nats <url>', 'also talk over NATS through these servers (nats://host:4222); repeatable or comma-separated').argParser(listOf((url) => url)))
    .addOption(envOption('--nats-prefix <prefix>', 'NATS subject prefix: one deployment per prefix (default: switchboard)'))
    .addOption(envOption('--nats-name <name>', "provider: its NATS listener name, for an endpoint that stays the same across restarts"))
    .addOption(envOption('--nats-creds <file>', 'NATS credentials file (.creds)'))
    .addOption(envOption('--nats-token <token>', "the NATS server's token (not switchboard's --token)"))
    .addOption(envOption('--nats-ca <file>', 'trust this CA for the NATS servers (TLS)'))
    .addOption(envOption('--nats-cert <file>', 'client certificate for the NATS servers (TLS)'))
    .addOption(envOption('--nats-key <file>', 'key of --nats-cert'))
    .addOption(new Option('--nats-durable-outcomes', 'provider: keep task outcomes in JetStream, so clients get them after a restart (needs a stable --nats-name)'))
    .addOption(new Option('--no-lan', 'NATS only: no UDP discovery, no WebSocket server'));
}

/** The `nats` and `lan` options of createProvider/createClient, from the flags. */
export function networkChoiceOf(command: Command): NetworkChoice {
  const raw = command.optsWithGlobals<RawNatsFlags>();
  if (raw.nats === undefined || raw.nats.length === 0) {
    if (raw.lan === false) throw new UsageError('--no-lan needs --nats <url>: there is nowhere else to talk');
    return {};
  }
  // A usage error before anything starts, rather than a connect failure that discovery retries.
  const credentialsFault = raw.natsCreds === undefined ? undefined : credentialsProblem(raw.natsCreds);
  if (credentialsFault !== undefined) throw new UsageError(`--nats-creds: ${credentialsFault}`);
  const tls =
    raw.natsCa === undefined && raw.natsCert === undefined
      ? undefined
      : {
          ...(raw.natsCa === undefined ? {} : { caFile: raw.natsCa }),
          ...(raw.natsCert === undefined ? {} : { certFile: raw.natsCert }),
          ...(raw.natsKey === undefined ? {} : { keyFile: raw.natsKey }),
        };
  const nats: NatsHostOptions = {
    servers: raw.nats,
    ...(raw.natsPrefix === undefined ? {} : { subjectPrefix: raw.natsPrefix }),
    ...(raw.natsName === undefined ? {} : { name: raw.natsName }),
    ...(raw.natsCreds === undefined ? {} : { credentials: raw.natsCreds }),
    ...(raw.natsToken === undefined ? {} : { token: raw.natsToken }),
    ...(tls === undefined ? {} : { tls }),
    ...(raw.natsDurableOutcomes === true ? { durableOutcomes: true } : {}),
  };
  return { nats, lan: raw.lan !== false };
}

/** Where discovery goes, in words (the LAN's, NATS's, or both), for the first line a command prints. */
export function describeNetwork(discovery: UdpDiscoveryOptions, choice: NetworkChoice): string {
  const nats = choice.nats === undefined ? undefined : `NATS ${[choice.nats.servers ?? []].flat().join(', ')} (subjects ${choice.nats.subjectPrefix ?? 'switchboard'}.*)`;
  if (nats === undefined) return describeDiscovery(discovery);
  return choice.lan === false ? nats : `${describeDiscovery(discovery)}, and ${nats}`;
}
