/** Small formatting helpers shared by the views. */
export const ago = (epochMs: number | undefined, now: number): string => {
  if (epochMs === undefined) return '—';
  const seconds = Math.max(0, (now - epochMs) / 1000);
  if (seconds < 1) return 'just now';
  if (seconds < 60) return `${Math.floor(seconds)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
};

export const duration = (ms: number | undefined): string => {
  if (ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
};

export const clock = (epochMs: number): string => {
  const date = new Date(epochMs);
  return `${date.toLocaleTimeString(undefined, { hour12: false })}.${String(date.getMilliseconds()).padStart(3, '0')}`;
};

export const nowMs = (): number => performance.timeOrigin + performance.now();

export const href = (path: string, query: Record<string, string | undefined> = {}): string => {
  const search = new URLSearchParams(Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined)).toString();
  return `#${path}${search ? `?${search}` : ''}`;
};
