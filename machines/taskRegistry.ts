/**
 * The provider's task registry: the actor that owns the task ledger (TASK-4, 5, 7) and the task
 * actors, so the provider machine's snapshot never holds thousands of children (see
 * actorPool.ts for why). It answers every task message for the provider:
 *
 *   registry.assign  -> duplicate? Ack + current state : unknown op? TaskFailed UNKNOWN_OPERATION
 *                       : draining? TaskFailed PROVIDER_DRAINING : admit -> Ack (+ Queued update)
 *   registry.cancel  -> queued: Cancelled at once; running: the task's handler is aborted
 *   registry.query   -> GetStatus / GetResult answers (TASK-12)
 *
 * Replies go to the provider as `registry.reply { clientId, draft }`; the provider routes them to
 * the client's current session. The decisions themselves are pure functions in taskReplies.ts.
 */
import type { ActorLogic, ActorRef, AnyActorLogic, AnyStateMachine, EventObject, Snapshot } from 'xstate';
import { memberEnded, spawnDetached } from './actorPool.js';
import { compileMachine } from './engine/index.js';
import { definitionOf, supervisionOf } from './host/supervision.js';
import { tableHostOf, TaskSlot, TaskTable } from './host/taskTable.js';
import type { ClientOwner, SessionIdentity } from './identity.js';
import type { AssignTask, CancelTask, GetResult, GetStatus, ProviderDraft } from './messages.js';
import { errorIdOf, internalFailure } from './errors.js';
import type { TaskFailure, TaskOutcome } from './outcome.js';
import type { ProviderTaskInput, ProviderTaskToParentEvent } from './providerTask.js';
import { offersOperation, type ServiceDescriptor } from './service.js';
import { loadWorthReporting, TaskLedger, type LoadReport, type TaskLimits, type TaskRecord } from './taskLedger.js';
import { ackFor, errorFor, finalFor, stateMessageFor, statusMessageFor, taskFailed } from './taskReplies.js';

export type TaskRegistryEvent =
  /**
   * `owner`: who the clientId belongs to (SEC-10), echoed in registry.clientRecords; `identity`:
   * the requesting session's, for the authorisation policy (SEC-4).
   */
  | {
      readonly type: 'registry.assign';
      readonly clientId: string;
      readonly message: AssignTask;
      readonly owner?: ClientOwner | undefined;
      readonly identity?: SessionIdentity | undefined;
    }
  | { readonly type: 'registry.cancel'; readonly clientId: string; readonly message: CancelTask }
  /** `replyTo`: the session that asked, when it is not the client's own (a query that named no client). */
  | { readonly type: 'registry.query'; readonly clientId: string; readonly message: GetStatus | GetResult; readonly replyTo?: string | undefined }
  /** A query naming no client (TASK-12): which clients have a task with its taskId? Answered with registry.taskOwners. */
  | { readonly type: 'registry.whose'; readonly connectionId: string; readonly message: GetStatus | GetResult; readonly identity: SessionIdentity }
  /** TASK-8: refuse new tasks from now on. */
  | { readonly type: 'registry.drain' }
  /** Stop: cancel every unfinished task. */
  | { readonly type: 'registry.cancelAll' }
  /**
   * SEC-21: the runtime's supervisor caught an unexpected error while the registry handled
   * `event`: the one task that event was about fails INTERNAL_ERROR (or, never admitted, is refused).
   */
  | { readonly type: 'registry.fault'; readonly errorId: string; readonly event: { readonly type: string } }
  | ProviderTaskToParentEvent;

/** The task an event of the registry is about, if any (for registry.fault). */
function taskAbout(event: { readonly type: string }): { clientId: string; taskId: string } | undefined {
  const { clientId, taskId, message } = event as { clientId?: unknown; taskId?: unknown; message?: { payload?: { taskId?: unknown } } };
  const id = typeof taskId === 'string' ? taskId : message?.payload?.taskId;
  return typeof clientId === 'string' && typeof id === 'string' ? { clientId, taskId: id } : undefined;
}

