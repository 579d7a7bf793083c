/**
 * The client's side of task files (FILE-3, FILE-12): a cache store of the files it sends and
 * receives, and one file link per provider endpoint (a WebSocket to `<endpoint>/files`, opened on
 * first use, opened again after it closed). `assign` uses it to upload the local files of a
 * task's parameters before the AssignTask (only what the provider lacks moves) and to fetch the
 * files of a result before the task settles; the application reads or saves them from the cache.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WebSocket } from 'ws';
import { v4 as uuid } from 'uuid';
import { wsClientOptions } from '../../adapters/ws/connect.js';
import type { WsConnectOptions } from '../../adapters/ws/options.js';
import type { FileRef } from '../../machines/files/fileRef.js';
import { ProtocolError, isErrorCode } from '../../machines/errors.js';
import type { Clock } from '../provider.js';
import type { InterpreterChoice } from '../interpreter.js';
import { attachFileLink, socketTransferLink } from './fileLink.js';
import { openDiskFileStore, openMemoryFileStore, type FileStore } from './fileStore.js';
import { FILE_LINK_PATH } from './providerFiles.js';
import { LocalFile } from './taskFile.js';
import { FileTransfers, type FileTransferLimits, type TransferCounters, type TransferResult } from './transfers.js';

export interface ClientFilesOptions {
  /** Keep the cache on disk in this directory. @default in memory */
  readonly dir?: string;
  /** Bytes the cache holds at most; least recently used files are evicted. @default 1 GiB */
  readonly bytesMax?: number;
  /** Largest file sent or received. @default 256 MiB */
  readonly fileBytesMax?: number;
  /** Transfer limits (chunkBytes, creditsMax, transfersMax, idleTimeoutMs). */
  readonly limits?: Partial<FileTransferLimits>;
  /** How long to wait for a file link to open. @default 10_000 */
  readonly connectTimeoutMs?: number;
  /**
   * The options of the client's task connections (createClient passes its `connect` options with
   * its client secret): a file link to an endpoint opens with exactly the TLS (CA, pin, client
   * certificate) and identity (token, client proof) the task connection to it has (SEC-1, SEC-10).
   */
  readonly connect?: WsConnectOptions;
}

/** Where a file link goes: a provider's endpoint and the certificate fingerprint it advertised, if any. */
export interface FileLinkTarget {
  readonly endpoint: string;
  readonly tlsFingerprint256?: string | undefined;
}

/** Progress of one file of a task: `phase` upload before the provider's progress, download after it. */
export interface FileProgress {
  readonly phase: 'upload' | 'download';
  readonly file: FileRef;
  readonly bytes: number;
}

interface Link {
  readonly socket: WebSocket;
  readonly transfers: FileTransfers;
}

export class ClientFiles {
  readonly #clientId: string;
  readonly #options: ClientFilesOptions;
  readonly #clock: Clock | undefined;
  readonly #interpreter: InterpreterChoice | undefined;
  readonly #store: Promise<FileStore>;
  readonly #links = new Map<string, Promise<Link>>();
  readonly #listeners = new Map<string, (bytes: number) => void>();
  #nextTransferId: string | undefined;
  /** Counters of links that closed; live links add theirs in `counters`. */
  readonly #closedCounters: TransferCounters = { started: 0, done: 0, failed: 0, bytesSent: 0, bytesReceived: 0, unknown: 0 };
  readonly #live = new Set<FileTransfers>();
  /** The task connection's options for an endpoint (the same builder, adapters/ws/connect.ts). */
  readonly #connectOptions: ReturnType<typeof wsClientOptions>;

  constructor(clientId: string, options: ClientFilesOptions = {}, clock?: Clock, interpreter?: InterpreterChoice) {
    this.#clientId = clientId;
    this.#interpreter = interpreter;
    this.#options = options;
    this.#connectOptions = wsClientOptions(options.connect);
    this.#clock = clock;
    const storeOptions = {
      ...(options.bytesMax === undefined ? {} : { bytesMax: options.bytesMax }),
      ...(options.fileBytesMax === undefined ? {} : { fileBytesMax: options.fileBytesMax }),
    };
    this.#store = options.dir === undefined ? Promise.resolve(openMemoryFileStore(storeOptions)) : openDiskFileStore(options.dir, storeOptions);
    this.#store.catch(() => undefined);
  }

