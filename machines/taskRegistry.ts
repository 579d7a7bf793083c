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
import type { Actor, ActorLogic, ActorRef, AnyActorLogic, Snapshot } from 'xstate';
import { memberEnded, spawnDetached } from './actorPool.js';
import type { AssignTask, CancelTask, GetResult, GetStatus, ProviderDraft } from './messages.js';
import type { TaskOutcome } from './outcome.js';
import type { ProviderTaskInput, ProviderTaskToParentEvent } from './providerTask.js';
import { offersOperation, type ServiceDescriptor } from './service.js';
import { loadWorthReporting, TaskLedger, type LoadReport, type TaskLimits, type TaskRecord } from './taskLedger.js';
import { ackFor, errorFor, finalFor, stateMessageFor, taskFailed } from './taskReplies.js';

export type TaskRegistryEvent =
  | { readonly type: 'registry.assign'; readonly clientId: string; readonly message: AssignTask }
  | { readonly type: 'registry.cancel'; readonly clientId: string; readonly message: CancelTask }
  | { readonly type: 'registry.query'; readonly clientId: string; readonly message: GetStatus | GetResult }
  /** TASK-8: refuse new tasks from now on. */
  | { readonly type: 'registry.drain' }
  /** Stop: cancel every unfinished task. */
  | { readonly type: 'registry.cancelAll' }
  | ProviderTaskToParentEvent;

export type TaskRegistryToParentEvent =
  | { readonly type: 'registry.reply'; readonly clientId: string; readonly draft: ProviderDraft }
  | { readonly type: 'registry.load'; readonly running: number; readonly queued: number; readonly load: number }
  | { readonly type: 'registry.settled'; readonly clientId: string; readonly taskId: string; readonly outcome: TaskOutcome };

export interface TaskRegistryInput {
  readonly services: readonly ServiceDescriptor[];
  readonly limits: TaskLimits;
  readonly parentRef: ActorRef<Snapshot<unknown>, TaskRegistryToParentEvent>;
  /** A deliberate bug (docs/simulation.md): a duplicate AssignTask runs again. Never in production. */
  readonly skipDuplicateCheck?: boolean;
}

export type TaskRegistrySnapshot = Snapshot<undefined> & {
  readonly ledger: TaskLedger;
  readonly accepting: boolean;
  /** Live task actors by member id (`task:<n>`), and the record each one runs. */
  readonly members: Map<string, { actor: Actor<AnyActorLogic>; record: TaskRecord }>;
  readonly memberIds: Map<string, string>;
  readonly spawnedTotal: number;
  /** AssignTasks answered from the ledger instead of run again (TASK-4). */
  readonly duplicatesAnswered: number;
  /** The load last reported to the provider (mutable holder: the registry's own state). */
  readonly loadReported: { last: LoadReport | undefined };
  readonly input: TaskRegistryInput;
};

export type TaskRegistryLogic = ActorLogic<TaskRegistrySnapshot, TaskRegistryEvent | { type: string }, TaskRegistryInput>;

