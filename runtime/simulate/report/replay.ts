/**
 * The exact command that replays a failing run: the scenario file, its seed, the shrunk fault
 * schedule (as JSON, in single quotes for a POSIX shell) and `--until` when the run had one.
 */
import { formatDuration } from '../duration.js';
import type { Failure } from '../run.js';
import { faultToInput } from '../shrink.js';

/** A POSIX shell word: as is when safe, else in single quotes. */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

export function replayCommand(scenarioPath: string, failure: Failure): string {
  const faults = JSON.stringify(failure.replay.faults.map(faultToInput));
  const until = failure.replay.durationMs === undefined ? '' : ` --until ${formatDuration(failure.replay.durationMs)}`;
  return `switchboard simulate ${shellWord(scenarioPath)} --seed ${failure.replay.seed}${until} --faults ${shellWord(faults)}`;
}
