/**
 * The provider's advertisement signer from createProvider's options (SEC-8): which key
 * (runtime/keys.ts), which epoch, and the TLS certificate fingerprint the signature binds to the
 * key when the provider serves wss:// (clients then pin that certificate).
 */
import { X509Certificate } from 'node:crypto';
import { createDatagramSigner, publicKeyText, type DatagramSigner } from '../adapters/udp/signature.js';
import { normalizeFingerprint } from '../adapters/ws/options.js';
import { ephemeralKey, loadOrCreateKey, type ProviderKey } from './keys.js';
import type { ProviderOptions } from './provider.js';
import type { Logger } from './service.js';

/** What signing needs of a provider's (or a gateway's) options. */
export type SigningSource = Pick<ProviderOptions, 'signing' | 'server'>;

function keyFor(options: SigningSource, log: Logger): ProviderKey | undefined {
  const signing = options.signing;
  if (signing === false) return undefined;
  if (signing === undefined) return ephemeralKey();
  if ('keyFile' in signing) return loadOrCreateKey(signing.keyFile, { log, nextFreeSlot: signing.nextFreeSlot === true });
  const key = signing.privateKey;
  return { privateKey: key, publicKey: publicKeyText(key), epoch: signing.epoch ?? Date.now(), file: undefined, release: () => {} };
}

/** SHA-256 fingerprint of the certificate the WebSocket server presents, if it serves TLS. */
export function certificateFingerprint(cert: string | Buffer | undefined): string | undefined {
  if (cert === undefined) return undefined;
  return normalizeFingerprint(new X509Certificate(cert).fingerprint256);
}

export interface ProviderSigning {
  readonly signer: DatagramSigner;
  /** Where the key is kept, if in a file. */
  readonly keyFile: string | undefined;
  /** Unlocks the key file: call when the provider has stopped. */
  readonly release: () => void;
}

/** How a provider signs its advertisements; undefined when `signing: false`. Throws SigningKeyError. */
export function signingFor(options: SigningSource, log: Logger): ProviderSigning | undefined {
  const key = keyFor(options, log);
  if (key === undefined) return undefined;
  const signer = createDatagramSigner({
    privateKey: key.privateKey,
    epoch: key.epoch,
    tlsFingerprint256: certificateFingerprint(options.server?.tls?.cert),
  });
  log('debug', `advertisements signed with key ${signer.publicKey}${key.file === undefined ? ' (this process only)' : ` (${key.file})`}, epoch ${key.epoch}`);
  return { signer, keyFile: key.file, release: key.release };
}
