/**
 * A UDP discovery port for a spec: random in 20000-29999 (never the ephemeral range, never
 * 50001), checked free by binding it exclusively and releasing it. (Stand-in until the shared
 * port allocator of specs/support/ports.ts exists.)
 */
import dgram from 'node:dgram';

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ port, address: '0.0.0.0', exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

export async function freeDiscoveryPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (await bindable(port)) return port;
  }
  throw new Error('freeDiscoveryPort: no free UDP port in 20000-29999 after 50 tries');
}
