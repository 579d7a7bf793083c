/**
 * `switchboard cancel <taskId>`: asks the provider to cancel a task (CancelTask, TASK-11) and
 * waits for its final message. Exit 0 when it ends Cancelled (or had already completed), 1 when
 * it had failed or the provider does not know it (TASK_NOT_FOUND), 3 when unreachable.
 */
import type { Command } from 'commander';
import { runAction, type CliContext } from './context.js';
import { ExitCode, globalOptionsOf } from './options.js';
import { exitCodeFor, jsonLine, line, prettyJson, printError } from './output.js';
import { addRawTaskOptions, answerJson, askProvider, type RawTaskFlags, type TaskAnswer } from './rawTask.js';

/** A provider that answers only when asked (the seed's pull flow) says how the task ended in a status. */
const endedIn = (answer: TaskAnswer): string | undefined =>
  answer.type === 'TaskStatusUpdate' && ['Completed', 'Failed', 'Cancelled'].includes(answer.payload.status) ? answer.payload.status : undefined;

export function cancelExitCode(answer: TaskAnswer): number {
  switch (answer.type) {
    case 'TaskFailed':
      return answer.payload.status === 'Cancelled' ? ExitCode.ok : ExitCode.failed;
    case 'TaskStatusUpdate':
      return endedIn(answer) === 'Failed' ? ExitCode.failed : ExitCode.ok;
    case 'Error':
      return exitCodeFor(answer.payload.code);
    default:
      return ExitCode.ok;
  }
}

async function runCancel(context: CliContext, taskId: string, flags: RawTaskFlags, command: Command): Promise<number> {
  const { io } = context;
  const globals = globalOptionsOf(command);
  // A running task may still send progress before its TaskFailed Cancelled: wait for the end.
  const answer = await askProvider('CancelTask', taskId, flags, (message) => message.type !== 'TaskStatusUpdate' || endedIn(message) !== undefined);
  if (globals.json) jsonLine(io.stdout, answerJson(answer));
  switch (answer.type) {
    case 'TaskFailed':
      if (answer.payload.status === 'Cancelled') {
        if (!globals.json) line(io.stdout, `task ${taskId} Cancelled`);
      } else {
        if (!globals.json) line(io.stdout, `task ${taskId} had already failed`);
        printError(io, answer.payload.errorCode, answer.payload.errorMessage);
      }
      break;
    case 'TaskResult':
      if (!globals.json) {
        line(io.stdout, `task ${taskId} had already completed; nothing to cancel`);
        line(io.stdout, prettyJson(answer.payload.resultData));
      }
      break;
    case 'Error':
      printError(io, answer.payload.code, answer.payload.message);
      break;
    case 'TaskStatusUpdate':
      if (!globals.json) line(io.stdout, endedIn(answer) === 'Cancelled' ? `task ${taskId} Cancelled` : `task ${taskId} had already ended ${endedIn(answer)}`);
      break;
  }
  return cancelExitCode(answer);
}

export function registerCancelCommand(program: Command, context: CliContext): Command {
  return addRawTaskOptions(program.command('cancel').description('ask a provider to cancel a task (CancelTask)').argument('<taskId>', 'the task'))
    .addHelpText(
      'after',
      `
Opens a WebSocket to --endpoint and cancels the task of --client-id: a queued task is dropped, a
running one is signalled, and the provider answers with the task's final message.
Meant for tasks whose client has left (assign --detach, or an assign that exited): the provider
sends a client's replies to its newest connection, so asking while the assigning process is
still connected diverts that process's progress and result to this connection.
Exit codes: 0 cancelled (or already completed), 1 already failed/unknown task, 2 usage, 3 unreachable.

Examples:
  $ switchboard cancel 4c1e0a57-... --endpoint ws://192.168.1.20:8080 --client-id client-7f3a...
  $ SWITCHBOARD_ENDPOINT=ws://127.0.0.1:8080 SWITCHBOARD_CLIENT_ID=ops switchboard cancel job-42 --json`,
    )
    .action((taskId: string, flags: RawTaskFlags, command: Command) => runAction(context, () => runCancel(context, taskId, flags, command)));
}
