/**
 * This host's IPv4 interfaces as discovery sees them: each address with its directed broadcast
 * address (none for /31 and /32), and on Linux whether the link is up and has the BROADCAST flag
 * (/sys/class/net/<name>/flags and operstate).
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { ipv4ToNumber, numberToIpv4, type InterfaceTable } from '../../adapters/udp/addresses.js';

export interface InterfaceView {
  readonly name: string;
  readonly address: string;
  /** Prefix length: 24 for 255.255.255.0. */
  readonly prefix: number;
  readonly internal: boolean;
  /** The directed broadcast address; undefined on a /31 or /32 (point to point). */
  readonly broadcast: string | undefined;
  /** From /sys (Linux); undefined where unknown. */
  readonly up: boolean | undefined;
  readonly broadcastFlag: boolean | undefined;
  readonly operstate: string | undefined;
}

const IFF_UP = 0x1;
const IFF_BROADCAST = 0x2;

async function sysValue(name: string, file: string): Promise<string | undefined> {
  try {
    return (await readFile(`/sys/class/net/${name}/${file}`, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

const prefixOf = (netmask: number): number => 32 - Math.log2((~netmask >>> 0) + 1);

export async function ipv4Interfaces(table: InterfaceTable = os.networkInterfaces()): Promise<InterfaceView[]> {
  const views: InterfaceView[] = [];
  for (const [name, infos] of Object.entries(table)) {
    for (const info of infos ?? []) {
      if (info.family !== 'IPv4') continue;
      const address = ipv4ToNumber(info.address);
      const netmask = ipv4ToNumber(info.netmask);
      if (address === undefined || netmask === undefined) continue;
      const flagsText = await sysValue(name, 'flags');
      const flags = flagsText === undefined ? undefined : Number.parseInt(flagsText, 16);
      views.push({
        name,
        address: info.address,
        prefix: prefixOf(netmask),
        internal: info.internal,
        broadcast: netmask >>> 0 >= 0xfffffffe ? undefined : numberToIpv4((address | ~netmask) >>> 0),
        up: flags === undefined || Number.isNaN(flags) ? undefined : (flags & IFF_UP) !== 0,
        broadcastFlag: flags === undefined || Number.isNaN(flags) ? undefined : (flags & IFF_BROADCAST) !== 0,
        operstate: await sysValue(name, 'operstate'),
      });
    }
  }
  return views;
}

/** The interface whose subnet holds `address` (for "sent to 10.0.0.255 on eth0"). */
export function interfaceForBroadcast(interfaces: readonly InterfaceView[], broadcast: string): InterfaceView | undefined {
  return interfaces.find((view) => view.broadcast === broadcast);
}
