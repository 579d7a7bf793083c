/**
 * Wire schemas of the task-files extension (docs/protocol.md, "Task files"). One transfer moves
 * one file, identified by a `transferId` the client chose (unique per client):
 *
 * - push (the client uploads): FileOffer -> FileHave (held already: nothing is sent) or FileNeed
 *   (chunk size and first credits) -> chunks, FileCredit as the receiver stores them -> FileDone
 *   (verified) or FileFailed;
 * - pull (the client downloads): FileRequest -> FileOffer from the provider -> then as a push.
 *
 * Either side ends a transfer early with FileFailed. Chunks travel as binary WebSocket messages
 * (machines/files/chunkFrame.ts); everything else is an ordinary JSON envelope. These types go in
 * both directions, so neither side refuses them as "wrong direction" (WIRE-7).
 */
import * as z from 'zod';
import { IdSchema, TimestampCodec } from '../messages.js';
import { FileRefSchema, Sha256Schema } from './fileRef.js';

function envelope<const T extends string, P extends z.ZodType>(type: T, payload: P) {
  return z.object({ type: z.literal(type), messageId: IdSchema, timestamp: TimestampCodec, payload });
}

/** Largest credit grant in one message, in chunks. */
export const CREDITS_MAX = 1024;

const transfer = { transferId: IdSchema };

export const FileOfferSchema = envelope(
  'FileOffer',
  z.object({
    ...transfer,
    /** The client the transfer is for (binds the session, CONN-9). */
    clientId: IdSchema,
    /** The service the file is for: what the ACL is asked about (FILE-9). */
    serviceName: z.string().min(1).max(256),
    file: FileRefSchema,
  }),
);

export const FileRequestSchema = envelope(
  'FileRequest',
  z.object({ ...transfer, clientId: IdSchema, serviceName: z.string().min(1).max(256), sha256: Sha256Schema }),
);

export const FileHaveSchema = envelope('FileHave', z.object(transfer));

export const FileNeedSchema = envelope(
  'FileNeed',
  z.object({
    ...transfer,
    /** Bytes per chunk, every chunk but the last (FILE-4). */
    chunkBytes: z.number().int().min(1).max(16_777_216),
    /** Chunks the sender may send now (FILE-4). */
    credits: z.number().int().min(1).max(CREDITS_MAX),
  }),
);

export const FileCreditSchema = envelope('FileCredit', z.object({ ...transfer, credits: z.number().int().min(1).max(CREDITS_MAX) }));

export const FileDoneSchema = envelope('FileDone', z.object({ ...transfer, sha256: Sha256Schema }));

export const FileFailedSchema = envelope(
  'FileFailed',
  z.object({ ...transfer, code: z.string().min(1).max(128), message: z.string().max(4096) }),
);

export const fileMessageSchemas = {
  FileOffer: FileOfferSchema,
  FileRequest: FileRequestSchema,
  FileHave: FileHaveSchema,
  FileNeed: FileNeedSchema,
  FileCredit: FileCreditSchema,
  FileDone: FileDoneSchema,
  FileFailed: FileFailedSchema,
} as const;

export type FileMessageType = keyof typeof fileMessageSchemas;
export type FileMessage = { [T in FileMessageType]: z.output<(typeof fileMessageSchemas)[T]> }[FileMessageType];
export type FileMessageOf<T extends FileMessageType> = Extract<FileMessage, { type: T }>;

/** A file message without the fields the boundary stamps (timestamp; messageId unless chosen). */
export type FileDraft = FileMessage extends infer M
  ? M extends { type: string; payload: unknown }
    ? { readonly type: M['type']; readonly payload: M['payload']; readonly messageId?: string }
    : never
  : never;
