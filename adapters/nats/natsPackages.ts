/**
 * The NATS client packages, optional peers of switchboard (../optionalPeer.ts): a library user
 * who never talks NATS does not install them. `@nats-io/transport-node` is needed for any NATS
 * use, `@nats-io/kv` only for durable outcomes. Only types are imported statically (erased at
 * build); the code is loaded on first connect.
 */
import { assertPeerInstalled, importPeer } from '../optionalPeer.js';

export const NATS_TRANSPORT = '@nats-io/transport-node';
export const NATS_KV = '@nats-io/kv';

/** Throws MissingPeerError at once (when a NATS host is made) if a package it will need is missing. */
export function assertNatsInstalled(needs: { readonly transport: boolean; readonly kv: boolean }): void {
  if (needs.transport) assertPeerInstalled(NATS_TRANSPORT, 'NATS');
  if (needs.kv) assertPeerInstalled(NATS_KV, 'NATS durable outcomes');
}

let transport: Promise<typeof import('@nats-io/transport-node')> | undefined;
let kv: Promise<typeof import('@nats-io/kv')> | undefined;

export const natsTransport = () => (transport ??= importPeer(NATS_TRANSPORT, 'NATS', () => import('@nats-io/transport-node')));

export const natsKv = () => (kv ??= importPeer(NATS_KV, 'NATS durable outcomes', () => import('@nats-io/kv')));
