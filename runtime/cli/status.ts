/**
 * `switchboard status <taskId>`: asks the provider where a task is (GetStatus, TASK-12).
 * Exit 0 when it is queued, running or completed; 1 when it failed or was cancelled, or the
 * provider does not know it (TASK_NOT_FOUND); 3 when the endpoint cannot be reached.
 */
import type { Command } from 'commander';
import { runAction, type CliContext } from './context.js';
import { ExitCode, globalOptionsOf } from './options.js';
import { exitCodeFor, jsonLine, line, prettyJson, printError, type Io } from './output.js';
import { addRawTaskOptions, answerJson, askProvider, type RawTaskFlags, type TaskAnswer } from './rawTask.js';

/** Prints a task answer (plain) and returns the exit code it means for `status`. */
export function printAnswer(io: Io, taskId: string, answer: TaskAnswer): number {
  switch (answer.type) {
    case 'TaskStatusUpdate': {
      const { status, progressPercentage, message } = answer.payload;
      line(io.stdout, `task ${taskId} ${status} ${Math.round(progressPercentage)}%${message ? ` ${message}` : ''}`);
      return statusExitCode(answer);
    }
    case 'TaskResult':
      line(io.stdout, `task ${taskId} Completed`);
      line(io.stdout, prettyJson(answer.payload.resultData));
      return ExitCode.ok;
    case 'TaskFailed':
      if (answer.payload.status === 'Cancelled') {
        line(io.stdout, `task ${taskId} Cancelled`);
        return ExitCode.failed;
      }
      line(io.stdout, `task ${taskId} Failed`);
      printError(io, answer.payload.errorCode, answer.payload.errorMessage);
      return ExitCode.failed;
    case 'Error':
      printError(io, answer.payload.code, answer.payload.message);
      return exitCodeFor(answer.payload.code);
  }
}

/** The exit code an answer means for `status` (for --json, which prints no text). */
export function statusExitCode(answer: TaskAnswer): number {
  // A provider answering in the seed's pull flow says Failed or Cancelled in a status.
  if (answer.type === 'TaskStatusUpdate') return answer.payload.status === 'Failed' || answer.payload.status === 'Cancelled' ? ExitCode.failed : ExitCode.ok;
  if (answer.type === 'TaskResult') return ExitCode.ok;
  return answer.type === 'Error' ? exitCodeFor(answer.payload.code) : ExitCode.failed;
}

async function runStatus(context: CliContext, taskId: string, flags: RawTaskFlags, command: Command): Promise<number> {
  const globals = globalOptionsOf(command);
  const answer = await askProvider('GetStatus', taskId, flags, () => true);
  if (!globals.json) return printAnswer(context.io, taskId, answer);
  jsonLine(context.io.stdout, answerJson(answer));
  if (answer.type === 'Error') printError(context.io, answer.payload.code, answer.payload.message);
  return statusExitCode(answer);
}

export function registerStatusCommand(program: Command, context: CliContext): Command {
  return addRawTaskOptions(program.command('status').description("ask a provider for a task's state (GetStatus)").argument('<taskId>', 'the task'))
    .addHelpText(
      'after',
      `
Opens a WebSocket to --endpoint and asks for the task of --client-id (tasks belong to their
client, not to a connection). Prints the state (Queued/Processing with progress, Completed with
the result, Failed, Cancelled) or "error TASK_NOT_FOUND: ...".
Meant for tasks whose client has left (assign --detach, or an assign that exited): the provider
sends a client's replies to its newest connection, so asking while the assigning process is
still connected diverts that process's progress and result to this connection.
Exit codes: 0 queued/running/completed, 1 failed/cancelled/unknown task, 2 usage, 3 unreachable.

Examples:
  $ switchboard status 4c1e0a57-... --endpoint ws://192.168.1.20:8080 --client-id client-7f3a...
  $ switchboard status job-42 --endpoint 127.0.0.1:8080 --client-id ops --json`,
    )
    .action((taskId: string, flags: RawTaskFlags, command: Command) => runAction(context, () => runStatus(context, taskId, flags, command)));
}
