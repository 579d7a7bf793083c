/**
 * A seeded frame fuzzer for the WebSocket plane (specs/security.fuzz*.spec.ts): mutated real
 * messages, prototype names in every field, deep nesting, huge strings, ill-formed Unicode,
 * invalid UTF-8 in text frames, random binary frames, valid JSON sent as binary. Frames are made
 * lazily from one seed (xorshift), so a failing run is reproduced by its seed and frame number.
 *
 * `fuzzProvider` drives lanes of raw WebSockets (each from its own loopback address, so the
 * per-address budgets do not serialise them), reconnecting whenever the provider closes one
 * (1007, 1009 and 1008 are expected answers to some frames), and keeps each lane's unsent bytes
 * bounded.
 */
import { WebSocket } from 'ws';

export const PROTO_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];

class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state / 4_294_967_296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

type Json = Record<string, unknown>;

function template(random: Random, clientId: string): Json {
  const taskId = `t${random.int(50)}`;
  const common = { messageId: `m${random.int(1_000_000)}`, timestamp: new Date().toISOString() };
  switch (random.int(7)) {
    case 0:
      return { type: 'AssignTask', ...common, payload: { taskId, serviceName: 'Work', operation: random.pick(['echo', 'work', 'nope']), taskParameters: { text: 'x', steps: 1, stepMs: 1 }, callbackClientId: clientId } };
    case 1:
      return { type: 'CancelTask', ...common, payload: { taskId, originalClientId: clientId } };
    case 2:
      return { type: 'GetStatus', ...common, payload: { taskId, originalClientId: clientId } };
    case 3:
      return { type: 'GetResult', ...common, payload: { taskId, originalClientId: clientId } };
    case 4:
      return { type: 'Authenticate', ...common, payload: { clientId, token: 'x' } };
    case 5:
      return { type: 'TaskResult', ...common, payload: { taskId, status: 'Completed', resultData: {} } };
    default:
      return { type: 'Ack', ...common, payload: { acknowledgmentId: 'm1' } };
  }
}

/** A random JSON value, shallow. */
function anyValue(random: Random): unknown {
  switch (random.int(9)) {
    case 0:
      return null;
    case 1:
      return random.next() < 0.5;
    case 2:
      return random.int(2) === 0 ? -random.int(1e9) : random.next() * 1e308;
    case 3:
      return random.pick(PROTO_NAMES);
    case 4:
      return '\ud800\udfff\ud800'.repeat(random.int(20)); // ill-formed and well-formed surrogates
    case 5:
      return [];
    case 6:
      return { [random.pick(PROTO_NAMES)]: random.pick(PROTO_NAMES) };
    case 7:
      return 'é€𝄞\u0000\u001f'.repeat(random.int(50));
    default:
      return String(random.int(1000));
  }
}

