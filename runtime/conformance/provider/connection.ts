/**
 * One WebSocket connection of the suite to the provider under test: every frame it receives is
 * kept (text, parsed JSON, strict decode result, arrival time), and waits are bounded and never
 * throw: they resolve `undefined` when nothing came in time or the connection ended.
 */
import { waitUntil } from './waitUntil.js';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame, stampFrame, type DecodeResult } from '../../../machines/codec.js';
import type { WireDraft, WireMessage } from '../../../machines/messages.js';
import { v4 as uuid } from 'uuid';

export interface Frame {
  /** Date.now() at arrival. */
  readonly at: number;
  readonly binary: boolean;
  readonly text: string;
  /** JSON.parse of the text, or undefined when it does not parse. */
  readonly json: unknown;
  readonly decoded: DecodeResult<WireMessage>;
}

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly at: number;
}

export interface ConnectOptions {
  readonly token?: string | undefined;
  readonly handshakeTimeoutMs: number;
  readonly tls?: { readonly ca?: string | Buffer; readonly rejectUnauthorized?: boolean } | undefined;
  /** Answer the provider's pings (ws does by default). @default true */
  readonly autoPong?: boolean;
  /** Connect from this local address (a loopback alias the provider treats apart, e.g. one its connect hook vetoes). */
  readonly localAddress?: string | undefined;
  /** Told every frame (the probe keeps a log of all of them for the wire checks). */
  readonly onFrame?: (frame: Frame) => void;
}

/** Frames kept per connection (a chatty provider cannot grow the suite's memory without bound). */
const FRAMES_MAX = 10_000;

/** A JSON object's member, or undefined. */
export function member(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}

export const typeOf = (frame: Frame): unknown => member(frame.json, 'type');
export const payloadOf = (frame: Frame): unknown => member(frame.json, 'payload');
export const payloadField = (frame: Frame, key: string): unknown => member(payloadOf(frame), key);

export class ProbeConnection {
  readonly url: string;
  readonly openedAt: number;
  readonly frames: Frame[] = [];
  /** Date.now() of each ping received from the provider. */
  readonly pings: number[] = [];
  readonly pongs: { readonly at: number; readonly data: string }[] = [];
  closeInfo: CloseInfo | undefined;
  readonly #socket: WebSocket;
  readonly #listeners = new Set<() => void>();

  private constructor(url: string, socket: WebSocket, onFrame: ((frame: Frame) => void) | undefined) {
    this.url = url;
    this.#socket = socket;
    this.openedAt = Date.now();
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      const text = buffer.toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const frame: Frame = { at: Date.now(), binary: isBinary, text, json, decoded: decodeFrame(buffer) };
      if (this.frames.length < FRAMES_MAX) this.frames.push(frame);
      onFrame?.(frame);
      this.#notify();
    });
    socket.on('ping', () => {
      this.pings.push(Date.now());
      this.#notify();
    });
    socket.on('pong', (data: Buffer) => {
      this.pongs.push({ at: Date.now(), data: data.toString('utf8') });
      this.#notify();
    });
    socket.on('close', (code: number, reason: Buffer) => {
      this.closeInfo = { code, reason: reason.toString('utf8'), at: Date.now() };
      this.#notify();
    });
  }

  /** Opens a connection; rejects with a short reason when the upgrade fails or times out. */
  static open(url: string, options: ConnectOptions): Promise<ProbeConnection> {
    const socket = new WebSocket(url, {
      handshakeTimeout: options.handshakeTimeoutMs,
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
      autoPong: options.autoPong ?? true,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      ...(options.token === undefined ? {} : { headers: { authorization: `Bearer ${options.token}` } }),
      ...(options.tls === undefined ? {} : options.tls),
    });
    const connection = new ProbeConnection(url, socket, options.onFrame);
    return new Promise((resolve, reject) => {
      let failure: Error | undefined;
      socket.on('error', (error: Error) => {
        failure ??= error;
      });
      socket.once('open', () => resolve(connection));
      socket.once('close', (code: number) => {
        const why = failure === undefined ? `closed with ${code}` : `${(failure as { code?: string }).code ?? ''} ${failure.message}`.trim();
        reject(new Error(`cannot connect to ${url}: ${why}`));
      });
    });
  }

  get isOpen(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  /** Sends raw text (or bytes, as a binary frame). Does nothing once the socket is not open. */
  sendRaw(data: string | Buffer): boolean {
    if (!this.isOpen) return false;
    this.#socket.send(data);
    return true;
  }

  /** Stamps (timestamp, and messageId unless given), encodes and sends a message; returns it. */
  send(draft: WireDraft): WireMessage {
    const message = stampFrame(draft, { nowMs: Date.now, newId: uuid });
    this.sendRaw(encodeFrame(message));
    return message;
  }

  ping(data: string): void {
    if (this.isOpen) this.#socket.ping(data);
  }

  close(code = 1000, reason = 'conformance suite done'): void {
    if (this.#socket.readyState === WebSocket.OPEN || this.#socket.readyState === WebSocket.CONNECTING) this.#socket.close(code, reason);
  }

  /** Ends the socket abruptly (no close frame). */
  terminate(): void {
    if (this.#socket.readyState !== WebSocket.CLOSED) this.#socket.terminate();
  }

  /**
   * Resolves with the first frame (at index `from` or later) that `test` accepts, or undefined
   * after `timeoutMs` or once the connection has closed without one.
   */
  next(test: (frame: Frame) => boolean, timeoutMs: number, from = 0): Promise<Frame | undefined> {
    return this.until(() => this.frames.slice(from).find(test), timeoutMs);
  }

  /** Resolves with `check()`'s first value other than undefined, re-evaluated on every event; undefined at the deadline or on close. */
  until<T>(check: () => T | undefined, timeoutMs: number, options: { afterClose?: boolean } = {}): Promise<T | undefined> {
    return waitUntil(this.#listeners, check, timeoutMs, () => this.closeInfo !== undefined && options.afterClose !== true);
  }


  /** Waits for the socket to close; the close, or undefined after `timeoutMs`. */
  closed(timeoutMs: number): Promise<CloseInfo | undefined> {
    return this.until(() => this.closeInfo, timeoutMs, { afterClose: true });
  }

  /** Waits `ms` (frames keep arriving meanwhile). */
  quiet(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}
