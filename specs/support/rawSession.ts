/**
 * A raw WebSocket peer for attack specs: sends any JSON (or bytes), keeps every frame it
 * receives (decoded as JSON), and waits for the first one that passes a test.
 */
import { WebSocket, type ClientOptions } from 'ws';

export type Json = Record<string, unknown>;

export const payloadOf = (frame: Json): Json => (frame.payload ?? {}) as Json;

export interface RawSession {
  readonly socket: WebSocket;
  readonly frames: Json[];
  /** How the socket ended: undefined while open. */
  readonly closed: () => { code: number; reason: string } | undefined;
  send(message: unknown): void;
  /** Resolves with the first frame (received before or after the call) that passes `test`. */
  expectFrame(test: (frame: Json) => boolean, what: string, timeoutMs?: number): Promise<Json>;
  close(): void;
}

export async function rawSession(endpoint: string, options: ClientOptions = {}): Promise<RawSession> {
  const socket = new WebSocket(endpoint, options);
  const frames: Json[] = [];
  let ended: { code: number; reason: string } | undefined;
  socket.on('message', (data) => {
    try {
      frames.push(JSON.parse(String(data)) as Json);
    } catch {
      frames.push({ unparsed: String(data) });
    }
  });
  socket.on('close', (code, reason) => (ended = { code, reason: reason.toString() }));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  return {
    socket,
    frames,
    closed: () => ended,
    send: (message) => socket.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message)),
    async expectFrame(test, what, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = frames.find(test);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(frames.slice(-5)).slice(0, 800)}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    close: () => socket.terminate(),
  };
}