export type TaskRegistryToParentEvent =
  | { readonly type: 'registry.reply'; readonly clientId: string; readonly draft: ProviderDraft; readonly replyTo?: string | undefined }
  /** The clients with a task of the query's taskId (to the provider, which decides who may see it). */
  | {
      readonly type: 'registry.taskOwners';
      readonly connectionId: string;
      readonly message: GetStatus | GetResult;
      readonly identity: SessionIdentity;
      readonly clientIds: readonly string[];
    }
  | { readonly type: 'registry.load'; readonly running: number; readonly queued: number; readonly load: number }
  | { readonly type: 'registry.settled'; readonly clientId: string; readonly taskId: string; readonly outcome: TaskOutcome }
  /**
   * The ledger started (`present`) or stopped holding tasks of `clientId` (SEC-10: the provider
   * keeps a clientId's owner exactly as long as it remembers anything of the clientId).
   */
  | { readonly type: 'registry.clientRecords'; readonly clientId: string; readonly present: boolean; readonly owner?: ClientOwner | undefined };

/** What the authorisation policy decides on (SEC-4). */
export interface AuthorizationRequest {
  /** `key:<name>`, `cert:<name>`; undefined for an anonymous session. */
  readonly principal?: string | undefined;
  readonly groups?: readonly string[] | undefined;
  readonly clientId: string;
  readonly serviceName: string;
  readonly operation: string;
}

/** A pure decision (runtime/acl.ts compiles a policy file to one): true to allow. */
export type Authorizer = (request: AuthorizationRequest) => boolean;

export interface TaskRegistryInput {
  readonly services: readonly ServiceDescriptor[];
  readonly limits: TaskLimits;
  /** SEC-4: decides each new AssignTask; undefined allows everything. */
  readonly authorize?: Authorizer | undefined;
  /** GetStatus of a finished task gets its final status, not its outcome (the `flat-status` compat profile). */
  readonly finishedStatusOnGetStatus?: boolean | undefined;
  readonly parentRef: ActorRef<Snapshot<unknown>, TaskRegistryToParentEvent>;
  /** A deliberate bug (docs/simulation.md): a duplicate AssignTask runs again. Never in production. */
  readonly skipDuplicateCheck?: boolean;
}

/** A running task: an actor of its own, or a snapshot in the registry's task table (no actor). */
export interface TaskMember {
  send(event: EventObject): void;
  getSnapshot(): { readonly status: string };
}

export type TaskRegistrySnapshot = Snapshot<undefined> & {
  readonly ledger: TaskLedger;
  readonly accepting: boolean;
  /** Tasks as snapshots stepped by the compiled task machine (made on the first task); undefined when tasks are actors. */
  table: TaskTable | undefined;
  /** Live tasks by member id (`task:<n>`), and the record each one runs. */
  readonly members: Map<string, { actor: TaskMember; record: TaskRecord }>;
  readonly memberIds: Map<string, string>;
  readonly spawnedTotal: number;
  /** AssignTasks answered from the ledger instead of run again (TASK-4). */
  readonly duplicatesAnswered: number;
  /** The load last reported to the provider (mutable holder: the registry's own state). */
  readonly loadReported: { last: LoadReport | undefined };
  readonly input: TaskRegistryInput;
};

export type TaskRegistryLogic = ActorLogic<TaskRegistrySnapshot, TaskRegistryEvent | { type: string }, TaskRegistryInput>;

const isStateMachine = (logic: AnyActorLogic): logic is AnyStateMachine => 'root' in logic && 'implementations' in logic;

/**
 * Creates the registry logic whose tasks run `taskLogic` (providerTaskMachine, provided; possibly
 * hosted on the engine and wrapped by the runtime's supervisor). With `tasksAsSnapshots`, tasks
 * are snapshots in a task table (machines/host/taskTable.ts: no actor per task, one timer wheel,
 * the supervisor's supervision applied by the table) when the engine supports the machine and
 * its handler is a direct callback; otherwise each task is an actor of `taskLogic`.
 */
