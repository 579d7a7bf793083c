/**
 * Signed discovery checks (SEC-8, DISC-15), black-box: the provider's answers to two discovery
 * requests are checked like a switchboard client checks them. Unsigned advertisements are not a
 * failure (SEC-8 is a SHOULD: clients take them only with allowUnsigned), so a seed-only provider
 * gets "not applicable".
 */
import { v4 as uuid } from 'uuid';
import { SignatureChecker } from '../../../adapters/udp/signature.js';
import { Blocked, fail, notApplicable, pass, type Check } from '../types.js';
import type { Datagram } from './datagrams.js';
import { DISCOVERY_CHECK, repliesOf, type ProviderProbe } from './probe.js';

type ProviderCheck = Check<ProviderProbe>;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const signed: ProviderCheck = {
  name: 'provider.discovery.signed',
  requirements: ['SEC-8', 'DISC-15'],
  level: 'full',
  title: 'signed advertisements verify (Ed25519 over the canonical form) and their (epoch, sequence) grows',
  run: async (probe) => {
    const first = await probe.discover();
    const second = await probe.requestDiscovery(`conformance-${uuid()}`);
    // Broadcast replies count too: how a reply travels is provider.discovery.unicastReply's to judge.
    const answers: Datagram[] = [...repliesOf(first), ...repliesOf(second)];
    if (answers.length === 0) throw new Blocked(DISCOVERY_CHECK, 'no advertisement to judge');
    const checker = new SignatureChecker();
    const proofs = answers.map((datagram) => (isObject(datagram.json) ? checker.inspect(datagram.json) : undefined));
    if (proofs.every((proof) => proof?.kind === 'unsigned')) return notApplicable('advertisements are unsigned (SEC-8 is a SHOULD); switchboard clients use them only with allowUnsigned');
    const bad = proofs.findIndex((proof) => proof?.kind !== 'signed');
    if (bad >= 0) {
      const proof = proofs[bad];
      return fail(`an advertisement ${proof?.kind === 'invalid' ? `is badly signed: ${proof.reason}` : 'is unsigned while others are signed'}: ${answers[bad]!.text.slice(0, 120)}`);
    }
    // Per serviceId, in the order received: (epoch, sequence) strictly grows.
    const last = new Map<string, [number, number]>();
    for (const datagram of answers) {
      const { serviceId, epoch, sequence } = datagram.json as { serviceId: unknown; epoch: unknown; sequence: unknown };
      if (typeof epoch !== 'number' || typeof sequence !== 'number') return fail(`signed without epoch and sequence: ${datagram.text.slice(0, 120)}`);
      const before = last.get(String(serviceId));
      if (before !== undefined && !(epoch > before[0] || (epoch === before[0] && sequence > before[1]))) {
        return fail(`${String(serviceId)}: epoch ${epoch} sequence ${sequence} after ${before[0]}/${before[1]} (a client takes it for a replay)`);
      }
      last.set(String(serviceId), [epoch, sequence]);
    }
    const key = (proofs[0] as { publicKey: string }).publicKey;
    return pass(`${answers.length} answer(s) signed by ${key}, (epoch, sequence) growing`);
  },
};

export const signedDiscoveryChecks: readonly ProviderCheck[] = [signed];
