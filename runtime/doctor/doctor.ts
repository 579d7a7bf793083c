/**
 * `switchboard doctor`: why nothing is found or nothing connects, from what this host can
 * observe. In order: who holds the discovery port (and whether it can be shared), this host's
 * interfaces and whether a broadcast through each comes back, firewall rules that drop the port,
 * who answers a request and from where, whether each advertised endpoint is reachable from here,
 * and how far the providers' clocks are. Each problem comes with the fix to apply.
 *
 * It sends: one ClientServiceDiscoveryRequest per target, twice; one TCP (or TLS) connection per
 * advertised endpoint. It changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { LOOPBACK_BROADCAST } from '../../adapters/udp/addresses.js';
import { trustDefaults, type TrustOptions } from '../../machines/discovery/trust.js';
import type { PeerAddress } from '../../machines/transport.js';
import { readFirewall, type FirewallReading } from './firewall.js';
import type { DoctorReport, Finding } from './findings.js';
import { answerFindings, clockFindings, endpointFindings, trustFindings } from './heard.js';
import { idleInterfaces, interfaceForBroadcast, ipv4Interfaces, type IdleInterface, type InterfaceView } from './interfaces.js';
import { probe, type ProbeResult, type ProbeTarget } from './probe.js';
import { udpPortHolders, type PortHolder } from './procNet.js';

export interface DoctorOptions {
  readonly port: number;
  /** Send the request by broadcast. @default true */
  readonly broadcast?: boolean;
  /** Where broadcasts go. @default every interface's directed broadcast address, loopback's included */
  readonly broadcastAddresses?: readonly string[];
  /** Also ask these hosts directly. */
  readonly unicastPeers?: readonly PeerAddress[];
  /** How long to listen for answers. @default 1_500 */
  readonly listenMs?: number;
  /** A provider clock further off than this is a warning. @default 1_000 */
  readonly skewWarnMs?: number;
  /** @default 1_000 */
  readonly connectTimeoutMs?: number;
  /** A TLS fingerprint the client pins, compared with every wss:// endpoint's certificate. */
  readonly tlsFingerprint?: string;
  /** Read the firewall rules (iptables-save, nft). @default true */
  readonly firewall?: boolean;
  /** The trust options of the clients to check for (which advertisements they would act on). @default trustDefaults */
  readonly trust?: TrustOptions;
}

function targetsOf(options: DoctorOptions, interfaces: readonly InterfaceView[]): ProbeTarget[] {
  const targets: ProbeTarget[] = [];
  if (options.broadcast !== false) {
    const addresses = options.broadcastAddresses ?? [...new Set(interfaces.flatMap((view) => (view.broadcast === undefined ? [] : [view.broadcast])))];
    for (const address of addresses.length > 0 ? addresses : [LOOPBACK_BROADCAST]) {
      const view = interfaceForBroadcast(interfaces, address);
      targets.push({ host: address, port: options.port, label: view === undefined ? address : `${address} (${view.name})` });
    }
  }
  for (const peer of options.unicastPeers ?? []) targets.push({ host: peer.host, port: peer.port, label: `peer ${peer.host}:${peer.port}` });
  return targets;
}

const holderText = (holder: PortHolder) =>
  `${holder.localAddress}:${holder.localPort} ${holder.pid === undefined ? `(owner not visible: uid ${holder.uid})` : `pid ${holder.pid} ${holder.command ?? ''}`.trimEnd()}`;