/** Creates the registry logic whose task actors run `taskLogic` (providerTaskMachine, provided). */
export function createTaskRegistry(taskLogic: AnyActorLogic): TaskRegistryLogic {
  return {
    config: taskLogic,
    getInitialSnapshot: (_scope, input) => ({
      status: 'active',
      output: undefined,
      error: undefined,
      ledger: new TaskLedger(input.limits),
      accepting: true,
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
      const spawnTask = (record: TaskRecord) => {
        const memberId = `task:${snapshot.spawnedTotal + ++spawned}`;
        const taskInput: ProviderTaskInput = {
          clientId: record.clientId,
          taskId: record.taskId,
          serviceName: record.assignment.serviceName,
          operation: record.assignment.operation,
          params: record.assignment.taskParameters,
          deadlineMs: record.assignment.deadlineMs,
          parentRef: scope.self as never,
        };
        const actor = spawnDetached(scope, taskLogic, memberId, taskInput);
        snapshot.members.set(memberId, { actor, record });
        snapshot.memberIds.set(record.key, memberId);
      };
      const memberOf = (record: TaskRecord) => {
        const memberId = snapshot.memberIds.get(record.key);
        return memberId === undefined ? undefined : snapshot.members.get(memberId);
      };
      const start = (record: TaskRecord) => {
        const member = memberOf(record);
        if (member) scope.defer(() => member.actor.send({ type: 'task.start' }));
      };
      const startQueued = () => {
        for (let record = ledger.nextRunnable(); record; record = ledger.nextRunnable()) start(record);
      };
      /** TASK-11: a queued task ends Cancelled at once; its idle actor is stopped, not asked. */
      const cancelQueued = (record: TaskRecord) => {
        const outcome: TaskOutcome = { status: 'Cancelled' };
        const final = finalFor(record, outcome);
        ledger.finish(record, 'Cancelled', final);
        reply(record.clientId, final);
        // Settled like any accepted task, so the provider reports it (task.settled).
        input.parentRef.send({ type: 'registry.settled', clientId: record.clientId, taskId: record.taskId, outcome });
        const memberId = snapshot.memberIds.get(record.key);
        const member = memberId === undefined ? undefined : snapshot.members.get(memberId);
        if (memberId !== undefined && member) {
          snapshot.members.delete(memberId);
          snapshot.memberIds.delete(record.key);
          scope.stopChild(member.actor);
        }
      };

      switch (event.type) {
        case 'registry.assign': {
          const { clientId, message } = event as Extract<TaskRegistryEvent, { type: 'registry.assign' }>;
          const assignment = message.payload;
          const known = ledger.get(clientId, assignment.taskId);
          if (known && input.skipDuplicateCheck === true && known.final === undefined) {
            // The injected bug: the ledger is not consulted, so the operation runs a second time.
            reply(clientId, ackFor(message.messageId, known));
            spawnTask(known);
            start(known);
            break;
          }
          if (known) {
            // TASK-4: never run twice; answer with where the task is now.
            reply(clientId, ackFor(message.messageId, known));
            reply(clientId, stateMessageFor(known));
            return { ...snapshot, duplicatesAnswered: snapshot.duplicatesAnswered + 1 };
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
          const admission = ledger.admit(clientId);
          if (admission === 'reject') {
            reply(clientId, taskFailed(clientId, assignment.taskId, 'OVERLOADED',
              `${ledger.running} tasks running and ${ledger.queued} waiting; try later or elsewhere`));
            break;
          }
          const record = ledger.add(clientId, assignment, admission);
          reply(clientId, ackFor(message.messageId, record));
          spawnTask(record);
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
          const { clientId, message } = event as Extract<TaskRegistryEvent, { type: 'registry.query' }>;
          const record = ledger.get(clientId, message.payload.taskId);
          reply(clientId, record ? stateMessageFor(record) : errorFor(message, 'TASK_NOT_FOUND'));
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
        case 'xstate.stop': {
          for (const { actor } of snapshot.members.values()) scope.stopChild(actor);
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
          const outcome: TaskOutcome = { status: 'Failed', error: { code: 'INTERNAL_ERROR', message: 'The task stopped unexpectedly.' } };
          const final = finalFor(record, outcome);
          ledger.finish(record, 'Failed', final);
          reply(record.clientId, final);
          input.parentRef.send({ type: 'registry.settled', clientId: record.clientId, taskId: record.taskId, outcome });
          startQueued();
          reportLoad();
          break;
        }
      }
      return spawned === 0 ? snapshot : { ...snapshot, spawnedTotal: snapshot.spawnedTotal + spawned };
    },
    getPersistedSnapshot: (snapshot) =>
      ({ status: snapshot.status, running: snapshot.ledger.running, queued: snapshot.ledger.queued }) as never,
  };
}
