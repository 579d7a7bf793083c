/**
 * Live task progress: on a terminal, one line redrawn in place (bar, percent, message, ETA); on
 * anything else (a pipe, a file, CI), plain lines `progress 42% message`, one per change.
 */
import type { TaskProgress } from '../taskHandle.js';
import type { OutputStream } from './output.js';

export interface ProgressView {
  update(progress: TaskProgress): void;
  /** Ends the redrawn line (if any) so the next output starts on a fresh line. */
  finish(): void;
}

const BAR_WIDTH = 24;

/** Seconds left: the provider's estimate, else extrapolated from the time spent so far. */
export function etaSeconds(progress: TaskProgress, elapsedMs: number): number | undefined {
  if (progress.estimatedTimeRemainingSeconds !== undefined) return progress.estimatedTimeRemainingSeconds;
  const percent = progress.progressPercentage;
  if (percent <= 0 || percent >= 100) return undefined;
  return ((elapsedMs / 1000) * (100 - percent)) / percent;
}

export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 60) return `ETA ${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)}s`;
  return `ETA ${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

export function progressBar(percent: number, width = BAR_WIDTH): string {
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export const progressLine = (progress: TaskProgress): string => {
  const status = progress.status === 'Queued' ? ' (queued)' : '';
  return `progress ${Math.round(progress.progressPercentage)}%${status}${progress.message ? ` ${progress.message}` : ''}`;
};

export function createProgressView(stream: OutputStream, now: () => number = () => performance.now()): ProgressView {
  const startedMs = now();
  if (stream.isTTY !== true) {
    let last = '';
    return {
      update(progress) {
        const text = progressLine(progress);
        if (text === last) return;
        last = text;
        stream.write(`${text}\n`);
      },
      finish() {},
    };
  }
  let drawn = false;
  return {
    update(progress) {
      const percent = `${String(Math.round(progress.progressPercentage)).padStart(3)}%`;
      const parts = [progressBar(progress.progressPercentage), percent, progress.status === 'Queued' ? 'queued' : '', progress.message ?? '', formatEta(etaSeconds(progress, now() - startedMs))];
      const columns = Math.max(20, (stream.columns || 80) - 1);
      const text = parts.filter((part) => part.length > 0).join(' ').slice(0, columns);
      stream.write(`\r${text}\x1b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
