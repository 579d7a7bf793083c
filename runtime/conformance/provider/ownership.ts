/**
 * Tasks belong to their client (TASK-1: `(callbackClientId, taskId)` identifies a task; TASK-12):
 * two clients, each on its own connection, with task ids that collide. Client B's AssignTask with
 * the taskId of client A's finished task is a new task of B's, not a duplicate of A's; B's queries
 * and CancelTask naming A's taskId (as B) must not reach A's task.
 *
 * Level full: the seed says to "use the taskId from the client to detect and ignore duplicate
 * requests", so a provider written from the seed alone may key tasks by taskId, which is what
 * these checks catch.
 */
import { v4 as uuid } from 'uuid';
import { fail, mismatch, notApplicable, pass, type Check } from '../types.js';
import { isFinal, meaningOf } from './meaning.js';
import { ask, awaitOutcome } from './outcome.js';
import type { ProviderProbe } from './probe.js';
import { invalidParamsFor } from './refusals.js';
import { completeOrBlocked } from './tasks.js';
import { assign, describe, describeAll, firstAnswer, framesOf, sameFinal } from './taskRun.js';

type ProviderCheck = Check<ProviderProbe>;

const clientIds = () => ({ a: `conformance-owner-a-${uuid()}`, b: `conformance-owner-b-${uuid()}` });

const sameTaskId: ProviderCheck = {
  name: 'provider.ownership.sameTaskId',
  requirements: ['TASK-1', 'TASK-4'],
  level: 'full',
  title: "another client's AssignTask with the same taskId is a task of its own, not a duplicate",
  timeoutMs: 25_000,
  run: async (probe) => {
    const ids = clientIds();
    const taskId = `conformance-shared-${uuid()}`;
    const first = await completeOrBlocked(probe, await probe.connect(), { clientId: ids.a, taskId });
    const selection = await probe.testTask();
    const invalid = selection.slow === undefined ? invalidParamsFor(probe, selection) : undefined;
    const choice = selection.slow ?? (invalid === undefined ? undefined : { operation: selection.quick.operation, params: invalid.params });
    if (choice === undefined) return notApplicable('needs a second task with another outcome: name a --slow-operation, or let the quick one declare parameters (or pass --invalid-params-json)');
    const second = await probe.connect();
    const run = assign(second, probe, selection, choice, { clientId: ids.b, taskId });
    const outcome = await awaitOutcome(probe, run);
    const sent = `client A finished task ${taskId} (${describe(first.final)}); client B sent AssignTask ${choice.operation} with the same taskId`;
    if (outcome.final === undefined) return fail(mismatch({ sent, expected: "B's own task to run to its own final message", observed: `${describeAll(framesOf(run))}: taken for a duplicate of A's task?` }));
    if (isFinal(outcome.final) && sameFinal(outcome.final, first.final)) return fail(mismatch({ sent, expected: "B's own task to run to its own final message", observed: `B got A's final message ${describe(outcome.final)}` }));
    return pass(`A's task ended ${describe(first.final)}; B's task with the same taskId ran on its own and ended ${describe(outcome.final)}`);
  },
};

const otherClient: ProviderCheck = {
  name: 'provider.ownership.otherClient',
  requirements: ['TASK-1', 'TASK-12'],
  level: 'full',
  title: "a client's GetStatus, GetResult and CancelTask never reach another client's task",
  timeoutMs: 25_000,
  run: async (probe) => {
    const ids = clientIds();
    const first = await completeOrBlocked(probe, await probe.connect(), { clientId: ids.a });
    const other = await probe.connect();
    const problems: string[] = [];
    const seen: string[] = [];
    for (const type of ['GetResult', 'GetStatus'] as const) {
      const answer = await ask(other, type, first.run.taskId, ids.b, probe.timing.answerMs);
      seen.push(`${type}: ${describe(answer)}`);
      const kind = answer === undefined ? undefined : meaningOf(answer).kind;
      if (answer !== undefined && kind !== 'notFound' && kind !== 'error') {
        problems.push(mismatch({ sent: `${type} {taskId of client A's task, originalClientId: client B} from client B`, expected: 'Error TASK_NOT_FOUND (B has no such task)', observed: `${describe(answer)}: client A's task` }));
      }
    }
    const selection = await probe.testTask();
    if (selection.slow !== undefined) {
      const owner = await probe.connect();
      const run = assign(owner, probe, selection, selection.slow, { clientId: ids.a });
      await firstAnswer(run, probe.timing.ackWindowMs);
      await ask(other, 'CancelTask', run.taskId, ids.b, probe.timing.answerMs);
      const outcome = await awaitOutcome(probe, run);
      seen.push(`A's running task after B's CancelTask: ${describe(outcome.final)}`);
      if (outcome.final === undefined || meaningOf(outcome.final).kind !== 'result') {
        problems.push(mismatch({ sent: "CancelTask {taskId of client A's running task, originalClientId: client B} from client B", expected: "A's task to run on to its TaskResult", observed: describe(outcome.final) }));
      }
    }
    return problems.length === 0 ? pass(seen.join('; ')) : fail(problems.join('; '));
  },
};

export const ownershipChecks: readonly ProviderCheck[] = [sameTaskId, otherClient];
