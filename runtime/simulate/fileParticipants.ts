/**
 * Task files in a simulated run (FILE-2, FILE-3, FILE-7, FILE-10, FILE-12): each provider
 * incarnation has a file store (in memory, on the participant's clock) and takes file links; a
 * client uploads a task's files on a link to the instance it will assign the task to, then assigns
 * it with the FileRefs in the parameter `files`. Both ends run the real transfer code
 * (runtime/files: FileTransfers, the send and receive statecharts, the store's verification);
 * the links are ./fileLinks.ts's.
 *
 * Observed: every upload's end at the client (`file.transfer`), every file a provider's receiver
 * declared stored (`file.stored`, with the SHA-256 of the bytes its store then holds, hashed here,
 * independently of the store), and every file an operation was handed (`file.used`, likewise).
 */
import { createHash } from 'node:crypto';
import type { WebSocket } from 'ws';
import { Prng } from '../../adapters/simulated/prng.js';
import type { FileRef } from '../../machines/files/fileRef.js';
import type { FileDraft } from '../../machines/files/messages.js';
import { attachFileLink, socketTransferLink } from '../files/fileLink.js';
import { openMemoryFileStore, type FileStore } from '../files/fileStore.js';
import { FileTransfers, type FileTransferLimits, type TransferLink } from '../files/transfers.js';
import type { ParticipantEnv } from './participants.js';
import type { PlannedFile } from './plan.js';

/** Transfer limits of simulated file links: small chunks and windows, so a file takes many chunks and credits; a short idle bound (FILE-7). */
export const SIMULATED_FILE_LIMITS: Partial<FileTransferLimits> = { chunkBytes: 4_096, creditsMax: 4, idleTimeoutMs: 2_000, leaseMs: 600_000 };

/** Largest file a simulated operation returns. */
const RESULT_BYTES_MAX = 20_000;

