/**
 * This host's IPv4 interfaces as discovery sees them: each address (of the interfaces up and
 * running: what Node lists) with its directed broadcast address (none for /31 and /32) and, on
 * Linux, whether it has the BROADCAST flag (/sys/class/net/<name>/flags); and the interfaces that
 * are down or have no link, which Node does not list.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
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
  readonly broadcastFlag: boolean | undefined;
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
        broadcastFlag: flags === undefined || Number.isNaN(flags) ? undefined : (flags & IFF_BROADCAST) !== 0,
      });
    }
  }
  return views;
}

/**
 * Interfaces the host has that Node does not list (it lists only those up and running): down,
 * or up without a link. Their IPv4 addresses come from `ip -j -4 addr` when `ip` is there.
 */
export interface IdleInterface {
  readonly name: string;
  readonly state: 'down' | 'no link';
  readonly addresses: readonly string[];
}

const IFF_RUNNING = 0x40;

function ipAddresses(): Promise<Map<string, string[]>> {
  return new Promise((resolve) => {
    execFile('ip', ['-j', '-4', 'addr', 'show'], { timeout: 3_000 }, (error, stdout) => {
      const byName = new Map<string, string[]>();
      if (error === null) {
        try {
          for (const link of JSON.parse(stdout) as { ifname?: string; addr_info?: { local?: string; prefixlen?: number }[] }[]) {
            if (link.ifname !== undefined) byName.set(link.ifname, (link.addr_info ?? []).map((info) => `${info.local}/${info.prefixlen}`));
          }
        } catch {
          // no addresses then
        }
      }
      resolve(byName);
    });
  });
}

export async function idleInterfaces(table: InterfaceTable = os.networkInterfaces()): Promise<IdleInterface[]> {
  const names = await readdir('/sys/class/net').catch(() => [] as string[]);
  const idle: { name: string; state: IdleInterface['state'] }[] = [];
  for (const name of names) {
    if (table[name] !== undefined) continue;
    const flags = Number.parseInt((await sysValue(name, 'flags')) ?? '', 16);
    if (Number.isNaN(flags)) continue;
    if ((flags & IFF_UP) === 0) idle.push({ name, state: 'down' });
    else if ((flags & IFF_RUNNING) === 0) idle.push({ name, state: 'no link' });
  }
  if (idle.length === 0) return [];
  const addresses = await ipAddresses();
  return idle.map((entry) => ({ ...entry, addresses: addresses.get(entry.name) ?? [] }));
}

/** The interface whose subnet holds `address` (for "sent to 10.0.0.255 on eth0"). */
export function interfaceForBroadcast(interfaces: readonly InterfaceView[], broadcast: string): InterfaceView | undefined {
  return interfaces.find((view) => view.broadcast === broadcast);
}
