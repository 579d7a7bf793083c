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

function keyFor(options: ProviderOptions, log: Logger): ProviderKey | undefined {
  const signing = options.signing;
  if (signing === false) return undefined;
  if (signing === undefined) return ephemeralKey();
  if ('keyFile' in signing) return loadOrCreateKey(signing.keyFile, { log });
  return { privateKey: signing.privateKey, publicKey: publicKeyText(signing.privateKey), epoch: signing.epoch ?? Date.now(), file: undefined };
}

/** SHA-256 fingerprint of the certificate the WebSocket server presents, if it serves TLS. */
export function certificateFingerprint(cert: string | Buffer | undefined): string | undefined {
  if (cert === undefined) return undefined;
  return normalizeFingerprint(new X509Certificate(cert).fingerprint256);
}

/** The signer of a provider's advertisements; undefined when `signing: false`. Throws SigningKeyError. */
export function signerFor(options: ProviderOptions, log: Logger): DatagramSigner | undefined {
  const key = keyFor(options, log);
  if (key === undefined) return undefined;
  const signer = createDatagramSigner({
    privateKey: key.privateKey,
    epoch: key.epoch,
    tlsFingerprint256: certificateFingerprint(options.server?.tls?.cert),
  });
  log('debug', `advertisements signed with key ${signer.publicKey}${key.file === undefined ? ' (this process only)' : ` (${key.file})`}, epoch ${key.epoch}`);
  return signer;
}
