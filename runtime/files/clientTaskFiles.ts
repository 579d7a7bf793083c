/**
 * What `client.assign` does for task files (FILE-12), kept out of the client so that a task
 * without files pays nothing: before the AssignTask, the local files of its parameters are
 * uploaded to the chosen instance (progress phase `upload`), and the task is pinned to that
 * instance; after a TaskResult naming files, they are fetched into the cache (phase `download`)
 * before the task settles.
 */
import type { ServiceView } from '../../machines/repository.js';
import type { TaskOutcome } from '../../machines/outcome.js';
import { ProtocolError, toProtocolError } from '../../machines/errors.js';
import type { Clock } from '../provider.js';
import type { InterpreterChoice } from '../interpreter.js';
import type { TaskProgress } from '../taskHandle.js';
import type { WsConnectOptions } from '../../adapters/ws/options.js';
import { ClientFiles, type ClientFilesOptions, type FileLinkTarget, type FileProgress } from './clientFiles.js';
import { fileRefsAtTopLevel, hasLocalFiles } from './taskFile.js';

interface Target extends FileLinkTarget {
  readonly serviceName: string;
}

export interface TaskFilesDeps {
  readonly clientId: string;
  readonly options: ClientFilesOptions | boolean | undefined;
  /** The options of the client's task connections (TLS, pin, token, client secret), for its file links too. */
  readonly connect?: WsConnectOptions | undefined;
  readonly clock: Clock | undefined;
  /** What runs the transfer statecharts (the client's `interpreter`). */
  readonly interpreter?: InterpreterChoice | undefined;
  readonly services: () => readonly ServiceView[];
  /** Finds (or waits for) an instance offering the operation. */
  readonly find: (serviceName: string, operation: string) => Promise<ServiceView>;
}

/** Whether the operation takes or returns task files, by its advertised schemas (FILE-1). */
export function takesFiles(service: ServiceView, operation: string): boolean {
  const capability = service.capabilities.find((candidate) => candidate.key === operation) as { schema?: unknown; resultSchema?: unknown } | undefined;
  return capability !== undefined && JSON.stringify([capability.schema, capability.resultSchema]).includes('"switchboard-file"');
}

const progressOf = ({ phase, file, bytes }: FileProgress): TaskProgress => ({
  status: phase === 'upload' ? 'Queued' : 'Processing',
  progressPercentage: phase === 'upload' ? 0 : 100,
  message: `${phase} ${file.name ?? file.sha256.slice(0, 12)}: ${bytes} of ${file.size} bytes`,
  phase,
  file,
  bytes,
});

export function clientTaskFiles(deps: TaskFilesDeps) {
  let files: ClientFiles | undefined;
  const enabled = deps.options !== false;
  const cache = (): ClientFiles => {
    if (!enabled) throw new ProtocolError('UNSUPPORTED_MESSAGE', 'task files are turned off on this client (files: false)');
    const given = typeof deps.options === 'object' ? deps.options : {};
    return (files ??= new ClientFiles(deps.clientId, deps.connect === undefined ? given : { connect: deps.connect, ...given }, deps.clock, deps.interpreter));
  };
  const uploading = new Map<string, AbortController>();
  const targets = new Map<string, Target>();

  return {
    get cache(): ClientFiles {
      return cache();
    },

    /** Whether the parameters hold local files (fileFrom) to upload first. */
    wants: (params: Readonly<Record<string, unknown>>): boolean => hasLocalFiles(params),

    /** Uploads the task's files; resolves with its parameters (FileRefs) and the serviceIds to leave out (the task goes where its files went). */
    async prepare(
      taskId: string,
      serviceName: string,
      operation: string,
      params: Readonly<Record<string, unknown>>,
      report: (progress: TaskProgress) => void,
    ): Promise<{ params: Record<string, unknown>; exclude: string[] }> {
      const stop = new AbortController();
      uploading.set(taskId, stop);
      try {
        const service = await deps.find(serviceName, operation);
        if (!takesFiles(service, operation)) {
          throw new ProtocolError('UNSUPPORTED_MESSAGE', `${serviceName}.${operation} at ${service.endpoint} takes no task files (FILE-1)`);
        }
        const target = { endpoint: service.endpoint, tlsFingerprint256: service.tlsFingerprint256, serviceName };
        const resolved = await cache().upload(params, target, (progress) => report(progressOf(progress)), stop.signal);
        if (stop.signal.aborted) throw new ProtocolError('CANCELLED', 'the task was cancelled');
        targets.set(taskId, target);
        const exclude = deps.services().filter((other) => other.serviceName === serviceName && other.serviceId !== service.serviceId).map((other) => other.serviceId);
        return { params: resolved, exclude };
      } catch (error) {
        throw stop.signal.aborted ? new ProtocolError('CANCELLED', 'the task was cancelled') : toProtocolError(error);
      } finally {
        uploading.delete(taskId);
      }
    },

    /** Cancels a task's uploads; false when it has none running. */
    cancel(taskId: string): boolean {
      const stop = uploading.get(taskId);
      stop?.abort();
      return stop !== undefined;
    },

    /**
     * A settled task: when its result names files, fetches them (FILE-12) and resolves with the
     * outcome to settle with; undefined when there is nothing to fetch (settle at once).
     */
    afterSettled(taskId: string, serviceId: string | undefined, outcome: TaskOutcome, report: (progress: TaskProgress) => void): Promise<TaskOutcome> | undefined {
      const uploadedTo = targets.get(taskId);
      targets.delete(taskId);
      if (!enabled || outcome.status !== 'Completed') return undefined;
      const refs = fileRefsAtTopLevel(outcome.resultData);
      if (refs.length === 0) return undefined;
      const service = uploadedTo === undefined ? deps.services().find((candidate) => candidate.serviceId === serviceId) : undefined;
      const target = uploadedTo ?? (service === undefined ? undefined : { endpoint: service.endpoint, tlsFingerprint256: service.tlsFingerprint256, serviceName: service.serviceName });
      if (target === undefined) return undefined;
      return cache()
        .download(refs, target, (progress) => report(progressOf(progress)), new AbortController().signal)
        .then(
          () => outcome,
          (error: unknown): TaskOutcome => ({ status: 'Failed', error: toProtocolError(error).toShape() }),
        );
    },

    async close(): Promise<void> {
      for (const stop of uploading.values()) stop.abort();
      await files?.close();
    },
  };
}

export type ClientTaskFiles = ReturnType<typeof clientTaskFiles>;
