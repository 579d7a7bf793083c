/**
 * The checker's file invariant (FILE-2): a file is named by the SHA-256 of its bytes. Whatever a
 * provider's receiver declared stored (FileDone), whatever an operation was handed, and whatever a
 * client fetched of a result must hash to the FileRef it went by. The hashes in the history were computed from the bytes by the
 * simulator, not by the store, so a store that keeps wrong bytes is caught here even when it
 * says all is well. Every task with files settling, done or failed with a code, is TASK-10's
 * `no-lost-task`, which covers them as every other task.
 */
import type { Context } from './checker.js';
import { ofType, type Observation } from './history.js';

export function checkFiles(context: Context): void {
  for (const stored of ofType(context.history, 'file.stored')) {
    if (stored.actual === stored.sha256) continue;
    context.add({
      invariant: 'file-verified',
      t: stored.t,
      message: `${stored.participant}#${stored.incarnation} stored a file of ${stored.clientId} as ${stored.sha256.slice(0, 12)}, but its bytes hash to ${stored.actual === '' ? '(nothing: not readable)' : stored.actual.slice(0, 12)}`,
      participant: stored.participant,
    });
  }
  for (const fetched of ofType(context.history, 'file.fetched')) {
    if (fetched.status !== 'done' || fetched.actual === fetched.sha256) continue;
    context.add({
      invariant: 'file-verified',
      t: fetched.t,
      message: `${fetched.clientId} fetched ${fetched.sha256.slice(0, 12)} of task ${fetched.taskId} from ${fetched.provider}, but its bytes hash to ${fetched.actual === undefined || fetched.actual === '' ? '(nothing: not readable)' : fetched.actual.slice(0, 12)}`,
      participant: fetched.participant,
      taskId: fetched.taskId,
    });
  }
  for (const used of ofType(context.history, 'file.used')) {
    if (used.actual === used.sha256) continue;
    context.add({
      invariant: 'file-verified',
      t: used.t,
      message: `${used.participant}#${used.incarnation} handed task ${used.taskId} of ${used.clientId} the file ${used.sha256.slice(0, 12)}, whose bytes hash to ${used.actual.slice(0, 12)}`,
      participant: used.participant,
      taskId: used.taskId,
    });
  }
}

/** What task files did in a run: uploads and fetches by outcome (`done`, `have`: nothing moved, FILE-3, or the failure code), and files handed to operations. */
export interface FileTally {
  readonly uploads: Readonly<Record<string, number>>;
  readonly fetches: Readonly<Record<string, number>>;
  readonly used: number;
}

export function fileTally(history: readonly Observation[]): FileTally {
  const uploads: Record<string, number> = {};
  const fetches: Record<string, number> = {};
  let used = 0;
  for (const observation of history) {
    if (observation.type === 'file.fetched') {
      const outcome = observation.status === 'failed' ? (observation.code ?? '') : 'done';
      fetches[outcome] = (fetches[outcome] ?? 0) + 1;
    }
    if (observation.type === 'file.transfer') {
      const outcome = observation.status === 'failed' ? (observation.code ?? '') : observation.have === true ? 'have' : 'done';
      uploads[outcome] = (uploads[outcome] ?? 0) + 1;
    } else if (observation.type === 'file.used') used++;
  }
  return { uploads, fetches, used };
}
