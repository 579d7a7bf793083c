/**
 * A UDP discovery port for a spec (docs: never 50001, never the ephemeral range): a random port
 * in 20000-29999 that could be bound just now, without address reuse, on 0.0.0.0. Until the shared
 * allocator of specs/support lands, this is how the conformance specs draw their ports.
 */
import dgram from 'node:dgram';

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: 'udp4' });
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ port, address: '0.0.0.0' }, () => socket.close(() => resolve(true)));
  });
}

export async function freeUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (await bindable(port)) return port;
  }
  throw new Error('no free UDP port in 20000-29999 after 50 attempts');
}