function portFindings(port: number, holders: Awaited<ReturnType<typeof udpPortHolders>>, bindError: string | undefined): Finding[] {
  const list = holders?.holders ?? [];
  const notVisible = holders !== undefined && holders.processesUnreadable > 0 && list.some((holder) => holder.pid === undefined) ? ['some owners are not visible to this user: run as root to see them'] : [];
  if (bindError === 'EADDRINUSE') {
    return [
      {
        id: 'port.exclusive',
        severity: 'error',
        title: `UDP ${port} is held exclusively: it cannot be shared, so no other switchboard process on this host hears discovery`,
        detail: [...list.map(holderText), ...notVisible],
        fix: `stop the process holding it, or make it bind with SO_REUSEADDR as every switchboard process does (they share the port); or move all of them to another port with --discovery-port`,
        data: { holders: list },
      },
    ];
  }
  if (bindError !== undefined) {
    return [{ id: 'port.unusable', severity: 'error', title: `cannot bind UDP ${port}: ${bindError}`, fix: bindError === 'EACCES' ? 'ports below 1024 need root (CAP_NET_BIND_SERVICE): use a higher --discovery-port' : 'check the port number' }];
  }
  if (holders === undefined) return [{ id: 'port.shared', severity: 'info', title: `UDP ${port} can be shared (who else holds it is not observable here: no /proc/net/udp)` }];
  if (list.length === 0) {
    return [{ id: 'port.free', severity: 'info', title: `nothing on this host listens on UDP ${port}: no switchboard provider or client runs here` }];
  }
  return [{ id: 'port.shared', severity: 'ok', title: `UDP ${port} is bound by ${list.length} socket${list.length === 1 ? '' : 's'} and can be shared`, detail: [...list.map(holderText), ...notVisible], data: { holders: list } }];
}

function interfaceFindings(interfaces: readonly InterfaceView[], idle: readonly IdleInterface[], targets: readonly ProbeTarget[], result: ProbeResult, port: number, firewallDropsInput: boolean): Finding[] {
  const findings: Finding[] = [
    {
      id: 'interfaces',
      severity: 'info',
      title: `${interfaces.length} IPv4 address${interfaces.length === 1 ? '' : 'es'} on interfaces that are up`,
      detail: [
        ...interfaces.map((view) => `${view.name} ${view.address}/${view.prefix} ${view.broadcast === undefined ? 'no broadcast address (point to point)' : `broadcast ${view.broadcast}`}`),
        ...idle.map((entry) => `${entry.name} ${entry.addresses.join(' ')} ${entry.state}`.replace(/\s+/g, ' ')),
      ],
      data: { interfaces, idle },
    },
  ];
  // An interface down without an IPv4 address is not meant for this (ifb0, a spare veth): listed only.
  for (const entry of idle.filter((candidate) => candidate.addresses.length > 0)) {
    const addresses = entry.addresses.length === 0 ? '' : ` (${entry.addresses.join(', ')})`;
    findings.push(
      entry.state === 'down'
        ? { id: 'interface.down', severity: 'warning', title: `${entry.name}${addresses} is down: nothing is sent or heard through it`, fix: `ip link set ${entry.name} up` }
        : { id: 'interface.noLink', severity: 'warning', title: `${entry.name}${addresses} is up but has no link: nothing is sent or heard through it`, fix: 'check its cable, Wi-Fi association or VPN' },
    );
  }
  for (const view of interfaces) {
    if (view.internal) continue;
    if (view.broadcastFlag === false && view.broadcast !== undefined) {
      findings.push({ id: 'interface.noBroadcast', severity: 'warning', title: `${view.name} has no BROADCAST flag: broadcasts do not leave through it`, fix: 'use --peer <host> (unicast) or --multicast <group> for providers behind this interface' });
    } else if (view.broadcast === undefined) {
      findings.push({ id: 'interface.pointToPoint', severity: 'info', title: `${view.name} (${view.address}/${view.prefix}) is point to point: it has no broadcast address`, fix: 'to discover over it, use --peer <host> (unicast) on both sides' });
    }
  }
  targets.forEach((target, index) => {
    const sendError = result.sendErrors.get(index);
    if (sendError !== undefined) {
      findings.push({
        id: 'broadcast.sendFailed',
        severity: 'error',
        title: `cannot send to ${target.label}: ${sendError}`,
        fix: sendError === 'ENETUNREACH' ? 'no route to that address from here: check the address, or this host\'s routes (ip route)' : sendError === 'EACCES' ? 'sending there is not permitted (a broadcast address without broadcast enabled, or a firewall OUTPUT rule)' : 'check the address',
      });
      return;
    }
    if (target.label.startsWith('peer ')) return;
    if (result.sharedBindError !== undefined) {
      findings.push({ id: 'broadcast.unchecked', severity: 'info', title: `whether datagrams sent to ${target.label} come back was not checked: UDP ${port} could not be bound` });
    } else if (result.echoed.has(index)) {
      findings.push({ id: 'broadcast.echo', severity: 'ok', title: `datagrams sent to ${target.label} come back to UDP ${port} on this host` });
    } else {
      findings.push({
        id: 'broadcast.lost',
        severity: 'warning',
        title: `datagrams sent to ${target.label} do not come back to UDP ${port} on this host`,
        fix: firewallDropsInput
          ? 'the firewall drops the port on input (see the firewall finding)'
          : 'the interface may be down or filter broadcasts, or the address is not this network\'s broadcast address: check `ip -4 addr` and any firewall in between',
      });
    }
  });
  return findings;
}

