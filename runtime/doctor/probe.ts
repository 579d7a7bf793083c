/**
 * The doctor's one active probe, on real sockets, bounded in time: it binds the discovery port as
 * every switchboard process does (SO_REUSEADDR: whether that works is itself a finding), sends a
 * ClientServiceDiscoveryRequest to each target from a socket of its own (replies come back there,
 * DISC-1 note) and listens on both for `listenMs`. It records:
 * - which of its own requests came back on the shared port (a broadcast reaches this host's
 *   listeners through that interface), per target;
 * - every advertisement heard (replies to it, and heartbeats), with where it came from and when.
 * The requests carry a clientId of their own (`switchboard-doctor-<nonce>-<target>`), so each
 * echo and reply says which target it belongs to.
 */
import dgram from 'node:dgram';
import { SignatureChecker } from '../../adapters/udp/signature.js';
import { decodeDatagram, encodeDatagram, stampDatagram } from '../../machines/codec.js';
import { padRequest, REQUEST_BYTES_MIN } from '../../machines/discovery/answers.js';
import type { DiscoveryMessage, ServiceAdvertisement } from '../../machines/messages.js';
import type { DatagramProof } from '../../machines/transport.js';

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  /** `10.0.0.255 (eth0)`, `peer 10.0.0.7:50001`. */
  readonly label: string;
}

export interface Heard {
  readonly from: { readonly host: string; readonly port: number };
  /** Which socket heard it: the shared discovery port, or the probe's own (replies). */
  readonly on: 'shared' | 'own';
  readonly receivedAtMs: number;
  readonly advertisement: ServiceAdvertisement;
  /** The target whose request this answers (replies only). */
  readonly answersTarget: number | undefined;
  /** What its signature proves (SEC-8): unsigned, signed by a key, or invalid. */
  readonly proof: DatagramProof;
}

export interface ProbeResult {
  /** Undefined when the shared port bound, else the error code (EADDRINUSE: held exclusively). */
  readonly sharedBindError: string | undefined;
  /** Targets whose request came back on the shared port. */
  readonly echoed: ReadonlySet<number>;
  /** Targets the request could not be sent to, with the error code (ENETUNREACH, EACCES, ...). */
  readonly sendErrors: ReadonlyMap<number, string>;
  readonly heard: readonly Heard[];
  /** Requests from other clients heard on the shared port (someone else is discovering too). */
  readonly otherRequests: number;
  /** Datagrams on the port that are not switchboard messages. */
  readonly rejected: number;
}

export interface ProbeOptions {
  readonly port: number;
  readonly targets: readonly ProbeTarget[];
  readonly listenMs: number;
  readonly nonce: string;
  readonly nowMs?: () => number;
}

const clientIdPattern = (nonce: string) => new RegExp(`^switchboard-doctor-${nonce}-(\\d+)$`);

function bind(socket: dgram.Socket, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message);
    socket.once('error', onError);
    socket.bind({ port, address: '0.0.0.0' }, () => {
      socket.off('error', onError);
      resolve(undefined);
    });
  });
}

/** Closes a socket, bound or not (closing one whose bind failed throws). */
function closeQuietly(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

export async function probe(options: ProbeOptions): Promise<ProbeResult> {
  const nowMs = options.nowMs ?? Date.now;
  const ours = clientIdPattern(options.nonce);
  const echoed = new Set<number>();
  const sendErrors = new Map<number, string>();
  const heard: Heard[] = [];
  let otherRequests = 0;
  let rejected = 0;
  const signatures = new SignatureChecker();

  const receive = (on: Heard['on']) => (bytes: Buffer, from: dgram.RemoteInfo) => {
    const receivedAtMs = nowMs();
    const decoded = decodeDatagram(bytes);
    if (!decoded.ok) {
      rejected++;
      return;
    }
    const message: DiscoveryMessage = decoded.message;
    if (message.discoveryType === 'ClientServiceDiscoveryRequest') {
      const match = ours.exec(message.clientId);
      if (match === null) otherRequests++;
      else if (on === 'shared') echoed.add(Number(match[1]));
      return;
    }
    const answers = message.respondsToClientId === undefined ? null : ours.exec(message.respondsToClientId);
    const text = bytes.toString('utf8');
    // Decoded above, so it is JSON; the signature is checked on the datagram as sent.
    const proof = signatures.inspect(JSON.parse(text) as Record<string, unknown>, text) ?? { kind: 'unsigned' };
    heard.push({ from: { host: from.address, port: from.port }, on, receivedAtMs, advertisement: message, answersTarget: answers === null ? undefined : Number(answers[1]), proof });
  };

  const shared = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const own = dgram.createSocket({ type: 'udp4' });
  shared.on('error', () => {});
  own.on('error', () => {});
  const sharedBindError = await bind(shared, options.port);
  const ownBindError = await bind(own, 0);
  if (sharedBindError === undefined) shared.on('message', receive('shared'));
  own.on('message', receive('own'));
  if (ownBindError === undefined) own.setBroadcast(true);

  const send = () =>
    Promise.all(
      options.targets.map(
        (target, index) =>
          new Promise<void>((resolve) => {
            if (ownBindError !== undefined) {
              sendErrors.set(index, ownBindError);
              return resolve();
            }
            const request = stampDatagram({ discoveryType: 'ClientServiceDiscoveryRequest', clientId: `switchboard-doctor-${options.nonce}-${index}` }, { nowMs });
            // Padded as every client's (DISC-17): providers answer a small request only in part.
            own.send(padRequest(encodeDatagram(request), REQUEST_BYTES_MIN), target.port, target.host, (error) => {
              if (error) sendErrors.set(index, (error as NodeJS.ErrnoException).code ?? error.message);
              resolve();
            });
          }),
      ),
    );

  // Twice, a third of the way apart: one lost datagram must not read as "nobody there".
  await send();
  await new Promise((resolve) => setTimeout(resolve, options.listenMs / 3));
  await send();
  await new Promise((resolve) => setTimeout(resolve, (2 * options.listenMs) / 3));
  await Promise.all([shared, own].map(closeQuietly));
  return { sharedBindError, echoed, sendErrors, heard, otherRequests, rejected };
}