  /** Transfers of every link so far: content bytes sent and received, transfers done and failed. */
  get counters(): TransferCounters {
    const sum = { ...this.#closedCounters };
    for (const transfers of this.#live) for (const key of Object.keys(sum) as (keyof TransferCounters)[]) sum[key] += transfers.counters[key];
    return sum;
  }

  /** The cache (read a file, its stats). */
  store(): Promise<FileStore> {
    return this.#store;
  }

  /** Adds a local file (a path, or bytes) to the cache; returns its FileRef. */
  async add(source: string | Uint8Array, meta: Pick<FileRef, 'name' | 'mediaType'> = {}): Promise<FileRef> {
    const store = await this.#store;
    return typeof source === 'string' ? store.addFile(source, meta) : store.add(source, meta);
  }

  /** A file of the cache (an upload of this client, or a result fetched). */
  async read(file: FileRef): Promise<Uint8Array> {
    return (await this.#store).read(file.sha256);
  }

  /** Writes a file of the cache into `dir` under its name (else its hash); returns the path. */
  async save(file: FileRef, dir: string): Promise<string> {
    const bytes = await this.read(file);
    await mkdir(dir, { recursive: true });
    const target = path.join(dir, path.basename(file.name ?? file.sha256));
    await writeFile(target, bytes);
    return target;
  }

  /**
   * The parameters with each LocalFile (fileFrom) replaced by its FileRef, after offering every
   * file to the provider (FILE-12): only what it lacks moves (FILE-3).
   */
  async upload(
    params: Readonly<Record<string, unknown>>,
    target: FileLinkTarget & { readonly serviceName: string },
    onProgress: (progress: FileProgress) => void,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const resolved: Record<string, unknown> = {};
    const refs: FileRef[] = [];
    const refOf = async (local: LocalFile) => {
      const file = await this.add(local.source, local.meta);
      refs.push(file);
      return file;
    };
    for (const [key, value] of Object.entries(params)) {
      if (value instanceof LocalFile) resolved[key] = await refOf(value);
      else if (Array.isArray(value) && value.some((item) => item instanceof LocalFile)) {
        resolved[key] = await Promise.all(value.map((item: unknown) => (item instanceof LocalFile ? refOf(item) : item)));
      } else resolved[key] = value;
    }
    const { transfers } = await this.#link(target);
    const unique = [...new Map(refs.map((file) => [file.sha256, file])).values()];
    await Promise.all(unique.map((file) => this.#run(transfers, 'upload', file, target.serviceName, onProgress, signal)));
    return resolved;
  }

  /** Fetches files a result names into the cache (nothing moves for a file held already). */
  async download(
    files: readonly FileRef[],
    target: FileLinkTarget & { readonly serviceName: string },
    onProgress: (progress: FileProgress) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const store = await this.#store;
    const missing = files.filter((file) => !store.has(file.sha256));
    if (missing.length === 0) return;
    const { transfers } = await this.#link(target);
    await Promise.all(missing.map((file) => this.#run(transfers, 'download', file, target.serviceName, onProgress, signal)));
  }

  async #run(
    transfers: FileTransfers,
    phase: 'upload' | 'download',
    file: FileRef,
    serviceName: string,
    onProgress: (progress: FileProgress) => void,
    signal: AbortSignal,
  ): Promise<TransferResult> {
    if (signal.aborted) throw new ProtocolError('CANCELLED', 'the task was cancelled');
    const transferId = uuid();
    let reported = -1;
    this.#listeners.set(transferId, (bytes) => {
      reported = bytes;
      onProgress({ phase, file, bytes });
    });
    this.#nextTransferId = transferId;
    const onAbort = () => transfers.cancel(transferId);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await (phase === 'upload' ? transfers.upload(file, serviceName) : transfers.download(file, serviceName));
      if (result.end.status === 'failed') {
        const code = isErrorCode(result.end.code) ? result.end.code : 'INTERNAL_ERROR';
        throw new ProtocolError(code, `${phase} of ${file.name ?? file.sha256}: ${result.end.message || result.end.code}`);
      }
      // The end, once: also when nothing moved (the other side held the file, FILE-3).
      if (reported !== file.size) onProgress({ phase, file, bytes: file.size });
      return result;
    } finally {
      this.#nextTransferId = undefined;
      this.#listeners.delete(transferId);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** The file link to an endpoint, opened on first use and after it closed. */
  #link(target: FileLinkTarget): Promise<Link> {
    const { endpoint } = target;
    const known = this.#links.get(endpoint);
    if (known !== undefined) return known;
    const opening = this.#open(target);
    this.#links.set(endpoint, opening);
    opening.catch(() => this.#links.delete(endpoint));
    return opening;
  }

  async #open(target: FileLinkTarget): Promise<Link> {
    const { endpoint } = target;
    const store = await this.#store;
    // The options of the task connection to this endpoint (its pin, CA, certificate, token, proof).
    const connectOptions = this.#connectOptions(target);
    if (typeof connectOptions === 'string') throw new ProtocolError('CONNECTION_LOST', `no file link to ${endpoint}: ${connectOptions}`);
    const url = new URL(endpoint);
    url.pathname = FILE_LINK_PATH;
    url.searchParams.set('clientId', this.#clientId);
    const socket = new WebSocket(url, connectOptions);
    const transfers = new FileTransfers({
      store,
      link: socketTransferLink(socket),
      identity: this.#clientId,
      clientId: this.#clientId,
      ...(this.#options.limits === undefined ? {} : { limits: this.#options.limits }),
      ...(this.#clock === undefined ? {} : { clock: this.#clock }),
      ...(this.#interpreter === undefined ? {} : { interpreter: this.#interpreter }),
      // The id `#run` chose, so its progress listener is found by it.
      newId: () => this.#nextTransferId ?? uuid(),
      onProgress: (transferId, bytes) => this.#listeners.get(transferId)?.(bytes),
    });
    attachFileLink(socket, transfers, {
      onClose: () => {
        this.#links.delete(endpoint);
        this.#live.delete(transfers);
        for (const key of Object.keys(this.#closedCounters) as (keyof TransferCounters)[]) this.#closedCounters[key] += transfers.counters[key];
      },
    });
    this.#live.add(transfers);
    const timeoutMs = this.#options.connectTimeoutMs ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new ProtocolError('CONNECTION_LOST', `no file link to ${endpoint} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      // Why a link never opened (a TLS or pin failure, a refused upgrade) goes into the message.
      let cause = '';
      socket.once('error', (error) => {
        cause = error.message;
      });
      socket.once('close', (code, reason) => {
        clearTimeout(timer);
        const why = [reason.toString(), cause].filter(Boolean).join(': ');
        reject(new ProtocolError(code === 1008 ? 'FORBIDDEN' : 'CONNECTION_LOST', `file link to ${endpoint} closed ${code}${why === '' ? '' : ` (${why})`}`));
      });
    });
    return { socket, transfers };
  }

  async close(): Promise<void> {
    for (const link of this.#links.values()) await link.then((open) => open.socket.close(1000, 'client stopping')).catch(() => undefined);
    this.#links.clear();
    await (await this.#store.catch(() => undefined))?.close();
  }
}