export function createTaskRegistry(taskLogic: AnyActorLogic, options: { readonly tasksAsSnapshots?: boolean } = {}): TaskRegistryLogic {
  const machine = isStateMachine(taskLogic) ? definitionOf(taskLogic) : undefined;
  const compiled = options.tasksAsSnapshots && machine ? compileMachine(machine) : undefined;
  const tableEngine = compiled?.ok && TaskTable.canHost(machine!) ? compiled.engine : undefined;
  const supervision = supervisionOf(taskLogic);
  return {
    config: taskLogic,
    getInitialSnapshot: (_scope, input) => ({
      status: 'active',
      output: undefined,
      error: undefined,
      ledger: new TaskLedger(input.limits),
      accepting: true,
      table: undefined,
      members: new Map(),
      memberIds: new Map(),
      spawnedTotal: 0,
      duplicatesAnswered: 0,
      loadReported: { last: undefined },
      input,
    }),
    transition: (snapshot, event, scope) => {
      const { ledger, input } = snapshot;
      const reply = (clientId: string, draft: ProviderDraft) =>
        input.parentRef.send({ type: 'registry.reply', clientId, draft });
      const reportLoad = () => {
        const next = { running: ledger.running, queued: ledger.queued, load: ledger.load };
        if (!loadWorthReporting(snapshot.loadReported.last, next)) return;
        snapshot.loadReported.last = next;
        input.parentRef.send({ type: 'registry.load', ...next });
      };
      let spawned = 0;
      /** Creates the task's actor at acceptance: a queued task waits in `assigned` (TASK-14). */
      const spawnTask = (record: TaskRecord, params: Readonly<Record<string, unknown>>) => {
        const memberId = `task:${snapshot.spawnedTotal + ++spawned}`;
        const taskInput: ProviderTaskInput = {
          clientId: record.clientId,
          taskId: record.taskId,
          serviceName: record.assignment.serviceName,
          operation: record.assignment.operation,
          // The parameters live in the task actor only (its input), never in the ledger (SEC-18).
          params,
          deadlineMs: record.assignment.deadlineMs,
          parentRef: scope.self as never,
        };
        const table = tableEngine ? (snapshot.table ??= new TaskTable(machine!, tableEngine, tableHostOf(scope), supervision)) : undefined;
        const actor: TaskMember = table ? table.create(memberId, taskInput, record.taskId) : spawnDetached(scope, taskLogic, memberId, taskInput);
        snapshot.members.set(memberId, { actor, record });
        snapshot.memberIds.set(record.key, memberId);
      };
      const stopMember = (member: TaskMember) => {
        if (member instanceof TaskSlot) member.table.stop(member.key);
        else scope.stopChild(member as never);
      };
      const memberOf = (record: TaskRecord) => {
        const memberId = snapshot.memberIds.get(record.key);
        return memberId === undefined ? undefined : snapshot.members.get(memberId);
      };
      const start = (record: TaskRecord) => {
        const member = memberOf(record);
        if (member) scope.defer(() => member.actor.send({ type: 'task.start' }));
      };
      /**
       * Ends a task the registry itself decides (a queued task cancelled, a task whose actor
       * failed): its final message, its report to the provider, and its actor stopped if any.
       */
      const endHere = (record: TaskRecord, outcome: Exclude<TaskOutcome, { status: 'Completed' }>) => {
        const final = finalFor(record, outcome);
        ledger.finish(record, outcome.status, final);
        reply(record.clientId, final);
        // Settled like any accepted task, so the provider reports it (task.settled).
        input.parentRef.send({ type: 'registry.settled', clientId: record.clientId, taskId: record.taskId, outcome });
        const memberId = snapshot.memberIds.get(record.key);
        const member = memberId === undefined ? undefined : snapshot.members.get(memberId);
        if (memberId !== undefined && member) {
          snapshot.members.delete(memberId);
          snapshot.memberIds.delete(record.key);
          stopMember(member.actor);
        }
      };
      const startQueued = () => {
        for (let record = ledger.nextRunnable(); record; record = ledger.nextRunnable()) start(record);
      };
      /** A task that ended without its actor settling it (a bug): exactly one final message still (TASK-10). */
      const failUnexpectedly = (record: TaskRecord, failure: TaskFailure) => {
        endHere(record, { status: 'Failed', error: failure });
        startQueued();
        reportLoad();
      };
      /** TASK-11: a queued task ends Cancelled at once; its idle actor is stopped, not asked. */
      const cancelQueued = (record: TaskRecord) => endHere(record, { status: 'Cancelled' });

      /** Handles the event; the snapshot to return (before the spawn count is added). */
      const handle = (): TaskRegistrySnapshot => {
        switch (event.type) {
          case 'registry.assign': {
            const { clientId, message } = event as Extract<TaskRegistryEvent, { type: 'registry.assign' }>;
            const assignment = message.payload;
            const known = ledger.get(clientId, assignment.taskId);
            if (known && input.skipDuplicateCheck === true && known.final === undefined) {
              // The injected bug: the ledger is not consulted, so the operation runs a second time.
              reply(clientId, ackFor(message.messageId, known));
              spawnTask(known, assignment.taskParameters);
              start(known);
              break;
            }
            if (known) {
              // TASK-4: never run twice; answer with where the task is now.
              reply(clientId, ackFor(message.messageId, known));
              reply(clientId, stateMessageFor(known));
              return { ...snapshot, duplicatesAnswered: snapshot.duplicatesAnswered + 1 };
            }
            // SEC-4: authorised when first received (a duplicate was answered above); a refusal is not recorded.
          const { identity } = event as Extract<TaskRegistryEvent, { type: 'registry.assign' }>;
          if (
            input.authorize !== undefined &&
            !input.authorize({
              principal: identity?.principal,
              groups: identity?.groups,
              clientId,
              serviceName: assignment.serviceName,
              operation: assignment.operation,
            })
          ) {
            reply(clientId, taskFailed(clientId, assignment.taskId, 'FORBIDDEN', `not allowed to run ${assignment.serviceName}.${assignment.operation} (SEC-4)`));
            break;
          }
          if (!offersOperation(input.services, assignment.serviceName, assignment.operation)) {
              const final = taskFailed(clientId, assignment.taskId, 'UNKNOWN_OPERATION',
                `"${assignment.serviceName}.${assignment.operation}" is not offered by this provider`);
              ledger.addFinished(clientId, assignment, 'Failed', final);
              reply(clientId, final);
              break;
            }
            if (!snapshot.accepting) {
              reply(clientId, taskFailed(clientId, assignment.taskId, 'PROVIDER_DRAINING', 'The provider is draining.'));
              break;
            }
            // SEC-17: waiting tasks take turns by source: the principal, else the host.
            const source = identity === undefined ? '' : (identity.principal ?? `host:${identity.host}`);
            const admission = ledger.admit(clientId, source);
            if (admission === 'reject') {
              reply(clientId, taskFailed(clientId, assignment.taskId, 'OVERLOADED',
                `${ledger.running} tasks running and ${ledger.queued} waiting; try later or elsewhere`));
              break;
            }
            const record = ledger.add(clientId, assignment, admission, source);
            reply(clientId, ackFor(message.messageId, record));
            spawnTask(record, assignment.taskParameters);
            if (admission === 'run') start(record);
            else reply(clientId, stateMessageFor(record));
            reportLoad();
            break;
          }
          case 'registry.cancel': {
            const { clientId, message } = event as Extract<TaskRegistryEvent, { type: 'registry.cancel' }>;
            const record = ledger.get(clientId, message.payload.taskId);
            if (!record) {
              reply(clientId, errorFor(message, 'TASK_NOT_FOUND'));
            } else if (record.final) {
              reply(clientId, record.final);
            } else if (record.state === 'Queued') {
              cancelQueued(record);
              reportLoad();
            } else {
              memberOf(record)?.actor.send({ type: 'task.cancel' });
            }
            break;
          }
          case 'registry.query': {
            const { clientId, message, replyTo } = event as Extract<TaskRegistryEvent, { type: 'registry.query' }>;
            const record = ledger.get(clientId, message.payload.taskId);
            const statusOnly = message.type === 'GetStatus' && input.finishedStatusOnGetStatus === true;
            const draft = record ? (statusOnly ? statusMessageFor(record) : stateMessageFor(record)) : errorFor(message, 'TASK_NOT_FOUND');
            input.parentRef.send({ type: 'registry.reply', clientId, draft, ...(replyTo === undefined ? {} : { replyTo }) });
            break;
          }
          case 'registry.whose': {
            const { connectionId, message, identity } = event as Extract<TaskRegistryEvent, { type: 'registry.whose' }>;
            input.parentRef.send({ type: 'registry.taskOwners', connectionId, message, identity, clientIds: ledger.clientsOf(message.payload.taskId) });
            break;
          }
          case 'registry.drain':
            return { ...snapshot, accepting: false };
          case 'registry.cancelAll': {
            for (const record of [...ledger.unfinished()]) {
              if (record.state === 'Queued') cancelQueued(record);
              else memberOf(record)?.actor.send({ type: 'task.cancel' });
            }
            reportLoad();
            return { ...snapshot, accepting: false };
          }
          case 'task.started':
          case 'task.progressed': {
            const { clientId, taskId } = event as ProviderTaskToParentEvent;
            const record = ledger.get(clientId, taskId);
            if (!record || record.final) break;
            // A task admitted straight to a slot was announced Processing by its Ack; one that
            // waited in the queue (Ack said Queued) is told it now runs.
            if (event.type === 'task.started' && record.processingAnnounced) break;
            record.processingAnnounced = true;
            if (event.type === 'task.progressed') {
              const progress = event as Extract<ProviderTaskToParentEvent, { type: 'task.progressed' }>;
              record.progressPercentage = progress.progressPercentage;
              record.message = progress.message;
              record.estimatedTimeRemainingSeconds = progress.estimatedTimeRemainingSeconds;
            }
            reply(clientId, stateMessageFor(record));
            break;
          }
          case 'task.settled': {
            const { clientId, taskId, outcome } = event as Extract<ProviderTaskToParentEvent, { type: 'task.settled' }>;
            const record = ledger.get(clientId, taskId);
            if (!record || record.final) break;
            const final = finalFor(record, outcome);
            ledger.finish(record, outcome.status, final);
            reply(clientId, final);
            input.parentRef.send({ type: 'registry.settled', clientId, taskId, outcome });
            startQueued();
            reportLoad();
            break;
          }
          case 'registry.fault': {
            const { errorId, event: failed } = event as Extract<TaskRegistryEvent, { type: 'registry.fault' }>;
            const about = taskAbout(failed);
            if (about === undefined) break;
            const failure = internalFailure(errorId);
            const record = ledger.get(about.clientId, about.taskId);
            if (record !== undefined) {
              if (record.final === undefined) failUnexpectedly(record, failure);
            } else if (failed.type === 'registry.assign') {
              reply(about.clientId, taskFailed(about.clientId, about.taskId, failure.code, failure.message, undefined, errorId));
            } else if (failed.type === 'registry.cancel' || failed.type === 'registry.query') {
              const { message } = failed as Extract<TaskRegistryEvent, { type: 'registry.cancel' | 'registry.query' }>;
              reply(about.clientId, {
                type: 'Error',
                payload: { code: 'INTERNAL_ERROR', message: failure.message, relatesTo: message.messageId, taskId: about.taskId, errorId },
              });
            }
            break;
          }
          case 'xstate.stop': {
            for (const { actor } of snapshot.members.values()) {
              // A task actor that is finishing right now (its final message ended the provider,
              // which stops this registry) would still tell this stopped registry it is done:
              // XState warns of an event sent to a stopped actor. Nobody is left to tell (detached
              // after the stop, which checks the parent).
              stopMember(actor);
              if (!(actor instanceof TaskSlot)) (actor as unknown as { _parent?: unknown })._parent = undefined;
            }
            snapshot.members.clear();
            snapshot.memberIds.clear();
            return snapshot;
          }
          default: {
            const ended = memberEnded.exec(event.type);
            const memberId = ended?.[2];
            const member = memberId === undefined ? undefined : snapshot.members.get(memberId);
            if (memberId === undefined || !member) return snapshot;
            snapshot.members.delete(memberId);
            if (snapshot.memberIds.get(member.record.key) === memberId) snapshot.memberIds.delete(member.record.key);
            const { record } = member;
            if (record.final !== undefined) return snapshot;
            // A task actor that failed without settling (a bug, not a handler error, which the
            // task itself turns into Failed): its task still gets exactly one final message (TASK-10).
            failUnexpectedly(record, internalFailure(errorIdOf((event as { error?: unknown }).error)));
            break;
          }
        }
        return snapshot;
      };
      const handled = handle();
      // SEC-10: the provider keeps a clientId's owner while the ledger holds tasks of it.
      for (const { clientId, present } of ledger.drainClientChanges()) {
        const owner = present && event.type === 'registry.assign' ? (event as Extract<TaskRegistryEvent, { type: 'registry.assign' }>).owner : undefined;
        input.parentRef.send({ type: 'registry.clientRecords', clientId, present, ...(owner === undefined ? {} : { owner }) });
      }
      return spawned === 0 ? handled : { ...handled, spawnedTotal: handled.spawnedTotal + spawned };
    },
    getPersistedSnapshot: (snapshot) =>
      ({ status: snapshot.status, running: snapshot.ledger.running, queued: snapshot.ledger.queued }) as never,
  };
}
