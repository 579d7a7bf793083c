/**
 * `cancel` and `status` talk to one provider directly: a raw WebSocket, one CancelTask or
 * GetStatus for `(originalClientId, taskId)` (a task belongs to its client, not to a socket:
 * TASK-13, CONN-9), the first answer about that task, a graceful close.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { v4 as uuid } from 'uuid';
import WebSocket from 'ws';
import { CLIENT_PROOF_HEADER, clientProofFor } from '../../adapters/ws/options.js';
import { decodeFrame, encodeFrame, stampFrame } from '../../machines/codec.js';
import type { WireMessage } from '../../machines/messages.js';
import { within } from './context.js';
import { envOption, integerIn, UsageError } from './options.js';

export interface RawTaskFlags {
  endpoint: string;
  clientId: string;
  timeoutMs: number;
  token?: string;
  clientSecret?: string;
  ca?: string;
}

/** The CA certificate a --ca flag names (a file that cannot be read is a usage error). */
export async function readCa(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new UsageError(`--ca ${file}: ${(error as Error).message}`);
  }
}

export type TaskAnswer = Extract<WireMessage, { type: 'TaskStatusUpdate' | 'TaskResult' | 'TaskFailed' | 'Error' }>;

/** Thrown for what went wrong on the way (coded, so the exit code follows the code). */
const failure = (code: string, message: string) => Object.assign(new Error(message), { code });

/** `ws://host:port`, `wss://...`, or a bare `host:port` (read as ws://). */
export function endpointUrl(endpoint: string): string {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `ws://${endpoint}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--endpoint ${endpoint}: not a ws://host:port URL`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new UsageError(`--endpoint ${endpoint}: must be ws:// or wss://`);
  return parsed.href;
}

/** Options cancel and status share. */
export function addRawTaskOptions(command: Command): Command {
  return command
    .addOption(envOption('--endpoint <url>', "the provider's endpoint, e.g. ws://192.168.1.20:8080 (discover shows it)").makeOptionMandatory())
    .addOption(envOption('--client-id <id>', 'the client the task belongs to (assign --json prints it)').makeOptionMandatory())
    .addOption(envOption('--timeout-ms <n>', 'how long to wait for the answer').argParser(integerIn(1, 3_600_000)).default(5_000))
    .addOption(envOption('--token <token>', 'authenticate at the upgrade with this token (SEC-2)'))
    .addOption(envOption('--ca <file>', "wss://: trust this CA certificate (PEM), e.g. the provider's self-signed one"))
    .addOption(envOption('--client-secret <secret>', "the client's secret (assign --detach prints it): the task's clientId is bound to it (SEC-10)"));
}

/**
 * Sends `type` for the task and resolves with the first answer `wanted` accepts; rejects with
 * SERVICE_UNAVAILABLE when the endpoint cannot be reached, TIMEOUT when no answer comes in time.
 */
export async function askProvider(
  type: 'CancelTask' | 'GetStatus',
  taskId: string,
  flags: RawTaskFlags,
  wanted: (answer: TaskAnswer) => boolean,
): Promise<TaskAnswer> {
  const url = endpointUrl(flags.endpoint);
  const messageId = uuid();
  const headers: Record<string, string> = {
    ...(flags.token === undefined ? {} : { authorization: `Bearer ${flags.token}` }),
    ...(flags.clientSecret === undefined ? {} : { [CLIENT_PROOF_HEADER]: clientProofFor(flags.clientSecret, url) }),
  };
  const ca = flags.ca === undefined ? undefined : await readCa(flags.ca);
  const socket = new WebSocket(url, { handshakeTimeout: flags.timeoutMs, headers, ...(ca === undefined ? {} : { ca }) });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  try {
    return await new Promise<TaskAnswer>((resolve, reject) => {
      let opened = false;
      const timer = setTimeout(() => reject(failure('TIMEOUT', `no answer from ${url} within ${flags.timeoutMs} ms`)), flags.timeoutMs);
      const settle = <T>(fn: (value: T) => void) => (value: T) => {
        clearTimeout(timer);
        fn(value);
      };
      const done = settle(resolve);
      const fail = settle(reject);
      socket.on('open', () => {
        opened = true;
        const frame = stampFrame({ type, messageId, payload: { taskId, originalClientId: flags.clientId } }, { nowMs: Date.now, newId: uuid });
        socket.send(encodeFrame(frame));
      });
      socket.on('message', (data: WebSocket.RawData) => {
        const decoded = decodeFrame(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer));
        if (!decoded.ok) return;
        const message = decoded.message;
        if (message.type === 'Error') {
          const about = message.payload.relatesTo ?? message.payload.taskId;
          if (about === undefined || about === messageId || about === taskId) done(message);
          return;
        }
        if (message.type !== 'TaskStatusUpdate' && message.type !== 'TaskResult' && message.type !== 'TaskFailed') return;
        if (message.payload.taskId === taskId && wanted(message)) done(message);
      });
      socket.on('error', (error: Error) => {
        if (!opened) fail(failure('SERVICE_UNAVAILABLE', `cannot reach ${url}: ${(error as { code?: string }).code ?? error.message}`));
      });
      socket.on('close', (code: number, reason: Buffer) => {
        const why = reason.length > 0 ? `${code} ${reason.toString()}` : String(code);
        fail(opened ? failure('CONNECTION_LOST', `${url} closed the connection (${why}) before answering`) : failure('SERVICE_UNAVAILABLE', `cannot reach ${url} (${why})`));
      });
    });
  } finally {
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'done');
      else socket.terminate();
      const graceful = await within(closed.then(() => true), 1_000, false);
      if (!graceful) socket.terminate();
    }
  }
}

/** The answer as one JSON object: its type and payload. */
export const answerJson = (answer: TaskAnswer) => ({ type: answer.type, ...answer.payload });
