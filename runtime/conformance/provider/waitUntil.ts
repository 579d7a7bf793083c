/**
 * The suite's one way of waiting: re-evaluate `check` whenever something arrives (the caller's
 * listener set is notified), resolve with its first defined value, or undefined at the deadline
 * or when `giveUp` says there is no point waiting longer (the connection closed, say).
 */
export function waitUntil<T>(
  listeners: Set<() => void>,
  check: () => T | undefined,
  timeoutMs: number,
  giveUp: () => boolean = () => false,
): Promise<T | undefined> {
  return new Promise((resolve) => {
    const evaluate = () => {
      const value = check();
      if (value !== undefined) finish(value);
      else if (giveUp()) finish(undefined);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const finish = (value: T | undefined) => {
      clearTimeout(timer);
      listeners.delete(evaluate);
      resolve(value);
    };
    listeners.add(evaluate);
    evaluate();
  });
}
