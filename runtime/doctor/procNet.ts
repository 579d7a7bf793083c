/**
 * Who holds a UDP port on this host (Linux): the sockets in /proc/net/udp and /proc/net/udp6
 * bound to it, and the processes owning them (/proc/<pid>/fd links `socket:[inode]`). What one
 * can see depends on who asks: another user's processes are only visible to root. Both tables
 * are the current network namespace's.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import os from 'node:os';

export interface UdpSocketEntry {
  readonly localAddress: string;
  readonly localPort: number;
  readonly inode: number;
  readonly uid: number;
}

export interface PortHolder extends UdpSocketEntry {
  /** Absent when the owner could not be found (another user's process, not root). */
  readonly pid?: number;
  readonly command?: string;
}

/** `0100007F` (little-endian host) -> `127.0.0.1`. */
function ipv4FromHex(hex: string, littleEndian: boolean): string {
  const bytes = [0, 2, 4, 6].map((at) => Number.parseInt(hex.slice(at, at + 2), 16));
  return (littleEndian ? bytes.reverse() : bytes).join('.');
}

/** 32 hex digits, four 32-bit words each in host order -> a compressed IPv6 text. */
function ipv6FromHex(hex: string, littleEndian: boolean): string {
  const bytes: number[] = [];
  for (let word = 0; word < 4; word++) {
    const chunk = [0, 2, 4, 6].map((at) => Number.parseInt(hex.slice(word * 8 + at, word * 8 + at + 2), 16));
    bytes.push(...(littleEndian ? chunk.reverse() : chunk));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return compressIpv6(groups);
}

/** RFC 5952: the longest run (two or more) of zero groups becomes `::`. */
function compressIpv6(groups: readonly string[]): string {
  let best = { at: -1, length: 0 };
  for (let at = 0; at < groups.length; ) {
    let length = 0;
    while (groups[at + length] === '0') length++;
    if (length > best.length) best = { at, length };
    at += Math.max(length, 1);
  }
  if (best.length < 2) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.length).join(':')}`;
}

/** The rows of a /proc/net/udp{,6} table (the header skipped, malformed rows ignored). */
export function parseUdpTable(text: string, littleEndian = os.endianness() === 'LE'): UdpSocketEntry[] {
  const entries: UdpSocketEntry[] = [];
  for (const row of text.split('\n').slice(1)) {
    const fields = row.trim().split(/\s+/);
    const local = fields[1]?.split(':');
    if (fields.length < 10 || local === undefined || local.length !== 2) continue;
    const [addressHex, portHex] = local as [string, string];
    const localAddress = addressHex.length === 8 ? ipv4FromHex(addressHex, littleEndian) : addressHex.length === 32 ? ipv6FromHex(addressHex, littleEndian) : undefined;
    const localPort = Number.parseInt(portHex, 16);
    const uid = Number(fields[7]);
    const inode = Number(fields[9]);
    if (localAddress === undefined || !Number.isInteger(localPort) || !Number.isInteger(inode) || !Number.isInteger(uid)) continue;
    entries.push({ localAddress, localPort, inode, uid });
  }
  return entries;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** inode -> pid for every socket of every process this user may look at. */
async function socketOwners(wanted: ReadonlySet<number>): Promise<{ owners: Map<number, number>; unreadable: number }> {
  const owners = new Map<number, number>();
  let unreadable = 0;
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((name) => /^\d+$/.test(name));
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      unreadable++;
      continue;
    }
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match !== null && wanted.has(Number(match[1]))) owners.set(Number(match[1]), Number(pid));
    }
    if (owners.size === wanted.size) break;
  }
  return { owners, unreadable };
}

/** The command line of a process, shortened: `node bin/switchboard.js provider`. */
async function commandOf(pid: number): Promise<string | undefined> {
  const cmdline = await readText(`/proc/${pid}/cmdline`);
  const words = cmdline?.split('\0').filter((word) => word.length > 0) ?? [];
  if (words.length > 0) return words.slice(0, 4).join(' ').slice(0, 160);
  return (await readText(`/proc/${pid}/comm`))?.trim();
}

/** Every UDP socket bound to `port`, with its owner where visible; undefined when /proc/net/udp cannot be read. */
export async function udpPortHolders(port: number): Promise<{ holders: PortHolder[]; processesUnreadable: number } | undefined> {
  const tables = await Promise.all(['/proc/net/udp', '/proc/net/udp6'].map(readText));
  if (tables.every((table) => table === undefined)) return undefined;
  const entries = tables.flatMap((table) => (table === undefined ? [] : parseUdpTable(table))).filter((entry) => entry.localPort === port);
  if (entries.length === 0) return { holders: [], processesUnreadable: 0 };
  const { owners, unreadable } = await socketOwners(new Set(entries.map((entry) => entry.inode)));
  const holders = await Promise.all(
    entries.map(async (entry): Promise<PortHolder> => {
      const pid = owners.get(entry.inode);
      if (pid === undefined) return entry;
      const command = await commandOf(pid);
      return command === undefined ? { ...entry, pid } : { ...entry, pid, command };
    }),
  );
  return { holders, processesUnreadable: unreadable };
}
