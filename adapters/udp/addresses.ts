/**
 * IPv4 address arithmetic for the UDP discovery adapter: directed broadcast addresses from an
 * interface table, and the small checks the options need. Pure functions (the default argument
 * reads the host's interfaces; pass a table to get a pure call).
 */
import { isIPv4 } from 'node:net';
import os from 'node:os';

/** Where 'broadcast' goes when the host has no non-internal IPv4 interface (loopback only). */
export const LOOPBACK_BROADCAST = '127.255.255.255';

/** The shape of `os.networkInterfaces()`. */
export type InterfaceTable = ReturnType<typeof os.networkInterfaces>;

/** `a.b.c.d` as an unsigned 32-bit number, or undefined when it is not an IPv4 literal. */
export function ipv4ToNumber(address: string): number | undefined {
  if (!isIPv4(address)) return undefined;
  return address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

export function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

/** 224.0.0.0/4. */
export function isIpv4Multicast(address: string): boolean {
  const value = ipv4ToNumber(address);
  return value !== undefined && value >>> 28 === 0b1110;
}

/**
 * The directed broadcast address (`address | ~netmask`) of every non-internal IPv4 interface, in
 * table order, without duplicates. Interfaces with a /31 or /32 mask have no broadcast address
 * (point-to-point links, RFC 3021) and are skipped, as are entries that do not parse.
 *
 * @example directedBroadcastAddresses({ eth0: [{ address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', internal: false, ... }] })
 *   // ['192.168.1.255']
 */
export function directedBroadcastAddresses(interfaces: InterfaceTable = os.networkInterfaces()): string[] {
  const found: string[] = [];
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      // Node 18.0 to 18.3 reported `family` as the number 4.
      const ipv4 = info.family === 'IPv4' || (info.family as unknown) === 4;
      if (!ipv4 || info.internal) continue;
      const address = ipv4ToNumber(info.address);
      const netmask = ipv4ToNumber(info.netmask);
      if (address === undefined || netmask === undefined) continue;
      if (netmask >>> 0 >= 0xfffffffe) continue;
      const broadcast = numberToIpv4((address | ~netmask) >>> 0);
      if (!found.includes(broadcast)) found.push(broadcast);
    }
  }
  return found;
}

/** The default destinations of a 'broadcast': every directed broadcast address, else loopback's. */
export function defaultBroadcastAddresses(interfaces: InterfaceTable = os.networkInterfaces()): string[] {
  const found = directedBroadcastAddresses(interfaces);
  return found.length > 0 ? found : [LOOPBACK_BROADCAST];
}