/** Every object on the path, with `mutate` applied to a random member of one of them. */
function mutate(random: Random, message: Json): Json {
  const copy = JSON.parse(JSON.stringify(message)) as Json;
  const holders: Json[] = [copy];
  if (typeof copy.payload === 'object' && copy.payload !== null) holders.push(copy.payload as Json);
  const holder = random.pick(holders);
  const keys = Object.keys(holder);
  const key = random.int(4) === 0 ? random.pick(PROTO_NAMES) : (random.pick(keys) ?? 'type');
  switch (random.int(4)) {
    case 0:
      delete holder[key];
      break;
    case 1:
      Object.defineProperty(holder, key, { value: anyValue(random), enumerable: true, writable: true, configurable: true });
      break;
    case 2:
      Object.defineProperty(holder, key, { value: random.pick(PROTO_NAMES), enumerable: true, writable: true, configurable: true });
      break;
    default:
      Object.defineProperty(holder, key, { value: { [random.pick(PROTO_NAMES)]: anyValue(random) }, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

export interface FuzzFrame {
  readonly data: string | Buffer;
  /** Send as a binary frame (else text; a Buffer sent as text may be invalid UTF-8). */
  readonly binary: boolean;
  readonly kind: string;
}

/** The `index`-th frame of the stream seeded by `seed` (independent of the others). */
export function fuzzFrame(seed: number, index: number, clientId: string): FuzzFrame {
  const random = new Random((seed * 2_654_435_761 + index * 40_503) >>> 0);
  const roll = random.int(100);
  if (roll < 35) {
    let message = template(random, clientId);
    for (let n = 1 + random.int(3); n > 0; n--) message = mutate(random, message);
    return { data: JSON.stringify(message), binary: false, kind: 'mutated' };
  }
  if (roll < 45) {
    const message = template(random, random.pick(PROTO_NAMES));
    return { data: JSON.stringify(mutate(random, message)), binary: false, kind: 'prototype' };
  }
  if (roll < 55) {
    const depth = 100 + random.int(20_000);
    const open = random.next() < 0.5 ? '[' : '{"a":';
    const close = open === '[' ? ']' : '}';
    const nested = `${open.repeat(depth)}1${close.repeat(depth)}`;
    const inMessage = random.next() < 0.5;
    const data = inMessage ? JSON.stringify(template(random, clientId)).replace('"x"', nested) : nested;
    return { data, binary: false, kind: 'deep' };
  }
  if (roll < 57) {
    const message = template(random, clientId);
    (message.payload as Json).taskId = 'x'.repeat(64_000 + random.int(400_000));
    return { data: JSON.stringify(message), binary: false, kind: 'huge' };
  }
  if (roll < 62) {
    const bytes = Buffer.from(JSON.stringify(template(random, clientId)));
    bytes[random.int(bytes.length)] = 0xc3 + random.int(2) * 0x3c; // a broken multi-byte start
    return { data: bytes, binary: false, kind: 'invalid-utf8-text' };
  }
  if (roll < 72) {
    const bytes = Buffer.from(JSON.stringify(template(random, clientId)));
    for (let n = 1 + random.int(4); n > 0; n--) bytes[random.int(bytes.length)] = random.int(256);
    return { data: bytes, binary: true, kind: 'corrupt-binary' };
  }
  if (roll < 80) {
    const bytes = Buffer.alloc(1 + random.int(2_000));
    for (let i = 0; i < bytes.length; i++) bytes[i] = random.int(256);
    return { data: bytes, binary: true, kind: 'random-binary' };
  }
  if (roll < 85) return { data: Buffer.from(JSON.stringify(template(random, clientId))), binary: true, kind: 'json-binary' };
  if (roll < 92) return { data: JSON.stringify(anyValue(random)), binary: false, kind: 'scalar' };
  return { data: JSON.stringify(template(random, clientId)), binary: false, kind: 'valid' };
}

export interface FuzzStats {
  sent: number;
  bytes: number;
  connections: number;
  closes: Record<string, number>;
  kinds: Record<string, number>;
}

/** Sends `frames` fuzzed frames over `lanes` connections (lane i from 127.0.9.(i+1)). */
export async function fuzzProvider(endpoint: string, options: { frames: number; lanes: number; seed: number }): Promise<FuzzStats> {
  const stats: FuzzStats = { sent: 0, bytes: 0, connections: 0, closes: {}, kinds: {} };
  let next = 0;
  const lane = async (laneIndex: number): Promise<void> => {
    const localAddress = `127.0.9.${laneIndex + 1}`;
    let refusedInARow = 0;
    while (next < options.frames) {
      if (refusedInARow >= 50) throw new Error(`fuzz: the provider refuses every connection (after frame ${next}, seed ${options.seed}): is it still alive?`);
      const socket = new WebSocket(endpoint, { localAddress, maxPayload: 4 * 1024 * 1024 });
      stats.connections++;
      socket.on('error', () => {});
      const closed = new Promise<void>((resolve) =>
        socket.once('close', (code) => {
          stats.closes[code] = (stats.closes[code] ?? 0) + 1;
          resolve();
        }),
      );
      const opened = await new Promise<boolean>((resolve) => {
        socket.once('open', () => resolve(true));
        socket.once('close', () => resolve(false));
      });
      if (!opened) {
        refusedInARow++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      refusedInARow = 0;
      const clientId = `fuzz-${laneIndex}-${stats.connections}`;
      /** Resolves when the provider answered the message with this id (so it read everything before it). */
      const answered = new Map<string, () => void>();
      socket.on('message', (data) => {
        const text = String(data);
        if (!text.includes('"sentinel-')) return;
        const relatesTo = /"relatesTo":"(sentinel-[^"]+)"/.exec(text)?.[1];
        if (relatesTo !== undefined) answered.get(relatesTo)?.();
      });
      while (next < options.frames && socket.readyState === WebSocket.OPEN) {
        // Bounded unsent bytes: the provider reads within its budgets (SEC-16).
        while (socket.bufferedAmount > 1_048_576 && socket.readyState === WebSocket.OPEN) await new Promise((resolve) => setTimeout(resolve, 5));
        const frame = fuzzFrame(options.seed, next++, clientId);
        if (frame.kind === 'invalid-utf8-text') {
          // This frame ends the connection (1007): let the provider read what came before it first.
          const id = `sentinel-${laneIndex}-${next}`;
          const done = new Promise<void>((resolve) => {
            answered.set(id, resolve);
            setTimeout(resolve, 5_000);
          });
          socket.send(JSON.stringify({ type: 'GetStatus', messageId: id, timestamp: new Date().toISOString(), payload: { taskId: 's', originalClientId: clientId } }));
          await done;
        }
        stats.kinds[frame.kind] = (stats.kinds[frame.kind] ?? 0) + 1;
        stats.bytes += frame.data.length;
        socket.send(frame.data, { binary: frame.binary });
        stats.sent++;
        if (frame.kind === 'invalid-utf8-text') {
          await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000))]);
          break;
        }
        if (stats.sent % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      socket.close();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000))]);
      socket.terminate();
    }
  };
  await Promise.all(Array.from({ length: options.lanes }, (_, index) => lane(index)));
  return stats;
}