export const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The bytes of a planned file: from the run seed and its key, so one key is one file everywhere. */
export function fileBytes(seed: number, file: PlannedFile): Uint8Array {
  const prng = Prng.derive(seed, `bytes:${file.key}`);
  const bytes = new Uint8Array(file.size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (; at + 4 <= bytes.length; at += 4) view.setUint32(at, Number.parseInt(prng.hex32(), 16));
  for (; at < bytes.length; at++) bytes[at] = prng.integer(0, 255);
  return bytes;
}

/** A seeded transferId source (ids are part of the run: the same in every replay). */
function transferIds(seed: number, prefix: string): () => string {
  const prng = Prng.derive(seed, `transfers:${prefix}`);
  return () => `${prefix}.${prng.hex32()}`;
}

/** Either end of a file link: the real transfers over its socket, for `clientId`, on the participant's clock. */
function linkEnd(env: ParticipantEnv, socket: WebSocket, store: FileStore, link: TransferLink, clientId: string, newId: () => string): FileTransfers {
  const transfers = new FileTransfers({
    store,
    link,
    identity: clientId,
    clientId,
    limits: SIMULATED_FILE_LIMITS,
    ...(env.clock === undefined ? {} : { clock: env.clock }),
    newId,
  });
  attachFileLink(socket, transfers);
  return transfers;
}

/** A provider incarnation's side: its store and what it does with each file link. */
export interface ProviderFileEndpoint {
  readonly store: FileStore;
  accept(socket: WebSocket, clientId: string): void;
  /** The files a task names, checked and read as an operation is handed them (FILE-10): FILE_NOT_FOUND when one is not here for this client. */
  use(clientId: string, taskId: string, files: unknown): Promise<string | undefined>;
  /** Files a task makes for its result: stored, the client's, leased (FILE-10). */
  make(clientId: string, taskId: string, count: number): Promise<FileRef[]>;
}

export function providerFileEndpoint(
  env: ParticipantEnv,
  participant: string,
  incarnation: number,
  options: { readonly acceptWrongHash?: boolean | undefined },
): ProviderFileEndpoint {
  const store = openMemoryFileStore({
    nowMs: env.now,
    ...(options.acceptWrongHash === true ? { injectBug: { acceptWrongHash: true } } : {}),
  });
  const newId = transferIds(env.seed, `${participant}#${incarnation}`);
  const observeStored = (clientId: string, sha256: string) => {
    void store.read(sha256).then(
      (bytes) => env.record({ t: env.now(), type: 'file.stored', participant, incarnation, clientId, sha256, actual: sha256Of(bytes) }),
      () => env.record({ t: env.now(), type: 'file.stored', participant, incarnation, clientId, sha256, actual: '' }),
    );
  };
  return {
    store,
    accept(socket, clientId) {
      const base = socketTransferLink(socket);
      // What the receiver declares stored is looked at: FileDone means "kept under this hash" (FILE-2).
      const link: TransferLink = {
        sendMessage(draft: FileDraft) {
          if (draft.type === 'FileDone') observeStored(clientId, draft.payload.sha256);
          base.sendMessage(draft);
        },
        sendChunk: (frame) => base.sendChunk(frame),
      };
      linkEnd(env, socket, store, link, clientId, newId);
    },
    async make(clientId, taskId, count) {
      const made: FileRef[] = [];
      for (let k = 0; k < count; k++) {
        const key = `${clientId}.${taskId}.r${k}`;
        const file = await store.add(fileBytes(env.seed, { key, size: Prng.derive(env.seed, `size:${key}`).integer(1, RESULT_BYTES_MAX) }), { name: `r${k}` });
        store.grantAccess(file.sha256, clientId);
        store.lease(file.sha256, SIMULATED_FILE_LIMITS.leaseMs ?? 60_000);
        made.push(file);
      }
      return made;
    },
    async use(clientId, taskId, files) {
      for (const file of Array.isArray(files) ? (files as FileRef[]) : []) {
        if (!store.has(file.sha256) || !store.mayAccess(file.sha256, clientId)) return 'FILE_NOT_FOUND';
        const bytes = await store.read(file.sha256);
        env.record({ t: env.now(), type: 'file.used', participant, incarnation, clientId, taskId, sha256: file.sha256, actual: sha256Of(bytes) });
      }
      return undefined;
    },
  };
}

/** What a client's upload of one task's files came to. */
export type UploadResult = { readonly ok: true; readonly files: FileRef[] } | { readonly ok: false; readonly code: string };

/** A client incarnation's side: its cache and its uploads. */
export function clientFileUploads(env: ParticipantEnv, participant: string, clientId: string) {
  const cache = openMemoryFileStore({ nowMs: env.now });
  const newId = transferIds(env.seed, clientId);
  const added = new Map<string, FileRef>();
  return {
    /**
     * Uploads `files` to `provider` on a new file link (only what it lacks moves, FILE-3), then
     * closes the link; `connect` opens it (undefined: refused).
     */
    async upload(
      taskId: string,
      serviceName: string,
      provider: string,
      files: readonly PlannedFile[],
      connect: () => WebSocket | undefined,
    ): Promise<UploadResult> {
      const refs: FileRef[] = [];
      for (const file of files) {
        // A file is made (and hashed into the cache) once per client incarnation.
        let ref = added.get(file.key);
        if (ref === undefined || !cache.has(ref.sha256)) added.set(file.key, (ref = await cache.add(fileBytes(env.seed, file), { name: file.key })));
        refs.push(ref);
      }
      const socket = connect();
      if (socket === undefined) return { ok: false, code: 'CONNECTION_LOST' };
      const transfers = linkEnd(env, socket, cache, socketTransferLink(socket), clientId, newId);
      try {
        const unique = [...new Map(refs.map((ref) => [ref.sha256, ref])).values()];
        const results = await Promise.all(unique.map((ref) => transfers.upload(ref, serviceName)));
        let failure: string | undefined;
        for (const result of results) {
          const { end } = result;
          const where = { t: env.now(), type: 'file.transfer' as const, participant, clientId, taskId, provider, sha256: result.file.sha256 };
          if (end.status === 'done') env.record({ ...where, status: 'done', ...(end.have ? { have: true } : {}) });
          else {
            env.record({ ...where, status: 'failed', code: end.code });
            failure ??= end.code;
          }
        }
        return failure === undefined ? { ok: true, files: refs } : { ok: false, code: failure };
      } finally {
        socket.close(1000, 'upload done');
      }
    },

    /** Fetches the files a result names from `provider` on a new file link (FILE-12); undefined when every one arrived, else the first failure's code. */
    async fetch(taskId: string, serviceName: string, provider: string, files: readonly FileRef[], connect: () => WebSocket | undefined): Promise<string | undefined> {
      const socket = connect();
      if (socket === undefined) return 'CONNECTION_LOST';
      const transfers = linkEnd(env, socket, cache, socketTransferLink(socket), clientId, newId);
      try {
        const results = await Promise.all(files.map((file) => transfers.download(file, serviceName)));
        let failure: string | undefined;
        for (const { file, end } of results) {
          const where = { t: env.now(), type: 'file.fetched' as const, participant, clientId, taskId, provider, sha256: file.sha256 };
          if (end.status === 'done') {
            const actual = await cache.read(file.sha256).then(sha256Of, () => '');
            env.record({ ...where, status: 'done', actual });
          } else {
            env.record({ ...where, status: 'failed', code: end.code });
            failure ??= end.code;
          }
        }
        return failure;
      } finally {
        socket.close(1000, 'fetch done');
      }
    },
  };
}