function firewallFindings(reading: FirewallReading, port: number): Finding[] {
  const findings: Finding[] = [];
  for (const drop of reading.drops) {
    const accept = drop.tool === 'iptables' ? `iptables -I ${drop.chain} -p udp --dport ${port} -j ACCEPT` : `nft insert rule ${drop.chain} udp dport ${port} accept`;
    findings.push({
      id: 'firewall.drop',
      severity: drop.conditional ? 'warning' : 'error',
      title: `${drop.tool} ${drop.chain} ${drop.conditional ? 'may drop' : 'drops'} UDP ${port} (${drop.direction === 'in' ? 'incoming' : 'outgoing'}): ${drop.rule}`,
      fix: `${drop.remove}   (or accept the port before it: ${accept})`,
      data: { ...drop },
    });
  }
  for (const policy of reading.policyDrops) {
    const accept = policy.tool === 'iptables' ? `iptables -I ${policy.chain} -p udp --dport ${port} -j ACCEPT` : `nft insert rule ${policy.chain} udp dport ${port} accept`;
    findings.push({
      id: 'firewall.policy',
      severity: 'error',
      title: `${policy.tool} ${policy.chain} drops by default and no rule accepts UDP ${port} (${policy.direction === 'in' ? 'incoming' : 'outgoing'})`,
      fix: accept,
      data: { ...policy },
    });
  }
  if (reading.read.length === 0) {
    findings.push({ id: 'firewall.unreadable', severity: 'info', title: 'firewall rules not readable', detail: Object.entries(reading.unreadable).map(([tool, why]) => `${tool}: ${why}`), fix: 'run as root to have them checked' });
  } else if (findings.length === 0) {
    findings.push({ id: 'firewall', severity: 'ok', title: `no firewall rule drops UDP ${port} (${reading.read.join(' and ')} read)` });
  }
  return findings;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const listenMs = options.listenMs ?? 1_500;
  const [interfaces, idle] = await Promise.all([ipv4Interfaces(), idleInterfaces()]);
  const targets = targetsOf(options, interfaces);
  // Before the probe binds the port, or the probe would find itself.
  const [holders, firewall] = await Promise.all([
    udpPortHolders(options.port),
    options.firewall === false ? Promise.resolve(undefined) : readFirewall(options.port),
  ]);
  const result = await probe({ port: options.port, targets, listenMs, nonce: randomBytes(6).toString('hex') });
  const firewallDropsInput = firewall !== undefined && [...firewall.drops, ...firewall.policyDrops].some((rule) => rule.direction === 'in');
  const findings: Finding[] = [
    ...portFindings(options.port, holders, result.sharedBindError),
    ...interfaceFindings(interfaces, idle, targets, result, options.port, firewallDropsInput),
    ...(firewall === undefined ? [] : firewallFindings(firewall, options.port)),
    ...answerFindings(result.heard, targets, options.port, listenMs),
    ...trustFindings(result.heard, options.trust ?? trustDefaults),
    ...(await endpointFindings(result.heard, { connectTimeoutMs: options.connectTimeoutMs ?? 1_000, tlsFingerprint: options.tlsFingerprint })),
    ...clockFindings(result.heard, options.skewWarnMs ?? 1_000),
  ];
  if (result.rejected > 0) {
    findings.push({
      id: 'datagrams.rejected',
      severity: 'warning',
      title: `${result.rejected} datagram${result.rejected === 1 ? '' : 's'} on UDP ${options.port} were not switchboard messages`,
      fix: 'another program uses this port: move switchboard (or it) to another port with --discovery-port',
    });
  }
  return { discoveryPort: options.port, targets: targets.map((target) => target.label), listenedMs: listenMs, findings };
}
