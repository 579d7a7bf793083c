/**
 * HOOK-1 as an operator's deny list: a connect hook that vetoes connections from the given
 * addresses (`switchboard provider --refuse-from`). A vetoed connection gets Error FORBIDDEN,
 * then close 1008 with the reason below (HOOK-5); every other connection is accepted. It also
 * gives the conformance suite a veto to check (`--expect-veto-from`).
 */
import { addressKeyOf } from '../../adapters/ws/options.js';
import type { SessionHooks } from './sessionHooks.js';

/** The host of a connect hook's `remoteAddress` (`1.2.3.4:5678`, `[::1]:5678`), IPv4-mapped IPv6 as IPv4. */
export function hostOfRemote(remoteAddress: string): string {
  const host = remoteAddress.startsWith('[') ? remoteAddress.slice(1, remoteAddress.indexOf(']')) : remoteAddress.slice(0, remoteAddress.lastIndexOf(':'));
  return addressKeyOf(host).toLowerCase();
}

export function refuseFrom(addresses: readonly string[]): NonNullable<SessionHooks['connect']> {
  const refused = new Set(addresses.map((address) => addressKeyOf(address.replace(/^\[|\]$/g, '')).toLowerCase()));
  return ({ remoteAddress }) => (refused.has(hostOfRemote(remoteAddress)) ? { accept: false, code: 'FORBIDDEN', reason: 'connections from this address are refused' } : true);
}
