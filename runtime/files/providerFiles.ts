/**
 * The provider's side of task files: its file store, the file links clients open, and the
 * operations that take or return files (FILE-6, FILE-8, FILE-10).
 *
 * - A client opens a file link: a WebSocket to the provider's endpoint with the path `/files`
 *   and its `clientId` in the query (the side channel of the WebSocket server,
 *   adapters/ws/server.ts). The link's transfers are FileTransfers (one statechart each) on this
 *   provider's store, with the clientId as the identity the store's access lists name (FILE-8).
 *   A link's identity is established as a session's is (SEC-10): the principal of its TLS client
 *   certificate or API key, else its client proof (`x-switchboard-client-proof`), else its host;
 *   a clientId belongs to its owner among the provider's sessions, else to the first link that
 *   named it: a link for it with another identity is closed 1008 (machines/identity.ts's rules).
 * - An operation whose params or result declare task files (`taskFile()`) is wrapped: before it
 *   runs, every file its parameters name must be here and the client's, else TaskFailed
 *   FILE_NOT_FOUND and the handler never runs (FILE-10); the files are pinned until it ends; it
 *   reads them through `ctx.files`; the files its result names are made the client's and leased
 *   for `leaseMs`. Operations without files are left as they are: they pay nothing.
 */
import { mkdtempSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { WebSocket } from 'ws';
import { v4 as uuid } from 'uuid';
import type { FileRef } from '../../machines/files/fileRef.js';
import { ProtocolError } from '../../machines/errors.js';
import { claimClient, hostOf, withCredential, type ClientOwner, type SessionIdentity } from '../../machines/identity.js';
import { clientProofOf } from '../../adapters/ws/options.js';
import type { Clock } from '../provider.js';
import type { InterpreterChoice } from '../interpreter.js';
import type { Logger, OperationContext, OperationDefinition, ServiceDefinition } from '../service.js';
import { attachFileLink, socketTransferLink, type FileLinkCounters, type FileLinkOptions } from './fileLink.js';
import { openDiskFileStore, type FileStore } from './fileStore.js';
import { fileFieldsOf, fileRefsAtTopLevel, fileRefsIn } from './taskFile.js';
import { FileTransfers, type FileTransferLimits, type TransferCounters } from './transfers.js';

export interface ProviderFilesOptions {
  /** Where the store keeps its files. @default a new directory in the OS's temporary directory */
  readonly dir?: string;
  /** Bytes the store holds at most (`fileStoreBytesMax`). @default 1 GiB */
  readonly bytesMax?: number;
  /** Largest file taken (`fileBytesMax`). @default 256 MiB */
  readonly fileBytesMax?: number;
  /** Transfer limits: chunkBytes, creditsMax, transfersMax, idleTimeoutMs, leaseMs. */
  readonly limits?: Partial<FileTransferLimits>;
  /**
   * FILE-9: may this client put (upload) or get (download) files of this service? Asked as the
   * operation `file:put` / `file:get` (the provider's ACL, when it has one). @default allow
   */
  readonly authorize?: (request: {
    readonly clientId: string;
    readonly serviceName: string;
    readonly operation: 'file:put' | 'file:get';
    readonly principal?: string | undefined;
    readonly groups?: readonly string[] | undefined;
  }) => boolean;
  /**
   * When the provider requires authentication (SEC-2): the credential of a file link's token
   * (`Authorization: Bearer`, or `?token=`); a link without a valid one is closed 1008 before any
   * file message. Its principal owns the link's clientId and is what the ACL is asked about.
   */
  readonly verifyToken?: (token: string, clientId: string, remoteAddress: string) => Promise<LinkCredential | undefined>;
  /**
   * The credential of a verified TLS client certificate (its SHA-256 fingerprint), when the
   * provider authenticates by certificate (SEC-10): a link presenting one needs no token.
   */
  readonly verifyCertificate?: (fingerprint256: string) => LinkCredential | undefined;
  /**
   * Bounds of each file link (SEC-13, SEC-16): answers a peer may leave unread (`sendBuffer`),
   * messages and chunks taken per second (`framesPerSecond`).
   * @default sendBuffer: pause 10 MiB, max 24 MiB, stall 10 s; framesPerSecond: 5,000
   */
  readonly link?: Pick<FileLinkOptions, 'sendBuffer' | 'framesPerSecond'>;
  /** A deliberate bug for the conformance suite's fixtures (FileStoreOptions.injectBug); never in production. */
  readonly injectBug?: { readonly acceptWrongHash?: boolean };
}

/** Who a file link authenticated as (runtime/auth.ts's Credential). */
export interface LinkCredential {
  readonly principal: string;
  readonly groups?: readonly string[] | undefined;
  /** The only clientIds it may act for (exact, or a prefix ending in `*`); undefined: any. */
  readonly clientIds?: readonly string[] | undefined;
}

/** What an operation that takes or returns files gets as `ctx.files`. */
export interface TaskFiles {
  /** The file's path in the provider's store (read only; do not write to it). */
  path(file: FileRef): string;
  read(file: FileRef): Promise<Uint8Array>;
  /** Stores bytes (or a file at a path) this task made; returns the FileRef to put in the result. */
  add(source: Uint8Array | { readonly path: string }, meta?: Pick<FileRef, 'name' | 'mediaType'>): Promise<FileRef>;
}

export type FileOperationContext = OperationContext & { readonly files: TaskFiles };

/** The path of the file link on a provider's endpoint. */
export const FILE_LINK_PATH = '/files';

/** clientIds remembered with their owner (SEC-10 for file links). */
const OWNERS_MAX = 65_536;

export class ProviderFiles {
  readonly ready: Promise<void>;
  readonly transferCounters: TransferCounters = { started: 0, done: 0, failed: 0, bytesSent: 0, bytesReceived: 0, unknown: 0 };
  readonly linkCounters: { links: number; refused: number; readsPaused: number; sendOverflows: number; readonly rejected: Record<string, number> } = {
    links: 0,
    refused: 0,
    readsPaused: 0,
    sendOverflows: 0,
    rejected: {},
  };
  #store: FileStore | undefined;
  readonly #options: ProviderFilesOptions;
  readonly #clock: Clock | undefined;
  readonly #interpreter: InterpreterChoice | undefined;
  readonly #owners = new Map<string, ClientOwner>();
  /** The owner of a clientId among the provider's sessions (set by the provider once it runs). */
  sessionOwnerOf: (clientId: string) => ClientOwner | undefined = () => undefined;
  readonly #links = new Set<WebSocket>();
  readonly #fileServices = new Set<string>();

  constructor(options: ProviderFilesOptions, log: Logger, clock?: Clock, interpreter?: InterpreterChoice) {
    this.#options = options;
    this.#clock = clock;
    this.#interpreter = interpreter;
    const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'switchboard-files-'));
    this.ready = openDiskFileStore(dir, {
      ...(options.bytesMax === undefined ? {} : { bytesMax: options.bytesMax }),
      ...(options.fileBytesMax === undefined ? {} : { fileBytesMax: options.fileBytesMax }),
      onError: (error) => log('warn', 'file store: an evicted file could not be deleted', error),
      ...(options.injectBug === undefined ? {} : { injectBug: options.injectBug }),
    }).then((store) => {
      this.#store = store;
    });
  }

  get store(): FileStore {
    if (this.#store === undefined) throw new Error('ProviderFiles: the store is not open yet (await ready)');
    return this.#store;
  }

  get leaseMs(): number {
    return this.#options.limits?.leaseMs ?? 60_000;
  }

  /** Whether any operation of these services takes or returns files (then the provider announces "files", FILE-1). */
  static usedBy(services: readonly ServiceDefinition[]): boolean {
    return services.some((service) => Object.values(service.operations as Record<string, OperationDefinition>).some(hasFileFields));
  }

  /** The side channel of the WebSocket server: a client opened a file link. */
  readonly accept = (socket: WebSocket, request: IncomingMessage): void => {
    const url = new URL(request.url ?? '/', 'ws://localhost');
    const clientId = url.searchParams.get('clientId') ?? '';
    const store = this.#store;
    if (store === undefined || clientId.length < 1 || clientId.length > 256) {
      this.#refuse(socket, store === undefined ? 'file store not ready' : 'a file link names its clientId');
      return;
    }
    // SEC-10: who the link is, as for a session: its host and client proof, then a credential.
    const identity: SessionIdentity = { host: hostOf(request.socket.remoteAddress ?? '?'), ...proofOf(request) };
    const tlsSocket = request.socket as Partial<TLSSocket>;
    const fingerprint = tlsSocket.authorized === true ? tlsSocket.getPeerCertificate?.().fingerprint256 : undefined;
    const certificate = fingerprint === undefined ? undefined : this.#options.verifyCertificate?.(fingerprint);
    const verify = this.#options.verifyToken;
    if (certificate !== undefined || verify === undefined) {
      this.#open(socket, store, clientId, identity, certificate);
      return;
    }
    // SEC-2 for file links: a credential first; messages wait (paused) while it is checked.
    const token = bearerOf(request) ?? (url.searchParams.get('token') || undefined);
    if (token === undefined) {
      this.#refuse(socket, 'rejected: UNAUTHENTICATED');
      return;
    }
    socket.pause();
    verify(token, clientId, request.socket.remoteAddress ?? '?').then(
      (credential) => {
        if (credential === undefined) this.#refuse(socket, 'rejected: UNAUTHENTICATED');
        else {
          this.#open(socket, store, clientId, identity, credential);
          socket.resume();
        }
      },
      () => this.#refuse(socket, 'rejected: UNAUTHENTICATED'),
    );
  };

  #refuse(socket: WebSocket, reason: string): void {
    this.linkCounters.refused++;
    socket.on('error', () => undefined);
    // Read again (a link paused while its key was checked): the close handshake needs the peer's close frame.
    socket.resume();
    socket.close(1008, reason);
  }

  #open(socket: WebSocket, store: FileStore, clientId: string, anonymous: SessionIdentity, credential: LinkCredential | undefined): void {
    // SEC-10 for file links: the rules a session binding the clientId is held to, against the
    // owner the provider's sessions know, else the one earlier links established.
    const identity = withCredential(anonymous, credential);
    const decision = claimClient(this.sessionOwnerOf(clientId) ?? this.#owners.get(clientId), identity, clientId);
    if (!decision.allowed) {
      this.#refuse(socket, `rejected: FORBIDDEN (${decision.reason})`);
      return;
    }
    if (!this.#owners.has(clientId) && this.#owners.size >= OWNERS_MAX) this.#owners.delete(this.#owners.keys().next().value as string);
    this.#owners.set(clientId, decision.owner);
    this.linkCounters.links++;
    this.#links.add(socket);
    const transfers = new FileTransfers({
      store,
      link: socketTransferLink(socket),
      identity: clientId,
      clientId,
      ...(this.#options.limits === undefined ? {} : { limits: this.#options.limits }),
      ...(this.#clock === undefined ? {} : { clock: this.#clock }),
      ...(this.#interpreter === undefined ? {} : { interpreter: this.#interpreter }),
      newId: uuid,
    });
    const counters = attachFileLink(socket, transfers, {
      ...this.#options.link,
      admit: (message) => {
        if (message.type !== 'FileOffer' && message.type !== 'FileRequest') return undefined;
        if (message.payload.clientId !== clientId) return { code: 'FORBIDDEN', message: 'a file link carries the transfers of its own clientId only' };
        const { serviceName } = message.payload;
        if (!this.#fileServices.has(serviceName)) return { code: 'FORBIDDEN', message: 'no operation of that service takes or returns files' };
        const operation = message.type === 'FileOffer' ? 'file:put' : 'file:get';
        const who = credential === undefined ? {} : { principal: credential.principal, groups: credential.groups };
        if (this.#options.authorize !== undefined && !this.#options.authorize({ clientId, serviceName, operation, ...who })) {
          return { code: 'FORBIDDEN', message: `not allowed: ${operation} for ${serviceName}` };
        }
        return undefined;
      },
      onClose: () => {
        this.#links.delete(socket);
        this.#add(transfers.counters, counters);
      },
    });
  }

  #add(counters: TransferCounters, link: FileLinkCounters): void {
    for (const key of Object.keys(counters) as (keyof TransferCounters)[]) this.transferCounters[key] += counters[key];
    this.linkCounters.readsPaused += link.readsPaused;
    this.linkCounters.sendOverflows += link.sendOverflows;
    for (const [code, count] of Object.entries(link.rejected)) this.linkCounters.rejected[code] = (this.linkCounters.rejected[code] ?? 0) + count;
  }

  /** The service with its file operations wrapped (FILE-10); the others untouched. */
  wrap(service: ServiceDefinition): ServiceDefinition {
    const operations = Object.entries(service.operations as Record<string, OperationDefinition>);
    if (!operations.some(([, operation]) => hasFileFields(operation))) return service;
    // Operations with task file parameters or results; the result of one may also name files its task added (ctx.files.add).
    this.#fileServices.add(service.name);
    const wrapped = Object.fromEntries(operations.map(([key, operation]) => [key, hasFileFields(operation) ? this.#wrapOperation(operation) : operation]));
    return { ...service, operations: wrapped };
  }

  #wrapOperation(operation: OperationDefinition): OperationDefinition {
    const paramFields = fileFieldsOf(operation.params);
    const resultFields = fileFieldsOf(operation.result);
    return {
      ...operation,
      run: async (params, context) => {
        const store = this.store;
        const named = fileRefsIn(params, paramFields);
        // FILE-10 (and FILE-8): every file named must be here and the client's, before the handler runs.
        for (const file of named) {
          if (store.sizeOf(file.sha256) !== file.size || !store.mayAccess(file.sha256, context.clientId)) {
            throw new ProtocolError('FILE_NOT_FOUND', `no file ${file.name ?? file.sha256} (${file.sha256}) for this client: send it first`);
          }
        }
        const unpins = named.map((file) => store.pin(file.sha256));
        const readable = new Set(named.map((file) => file.sha256));
        const made: string[] = [];
        try {
          const result = await operation.run(params, this.#contextWith(context, store, readable, made));
          // The result's files: its declared file fields, and any top-level FileRef of a file this task added.
          const returned = [...fileRefsIn(result, resultFields), ...fileRefsAtTopLevel(result).filter((file) => made.includes(file.sha256))];
          for (const file of returned) {
            if (!store.has(file.sha256)) throw new ProtocolError('INTERNAL_ERROR', 'the result names a file the task did not add');
            // FILE-10: the result's files are the client's, kept at least leaseMs.
            store.grantAccess(file.sha256, context.clientId);
            store.lease(file.sha256, this.leaseMs);
          }
          return result;
        } finally {
          for (const unpin of unpins) unpin?.();
        }
      },
    };
  }

  #contextWith(context: OperationContext, store: FileStore, readable: Set<string>, made: string[]): FileOperationContext {
    const check = (file: FileRef): string => {
      if (!readable.has(file.sha256) || !store.has(file.sha256)) throw new ProtocolError('FILE_NOT_FOUND', `the task has no file ${file.sha256}`);
      return file.sha256;
    };
    const files: TaskFiles = {
      path: (file) => {
        const found = store.pathOf(check(file));
        if (found === undefined) throw new ProtocolError('FILE_NOT_FOUND', `no path for ${file.sha256}`);
        return found;
      },
      read: (file) => store.read(check(file)),
      add: async (source, meta = {}) => {
        const file = source instanceof Uint8Array ? await store.add(source, meta) : await store.addFile(source.path, meta);
        store.lease(file.sha256, this.leaseMs);
        readable.add(file.sha256);
        made.push(file.sha256);
        return file;
      },
    };
    // The runtime's context with `files`; every other field read from it, with itself as `this`
    // (its classes keep private fields, which a prototype-chained object could not read).
    return new Proxy(context, { get: (target, key) => (key === 'files' ? files : Reflect.get(target, key, target)) }) as FileOperationContext;
  }

  async close(): Promise<void> {
    for (const socket of this.#links) socket.close(1001, 'provider stopping');
    await this.ready.catch(() => undefined);
    await this.#store?.close();
  }
}

function hasFileFields(operation: OperationDefinition): boolean {
  return fileFieldsOf(operation.params).length > 0 || fileFieldsOf(operation.result).length > 0;
}

function proofOf(request: IncomingMessage): { proof?: string } {
  const proof = clientProofOf(request);
  return proof === undefined ? {} : { proof };
}

function bearerOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  return header === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}
